/**
 * The QA vocabulary shared by dimensions, the graph and everything that reads verdicts (DESIGN §4).
 * Scores are "badness" in [0, 1]: 0 is perfect, and a child passes when score ≤ threshold.
 */

import type { ReceiverCounters } from '../framing/frame.js';
import type { ChannelInfo } from '../framing/messages.js';

export type ParentName = 'integrity' | 'intrinsic' | 'contextual';
/** Parents in the order they are judged: contextual children see the intrinsic outcome (paper §3). */
export const PARENTS: readonly ParentName[] = ['integrity', 'intrinsic', 'contextual'];
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
  /** Values in arrival order; NaN marks a missing value. */
  readonly values: Float64Array;
  /** Timestamp (ms since epoch) of each value, same order. */
  readonly times: Float64Array;
  readonly t0: number;
  readonly t1: number;
  readonly channel: ChannelInfo;
  /** Nominal sample period in ms (from the device's HELLO rate); NaN when unknown. */
  readonly periodMs: number;
  /** Values new since this stream's previous window (the hop); all of them when absent. */
  readonly fresh?: number;
  /** The link's current time map, wall ms − device ms (PROTOCOL §7); NaN or absent before one exists. */
  readonly clockOffsetMs?: number;
  /**
   * A QA model's verdict on this stream's window (runtime/inference/window-model.ts): its error over
   * the model's threshold, r = e / threshold (1 = at the threshold). Absent when no model scores
   * this stream's window, or its model is unavailable (loading, crashed, refused): the built-in
   * scorer judges. `reads: false`: a model is active but does not read this stream — the anomaly
   * child belongs to the model, so it does not judge this stream at all.
   */
  readonly model?: { ratio: number; name: string } | { ratio?: undefined; name: string; reads: false };
}

/** What a child may know besides its window when it is evaluated. */
export interface EvalContext {
  /**
   * The intrinsic parent's outcome for this window; set for contextual children only, which are
   * judged after it (paper §3: contextual QA is meaningful on intrinsically clean data). Undefined
   * when no intrinsic child is active.
   */
  intrinsic?: Outcome | undefined;
}

/**
 * A QA child dimension. One instance per stream, so it may keep streaming state for that stream
 * (e.g. a reference noise scale). `evaluate` must not allocate per sample.
 */
export interface Dimension {
  readonly name: string;
  readonly parent: ParentName;
  evaluate(w: WindowInput, ctx?: EvalContext): ChildResult;
  /**
   * Called once per window after every child was judged, with the intrinsic outcome: a child that
   * learns a reference learns here, and only from windows that passed (DESIGN §7: never adapt to
   * garbage).
   */
  settle?(intrinsic: Outcome | undefined): void;
}

/**
 * The link's cumulative receive counters the integrity children difference between windows
 * (PROTOCOL §2, §7). `DeviceLink.counters` is one.
 */
export type IntegrityCounters = Readonly<
  Pick<
    ReceiverCounters,
    'frames' | 'discarded_bytes' | 'bad_cobs' | 'runt' | 'oversize' | 'bad_crc' | 'bad_version' | 'unknown_flags' | 'bad_body' | 'resyncs' | 'seq_gaps' | 'seq_resets'
  >
>;

/**
 * The plug point of the `anomaly` child: an online detector for one stream, fed every sample in
 * time order (finite values only; gaps are the completeness child's business). Returns the
 * sample's anomaly score in [0, 1] (0 normal, 1 certainly anomalous).
 */
export interface AnomalyScorer {
  update(value: number, tMs: number): number;
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
  /**
   * For parents decided by weights: p = σ(bias + Σ wᵢ·scoreᵢ) and the threshold it was compared
   * with (the parent fails when p > threshold). Absent when every parent uses the rule decision.
   */
  parent_scores?: Partial<Record<ParentName, { p: number; threshold: number }>>;
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

/**
 * How a parent turns its children into pass/fail:
 * - `rule`: it fails when any critical child fails (warning and info children are reported only);
 * - `weighted`: p = σ(bias + Σ weights[c] · score_c) over its active children (a child without a
 *   weight weighs 0), and it fails when p > threshold. Weights come from calibration.
 */
export interface ParentConfig {
  decision: 'rule' | 'weighted';
  weights: Record<string, number>;
  bias: number;
  threshold: number;
}

/** Two channels whose readings must move together (`positive`) or against each other (`negative`). */
export interface CrossPair {
  a: string;
  b: string;
  relation: 'positive' | 'negative';
}

export interface QaConfig {
  parents: Record<ParentName, ParentConfig>;
  frame_integrity: ChildConfig;
  sequence_continuity: ChildConfig;
  clock_sanity: ChildConfig & { step_tolerance_ms: number };
  completeness: ChildConfig;
  validity: ChildConfig;
  timeliness: ChildConfig;
  uniqueness: ChildConfig;
  flatline: ChildConfig & { epsilon: number };
  spike: ChildConfig & { k: number };
  noise: ChildConfig & { ratio: number; alpha: number; warmup: number };
  anomaly: ChildConfig & { k: number; alpha: number; warmup: number };
  cross_sensor: ChildConfig & { pairs: CrossPair[]; min_excitation: number };
  relevance: ChildConfig & { profile: string; k: number };
  drift: ChildConfig & { delta: number; ph_delta: number; ph_lambda: number; warmup: number; detectors: ('adwin' | 'page_hinkley' | 'kswin' | 'hddm_a')[] };
}

/** True when any parent of the verdict failed: the window is not to be trusted as it is. */
export function verdictFails(v: Pick<Verdict, 'parents'>): boolean {
  return Object.values(v.parents).includes('fail');
}
