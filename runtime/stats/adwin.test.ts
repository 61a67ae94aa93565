import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { Adwin } from './adwin.js';
import { detectorContract } from './detector.contract.js';

describe('ADWIN', () => {
  detectorContract('ADWIN δ=0.002', () => new Adwin(), {
    falseAlarmsPer1000: 0.1,
    abrupt: [
      [0.5, 300, 150],
      [1, 100, 45],
      [2, 30, 15],
    ],
    ramp: 800,
  });

  it('keeps the whole stationary stream in its window', () => {
    const rng = new Rng(5);
    const a = new Adwin();
    for (let i = 0; i < 5000; i++) a.update(rng.gauss());
    expect(a.width).toBe(5000);
    expect(Math.abs(a.mean)).toBeLessThan(0.1);
    expect(a.variance).toBeGreaterThan(0.9);
    expect(a.variance).toBeLessThan(1.1);
  });

  it('drops the old part of its window at a change, so its mean and variance are those of the values kept', () => {
    const rng = new Rng(8);
    const a = new Adwin();
    const xs: number[] = [];
    let cutAt = -1;
    for (let i = 0; i < 3000; i++) {
      const x = (i < 2000 ? 0 : 3) + rng.gauss();
      xs.push(x);
      if (a.update(x) && cutAt < 0) cutAt = i;
    }
    expect(cutAt).toBeGreaterThanOrEqual(2000);
    expect(a.detections).toBeGreaterThanOrEqual(1);
    expect(a.width).toBeLessThan(1100);
    const kept = xs.slice(-a.width);
    const mean = kept.reduce((s, x) => s + x, 0) / kept.length;
    const variance = kept.reduce((s, x) => s + (x - mean) ** 2, 0) / kept.length;
    expect(a.mean).toBeCloseTo(mean, 9);
    expect(a.variance).toBeCloseTo(variance, 6);
    expect(Math.abs(a.mean - 3)).toBeLessThan(0.2);
  });

  it('reports the largest |μ₀ − μ₁| / ε_cut of its last test, below 1 until it cuts', () => {
    const a = new Adwin();
    for (let i = 0; i < 100; i++) a.update(0);
    expect(a.lastRatio).toBe(0);
    let ratioAtCut = 0;
    let before = 0;
    for (let i = 0; i < 100 && ratioAtCut === 0; i++) {
      if (a.update(1)) ratioAtCut = a.lastRatio;
      else {
        expect(a.lastRatio).toBeLessThanOrEqual(1);
        before = a.lastRatio;
      }
    }
    expect(before).toBeGreaterThan(0.5);
    expect(ratioAtCut).toBeGreaterThan(1);
  });

  it('ignores NaN and ±Infinity, and refuses bad options', () => {
    const a = new Adwin();
    for (const x of [NaN, Infinity, -Infinity]) expect(a.update(x)).toBe(false);
    expect(a.width).toBe(0);
    expect(() => new Adwin({ delta: 0 })).toThrow(RangeError);
    expect(() => new Adwin({ delta: 1 })).toThrow(RangeError);
    expect(() => new Adwin({ maxBuckets: 1 })).toThrow(RangeError);
    expect(() => new Adwin({ clock: 0 })).toThrow(RangeError);
    expect(() => new Adwin({ range: -1 })).toThrow(RangeError);
  });

  it('holds a million values in a few dozen buckets', () => {
    const a = new Adwin({ clock: 64 });
    const rng = new Rng(2);
    for (let i = 0; i < 1_000_000; i++) a.update(rng.next());
    expect(a.width).toBe(1_000_000);
    expect(Math.abs(a.mean - 0.5)).toBeLessThan(0.01);
  });
});
