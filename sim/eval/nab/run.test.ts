/**
 * `tinyqa eval nab` end to end on three series (CI), and on the whole corpus when asked:
 *   TINYQA_NAB_FULL=1 npx vitest run sim/eval/nab/run.test.ts
 * prints the full report and checks the quality bar (standard ≥ 65 with the corpus-optimised threshold).
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, isTinyqaError } from '../../../runtime/core/errors.js';
import { EVAL_HELP, evalCommand } from '../../../runtime/cli/commands/eval.js';
import { defaultNabDir } from './corpus.js';
import { runNab, type NabReport } from './run.js';

const DIR = defaultNabDir();
const SUBSET = ['art_daily_jumpsup.csv', 'realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv', 'speed_7578.csv'];
const PROFILES = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;

function expectProfileScores(x: unknown): void {
  for (const p of PROFILES) expect(typeof (x as Record<string, unknown>)[p], p).toBe('number');
}

/** Captures what a command writes to stdout and stderr. */
function capture(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  return { out: () => out, err: () => err };
}

describe.skipIf(!existsSync(join(DIR, 'labels')))('eval nab', () => {
  afterEach(() => vi.restoreAllMocks());

  it('scores three series with baselines beside the detector and reports progress', () => {
    const progress: string[] = [];
    const r = runNab({ files: SUBSET, progress: (d, t, n) => progress.push(`${d}/${t} ${n}`) });
    expect(progress).toEqual([
      '1/3 artificialWithAnomaly/art_daily_jumpsup.csv',
      '2/3 realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv',
      '3/3 realTraffic/speed_7578.csv',
    ]);
    expect(r).toMatchObject({ files: 3, windows: 1 + 2 + 4, records: 4032 + 4032 + 1127 });
    expectProfileScores(r);
    expectProfileScores(r.fixed_threshold);
    expect(r.fixed_threshold.threshold).toBe(0.5);
    expect(r.baselines.null).toEqual({ standard: 0, reward_low_FP_rate: 0, reward_low_FN_rate: 0 });
    expectProfileScores(r.baselines.random);
    expect(r.baselines.random.seed).toBe(1);
    // Every record after probation is an alarm: thousands of false positives.
    expect(r.baselines.always_alarm.standard).toBeLessThan(-100);
    expectProfileScores(r.thresholds);
    // The corpus-optimised threshold can only do as well as or better than any fixed one.
    for (const p of PROFILES) expect(r[p]).toBeGreaterThanOrEqual(r.fixed_threshold[p]);
    expect(r.development_split).toBeUndefined(); // only meaningful for the whole corpus
    expect(r.elapsed_s).toBeGreaterThan(0);
  });

  it('gives the same random baseline for the same seed and another for another seed', () => {
    const a = runNab({ files: SUBSET.slice(0, 1), seed: 7 });
    const b = runNab({ files: SUBSET.slice(0, 1), seed: 7 });
    const c = runNab({ files: SUBSET.slice(0, 1), seed: 8 });
    expect(a.baselines.random).toEqual(b.baselines.random);
    expect(c.baselines.random).not.toEqual(a.baselines.random);
  });

  it('prints one JSON object with --json and a readable table otherwise', async () => {
    let io = capture();
    expect(await evalCommand(['nab', '--files', SUBSET.join(','), '--json'])).toBe(0);
    const lines = io.out().trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!) as NabReport;
    expect(r.files).toBe(3);
    expect(io.err()).toMatch(/eval nab: 3\/3 realTraffic\/speed_7578\.csv/);
    vi.restoreAllMocks();

    io = capture();
    expect(await evalCommand(['nab', '--files', SUBSET[0]!])).toBe(0);
    expect(io.out()).toMatch(/detector, corpus-optimised threshold\s+-?\d+\.\d\d/);
    expect(io.out()).toMatch(/baseline: random \(seed 1\)/);
  });

  it('refuses an unknown evaluation naming the available ones, an unknown series or option, and a missing data folder', async () => {
    for (const argv of [['faultz'], ['nab', '--files', 'no_such.csv'], ['nab', '--bogus']]) {
      const e = await evalCommand(argv).catch((x: unknown) => x);
      expect(isTinyqaError(e, ErrorCode.UsageInvalid), String(e)).toBe(true);
    }
    const e = await evalCommand(['faultz']).catch((x: unknown) => x);
    expect(String((e as { hint?: string }).hint)).toContain('nab');
    const missing = await evalCommand(['nab', '--data', join(DIR, 'no-such-folder')]).catch((x: unknown) => x);
    expect(isTinyqaError(missing, ErrorCode.ConfigUnreadable), String(missing)).toBe(true);
  });

  it('prints its help', async () => {
    const io = capture();
    expect(await evalCommand(['--help'])).toBe(0);
    expect(await evalCommand(['nab', '--help'])).toBe(0);
    expect(io.out()).toBe(EVAL_HELP + EVAL_HELP);
    expect(EVAL_HELP).toMatch(/--data DIR/);
  });

  it.runIf(process.env.TINYQA_NAB_FULL === '1')('reaches the quality bar on the whole corpus (manual run)', () => {
    const r = runNab({ progress: (d, t) => d === t && process.stderr.write(`eval nab: ${d}/${t}\n`) });
    process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    expect(r.files).toBe(58);
    expect(r.windows).toBe(116);
    expect(r.standard).toBeGreaterThanOrEqual(65);
  }, 120_000);
});
