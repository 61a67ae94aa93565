import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { Ewma } from './ewma.js';

describe('Ewma', () => {
  it('is the exact running mean and population variance while 1/n ≥ α', () => {
    const e = new Ewma(0.1);
    for (const x of [2, 4, 6]) e.update(x);
    // mean 4; variance ((2−4)² + 0 + (6−4)²) / 3 = 8/3
    expect(e.mean).toBeCloseTo(4, 12);
    expect(e.variance).toBeCloseTo(8 / 3, 12);
    expect(e.n).toBe(3);
  });

  it('forgets geometrically: after a unit step the mean has covered 1 − (1 − α)^k of it', () => {
    const e = new Ewma(0.1);
    for (let i = 0; i < 100; i++) e.update(0);
    e.update(1);
    expect(e.mean).toBeCloseTo(0.1, 12);
    for (let k = 2; k <= 10; k++) e.update(1);
    expect(e.mean).toBeCloseTo(1 - 0.9 ** 10, 12);
    // Variance after the first step value: (1 − α)·(0 + α·1²) = 0.09.
    const f = new Ewma(0.1);
    for (let i = 0; i < 100; i++) f.update(0);
    f.update(1);
    expect(f.variance).toBeCloseTo(0.09, 12);
  });

  it('estimates the variance of a stationary Gaussian stream without bias on average', () => {
    const rng = new Rng(3);
    const e = new Ewma(0.01);
    let sum = 0;
    let count = 0;
    for (let i = 0; i < 200_000; i++) {
      e.update(5 + 2 * rng.gauss());
      if (i >= 1000) {
        sum += e.variance;
        count++;
      }
    }
    const meanVar = sum / count;
    console.log(`EWMA α=0.01 on N(5, 2²): time-averaged variance estimate ${meanVar.toFixed(3)} (true 4), last mean ${e.mean.toFixed(3)}`);
    // The EWMA variance is biased low by a factor (1 − α) for i.i.d. data: E[S] = (1 − α)·σ².
    expect(meanVar).toBeGreaterThan(4 * 0.95);
    expect(meanVar).toBeLessThan(4 * 1.03);
    expect(Math.abs(e.mean - 5)).toBeLessThan(0.5);
  });

  it('with α = 0 never forgets: the cumulative mean and variance', () => {
    const e = new Ewma(0);
    const xs = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 + i / 100);
    for (const x of xs) e.update(x);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(e.mean).toBeCloseTo(mean, 9);
    expect(e.variance).toBeCloseTo(variance, 9);
  });

  it('refuses NaN and ±Infinity without changing its state', () => {
    const e = new Ewma(0.5);
    e.update(1);
    expect(e.update(NaN)).toBe(false);
    expect(e.update(Infinity)).toBe(false);
    expect(e.update(-Infinity)).toBe(false);
    expect(e).toMatchObject({ mean: 1, variance: 0, n: 1 });
  });

  it('reports NaN before the first value and after reset', () => {
    const e = new Ewma(0.2);
    expect(e.mean).toBeNaN();
    e.update(3);
    e.reset();
    expect(e.mean).toBeNaN();
    expect(e.n).toBe(0);
  });

  it('refuses α outside [0, 1]', () => {
    for (const a of [-0.1, 1.5, NaN]) expect(() => new Ewma(a)).toThrow(RangeError);
  });
});
