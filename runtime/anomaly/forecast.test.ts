import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { DailyProfile, LevelForecaster } from './forecast.js';

const MIN5 = 300_000;

describe('LevelForecaster', () => {
  it('scores a residual against the spread seen before it, then learns the value', () => {
    const f = new LevelForecaster(0.01);
    const rng = new Rng(1);
    for (let i = 0; i < 2000; i++) f.observe(100 + rng.gauss());
    expect(f.mean).toBeCloseTo(100, 0);
    expect(Math.sqrt(f.variance)).toBeGreaterThan(0.8);
    expect(Math.sqrt(f.variance)).toBeLessThan(1.2);
    const z = f.observe(108);
    expect(z).toBeGreaterThan(6);
    expect(f.residual).toBeGreaterThan(7);
  });

  it('gives 0 for a constant series and a finite, huge z for the first change', () => {
    const f = new LevelForecaster(0.01);
    for (let i = 0; i < 100; i++) expect(f.observe(3)).toBe(0);
    const z = f.observe(3.001);
    expect(Number.isFinite(z)).toBe(true);
    expect(z).toBeGreaterThan(1e3);
  });
});

describe('DailyProfile', () => {
  it('predicts a daily shape, so a value normal for the day but wrong for the hour stands out', () => {
    const p = new DailyProfile(96, 0.1);
    const rng = new Rng(2);
    const day = 288;
    const shape = (i: number) => 50 + 20 * Math.sin((2 * Math.PI * (i % day)) / day);
    for (let i = 0; i < day * 7; i++) p.observe(shape(i) + 0.5 * rng.gauss(), i * MIN5, 200);
    const i = day * 7 + 72; // 06:00, the daily peak (70)
    expect(p.observe(shape(i), i * MIN5, 200)).toBeLessThan(2);
    const j = i + day;
    expect(p.observe(30, j * MIN5, 200)).toBeGreaterThan(6); // 30 is inside the daily range
  });

  it('has no opinion on a bin it has never seen or an unknown time', () => {
    const p = new DailyProfile(96, 0.1);
    expect(p.observe(1, 0, 1)).toBeNaN();
    expect(p.observe(1, NaN, 1)).toBeNaN();
    expect(p.observe(1, 0, 1)).toBe(0);
    expect(p.observe(1, -MIN5, 1)).toBeNaN(); // 23:55 the day before: its own bin
  });
});
