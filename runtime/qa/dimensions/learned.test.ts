import { describe, expect, it } from 'vitest';
import { Rng } from '../../../sim/random.js';
import type { ChannelInfo } from '../../framing/messages.js';
import { ForecastScorer } from '../forecast-scorer.js';
import type { AnomalyScorer, WindowInput } from '../types.js';
import { Anomaly } from './anomaly.js';
import { Drift } from './drift.js';
import { Noise } from './noise.js';

const CHANNEL: ChannelInfo = { name: 'pressure', unit: 'bar', min: -100, max: 100 };
const critical = 'critical' as const;

function win(values: ArrayLike<number>, o: { start?: number; fresh?: number } = {}): WindowInput {
  const start = o.start ?? 1000;
  const times = Float64Array.from(values, (_, i) => start + 10 * i);
  return { values: Float64Array.from(values), times, t0: times[0]!, t1: times[times.length - 1]!, channel: CHANNEL, periodMs: 10, ...(o.fresh !== undefined ? { fresh: o.fresh } : {}) };
}

/** n standard-normal samples (σ = 1) from a seeded generator, times `sigma`, plus `mean`. */
function noise(seed: number, n = 100, mean = 0, sigma = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => mean + sigma * rng.gauss());
}

/** 101 values alternating ±a: every first difference is ±2a, so MAD(Δ) = 2a and σ_w = 1.4826·2a/√2 exactly. */
const alternating = (a: number) => Array.from({ length: 101 }, (_, i) => (i % 2 ? -a : a));

describe('noise', () => {
  const params = { threshold: 0.5, severity: critical, ratio: 3, alpha: 0.05, warmup: 5 };

  /** A noise child that learned σ_ref from `warmup` passing windows of alternating ±1. */
  function learned() {
    const dim = new Noise(params);
    for (let i = 0; i < 5; i++) {
      expect(dim.evaluate(win(alternating(1))).reason).toMatch(/learning the reference noise scale \(\d\/5 windows\)/);
      dim.settle('pass');
    }
    return dim;
  }

  it('scores the log ratio to the reference: a ratio of exactly r = 3 scores 0.5 and passes', () => {
    const dim = learned();
    expect(dim.evaluate(win(alternating(1)))).toMatchObject({ score: 0, pass: true, code: 'noise.ok' });
    dim.settle('pass');
    const r = dim.evaluate(win(alternating(3)));
    expect(r.score).toBeCloseTo(0.5, 12);
    expect(r.pass).toBe(true);
  });

  it('fails 3.3× noisier as "noisy" and 3.3× quieter as "quiet", with the same score', () => {
    const dim = learned();
    const loud = dim.evaluate(win(alternating(3.3)));
    dim.settle('fail');
    const quiet = dim.evaluate(win(alternating(1 / 3.3)));
    dim.settle('fail');
    // L = ln 3.3, score = ln 3.3 / (ln 3.3 + ln 3)
    const expected = Math.log(3.3) / (Math.log(3.3) + Math.log(3));
    expect(loud).toMatchObject({ pass: false, code: 'noise.noisy' });
    expect(quiet).toMatchObject({ pass: false, code: 'noise.quiet' });
    expect(loud.score).toBeCloseTo(expected, 12);
    expect(quiet.score).toBeCloseTo(expected, 12);
    // σ_ref = 1.4826 · 2 / √2 = 2.097
    expect(loud.reason).toBe('noise 6.919 bar is 3.3× the reference 2.097 bar (> 3×)');
    expect(quiet.reason).toMatch(/^suspiciously quiet: noise 0\.6354 bar is 1\/3\.3 of the reference 2\.097 bar \(< 1\/3\)$/);
  });

  it('learns only from windows that passed intrinsic QA and itself', () => {
    const dim = learned();
    for (let i = 0; i < 50; i++) {
      dim.evaluate(win(alternating(2.5))); // passes noise, but the window failed intrinsic elsewhere
      dim.settle('fail');
    }
    expect(dim.evaluate(win(alternating(2.5))).score).toBeCloseTo(Math.log(2.5) / (Math.log(2.5) + Math.log(3)), 12);
  });

  it('follows a slow change of the noise floor through passing windows', () => {
    const dim = learned();
    let a = 1;
    for (let i = 0; i < 200; i++) {
      a *= 1.01;
      expect(dim.evaluate(win(alternating(a))).pass).toBe(true);
      dim.settle('pass');
    }
    expect(a).toBeGreaterThan(7);
  });

  it('raises no alarm on 2000 clean Gaussian windows of one stream', () => {
    const dim = new Noise(params);
    let failed = 0;
    let worst = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const r = dim.evaluate(win(noise(seed)));
      if (!r.pass) failed++;
      worst = Math.max(worst, r.score);
      dim.settle(r.pass ? 'pass' : 'fail');
    }
    console.log(`noise: worst score over 2000 clean N(0,1) windows ${worst.toFixed(3)} (threshold 0.5)`);
    expect(failed).toBe(0);
  });

  it('fails a constant window as suspiciously quiet, and does not judge all-missing windows', () => {
    const dim = learned();
    expect(dim.evaluate(win(new Array(100).fill(2.5)))).toMatchObject({ pass: false, code: 'noise.quiet' });
    dim.settle('fail');
    expect(dim.evaluate(win(new Array(100).fill(NaN)))).toMatchObject({ score: 0, pass: true });
    expect(dim.evaluate(win(new Array(100).fill(NaN))).reason).toMatch(/not judged/);
  });

  it('scores ±1e308 and ±Infinity in [0, 1], never NaN', () => {
    const dim = learned();
    // Differences of ±2e308 overflow unless halved; the MAD of this two-valued series is 0 ("quiet").
    const huge = dim.evaluate(win(Array.from({ length: 100 }, (_, i) => (i % 2 ? 1e308 : -1e308))));
    expect(huge.pass).toBe(false);
    expect(huge.score).toBeLessThanOrEqual(1);
    dim.settle('fail');
    const big = dim.evaluate(win(alternating(1e300)));
    expect(big).toMatchObject({ pass: false, code: 'noise.noisy' });
    dim.settle('fail');
    const inf = alternating(1);
    inf[10] = Infinity;
    inf[20] = -Infinity;
    const r = dim.evaluate(win(inf));
    expect(r.score).toBeGreaterThanOrEqual(0);
    expect(r.score).toBeLessThanOrEqual(0.5);
  });
});

describe('ForecastScorer', () => {
  it('computes its first scores by hand (warm-up 3, α 0.5, k 8)', () => {
    const s = new ForecastScorer({ k: 8, alpha: 0.5, warmup: 3 });
    expect(s.update(0, 0)).toBe(0); // level 0
    expect(s.update(1, 10)).toBe(0); // |e| 1 → scale 1; level 0.5
    expect(s.update(0, 20)).toBe(0); // |e| 0.5 → scale 0.75; level 0.25
    // e = 9.75, σ = 1.2533 · 0.75, z = 10.373, score z/(z + 8)
    const z = 9.75 / (Math.sqrt(Math.PI / 2) * 0.75);
    expect(s.update(10, 30)).toBeCloseTo(z / (z + 8), 12);
    // The clipped residual (3 · 0.75 = 2.25) moved the level to 1.375 only: back at 1.375 scores 0.
    expect(s.update(1.375, 40)).toBe(0);
  });

  it('stays under k on a long clean Gaussian stream and flags a 20σ spike', () => {
    const s = new ForecastScorer({ k: 8, alpha: 0.3, warmup: 50 });
    const rng = new Rng(4);
    let worst = 0;
    for (let i = 0; i < 100_000; i++) worst = Math.max(worst, s.update(rng.gauss(), i * 10));
    console.log(`ForecastScorer: worst score over 1e5 N(0,1) samples ${worst.toFixed(3)} (0.5 = robust z of k = 8)`);
    expect(worst).toBeLessThan(0.5);
    expect(s.update(20, 100_000 * 10)).toBeGreaterThan(0.6);
  });

  it('widens its forecast error after a gap in time, by √(gap / typical interval)', () => {
    const a = new ForecastScorer({ k: 8, alpha: 0.3, warmup: 10 });
    const b = new ForecastScorer({ k: 8, alpha: 0.3, warmup: 10 });
    const rng = new Rng(5);
    for (let i = 0; i < 200; i++) {
      const x = rng.gauss();
      a.update(x, i * 10);
      b.update(x, i * 10);
    }
    expect(b.update(6, 199 * 10 + 10 * 100)).toBeLessThan(a.update(6, 200 * 10));
  });

  it('keeps its scale through a stuck stretch, so the noise after it is not an anomaly', () => {
    const s = new ForecastScorer({ k: 8, alpha: 0.3, warmup: 50 });
    const rng = new Rng(6);
    let i = 0;
    for (; i < 1000; i++) s.update(rng.gauss(), i * 10);
    for (; i < 1400; i++) s.update(0.25, i * 10);
    let worst = 0;
    for (; i < 1600; i++) worst = Math.max(worst, s.update(rng.gauss(), i * 10));
    expect(worst).toBeLessThan(0.5);
  });

  it('scores NaN and ±Infinity 0 without changing state, and ±1e308 jumps 1', () => {
    const s = new ForecastScorer({ k: 8, alpha: 0.3, warmup: 5 });
    for (let i = 0; i < 20; i++) s.update(i % 2, i);
    expect(s.update(NaN, 20)).toBe(0);
    expect(s.update(Infinity, 21)).toBe(0);
    expect(s.update(1e308, 22)).toBeGreaterThan(0.99);
    expect(s.update(-1e308, 23)).toBeGreaterThan(0.99);
    expect(Number.isFinite(s.update(0.5, 24))).toBe(true);
  });
});

describe('anomaly', () => {
  const params = { threshold: 0.5, severity: 'warning' as const };

  /** A scorer that records what it was fed and returns scripted scores. */
  class Recording implements AnomalyScorer {
    readonly fed: [number, number][] = [];
    constructor(private readonly score: (x: number) => number) {}
    update(value: number, tMs: number): number {
      this.fed.push([value, tMs]);
      return this.score(value);
    }
  }

  it('feeds every new finite sample once, in order, and scores the window by its maximum', () => {
    const rec = new Recording((x) => x / 10);
    const dim = new Anomaly(params, rec);
    const r = dim.evaluate(win([1, NaN, 3, 2, Infinity]));
    expect(rec.fed).toEqual([
      [1, 1000],
      [3, 1020],
      [2, 1030],
    ]);
    expect(r).toMatchObject({ score: 0.3, pass: true, code: 'anomaly.ok', severity: 'warning', parent: 'intrinsic' });
  });

  it('with overlapping windows feeds only the fresh samples and keeps the scores of the others', () => {
    const rec = new Recording((x) => x / 10);
    const dim = new Anomaly(params, rec);
    dim.evaluate(win([9, 1, 1, 1], { start: 1000 }));
    const r = dim.evaluate(win([1, 1, 2, 2], { start: 1020, fresh: 2 }));
    expect(rec.fed.map(([x]) => x)).toEqual([9, 1, 1, 1, 2, 2]);
    // 9 has left the window: the maximum is 0.2.
    expect(r.score).toBe(0.2);
    const kept = dim.evaluate(win([2, 2, 0, 0], { start: 1040, fresh: 2 }));
    expect(kept.score).toBe(0.2);
  });

  it('counts a scorer\'s NaN as 1 and clips its scores to [0, 1]', () => {
    expect(new Anomaly(params, new Recording(() => NaN)).evaluate(win([1, 2]))).toMatchObject({ score: 1, pass: false, code: 'anomaly.outlier' });
    expect(new Anomaly(params, new Recording(() => 7)).evaluate(win([1])).score).toBe(1);
    expect(new Anomaly(params, new Recording(() => -3)).evaluate(win([1])).score).toBe(0);
  });

  it('with the built-in scorer passes clean noise and names the sample of a 25σ spike', () => {
    const dim = new Anomaly(params, new ForecastScorer({ k: 8, alpha: 0.3, warmup: 50 }));
    for (let seed = 1; seed <= 20; seed++) expect(dim.evaluate(win(noise(seed), { start: seed * 1000 })).pass).toBe(true);
    const v = noise(99);
    v[60]! += 25;
    const r = dim.evaluate(win(v, { start: 21_000 }));
    expect(r).toMatchObject({ pass: false, code: 'anomaly.outlier' });
    expect(r.reason).toContain('at 1970-01-01T00:00:21.600Z');
  });

  it('scores all-missing, constant and ±1e308 windows within [0, 1]', () => {
    const dim = new Anomaly(params, new ForecastScorer({ k: 8, alpha: 0.3, warmup: 5, minSigma: 2e-4 }));
    expect(dim.evaluate(win(new Array(100).fill(NaN))).score).toBe(0);
    expect(dim.evaluate(win(new Array(100).fill(3), { start: 5000 })).score).toBe(0);
    const huge = dim.evaluate(win(Array.from({ length: 100 }, (_, i) => (i % 2 ? 1e308 : -1e308)), { start: 9000 }));
    expect(huge.score).toBe(1);
  });
});

describe('drift', () => {
  const params = { threshold: 0.5, severity: 'warning' as const, delta: 0.002, ph_delta: 0.5, ph_lambda: 10, warmup: 20 };

  /** Window k of a stream of N(mean(k), 1) samples. */
  const at = (k: number, mean: number) => win(noise(50_000 + k, 100, mean), { start: k * 1000 });

  it('learns its reference from the first warm-up windows, then raises no alarm on 2000 stationary windows', () => {
    const dim = new Drift(params);
    expect(dim.evaluate(at(0, 0)).reason).toBe('learning the reference level (1/20 windows)');
    let alarms = 0;
    let worst = 0;
    for (let k = 1; k < 2000; k++) {
      const r = dim.evaluate(at(k, 0));
      if (!r.pass) alarms++;
      worst = Math.max(worst, r.score);
    }
    console.log(`drift: ${alarms} alarms in 2000 stationary windows, worst score ${worst.toFixed(3)}`);
    expect(alarms).toBe(0);
  });

  it('detects an abrupt shift of the window mean by 5 standard errors within a few windows and names the detector', () => {
    // Window means of N(0, 1)·100 samples have σ = 0.1: a shift of 0.5 is 5 σ_ref.
    const delays: number[] = [];
    for (let run = 0; run < 10; run++) {
      const dim = new Drift(params);
      for (let k = 0; k < 100; k++) dim.evaluate(win(noise(run * 1000 + k), { start: k * 1000 }));
      let k = 0;
      let r = dim.evaluate(win(noise(run * 1000 + 100, 100, 0.5), { start: 100_000 }));
      while (r.pass && k < 50) r = dim.evaluate(win(noise(run * 1000 + 101 + k, 100, 0.5), { start: (101 + ++k) * 1000 }));
      expect(r.pass, `run ${run}`).toBe(false);
      expect(r.code).toMatch(/^drift\.(adwin|page_hinkley|both)$/);
      expect(r.reason).toMatch(/ADWIN cut its window|Page-Hinkley: increase/);
      delays.push(k + 1);
    }
    delays.sort((a, b) => a - b);
    console.log(`drift: abrupt +5σ_ref shift of the window mean detected after ${delays.join(', ')} windows`);
    expect(delays.at(-1)).toBeLessThanOrEqual(10);
  });

  it.each([['kswin'], ['hddm_a']] as const)('with %s alone: no alarm on 1000 stationary windows, and an abrupt 5σ_ref shift is flagged and named', (detector) => {
    const p = { ...params, detectors: [detector] };
    const quiet = new Drift(p);
    let alarms = 0;
    for (let k = 0; k < 1000; k++) if (!quiet.evaluate(at(k, 0)).pass) alarms++;
    expect(alarms).toBe(0);
    const delays: number[] = [];
    for (let run = 0; run < 5; run++) {
      const dim = new Drift(p);
      for (let k = 0; k < 250; k++) dim.evaluate(win(noise(run * 1000 + k), { start: k * 1000 }));
      let k = 0;
      let r = dim.evaluate(win(noise(run * 1000 + 250, 100, 0.5), { start: 250_000 }));
      while (r.pass && k < 400) r = dim.evaluate(win(noise(run * 1000 + 251 + k, 100, 0.5), { start: (251 + ++k) * 1000 }));
      expect(r.pass, `run ${run}`).toBe(false);
      expect(r.code).toBe(`drift.${detector}`);
      expect(r.reason).toMatch(detector === 'kswin' ? /KSWIN/ : /HDDM-A: increase/);
      delays.push(k + 1);
    }
    console.log(`drift with ${detector}: 0 alarms in 1000 stationary windows; +5σ_ref shift flagged after ${delays.join(', ')} windows`);
  });

  it('detects a slow ramp of the level (0.02 σ per window)', () => {
    const dim = new Drift(params);
    for (let k = 0; k < 100; k++) dim.evaluate(at(k, 0));
    let k = 0;
    while (dim.evaluate(at(100 + k, 0.02 * k)).pass && k < 500) k++;
    console.log(`drift: ramp of 0.02 per window (0.2 σ_ref) detected after ${k + 1} windows (level +${(0.02 * k).toFixed(2)})`);
    expect(k).toBeLessThan(200);
  });

  it('neither judges nor learns windows that failed intrinsic QA', () => {
    const dim = new Drift(params);
    for (let k = 0; k < 50; k++) dim.evaluate(at(k, 0));
    for (let k = 50; k < 80; k++) {
      const r = dim.evaluate(at(k, 30), { intrinsic: 'fail' });
      expect(r).toMatchObject({ score: 0, pass: true });
      expect(r.reason).toBe('not judged: the window failed intrinsic QA');
    }
    expect(dim.evaluate(at(80, 0)).pass).toBe(true);
  });

  it('handles all-missing, constant and ±1e308 windows without NaN', () => {
    const dim = new Drift(params);
    expect(dim.evaluate(win(new Array(100).fill(NaN))).reason).toBe('not judged: no finite values');
    for (let k = 0; k < 30; k++) expect(dim.evaluate(win(new Array(100).fill(4))).pass).toBe(true);
    const huge = dim.evaluate(win(new Array(100).fill(1e308)));
    expect(huge.score).toBeGreaterThanOrEqual(0);
    expect(huge.score).toBeLessThanOrEqual(1);
    expect(huge.pass).toBe(false);
  });
});
