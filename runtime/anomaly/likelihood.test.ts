import { describe, expect, it } from 'vitest';
import { AnomalyLikelihood, logScore, normalTail } from './likelihood.js';

describe('Gaussian tail and log scale', () => {
  it('gives the textbook tail probabilities', () => {
    expect(normalTail(0)).toBeCloseTo(0.5, 7);
    expect(normalTail(1.959964)).toBeCloseTo(0.025, 6);
    expect(normalTail(-1.959964)).toBeCloseTo(0.975, 6);
    // Q(4.264891) = 1e-5 (standard normal table); relative precision matters in the far tail.
    expect(normalTail(4.264891) / 1e-5).toBeCloseTo(1, 4);
  });

  it('maps p = 1e-5 to 0.5, p = 0 to 1 and p = 1 to 0', () => {
    expect(logScore(1e-5)).toBeCloseTo(0.5, 6);
    expect(logScore(0)).toBe(1);
    expect(logScore(1)).toBeCloseTo(0, 8);
  });
});

describe('AnomalyLikelihood', () => {
  it('returns 0 during learning and about 0.03 (p = 0.5) while the distribution is estimated', () => {
    const l = new AnomalyLikelihood({ learning: 20, estimation: 30 });
    for (let i = 0; i < 20; i++) expect(l.update(0.1)).toBe(0);
    for (let i = 0; i < 30; i++) expect(l.update(0.1)).toBeCloseTo(logScore(0.5), 10);
  });

  it('stays low for raw scores that vary as usual and alarms once when they jump', () => {
    const l = new AnomalyLikelihood({ learning: 10, estimation: 50 });
    let quietMax = 0;
    for (let i = 0; i < 2000; i++) quietMax = Math.max(quietMax, l.update(0.1 + 0.05 * Math.sin(i)));
    expect(quietMax).toBeLessThan(0.2);
    const burst = [0.95, 0.95, 0.95, 0.95, 0.95].map(() => l.update(0.95));
    const firstRed = burst.findIndex((s) => s >= 0.5);
    expect(firstRed).toBeGreaterThanOrEqual(0);
    // The next sample, red as well, is lowered to the yellow level p = 1e-3 (score 0.3).
    expect(burst[firstRed + 1]).toBeCloseTo(logScore(1e-3), 6);
  });

  it('does not let a blip on an almost silent stream look certain (mean and variance floors)', () => {
    const l = new AnomalyLikelihood({ learning: 0, estimation: 10 });
    for (let i = 0; i < 500; i++) l.update(0);
    // One raw 0.3 among zeros: a 10-sample mean of 0.03, right at the mean floor.
    expect(l.update(0.3)).toBeLessThan(0.1);
  });
});
