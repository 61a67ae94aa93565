import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import { Rng } from '../../sim/random.js';
import { createAnomalyDetector, detectorOptions, DETECTOR_OPTIONS } from './detector.js';

const MIN5 = 300_000;

function run(values: ArrayLike<number>, start = 0): number[] {
  const d = createAnomalyDetector();
  return Array.from({ length: values.length }, (_, i) => d.update(values[i]!, start + i * MIN5));
}

function noise(n: number, seed: number, mean = 10): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => mean + rng.gauss());
}

/** Bytes of typed arrays plus one slot per property or array element reachable from `o`. */
function stateSize(o: unknown, seen = new Set<unknown>()): number {
  if (o === null || typeof o !== 'object' || seen.has(o)) return 0;
  seen.add(o);
  if (ArrayBuffer.isView(o)) return o.byteLength;
  let n = 0;
  for (const v of Object.values(o)) n += 1 + stateSize(v, seen);
  return n;
}

describe('streaming anomaly detector', () => {
  it('scores a 6-sigma spike in Gaussian noise at 1 and the samples around it low', () => {
    const x = noise(3000, 9);
    x[2000] = 16;
    const s = run(x);
    expect(s[2000]).toBe(1);
    expect(Math.max(...s.slice(1990, 2000))).toBeLessThan(0.3);
  });

  it('raises almost no alarms (score ≥ 0.5) on 10 000 samples of stationary noise', () => {
    for (const seed of [1, 2, 3]) {
      const s = run(noise(10_000, seed)).slice(300);
      // New extremes of Gaussian noise keep appearing (its maximum grows like √(2 ln n)): a few, not many.
      expect(s.filter((v) => v >= 0.5).length).toBeLessThanOrEqual(10);
      const sorted = [...s].sort((a, b) => a - b);
      expect(sorted[Math.floor(0.99 * sorted.length)]).toBeLessThan(0.3);
    }
  });

  it('catches a break of a daily pattern that stays inside the usual range', () => {
    const rng = new Rng(3);
    const day = 288;
    const x = Array.from({ length: day * 12 }, (_, i) => 50 + 20 * Math.sin((2 * Math.PI * (i % day)) / day) + rng.gauss());
    for (let i = day * 10; i < day * 10 + 36; i++) x[i] = 50 + rng.gauss(); // 3 hours flat at the daily mean
    const s = run(x);
    expect(Math.max(...s.slice(1000, day * 10))).toBeLessThan(0.5);
    expect(Math.max(...s.slice(day * 10, day * 10 + 36))).toBeGreaterThanOrEqual(0.5);
  });

  it('alarms on a level shift within a few samples', () => {
    const x = noise(4000, 4);
    for (let i = 3000; i < 4000; i++) x[i]! += 4;
    const s = run(x);
    expect(s.slice(3000, 3010).some((v) => v >= 0.5)).toBe(true);
  });

  it('skips NaN and ±Infinity: score 0 and the following scores as if they were never there', () => {
    const x = noise(1500, 5);
    const holed = [...x.slice(0, 700), NaN, Infinity, -Infinity, ...x.slice(700)];
    const a = run(x);
    const d = createAnomalyDetector();
    const b: number[] = [];
    holed.forEach((v, i) => {
      const t = (i < 700 ? i : i < 703 ? 700 : i - 3) * MIN5;
      b.push(d.update(v, t));
    });
    expect(b.slice(700, 703)).toEqual([0, 0, 0]);
    expect(b.slice(703)).toEqual(a.slice(700));
  });

  it('keeps a constant series at a low score and flags its first change', () => {
    const x = new Array<number>(1000).fill(5);
    const s = run([...x, 6]);
    expect(Math.max(...s.slice(0, 1000))).toBeLessThan(0.05);
    expect(s[1000]).toBe(1);
  });

  it('keeps its state the same size however long the stream runs', () => {
    const d = createAnomalyDetector();
    const rng = new Rng(6);
    for (let i = 0; i < 1000; i++) d.update(rng.gauss(), i * MIN5);
    const early = stateSize(d);
    for (let i = 1000; i < 200_000; i++) d.update(rng.gauss() * (1 + (i % 7)), i * 60_000);
    expect(stateSize(d)).toBe(early);
    expect(early).toBeLessThan(4096); // 96-bin profile (2 × 768 B + 96 B) and a 10-sample ring
  });

  it('returns a number in [0, 1] for any input, including huge, tiny and non-finite values', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { maxLength: 600 }), fc.integer({ min: -1e12, max: 1e13 }), (xs, t0) => {
        const d = createAnomalyDetector({ warmup: 5, likelihoodLearning: 5 });
        for (let i = 0; i < xs.length; i++) {
          const s = d.update(xs[i]!, t0 + i * 1000);
          if (!(s >= 0 && s <= 1)) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an unknown option or a value outside its range, naming it', () => {
    expect(detectorOptions()).toMatchObject({ levelAlpha: DETECTOR_OPTIONS.levelAlpha.default });
    for (const bad of [{ levelalpha: 0.1 }, { rawScale: 0 }, { profileBins: Number.NaN }]) {
      try {
        createAnomalyDetector(bad);
        expect.unreachable();
      } catch (e) {
        expect(isTinyqaError(e, ErrorCode.ConfigInvalid)).toBe(true);
        expect((e as Error).message).toContain(Object.keys(bad)[0]!);
      }
    }
  });
});
