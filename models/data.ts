/**
 * Training data for the shipped models: clean windows of a simulator scenario (no faults), cut the
 * way the runtime cuts them (runtime/core/window.ts: size W, every `hop` samples), per channel.
 */

import type { Scenario } from '../sim/scenarios/scenario.js';

export interface Series {
  channels: string[];
  /** Row-major samples × channels. */
  values: Float64Array;
  samples: number;
}

/** `seconds` of a scenario's clean signal from `seed` (deterministic). */
export function scenarioSeries(scenario: Scenario, seed: number, seconds: number): Series {
  const C = scenario.channels.length;
  const n = Math.round(seconds * scenario.rateHz);
  const values = new Float64Array(n * C);
  const src = scenario.createSource(seed, new Set());
  const row = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    src.next(row);
    values.set(row, i * C);
  }
  return { channels: scenario.channels.map((c) => c.name), values, samples: n };
}

/** Windows of the named channels: result[w][c] is channel c's window w (length `size`). */
export function cutWindows(s: Series, channels: string[], size: number, hop: number): Float64Array[][] {
  const idx = channels.map((name) => {
    const i = s.channels.indexOf(name);
    if (i < 0) throw new Error(`the series has no channel ${name} (it has ${s.channels.join(', ')})`);
    return i;
  });
  const C = s.channels.length;
  const out: Float64Array[][] = [];
  for (let start = 0; start + size <= s.samples; start += hop) {
    out.push(
      idx.map((ci) => {
        const w = new Float64Array(size);
        for (let t = 0; t < size; t++) w[t] = s.values[(start + t) * C + ci]!;
        return w;
      }),
    );
  }
  return out;
}

/** Per-channel mean and standard deviation over a series (the manifest's normalisation). */
export function channelStats(s: Series, channels: string[]): { mean: number[]; std: number[] } {
  const C = s.channels.length;
  const mean: number[] = [];
  const std: number[] = [];
  for (const name of channels) {
    const ci = s.channels.indexOf(name);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < s.samples; i++) {
      const x = s.values[i * C + ci]!;
      sum += x;
      sq += x * x;
    }
    const m = sum / s.samples;
    mean.push(m);
    std.push(Math.max(Math.sqrt(Math.max(0, sq / s.samples - m * m)), 1e-6));
  }
  return { mean, std };
}
