/**
 * A scenario's signal as arrays, for the model toolchain and for tests: no emulator, no link, no
 * pipeline. The samples are exactly those the firmware emulator sends for the same seed and faults
 * (before the wire's float32 rounding), and `episodes` is the ground truth of where each fault is.
 */

import { getScenario } from './index.js';
import type { FaultKind, Scenario } from './scenario.js';

/** One fault episode placed on the run's time line. */
export interface EpisodeSpan {
  fault: FaultKind;
  channel: string;
  /** Index of the channel in `values` rows. */
  channelIndex: number;
  expectedChild: string;
  /** Seconds since the first sample, [startS, endS). */
  startS: number;
  endS: number;
  /** Sample indices, [start, end), clipped to the run. */
  start: number;
  end: number;
}

export interface Generated {
  channels: string[];
  rateHz: number;
  samples: number;
  /** Device time of each sample in ms since the first one (sample i at i · 1000 / rateHz). */
  times: Float64Array;
  /** Row-major samples × channels; NaN = missing. */
  values: Float64Array;
  /** Every episode of the faults asked for that the run contains, in time order. */
  episodes: EpisodeSpan[];
}

/** `seconds` of `scenario` from `seed` with `faults` on (default: clean). Deterministic. */
export function generate(scenario: Scenario | string, seed: number, seconds: number, faults: ReadonlySet<FaultKind> = new Set()): Generated {
  const s = typeof scenario === 'string' ? getScenario(scenario) : scenario;
  const C = s.channels.length;
  const n = Math.max(0, Math.round(seconds * s.rateHz));
  const times = new Float64Array(n);
  const values = new Float64Array(n * C);
  const src = s.createSource(seed, faults);
  const row = new Float64Array(C);
  const periodMs = 1000 / s.rateHz;
  for (let i = 0; i < n; i++) {
    src.next(row);
    values.set(row, i * C);
    times[i] = i * periodMs;
  }
  return { channels: s.channels.map((c) => c.name), rateHz: s.rateHz, samples: n, times, values, episodes: episodeSpans(s, seconds, faults) };
}

/**
 * Where the episodes of `faults` fall in a run of `seconds` (the ground truth, e.g. the leak
 * intervals a forecaster should flag). Episodes that start before the run ends are listed, clipped.
 */
export function episodeSpans(scenario: Scenario, seconds: number, faults: ReadonlySet<FaultKind>): EpisodeSpan[] {
  const n = Math.max(0, Math.round(seconds * scenario.rateHz));
  const out: EpisodeSpan[] = [];
  for (let c = 0; c * scenario.cycleS < seconds; c++) {
    for (const e of scenario.episodes) {
      if (!faults.has(e.fault)) continue;
      const startS = c * scenario.cycleS + e.startS;
      if (startS >= seconds) continue;
      const endS = Math.min(seconds, c * scenario.cycleS + e.endS);
      out.push({
        fault: e.fault,
        channel: e.channel,
        channelIndex: scenario.channels.findIndex((ch) => ch.name === e.channel),
        expectedChild: e.expectedChild,
        startS,
        endS,
        // Sample i is at i / rateHz: the first sample at or after each bound.
        start: Math.min(n, Math.ceil(startS * scenario.rateHz - 1e-9)),
        end: Math.min(n, Math.ceil(endS * scenario.rateHz - 1e-9)),
      });
    }
  }
  return out.sort((a, b) => a.startS - b.startS);
}
