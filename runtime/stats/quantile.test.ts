import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { P2Quantile } from './quantile.js';

describe('P2Quantile', () => {
  it('is exact for up to five values, interpolating between order statistics', () => {
    const q = new P2Quantile(0.5);
    for (const x of [9, 1, 5]) q.update(x);
    expect(q.value).toBe(5);
    q.update(7);
    // sorted 1 5 7 9: position 1.5 → 6
    expect(q.value).toBe(6);
    const p90 = new P2Quantile(0.9);
    for (const x of [10, 20, 30, 40, 50]) p90.update(x);
    // position 3.6 between 40 and 50
    expect(p90.value).toBeCloseTo(46, 12);
  });

  it('tracks the median and the tails of a long Gaussian stream', () => {
    const cases: [number, number, number][] = [
      [0.5, 0, 0.02],
      [0.9, 1.2816, 0.03],
      [0.99, 2.3263, 0.06],
      [0.01, -2.3263, 0.06],
    ];
    for (const [p, truth, tol] of cases) {
      const rng = new Rng(42);
      const q = new P2Quantile(p);
      for (let i = 0; i < 100_000; i++) q.update(rng.gauss());
      console.log(`P² p=${p} on 1e5 N(0,1): ${q.value.toFixed(4)} (true ${truth}, error ${(q.value - truth).toFixed(4)})`);
      expect(Math.abs(q.value - truth)).toBeLessThan(tol);
    }
  });

  it('tracks quantiles of a uniform stream and of an ascending ramp', () => {
    const rng = new Rng(7);
    const q = new P2Quantile(0.25);
    for (let i = 0; i < 50_000; i++) q.update(rng.next());
    expect(Math.abs(q.value - 0.25)).toBeLessThan(0.01);
    const ramp = new P2Quantile(0.5);
    for (let i = 1; i <= 10_000; i++) ramp.update(i);
    expect(Math.abs(ramp.value - 5000) / 5000).toBeLessThan(0.01);
  });

  it('keeps the exact minimum and maximum, and a constant stream at its value', () => {
    const rng = new Rng(9);
    const q = new P2Quantile(0.7);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < 5000; i++) {
      const x = rng.gauss();
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      q.update(x);
    }
    expect(q.min).toBe(lo);
    expect(q.max).toBe(hi);
    const c = new P2Quantile(0.3);
    for (let i = 0; i < 1000; i++) c.update(4.25);
    expect(c.value).toBe(4.25);
  });

  it('ignores NaN and ±Infinity, and stays finite on values near ±1e308', () => {
    const q = new P2Quantile(0.5);
    expect(q.value).toBeNaN();
    for (const x of [NaN, Infinity, -Infinity]) expect(q.update(x)).toBe(false);
    expect(q.n).toBe(0);
    const rng = new Rng(1);
    for (let i = 0; i < 1000; i++) q.update((rng.next() < 0.5 ? -1 : 1) * 1e308 * rng.next());
    expect(Number.isFinite(q.value)).toBe(true);
    expect(Math.abs(q.value)).toBeLessThan(1e308);
  });

  it('refuses p outside (0, 1)', () => {
    for (const p of [0, 1, -1, NaN]) expect(() => new P2Quantile(p)).toThrow(RangeError);
  });
});
