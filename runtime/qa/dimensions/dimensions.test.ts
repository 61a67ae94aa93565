import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../sim/random.js';
import type { ChannelInfo } from '../../framing/messages.js';
import type { Dimension, WindowInput } from '../types.js';
import { Completeness } from './completeness.js';
import { Flatline } from './flatline.js';
import { Spike } from './spike.js';
import { Validity } from './validity.js';

const CHANNEL: ChannelInfo = { name: 'pressure', unit: 'bar', min: -100, max: 100 };

function win(values: ArrayLike<number>, channel: ChannelInfo = CHANNEL): WindowInput {
  const times = Float64Array.from(values, (_, i) => 1_000 + 10 * i);
  return { values: Float64Array.from(values), times, t0: 1_000, t1: 1_000 + 10 * (values.length - 1), channel, periodMs: 10 };
}

/** n standard-normal samples (σ = 1) from a seeded generator, plus `mean`. */
function noise(seed: number, n = 100, mean = 0): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => mean + rng.gauss());
}

const critical = 'critical' as const;

describe('completeness', () => {
  const dim = new Completeness({ threshold: 0.02, severity: critical });
  const withMissing = (missing: number) => noise(1).map((x, i) => (i % 10 === 3 && i < missing * 10 ? NaN : x));

  it('scores the share of missing values', () => {
    expect(dim.evaluate(win(withMissing(0))).score).toBe(0);
    expect(dim.evaluate(win(withMissing(5))).score).toBe(0.05);
    expect(dim.evaluate(win(new Array(100).fill(NaN))).score).toBe(1);
  });

  it('passes at exactly the threshold and fails just above it', () => {
    const atThreshold = dim.evaluate(win(withMissing(2)));
    expect(atThreshold).toMatchObject({ score: 0.02, pass: true, code: 'completeness.ok' });
    const above = dim.evaluate(win(withMissing(3)));
    expect(above).toMatchObject({ score: 0.03, pass: false, code: 'completeness.missing', severity: 'critical', parent: 'intrinsic' });
    expect(above.reason).toContain('3/100');
  });
});

describe('validity', () => {
  const dim = new Validity({ threshold: 0, severity: critical });
  const range: ChannelInfo = { name: 'level', unit: 'm', min: 0, max: 10 };

  it('scores out-of-range values as a share of the present values only, with the bounds themselves valid', () => {
    const r = dim.evaluate(win([-1, 0, 5, 10, 11, NaN, NaN, 3, 4, 12], range));
    expect(r.score).toBe(3 / 8);
    expect(r).toMatchObject({ pass: false, code: 'validity.out_of_range' });
    expect(r.reason).toContain('3/8');
    expect(r.reason).toContain('worst 12');
  });

  it('counts +Infinity and -Infinity as invalid', () => {
    expect(dim.evaluate(win([1, Infinity, -Infinity, 2], range)).score).toBe(0.5);
  });

  it('passes a window whose values are all in range', () => {
    expect(dim.evaluate(win([0, 10, 2.5, 7.25], range))).toMatchObject({ score: 0, pass: true, code: 'validity.ok' });
  });

  it('scores a window with no present values as 0 instead of dividing by zero', () => {
    expect(dim.evaluate(win([NaN, NaN, NaN], range))).toMatchObject({ score: 0, pass: true });
  });

  it('fails on a single invalid value at threshold 0 and tolerates it at a threshold above its share', () => {
    const values = [...noise(2, 99, 5).map((x) => Math.min(10, Math.max(0, x))), 10.5];
    expect(dim.evaluate(win(values, range)).pass).toBe(false);
    expect(new Validity({ threshold: 0.01, severity: critical }).evaluate(win(values, range)).pass).toBe(true);
  });
});

describe('flatline', () => {
  const dim = new Flatline({ threshold: 0.5, epsilon: 0, severity: critical });
  const stuck = (from: number, length: number, value = 4.25) => noise(3).map((x, i) => (i >= from && i < from + length ? value : x));

  it('fails a window with a stuck run of 60 of 100 samples at threshold 0.5', () => {
    const r = dim.evaluate(win(stuck(20, 60)));
    expect(r).toMatchObject({ score: 0.6, pass: false, code: 'flatline.stuck' });
    expect(r.reason).toBe('stuck at 4.25 bar for 60/100 samples');
  });

  it('passes a stuck run of exactly half the window, since a child passes when score ≤ threshold', () => {
    expect(dim.evaluate(win(stuck(10, 50)))).toMatchObject({ score: 0.5, pass: true });
  });

  it('scores Gaussian noise 0, because no value repeats', () => {
    expect(dim.evaluate(win(noise(4)))).toMatchObject({ score: 0, pass: true, code: 'flatline.ok' });
  });

  it('counts two equal consecutive samples in noise as a run of 2', () => {
    const v = noise(5);
    v[40] = v[39]!;
    expect(dim.evaluate(win(v)).score).toBe(0.02);
  });

  it('ends a run at a missing value', () => {
    const v = stuck(20, 60);
    v[50] = NaN;
    expect(dim.evaluate(win(v))).toMatchObject({ score: 0.3, pass: true });
  });

  it('treats a quantised sensor jittering by one ADC step as stuck when epsilon is that step', () => {
    const jitter = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 10.25 : 10));
    expect(dim.evaluate(win(jitter)).score).toBe(0.02);
    const quantised = new Flatline({ threshold: 0.5, epsilon: 0.25, severity: critical });
    expect(quantised.evaluate(win(jitter))).toMatchObject({ score: 1, pass: false });
  });

  it('measures a run against its first value, so a slow ramp in steps of half epsilon is not flat', () => {
    // Within ±0.5 of the run's first value: 0, 0.25, 0.5; then 0.75 starts a new run. A rule comparing
    // each value with its predecessor instead would call the whole ramp one run.
    const ramp = Array.from({ length: 100 }, (_, i) => i * 0.25);
    const r = new Flatline({ threshold: 0.5, epsilon: 0.5, severity: critical }).evaluate(win(ramp));
    expect(r).toMatchObject({ score: 0.03, pass: true });
  });

  it('scores an all-missing window 0', () => {
    expect(dim.evaluate(win(new Array(100).fill(NaN))).score).toBe(0);
  });
});

describe('spike', () => {
  const params = { k: 8, threshold: 0.5, severity: critical };
  const zOf = (score: number) => (params.k * score) / (1 - score);

  it('fails isolated 20σ spikes in Gaussian noise and counts each one', () => {
    const v = noise(5);
    v[20]! += 20;
    v[50]! -= 20;
    v[80]! += 20;
    const r = new Spike(params).evaluate(win(v));
    expect(r).toMatchObject({ pass: false, code: 'spike.outliers' });
    expect(r.reason).toMatch(/^3 spikes,/);
    expect(zOf(r.score)).toBeGreaterThan(15);
  });

  it('never reaches k = 8 in 2000 clean Gaussian windows', () => {
    let worst = 0;
    for (let seed = 1; seed <= 2000; seed++) worst = Math.max(worst, new Spike(params).evaluate(win(noise(seed))).score);
    expect(worst).toBeLessThan(0.5);
    expect(zOf(worst)).toBeLessThan(params.k);
  });

  it('never reaches k = 8 on one stream fed 2000 clean windows in a row', () => {
    const dim = new Spike(params);
    let failed = 0;
    for (let seed = 1; seed <= 2000; seed++) if (!dim.evaluate(win(noise(seed))).pass) failed++;
    expect(failed).toBe(0);
  });

  it('does not call a 50σ level shift mid-window a spike', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const v = noise(seed).map((x, i) => (i >= 50 ? x + 50 : x));
      expect(new Spike(params).evaluate(win(v)).pass, `seed ${seed}`).toBe(true);
    }
  });

  it('passes a noisy sinusoid whose swing is ten times the noise', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const v = noise(seed).map((x, i) => x + 10 * Math.sin((2 * Math.PI * i) / 25));
      expect(new Spike(params).evaluate(win(v)).pass, `seed ${seed}`).toBe(true);
    }
  });

  it('detects a spike two samples wide', () => {
    const v = noise(9);
    v[40]! += 20;
    v[41]! += 20;
    const r = new Spike(params).evaluate(win(v));
    expect(r.pass).toBe(false);
    expect(zOf(r.score)).toBeGreaterThan(15);
  });

  it('detects a spike whose neighbours are missing', () => {
    const v = noise(10);
    v[49] = NaN;
    v[50]! += 20;
    v[51] = NaN;
    expect(new Spike(params).evaluate(win(v)).pass).toBe(false);
  });

  it('does not judge the first and last sample of a window', () => {
    const v = noise(11);
    v[0]! += 50;
    v[99]! -= 50;
    expect(new Spike(params).evaluate(win(v)).pass).toBe(true);
  });

  it('scores a fully stuck window 0', () => {
    expect(new Spike(params).evaluate(win(new Array(100).fill(3.25)))).toMatchObject({ score: 0, pass: true });
  });

  it('scores an all-missing window 0', () => {
    expect(new Spike(params).evaluate(win(new Array(100).fill(NaN)))).toMatchObject({ score: 0, pass: true });
  });

  it('scores a lone bump on a flat line as z/(z+k), with σ falling back to 1e-6 of the physical range', () => {
    // Range 200 → σ_min = 2e-4; a bump of 24 σ_min gives z = 24 and score 24/32.
    const v = new Array<number>(100).fill(0);
    v[50] = 24 * 2e-4;
    expect(new Spike(params).evaluate(win(v)).score).toBeCloseTo(0.75, 9);
  });

  it('uses the reference scale of past clean windows, so a 70 % stuck window with 30 % noise is not a spike', () => {
    const window = noise(12).map((x, i) => (i < 70 ? 0.5 : x));
    const warmed = new Spike(params);
    for (let seed = 100; seed < 105; seed++) expect(warmed.evaluate(win(noise(seed))).pass).toBe(true);
    expect(warmed.evaluate(win(window)).pass).toBe(true);
    // Without that history the stuck part drives the window's own scale to σ_min and the noise looks huge.
    expect(new Spike(params).evaluate(win(window)).pass).toBe(false);
  });
});

describe('every dimension', () => {
  const dims = (): Dimension[] => [
    new Completeness({ threshold: 0.02, severity: critical }),
    new Validity({ threshold: 0, severity: critical }),
    new Flatline({ threshold: 0.5, epsilon: 0.01, severity: critical }),
    new Spike({ k: 8, threshold: 0.5, severity: critical }),
  ];

  it('keeps its score within [0, 1] and its pass flag consistent with the threshold, for any finite float32 values and NaN', () => {
    // Values arrive as float32 on the wire (messages.ts), so that is the domain judged here.
    const value = fc.oneof(fc.float({ noDefaultInfinity: true, noNaN: false }), fc.float({ min: -2, max: 2, noNaN: true }), fc.constant(0));
    fc.assert(
      fc.property(fc.array(fc.array(value, { minLength: 8, maxLength: 64 }), { minLength: 1, maxLength: 4 }), (windows) => {
        const list = dims();
        for (const w of windows)
          for (const d of list) {
            const r = d.evaluate(win(w));
            expect(r.score, `${d.name} on ${w}`).toBeGreaterThanOrEqual(0);
            expect(r.score, `${d.name} on ${w}`).toBeLessThanOrEqual(1);
            expect(r.pass).toBe(r.score <= r.threshold);
          }
      }),
      { numRuns: 500 },
    );
  });
});

describe('non-finite values', () => {
  it('spike keeps its score in [0,1] when the firmware sends ±Infinity, and validity reports them', () => {
    const values = noise(3);
    values[50] = Infinity;
    values[60] = -Infinity;
    const s = new Spike({ k: 8, threshold: 0.5, severity: critical }).evaluate(win(values));
    expect(Number.isNaN(s.score)).toBe(false);
    expect(s.score).toBeGreaterThanOrEqual(0);
    expect(s.score).toBeLessThanOrEqual(1);
    const v = new Validity({ threshold: 0, severity: critical }).evaluate(win(values));
    expect(v.pass).toBe(false);
    expect(v.reason).toMatch(/^2\/100 values outside/);
  });

  it('spike scores 1, not NaN, when differences overflow', () => {
    const values = noise(4);
    values[40] = 1.7e308;
    values[41] = -1.7e308;
    const s = new Spike({ k: 8, threshold: 0.5, severity: critical }).evaluate(win(values));
    expect(s.score).toBeGreaterThan(0.5);
    expect(s.score).toBeLessThanOrEqual(1);
    expect(s.pass).toBe(false);
  });
});
