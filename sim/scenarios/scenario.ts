/** What a simulated sensor scenario provides to the firmware emulator and to evaluations. */

import type { ChannelInfo } from '../../runtime/framing/messages.js';

/**
 * Faults a scenario can play (`--faults`). stuck, missing, spikes and range are sensor faults the rule
 * children catch; `leak` is a fault of the process itself (compressed-air: air escaping upstream of
 * the flow meter), visible only as a forecast residual. A scenario plays the kinds its episodes name
 * and ignores the rest (the pump has no leak). These are not sim/faults.ts's INJECTED_FAULTS: those
 * are value-level edits of recorded data for `eval faults` and `calibrate`, and a leak cannot be
 * painted onto recorded values — it changes when the compressor loads.
 */
export const FAULT_KINDS = ['stuck', 'missing', 'spikes', 'range', 'leak'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * A fault injected into one channel over [startS, endS) of every cycle, and the child meant to catch
 * it (for `leak`: `anomaly`, which is off in the default graph and needs a model-backed forecaster).
 */
export interface Episode {
  fault: FaultKind;
  channel: string;
  startS: number;
  endS: number;
  expectedChild: string;
}

/** Produces the scenario's samples one at a time (all channels at once), deterministic from its seed. */
export interface SampleSource {
  /** Writes the next sample's channel values into `out` (NaN = missing). */
  next(out: Float64Array): void;
}

export interface Scenario {
  name: string;
  description: string;
  /** What the emulated firmware announces in its HELLO. */
  device: string;
  fw: string;
  channels: ChannelInfo[];
  rateHz: number;
  /** Episodes repeat every `cycleS` seconds. */
  cycleS: number;
  episodes: readonly Episode[];
  createSource(seed: number, faults: ReadonlySet<FaultKind>): SampleSource;
}

/** Parses --faults: "default"/"all" (every kind; each scenario plays those it has), "none", or a comma list of kinds. */
export function parseFaults(spec: string): Set<FaultKind> | string {
  const s = spec.trim().toLowerCase();
  if (s === 'default' || s === 'all') return new Set(FAULT_KINDS);
  if (s === 'none' || s === '') return new Set();
  const out = new Set<FaultKind>();
  for (const part of s.split(',').map((p) => p.trim())) {
    if (!(FAULT_KINDS as readonly string[]).includes(part)) return `unknown fault "${part}"; use default, none, or a comma list of ${FAULT_KINDS.join(', ')}`;
    out.add(part as FaultKind);
  }
  return out;
}
