/**
 * The behaviour every change detector must show (STYLE §1), measured rather than assumed: rare false
 * alarms on long stationary Gaussian streams, and bounded detection delays after abrupt and gradual
 * mean shifts. All streams come from seeded generators; the measured figures are printed.
 */

import { expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';

export interface Detector {
  /** Truthy when a change is reported. */
  update(x: number): unknown;
}

export interface DelayFigures {
  runs: number;
  missed: number;
  /** Alarms before the change (false alarms during the stationary lead-in). */
  early: number;
  median: number;
  mean: number;
  max: number;
}

/** Alarms per 1000 values over `streams` independent N(0, 1) streams of `length` values. */
export function falseAlarms(make: () => Detector, streams: number, length: number): { alarms: number; per1000: number } {
  let alarms = 0;
  for (let s = 1; s <= streams; s++) {
    const rng = new Rng(s);
    const d = make();
    for (let i = 0; i < length; i++) if (d.update(rng.gauss())) alarms++;
  }
  return { alarms, per1000: (1000 * alarms) / (streams * length) };
}

/**
 * Feeds `lead` N(0, 1) values, then N(0, 1) + shift(k) for k = 0, 1, …; the delay is the number of
 * shifted values up to and including the first alarm (runs without one within `horizon` are missed).
 */
export function detectionDelay(make: () => Detector, runs: number, lead: number, shift: (k: number) => number, horizon: number): DelayFigures {
  const delays: number[] = [];
  let missed = 0;
  let early = 0;
  for (let s = 1; s <= runs; s++) {
    const rng = new Rng(10_000 + s);
    const d = make();
    for (let i = 0; i < lead; i++) if (d.update(rng.gauss())) early++;
    let k = 0;
    while (k < horizon && !d.update(rng.gauss() + shift(k))) k++;
    if (k === horizon) missed++;
    else delays.push(k + 1);
  }
  delays.sort((a, b) => a - b);
  return {
    runs,
    missed,
    early,
    median: delays[delays.length >> 1] ?? NaN,
    mean: delays.reduce((a, b) => a + b, 0) / Math.max(1, delays.length),
    max: delays.at(-1) ?? NaN,
  };
}

const fmt = (f: DelayFigures) => `median ${f.median}, mean ${f.mean.toFixed(1)}, max ${f.max} values; missed ${f.missed}/${f.runs}, early alarms ${f.early}`;

export interface DetectorBounds {
  /** Most false alarms per 1000 values allowed on 10 × 20 000 N(0, 1) values. */
  falseAlarmsPer1000: number;
  /** [shift in σ, largest delay, largest median delay] for abrupt shifts after 2000 stationary values. */
  abrupt: [number, number, number][];
  /** Largest delay for a ramp of 2σ over 2000 values, counted from the ramp's start. */
  ramp: number;
}

export function detectorContract(label: string, make: () => Detector, b: DetectorBounds): void {
  it(`rarely raises an alarm on long stationary Gaussian streams (≤ ${b.falseAlarmsPer1000} per 1000 values)`, () => {
    const f = falseAlarms(make, 10, 20_000);
    console.log(`${label}: false alarms on 10 × 20 000 N(0,1) values: ${f.alarms} (${f.per1000.toFixed(3)} per 1000 values)`);
    expect(f.per1000).toBeLessThanOrEqual(b.falseAlarmsPer1000);
  });

  it.each(b.abrupt)('detects an abrupt mean shift of %dσ within %d values (median ≤ %d), with no alarm before it', (shift, bound, medianBound) => {
    const f = detectionDelay(make, 30, 2000, () => shift, 5000);
    console.log(`${label}: abrupt +${shift}σ after 2000 values: delay ${fmt(f)}`);
    expect(f.missed).toBe(0);
    expect(f.early).toBe(0);
    expect(f.max).toBeLessThanOrEqual(bound);
    expect(f.median).toBeLessThanOrEqual(medianBound);
  });

  it(`detects a gradual shift (a ramp of 2σ over 2000 values) within ${b.ramp} values of its start`, () => {
    const f = detectionDelay(make, 30, 2000, (k) => Math.min(2, (2 * k) / 2000), 5000);
    console.log(`${label}: ramp 0→2σ over 2000 values: delay ${fmt(f)}`);
    expect(f.missed).toBe(0);
    expect(f.early).toBe(0);
    expect(f.max).toBeLessThanOrEqual(b.ramp);
  });
}
