import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCalibrationProfile, withCalibrationProfile } from '../runtime/config/qa-profile.js';
import { validateConfig } from '../runtime/config/schema.js';
import { ErrorCode, isTinyqaError } from '../runtime/core/errors.js';
import { calibrate } from './calibrate.js';
import type { CsvTable } from './csv.js';
import { pump } from './scenarios/pump.js';

function cleanPump(seconds: number, seed: number): CsvTable {
  const n = seconds * pump.rateHz;
  const src = pump.createSource(seed, new Set());
  const one = new Float64Array(3);
  const values = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    src.next(one);
    for (let c = 0; c < 3; c++) values[c]![i] = one[c]!;
    times[i] = 1_700_000_000_000 + i * 10;
  }
  return { path: 'pump.csv', separator: ',', timeColumn: 'timestamp', timeFormat: 'epoch_ms', channels: ['pressure', 'flow', 'motor_temp'], times, values, badRows: 0, badRowLines: [], badCells: 0 };
}

describe('calibrate', () => {
  const { profile } = calibrate(cleanPump(300, 3), { targetFar: 0.005, lambda: 0.01, window: 100, seed: 1 });

  it('meets the false-alarm target on the clean data and keeps only children that add detections', () => {
    expect(profile.measured_false_alarm_rate).toBeLessThanOrEqual(0.005);
    expect(profile.selected.length).toBeGreaterThan(0);
    expect(profile.selected.length).toBeLessThan(Object.keys(profile.qa).length);
    for (const [name, c] of Object.entries(profile.qa)) expect(c.enabled, name).toBe(profile.selected.includes(name));
  });

  it('keeps detecting the obvious faults (robustness curves end at full recall)', () => {
    const at = (fault: string) => profile.robustness.filter((r) => r.fault === fault).at(-1)!.recall;
    for (const f of ['missing', 'stuck', 'spikes', 'noise', 'jitter']) expect(at(f), f).toBeGreaterThanOrEqual(0.95);
  });

  it('writes a profile that loads, merges into a valid config, and refuses tampering', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-profile-'));
    const path = join(dir, 'p.json');
    writeFileSync(path, JSON.stringify(profile));
    const p = loadCalibrationProfile(path);
    expect(p.hash).toBe(profile.hash);
    const cfg = validateConfig(withCalibrationProfile({ device: 'd', serial: { path: '/dev/null' } }, p));
    for (const name of profile.selected) expect((cfg.qa as unknown as Record<string, { enabled: boolean }>)[name]!.enabled).toBe(true);
    const tampered = JSON.parse(readFileSync(path, 'utf8'));
    tampered.qa.spike.threshold = 0.9;
    writeFileSync(path, JSON.stringify(tampered));
    const e = (() => {
      try {
        loadCalibrationProfile(path);
      } catch (x) {
        return x;
      }
    })();
    expect(isTinyqaError(e, ErrorCode.ProfileInvalid)).toBe(true);
    expect((e as Error).message).toMatch(/does not match its content/);
  });
});

describe('calibrate --decision weighted', () => {
  it('fits a sparse logistic model for the intrinsic parent that loads as a valid weighted decision', () => {
    const { profile } = calibrate(cleanPump(300, 4), { decision: 'weighted', targetFar: 0.005, lambda: 0.01, window: 100, seed: 1 });
    const d = profile.parents?.intrinsic;
    expect(d?.decision).toBe('weighted');
    expect(Object.keys(d!.weights).length).toBeGreaterThan(0);
    for (const c of Object.keys(d!.weights)) expect(profile.selected).toContain(c);
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-wprofile-'));
    writeFileSync(join(dir, 'p.json'), JSON.stringify(profile));
    const cfg = validateConfig(withCalibrationProfile({ device: 'd', serial: { path: '/dev/null' } }, loadCalibrationProfile(join(dir, 'p.json'))));
    expect(cfg.qa.parents.intrinsic.decision).toBe('weighted');
    expect(cfg.qa.parents.intrinsic.threshold).toBe(d!.threshold);
  });
});
