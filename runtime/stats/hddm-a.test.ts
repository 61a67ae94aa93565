import { describe, expect, it } from 'vitest';
import { detectionDelay, detectorContract, falseAlarms } from './detector.contract.js';
import { HddmA } from './hddm-a.js';

const throwsNaming = (make: () => unknown, option: string) => {
  expect(make).toThrow(RangeError);
  expect(make).toThrow(option);
};

describe('HDDM_A', () => {
  detectorContract('HDDM_A range [-5,5] δ=0.001', () => new HddmA({ range: [-5, 5] }), {
    falseAlarmsPer1000: 0.005,
    // 0.5σ is left out: with R = 10σ it needs ≈ 6300 values after 2000 stable ones (see below).
    abrupt: [
      [1, 750, 550],
      [2, 170, 125],
    ],
    ramp: 1500,
  });

  it('raises false alarms with a narrow range and a lax confidence, so the test above is not vacuous', () => {
    const f = falseAlarms(() => new HddmA({ range: [-1, 1], driftConfidence: 0.5, warningConfidence: 0.5 }), 2, 20_000);
    console.log(`HDDM_A range [-1,1] δ=0.5 (deliberately too sensitive): ${f.per1000.toFixed(2)} false alarms per 1000 values`);
    expect(f.per1000).toBeGreaterThan(1);
  });

  it('takes about K·m/(m − K) values to find a shift Δ after m stable ones, K = R²·ln(2/δ)/(2Δ²)', () => {
    const m = 2000;
    for (const [half, shift] of [
      [5, 1],
      [5, 2],
      [4, 0.5],
      [5, 0.5],
    ] as const) {
      const K = ((2 * half) ** 2 * Math.log(2 / 0.001)) / (2 * shift ** 2);
      const predicted = (K * m) / (m - K);
      const f = detectionDelay(() => new HddmA({ range: [-half, half] }), 30, m, () => shift, 5000);
      console.log(`HDDM_A range [-${half},${half}]: +${shift}σ after ${m} values: predicted ≈ ${predicted.toFixed(0)}, measured median ${f.median}, max ${f.max}; missed ${f.missed}/30 within 5000`);
      if (predicted < 5000) {
        expect(f.missed).toBe(0);
        expect(Math.abs(f.median / predicted - 1)).toBeLessThan(0.15);
      } else {
        expect(f.missed).toBeGreaterThanOrEqual(15);
      }
    }
  });

  it('computes the Hoeffding bound and the ratio by hand, warns before the drift, and restarts', () => {
    // Range [0, 1], δ = 0.001: ln(2/δ) = ln 2000 = 7.600902. Ten 0s keep the cut m⁺ at the latest value;
    // after an 11th value of 1, Z̄ = 1/11 and X̄₁₀ + ε(10) = 0.616478 < Z̄ + ε(11) = 0.678697, so m⁺ stays 10:
    //   ε(11, 10) = √(1/(2·10·11) · 7.600902) = √0.0345496 = 0.185875,  ratio = (1/11) / 0.185875 = 0.489087.
    const h = new HddmA({ range: [0, 1] });
    for (let i = 0; i < 10; i++) expect(h.update(0)).toBe(false);
    expect(h.update(1)).toBe(false);
    expect(h.bound).toBeCloseTo(0.185875, 6);
    expect(h.ratio).toBeCloseTo(0.489087, 6);
    expect(h.direction).toBe(1);
    expect(h.warning).toBe(false);
    // Warning bound / drift bound = √(ln 400 / ln 2000) = √(5.991465/7.600902) = 0.887838.
    // After 10 0s and 6 1s: Z̄ = 6/16, ε(16, 10) = √(6/320 · 7.600902) = 0.377514, ratio 0.993340: a warning, no drift.
    for (let i = 0; i < 4; i++) h.update(1);
    expect(h.update(1)).toBe(false);
    expect(h.ratio).toBeCloseTo(0.99334, 5);
    expect(h.warning).toBe(true);
    // The 7th 1: Z̄ = 7/17, ε(17, 10) = √(7/340 · 7.600902) = 0.395587, ratio 1.040895 ≥ 1: a drift, then a restart.
    expect(h.update(1)).toBe(true);
    expect(h.ratio).toBeCloseTo(1.040895, 5);
    expect(h.direction).toBe(1);
    expect(h.detections).toBe(1);
    expect(h.n).toBe(0);
    expect(h.warning).toBe(false);
    expect(h.mean).toBeNaN();
  });

  it('detects a decrease as direction −1, and clips values into the range', () => {
    const h = new HddmA({ range: [0, 1] });
    for (let i = 0; i < 30; i++) h.update(7); // clipped to 1
    expect(h.mean).toBe(1);
    let drift = false;
    for (let i = 0; i < 30 && !drift; i++) drift = h.update(-3); // clipped to 0
    expect(drift).toBe(true);
    expect(h.direction).toBe(-1);
    expect(h.ratio).toBeGreaterThanOrEqual(1);
    h.reset();
    expect(h.ratio).toBe(0);
    expect(h.direction).toBe(0);
    expect(h.detections).toBe(1);
  });

  it('ignores NaN and ±Infinity, and refuses bad options naming them', () => {
    const h = new HddmA({ range: [-5, 5] });
    h.update(1);
    for (const x of [NaN, Infinity, -Infinity]) expect(h.update(x)).toBe(false);
    expect(h.n).toBe(1);
    expect(h.mean).toBe(1);
    throwsNaming(() => new HddmA({ range: [1, 1] }), 'range');
    throwsNaming(() => new HddmA({ range: [2, 1] }), 'range');
    throwsNaming(() => new HddmA({ range: [0, Infinity] }), 'range');
    throwsNaming(() => new HddmA({ range: [NaN, 1] }), 'range');
    throwsNaming(() => new HddmA({ range: [-Number.MAX_VALUE, Number.MAX_VALUE] }), 'range');
    throwsNaming(() => new HddmA({} as never), 'range');
    throwsNaming(() => new HddmA({ range: [0, 1], driftConfidence: 0 }), 'driftConfidence');
    throwsNaming(() => new HddmA({ range: [0, 1], driftConfidence: 1 }), 'driftConfidence');
    throwsNaming(() => new HddmA({ range: [0, 1], driftConfidence: 0.01, warningConfidence: 0.005 }), 'warningConfidence');
    throwsNaming(() => new HddmA({ range: [0, 1], warningConfidence: 1 }), 'warningConfidence');
  });
});
