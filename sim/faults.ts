/**
 * Value-level fault injection (DESIGN §3 sim/, paper §3.1 robustness testing): each fault kind has a
 * magnitude knob so calibration and evaluation can sweep from "barely there" to "obvious". Faults
 * act on one channel's samples over a span, in place; `sigma` is the channel's clean noise scale
 * (estimated by the caller) so magnitudes are in noise units wherever that makes sense.
 *
 * These are edits of recorded values. The compressed-air scenario's `leak` (scenarios/scenario.ts
 * FAULT_KINDS) is not among them on purpose: a leak changes the plant — when the compressor loads,
 * how fast the pressure falls — so painting it onto recorded values would produce a signal no
 * plant makes, and no rule child is meant to catch it anyway. It is played by the scenario itself
 * (`tinyqa sim --faults leak`, scenarios/generate.ts), with its ground truth in the episodes.
 */

import type { Rng } from './random.js';

export const INJECTED_FAULTS = ['missing', 'stuck', 'range', 'spikes', 'noise', 'drift', 'jitter'] as const;
export type InjectedFault = (typeof INJECTED_FAULTS)[number];

export interface FaultMagnitudes {
  /** Units of each fault's magnitude, for reports. */
  unit: string;
  /** The sweep, weakest first. */
  sweep: number[];
  /** The magnitude DESIGN §8's recall targets are stated at. */
  documented: number;
}

export const MAGNITUDES: Record<InjectedFault, FaultMagnitudes> = {
  missing: { unit: 'share of samples missing in the span', sweep: [0.01, 0.05, 0.2, 0.5, 1], documented: 0.2 },
  stuck: { unit: 'share of the span frozen at one value', sweep: [0.25, 0.5, 0.75, 1], documented: 1 },
  range: { unit: 'excursion beyond the physical range, × range width', sweep: [0.001, 0.01, 0.1, 0.5], documented: 0.01 },
  spikes: { unit: 'spike height, × noise σ', sweep: [4, 8, 16, 32, 64], documented: 32 },
  noise: { unit: 'added white noise, × noise σ', sweep: [0.5, 1, 2, 4, 8], documented: 4 },
  drift: { unit: 'ramp over the span, × noise σ', sweep: [5, 20, 50, 100, 200], documented: 100 },
  jitter: { unit: 'timestamp jitter, × sample period', sweep: [0.05, 0.2, 0.5, 1], documented: 0.5 },
};

export interface FaultSpan {
  start: number; // sample index, inclusive
  end: number; // exclusive
}

/**
 * Where episodes go in a replay of `samples` samples judged in windows of `window`: spans of 4
 * windows every 12 (drift needs room to build and to be noticed: 20 every 40), starting at window 6,
 * rotating over the channels, aligned to windows.
 */
export function faultEpisodes(fault: InjectedFault, samples: number, window: number, channels: number): (FaultSpan & { channel: number })[] {
  const spanW = fault === 'drift' ? 20 : 4;
  const every = fault === 'drift' ? 40 : 12;
  const spans: (FaultSpan & { channel: number })[] = [];
  for (let k = 0, w = 6; (w + spanW) * window <= samples; k++, w += every) spans.push({ channel: k % channels, start: w * window, end: (w + spanW) * window });
  return spans;
}

/**
 * Applies one fault to `values` (and `times` for jitter) over `span`.
 * `range` needs the channel's physical [min, max].
 */
export function applyFault(
  fault: InjectedFault,
  magnitude: number,
  values: Float64Array,
  times: Float64Array,
  span: FaultSpan,
  ctx: { sigma: number; min: number; max: number; periodMs: number; rng: Rng },
): void {
  const { start, end } = span;
  const n = end - start;
  const r = ctx.rng;
  switch (fault) {
    case 'missing': {
      // A contiguous burst at the start of the span: how link dropouts look.
      const k = Math.max(1, Math.round(magnitude * n));
      for (let i = start; i < start + k && i < end; i++) values[i] = NaN;
      break;
    }
    case 'stuck': {
      const k = Math.max(2, Math.round(magnitude * n));
      const v = values[start]!;
      for (let i = start; i < start + k && i < end; i++) values[i] = v;
      break;
    }
    case 'range': {
      const width = ctx.max - ctx.min;
      for (let i = start; i < end; i++) values[i] = ctx.max + magnitude * width + Math.abs(r.gauss()) * 1e-6 * width;
      break;
    }
    case 'spikes': {
      for (let i = start + 3; i < end - 3; i += 20) values[i] = values[i]! + (r.next() < 0.5 ? -1 : 1) * magnitude * ctx.sigma;
      break;
    }
    case 'noise': {
      for (let i = start; i < end; i++) values[i] = values[i]! + magnitude * ctx.sigma * r.gauss();
      break;
    }
    case 'drift': {
      // Ramps up over the span and stays there until the span ends (a calibration creeping off).
      for (let i = start; i < end; i++) values[i] = values[i]! + (magnitude * ctx.sigma * (i - start + 1)) / n;
      break;
    }
    case 'jitter': {
      for (let i = start; i < end; i++) times[i] = times[i]! + magnitude * ctx.periodMs * (2 * r.next() - 1);
      break;
    }
  }
}

/** Robust noise scale of a clean series: MAD of first differences / √2 (as the spike child uses). */
export function noiseSigma(values: Float64Array): number {
  const d: number[] = [];
  for (let i = 1; i < values.length; i++) {
    const x = values[i]! - values[i - 1]!;
    if (Number.isFinite(x)) d.push(x);
  }
  d.sort((a, b) => a - b);
  const med = d[d.length >> 1] ?? 0;
  const dev = d.map((x) => Math.abs(x - med)).sort((a, b) => a - b);
  return (1.4826 * (dev[dev.length >> 1] ?? 0)) / Math.SQRT2;
}
