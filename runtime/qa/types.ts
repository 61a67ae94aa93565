/**
 * The QA vocabulary shared by dimensions, the graph and everything that reads verdicts (DESIGN §4).
 * Scores are "badness" in [0, 1]: 0 is perfect, and a child passes when score ≤ threshold.
 */

import type { ChannelInfo } from '../framing/messages.js';

export type ParentName = 'integrity' | 'intrinsic' | 'contextual';
export type Severity = 'critical' | 'warning' | 'info';
export type Outcome = 'pass' | 'fail';

export interface ChildResult {
  score: number;
  threshold: number;
  pass: boolean;
  severity: Severity;
  parent: ParentName;
  /** Stable machine-readable reason, e.g. "flatline.stuck". */
  code: string;
  /** Human-readable explanation with the numbers that led to it. */
  reason: string;
}

/** What a dimension sees: one window of one stream. */
export interface WindowInput {
  readonly values: Float64Array;
  readonly t0: number;
  readonly t1: number;
  readonly channel: ChannelInfo;
}

/**
 * A QA child dimension. One instance per stream, so it may keep streaming state for that stream
 * (e.g. a reference noise scale). `evaluate` must not allocate per sample.
 */
export interface Dimension {
  readonly name: string;
  readonly parent: ParentName;
  evaluate(w: WindowInput): ChildResult;
}

export interface Verdict {
  /** Payload schema version. */
  v: 1;
  device: string;
  stream: string;
  /** Per-device sequence number, +1 for every verdict the device publishes. */
  seq: number;
  /** Device time of the first and last sample in the window, ms since the Unix epoch. */
  t0: number;
  t1: number;
  /** Samples in the window (missing ones included). */
  n: number;
  unit: string;
  parents: Partial<Record<ParentName, Outcome>>;
  children: Record<string, ChildResult>;
  /** Names of the children that failed, critical first. */
  failed: string[];
  /** Hash of the calibration profile in force, or null when running on defaults. */
  profile: string | null;
  /** Model name@version#hash in force, or null when no model-backed dimension is active. */
  model: string | null;
}

/** Parameters of one child, as the config declares them (runtime/config/schema.ts validates them). */
export interface ChildConfig {
  enabled: boolean;
  severity: Severity;
  threshold: number;
}

export interface QaConfig {
  completeness: ChildConfig;
  validity: ChildConfig;
  flatline: ChildConfig & { epsilon: number };
  spike: ChildConfig & { k: number };
}
