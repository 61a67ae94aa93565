import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { detectorContract, falseAlarms } from './detector.contract.js';
import { Kswin, kolmogorovQ, ksStatistic } from './kswin.js';

/** λ = (√nₑ + 0.12 + 0.11/√nₑ)·D for r = 4 (nₑ = 2): the factor is √2 + 0.12 + 0.11/√2 = 1.611995. */
const factor4 = Math.SQRT2 + 0.12 + 0.11 / Math.SQRT2;

const throwsNaming = (make: () => unknown, option: string) => {
  expect(make).toThrow(RangeError);
  expect(make).toThrow(option);
};

describe('KSWIN', () => {
  detectorContract('KSWIN n=2000 r=200 α=1e-4 every 20', () => new Kswin(), {
    falseAlarmsPer1000: 0.01,
    abrupt: [
      [0.5, 400, 220],
      [1, 180, 140],
      [2, 120, 80],
    ],
    ramp: 800,
  });

  it("raises false alarms with the paper's settings (n=100, r=30, α=0.005, a test at every value), so the test above is not vacuous", () => {
    const f = falseAlarms(() => new Kswin({ windowSize: 100, statSize: 30, alpha: 0.005, checkEvery: 1 }), 2, 20_000);
    console.log(`KSWIN n=100 r=30 α=0.005 every value (the paper's settings): ${f.per1000.toFixed(2)} false alarms per 1000 values`);
    expect(f.per1000).toBeGreaterThan(1);
  });

  it('sees a change of spread that leaves the mean alone (σ 1 → 3)', () => {
    const delays: number[] = [];
    let early = 0;
    for (let s = 1; s <= 30; s++) {
      const rng = new Rng(20_000 + s);
      const d = new Kswin();
      for (let i = 0; i < 2000; i++) if (d.update(rng.gauss())) early++;
      let k = 0;
      while (k < 5000 && !d.update(3 * rng.gauss())) k++;
      delays.push(k + 1);
    }
    delays.sort((a, b) => a - b);
    console.log(`KSWIN: σ 1 → 3 after 2000 values: delay median ${delays[15]}, max ${delays.at(-1)} values; early alarms ${early}`);
    expect(early).toBe(0);
    expect(delays.at(-1)).toBeLessThanOrEqual(300);
    expect(delays[15]).toBeLessThanOrEqual(200);
  });

  it('computes the two-sample KS statistic by hand, stepping over ties together', () => {
    // Pooled 1a 2a 2.5b 3a 3.5b 4a 4.5b 5.5b: F_a − F_b = ¼ ½ ¼ ½ ¼ ½ ¼ 0 → D = ½.
    expect(ksStatistic([1, 2, 3, 4], [2.5, 3.5, 4.5, 5.5])).toBe(0.5);
    // After 0: ½ vs 0; after 1 (both sides at once): 1 vs ½; after 2: 1 vs 1 → D = ½ (not ¾, which stepping one tie at a time gives).
    expect(ksStatistic([0, 0, 1, 1], [1, 1, 2, 2])).toBe(0.5);
    // Unequal sizes: after 1: ⅓ vs 0; after 1.5: ⅓ vs 1 → D = ⅔.
    expect(ksStatistic([1, 2, 3], [1.5])).toBeCloseTo(2 / 3, 12);
    expect(ksStatistic([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(ksStatistic([1, 2], [3, 4])).toBe(1);
  });

  it("matches the tabulated Kolmogorov distribution, on both sides of the series' switch at λ = 1.18", () => {
    // Critical values of Kolmogorov's limit law: P(K > 1.2238) = 0.10, 1.3581 → 0.05, 1.6276 → 0.01, 1.9495 → 0.001; K(0.5) = 0.0361.
    expect(kolmogorovQ(1.2238)).toBeCloseTo(0.1, 4);
    expect(kolmogorovQ(1.3581)).toBeCloseTo(0.05, 4);
    expect(kolmogorovQ(1.6276)).toBeCloseTo(0.01, 5);
    expect(kolmogorovQ(1.9495)).toBeCloseTo(0.001, 6);
    expect(kolmogorovQ(0.5)).toBeCloseTo(1 - 0.0361, 4);
    expect(kolmogorovQ(1.18 - 1e-9)).toBeCloseTo(kolmogorovQ(1.18), 8);
    expect(kolmogorovQ(0)).toBe(1);
    expect(kolmogorovQ(0.05)).toBe(1);
    expect(kolmogorovQ(10)).toBeLessThan(1e-80);
  });

  it('tests R against the whole older part when n = 2r, by hand, and keeps only R after a change', () => {
    // n = 8, r = 4: the sample of 4 from the older 4 is all of them, whatever the PRNG draws.
    const k = new Kswin({ windowSize: 8, statSize: 4, alpha: 0.05, checkEvery: 1 });
    for (const x of [1, 2, 3, 4, 2.5, 3.5, 4.5]) expect(k.update(x)).toBe(false);
    expect(k.pValue).toBeNaN();
    expect(k.update(5.5)).toBe(false);
    // D = ½ (above); λ = 1.611995·½ = 0.805998; Q = 2(e^{−2λ²} − e^{−8λ²} + e^{−18λ²}) = 2(0.272732 − 0.005533 + 0.000008) ≈ 0.53442.
    expect(k.statistic).toBe(0.5);
    expect(k.pValue).toBeCloseTo(0.53442, 4);
    expect(k.width).toBe(8);

    const c = new Kswin({ windowSize: 8, statSize: 4, alpha: 0.05, checkEvery: 1 });
    for (const x of [0, 0, 0, 0, 1, 1, 1]) expect(c.update(x)).toBe(false);
    // D = 1, λ = 1.611995, Q = 2(e^{−5.1970} − e^{−20.788} + …) = 0.011066 < 0.05: a change.
    expect(c.update(1)).toBe(true);
    expect(c.pValue).toBeCloseTo(2 * (Math.exp(-2 * factor4 ** 2) - Math.exp(-8 * factor4 ** 2)), 10);
    expect(c.pValue).toBeCloseTo(0.011066, 5);
    expect(c.width).toBe(4);
    expect(c.detections).toBe(1);
    // The window now holds [1, 1, 1, 1]: four more 1s fill it and the test finds nothing.
    for (let i = 0; i < 4; i++) expect(c.update(1)).toBe(false);
    expect(c.statistic).toBe(0);
    expect(c.pValue).toBe(1);
  });

  it('tests a full window only once every checkEvery values', () => {
    const stream = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];
    const every = (k: number) => {
      const d = new Kswin({ windowSize: 8, statSize: 4, alpha: 0.05, checkEvery: k });
      return stream.map((x) => d.update(x));
    };
    // Every value: the change to 1 is found at the 8th value, the change to 2 as soon as the window refills (12th).
    expect(every(1).flatMap((c, i) => (c ? [i + 1] : []))).toEqual([8, 12]);
    // Every 6th: the 12th value comes only 4 after the last test; at the 14th the older part already holds two 2s (D = ½).
    expect(every(6).flatMap((c, i) => (c ? [i + 1] : []))).toEqual([8]);
  });

  it('replays identically from its seed, also after reset()', () => {
    const run = (d: Kswin) => {
      const rng = new Rng(3);
      const at: number[] = [];
      for (let i = 0; i < 12_000; i++) if (d.update(rng.gauss() + (i % 4000 < 2000 ? 0 : 1))) at.push(i);
      return at;
    };
    const d = new Kswin({ seed: 7 });
    const first = run(d);
    expect(first.length).toBe(5);
    d.reset();
    expect(d.width).toBe(0);
    expect(run(d)).toEqual(first);
    expect(run(new Kswin({ seed: 7 }))).toEqual(first);
  });

  it('ignores NaN and ±Infinity, and refuses bad options naming them', () => {
    const k = new Kswin({ windowSize: 8, statSize: 4, checkEvery: 1 });
    for (const x of [NaN, Infinity, -Infinity]) expect(k.update(x)).toBe(false);
    expect(k.width).toBe(0);
    for (let i = 0; i < 7; i++) k.update(i);
    expect(k.update(NaN)).toBe(false);
    expect(k.width).toBe(7);
    expect(k.pValue).toBeNaN();
    throwsNaming(() => new Kswin({ statSize: 1 }), 'statSize');
    throwsNaming(() => new Kswin({ statSize: 2.5 }), 'statSize');
    throwsNaming(() => new Kswin({ windowSize: 399, statSize: 200 }), 'windowSize');
    throwsNaming(() => new Kswin({ windowSize: NaN }), 'windowSize');
    throwsNaming(() => new Kswin({ alpha: 0 }), 'alpha');
    throwsNaming(() => new Kswin({ alpha: 1 }), 'alpha');
    throwsNaming(() => new Kswin({ checkEvery: 0 }), 'checkEvery');
    throwsNaming(() => new Kswin({ seed: 1.5 }), 'seed');
  });
});
