import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryLogSink, createLogger } from '../core/log.js';
import { WindowStore, readStore, type StoreRecord } from './store.js';

const rec = (i: number, kind: StoreRecord['kind'] = 'divert'): StoreRecord => ({
  kind,
  device: 'd',
  stream: 's',
  verdict_seq: i,
  t0: i * 1000,
  t1: i * 1000 + 990,
  reason: 'r',
  values: [1.5, null, 2.5],
});

describe('WindowStore', () => {
  it('reads back what it stored, oldest first, per kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-store-'));
    const s = new WindowStore({ dir, maxBytes: 1e6, files: 3 }, createLogger('silent'));
    for (let i = 1; i <= 5; i++) s.append(rec(i));
    s.append(rec(6, 'quarantine'));
    expect(readStore(dir, 'divert').records.map((r) => r.verdict_seq)).toEqual([1, 2, 3, 4, 5]);
    expect(readStore(dir, 'quarantine').records).toEqual([rec(6, 'quarantine')]);
    expect(s.counters.stored).toBe(6);
  });

  it('rotates by size and keeps the total bounded, dropping the oldest records', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-store-'));
    const line = JSON.stringify(rec(1)).length + 1;
    const s = new WindowStore({ dir, maxBytes: line * 9, files: 3 }, createLogger('silent'));
    for (let i = 1; i <= 20; i++) s.append(rec(i));
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['divert.1.jsonl', 'divert.2.jsonl', 'divert.jsonl']);
    const seqs = readStore(dir, 'divert').records.map((r) => r.verdict_seq);
    // The newest records survive, contiguous, and the files stay within the byte bound.
    expect(seqs.at(-1)).toBe(20);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 21 - seqs.length + i));
    expect(seqs.length).toBeGreaterThanOrEqual(5);
    const total = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    expect(total).toBeLessThanOrEqual(line * 9 + 3 * 3);
    expect(s.counters.store_rotations).toBeGreaterThanOrEqual(5);
  });

  it('skips a torn last line left by a power cut', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-store-'));
    const s = new WindowStore({ dir, maxBytes: 1e6, files: 2 }, createLogger('silent'));
    s.append(rec(1));
    appendFileSync(join(dir, 'divert.jsonl'), '{"kind":"divert","dev');
    const r = readStore(dir, 'divert');
    expect(r.records.map((x) => x.verdict_seq)).toEqual([1]);
    expect(r.skipped).toBe(1);
  });

  it('keeps running and counts failures when it cannot write, saying so once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-store-'));
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    const sink = new MemoryLogSink();
    const s = new WindowStore({ dir: join(dir, 'not-a-dir', 'store'), maxBytes: 1e6, files: 2 }, createLogger('warn', sink));
    expect(s.append(rec(1))).toBe(false);
    expect(s.append(rec(2))).toBe(false);
    expect(s.counters.store_failed).toBe(2);
    expect(sink.lines.filter((l) => l.includes('cannot write the divert store'))).toHaveLength(1);
    expect(existsSync(join(dir, 'not-a-dir', 'store'))).toBe(false);
    chmodSync(dir, 0o755);
  });
});
