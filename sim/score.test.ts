import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';
import { scoreConfig, scoreTable, type ScoredRecord } from './score.js';

function csv(n: number, f: (i: number) => string): string {
  const rows = ['timestamp,value'];
  for (let i = 0; i < n; i++) rows.push(`${1_700_000_000 + 60 * i},${f(i)}`);
  return rows.join('\n') + '\n';
}

describe('score over a CSV', () => {
  it('gives every record an anomaly score and the verdict of its window, in file order', () => {
    const table = parseCsv(csv(450, (i) => (Math.sin(i / 7) * 2 + 10 + (i % 3) * 0.01).toFixed(4)), 'wave.csv');
    const out: ScoredRecord[] = [];
    const s = scoreTable(table, scoreConfig(undefined, 'wave.csv'), null, (r) => out.push(r));
    expect(out).toHaveLength(450);
    expect(out.map((r) => r.t)).toEqual(Array.from(table.times));
    expect(s.windows).toBe(4);
    expect(out.slice(0, 400).every((r) => r.verdict !== null)).toBe(true);
    expect(out.slice(400).every((r) => r.verdict === null)).toBe(true);
    for (const r of out) expect(r.anomaly_score).toBeGreaterThanOrEqual(0);
  });

  it('scores a late, never-seen level shift far above the record before it', () => {
    const table = parseCsv(csv(600, (i) => (i < 500 ? 10 + Math.sin(i) * 0.1 : 50).toString()), 'shift.csv');
    const out: ScoredRecord[] = [];
    scoreTable(table, scoreConfig(undefined, 'shift.csv'), null, (r) => out.push(r));
    expect(out[500]!.anomaly_score).toBeGreaterThan(0.9);
    expect(out[499]!.anomaly_score).toBeLessThan(0.5);
  });

  it('fails the windows of a stuck stretch and keeps missing cells as missing', () => {
    const table = parseCsv(csv(300, (i) => (i >= 100 && i < 200 ? '7' : i === 250 ? '' : (10 + Math.sin(i) + (i % 5) * 0.013).toFixed(5))), 'stuck.csv');
    const out: ScoredRecord[] = [];
    const s = scoreTable(table, scoreConfig(undefined, 'stuck.csv'), null, (r) => out.push(r));
    expect(out[150]!.verdict).toBe('fail');
    expect(out[150]!.failed).toContain('flatline');
    expect(out[50]!.verdict).toBe('pass');
    expect(s.failed_windows).toBeGreaterThanOrEqual(1);
  });
});

describe('score judges timing against the CSV’s own rate', () => {
  it('passes a regular series with the timeliness child on (the nominal period is the measured one)', () => {
    const table = parseCsv(csv(400, (i) => (10 + Math.sin(i / 5) + (i % 7) * 0.011).toFixed(4)), 'regular.csv');
    const config = scoreConfig({ qa: { timeliness: { enabled: true, severity: 'critical' } } }, 'regular.csv');
    const out: ScoredRecord[] = [];
    const s = scoreTable(table, config, null, (r) => out.push(r));
    expect(s.windows).toBe(4);
    expect(s.failed_windows).toBe(0);
  });
});
