import { describe, expect, it } from 'vitest';
import { detectorContract, falseAlarms } from './detector.contract.js';
import { PageHinkley } from './page-hinkley.js';

const make = () => new PageHinkley({ delta: 0.25, lambda: 25 });

describe('Page-Hinkley', () => {
  detectorContract('Page-Hinkley δ=0.25 λ=25', make, {
    falseAlarmsPer1000: 0.05,
    abrupt: [
      [0.5, 400, 160],
      [1, 100, 45],
      [2, 30, 20],
    ],
    ramp: 900,
  });

  it('raises false alarms when λ is set far too low, so the test above is not vacuous', () => {
    const f = falseAlarms(() => new PageHinkley({ delta: 0.05, lambda: 3 }), 2, 20_000);
    console.log(`Page-Hinkley δ=0.05 λ=3 (deliberately too sensitive): ${f.per1000.toFixed(2)} false alarms per 1000 values`);
    expect(f.per1000).toBeGreaterThan(1);
  });

  it('tells an increase from a decrease and resets after an alarm', () => {
    const ph = new PageHinkley({ delta: 0.1, lambda: 5, minInstances: 5 });
    for (let i = 0; i < 50; i++) expect(ph.update(0)).toBe(0);
    let s: number = 0;
    for (let i = 0; i < 50 && s === 0; i++) s = ph.update(1);
    expect(s).toBe(1);
    expect(ph.ratio).toBeGreaterThan(1);
    expect(ph.n).toBe(0);
    for (let i = 0; i < 50; i++) ph.update(1);
    let d: number = 0;
    for (let i = 0; i < 50 && d === 0; i++) d = ph.update(-1);
    expect(d).toBe(-1);
    expect(ph.detections).toBe(2);
  });

  it('computes g⁺ by hand on a short sequence', () => {
    // δ = 0: x = 0, 0, 3. Means 0, 0, 1; deviations 0, 0, 2 → m = 0, 0, 2; min 0 → g⁺ = 2.
    // Decrease side: m' = 0, 0, 2; max 2 → g⁻ = 0.
    const ph = new PageHinkley({ delta: 0, lambda: 100 });
    for (const x of [0, 0, 3]) ph.update(x);
    expect(ph.up).toBe(2);
    expect(ph.down).toBe(0);
  });

  it('raises no alarm before minInstances values, ignores NaN and ±Infinity, and refuses bad options', () => {
    const ph = new PageHinkley({ delta: 0, lambda: 0.5, minInstances: 10 });
    for (let i = 0; i < 9; i++) expect(ph.update(i * 100)).toBe(0);
    expect(ph.update(NaN)).toBe(0);
    expect(ph.update(Infinity)).toBe(0);
    expect(ph.n).toBe(9);
    expect(() => new PageHinkley({ delta: -1, lambda: 1 })).toThrow(RangeError);
    expect(() => new PageHinkley({ delta: 0, lambda: 0 })).toThrow(RangeError);
    expect(() => new PageHinkley({ delta: 0, lambda: 1, alpha: 0 })).toThrow(RangeError);
  });
});
