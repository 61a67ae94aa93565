/**
 * Guarded on-device adaptation (DESIGN §7; paper §3.2 "drift, model degradation, retrain/adapt").
 * Per stream, an *active* state judges and a *candidate* learns beside it; the candidate replaces the
 * active state only when it does not raise the false-alarm rate on a reservoir of known-good windows.
 *
 * What adapts (the frozen quantized model itself never changes):
 *   envelope   the relevance child's operating envelope of window summaries f = (mean, std, min, max),
 *              learned by streaming normalisation with forgetting: per feature an exponentially
 *              weighted mean μ and variance σ² with weight λ_n = max(1/n, 1/H) (H = forgetting_windows:
 *              a cumulative mean until H windows, then ≈ the last H), envelope = μ ± z·σ
 *              (z = envelope_z). This is the incremental head on the model's input side: a streaming
 *              centroid and (diagonal) covariance whose distance D (relevance's, in half-widths)
 *              decides whether a clean window is inside the envelope.
 *   threshold  the anomaly child's threshold (on the model's score r/(r+1), or the built-in scorer's),
 *              from a streaming quantile (P²) of the scores of windows that passed it:
 *              t' = clamp(q_p · margin, floor · t₀, t₀) with t₀ the configured threshold. It can
 *              tighten when the stream is quieter than the model's own threshold assumes, never
 *              loosen past t₀ — so a fault the model flags (a leak) cannot be learned away.
 *
 * Learning only from windows that passed intrinsic QA (and integrity): a stuck, missing, spiky or
 * out-of-range window — or one the model flags — teaches nothing (never adapt to garbage).
 *
 * Candidate → shadow → promote or roll back, every `shadow_windows` learning windows:
 *   FA_a, FA_c  share of the reservoir (≤ reservoir known-good windows — passed every parent — kept
 *               by reservoir sampling biased to the last ~4·reservoir) that the active and the
 *               candidate state would fail
 *   L_a, L_c    failures of each on the clean live windows of the period (the shadow run)
 *   FA_c > FA_a + tolerance            → rolled back: the candidate is discarded (it restarts from
 *                                        the active state) and the event is published
 *   else L_c < L_a or t'_c < t'_a      → promoted: the candidate becomes active (event published)
 *   else                               → the candidate keeps learning (no event)
 * A two-sided CUSUM (Page 1954) on the standardised window mean against the active level,
 *   z = (mean − μ_a)/σ_a,   S⁺ ← max(0, S⁺ + z − 1),   S⁻ ← max(0, S⁻ − z − 1),   change when S± > 20
 * (restarted at each promotion and change), marks a change; for the next H/8 windows the candidate
 * forgets 8× faster, so it reaches the new regime in about H/8 windows instead of H. The reference is
 * the active level itself, not the running mean of the test (as in Page-Hinkley), because what
 * matters is a departure from the state that judges.
 * When adaptation cannot keep up — over the last `retrain_after_windows` windows, at least
 * `retrain_fail_rate` of the clean windows still fail under the active state, or the model flags at
 * least that share of windows no rule child faults (a model that no longer fits, or a lasting
 * process fault) — a "retrain requested" event is published (once per retrain_after_windows) and
 * the next `divert_windows` windows of the stream are marked for diverting to local storage, for
 * off-device retraining.
 * Cost: O(1) per window apart from the shadow evaluation, O(reservoir) every shadow_windows windows.
 */

import type { TinyqaConfig } from '../config/schema.js';
import { envelopeDistance } from '../qa/dimensions/relevance.js';
import { fmt, summarize } from '../qa/dimensions/util.js';
import type { AdaptiveHooks } from '../qa/graph.js';
import { PROFILE_FEATURES, type StreamProfile } from '../qa/profile.js';
import type { Verdict } from '../qa/types.js';
import { P2Quantile } from '../stats/quantile.js';

/**
 * The learning parameters: the config's adapt section without its switches and checkpoint keys
 * (runtime/config/schema.ts declares each with its unit, range, default and reason).
 */
export type AdaptOptions = Omit<TinyqaConfig['adapt'], 'enabled' | 'checkpoint_dir' | 'checkpoint_s'>;

/** The relevance and anomaly parameters the shadow evaluation judges candidates with (the config's). */
export interface JudgeParams {
  relevance: { enabled: boolean; k: number; threshold: number };
  anomaly: { enabled: boolean; threshold: number };
}

export type AdaptEventKind = 'promoted' | 'rolled_back' | 'retrain_requested' | 'change_detected';

export interface AdaptEvent {
  kind: AdaptEventKind;
  stream: string;
  /** The active state's generation after the event (+1 per promotion). */
  generation: number;
  reason: string;
  /** The verdict of the window that triggered it. */
  verdict_seq: number;
  t0: number;
  t1: number;
}

export interface AdaptCounters {
  adapt_windows_learned: number;
  /** Windows not learned from: they failed integrity or intrinsic QA. */
  adapt_windows_refused: number;
  adapt_promotions: number;
  adapt_rollbacks: number;
  adapt_changes: number;
  adapt_retrain_requests: number;
}

const F = PROFILE_FEATURES.length;
/** Scores of the candidate's threshold quantile needed before it proposes a threshold. */
const MIN_SCORES = 50;
/** Known-good windows needed before a candidate is judged against the reservoir. */
const MIN_RESERVOIR = 20;
/** Per reservoir entry: the four features, then the anomaly score (NaN: none). */
const ENTRY = F + 1;
/** CUSUM allowance (σ of the window mean) and decision limit. */
const CUSUM_K = 1;
const CUSUM_H = 20;

/** Exponentially weighted mean and variance of the four window features. */
class FeatureStats {
  readonly mu = new Float64Array(F);
  readonly v = new Float64Array(F);
  n = 0;

  update(f: ArrayLike<number>, lambda: number): void {
    this.n++;
    const a = Math.max(1 / this.n, lambda);
    for (let i = 0; i < F; i++) {
      const d = f[i]! - this.mu[i]!;
      this.mu[i]! += a * d;
      // West's exponentially weighted variance: v ← (1 − a)(v + a·d²).
      this.v[i] = (1 - a) * (this.v[i]! + a * d * d);
    }
  }

  copyFrom(o: FeatureStats): void {
    this.mu.set(o.mu);
    this.v.set(o.v);
    this.n = o.n;
  }

  envelope(z: number): StreamProfile {
    const out: StreamProfile = {};
    PROFILE_FEATURES.forEach((name, i) => {
      const sd = Math.sqrt(this.v[i]!);
      out[name] = { lo: this.mu[i]! - z * sd, hi: this.mu[i]! + z * sd };
    });
    return out;
  }

  /** Seeds μ and σ from an envelope (its centre, and a half-width of z·σ), counted as `n` windows. */
  seed(p: StreamProfile, z: number, n: number): void {
    PROFILE_FEATURES.forEach((name, i) => {
      const r = p[name];
      if (!r) return;
      this.mu[i] = r.lo / 2 + r.hi / 2;
      const sd = (r.hi - r.lo) / (2 * z);
      this.v[i] = sd * sd;
    });
    this.n = n;
  }
}

/** One stream's state. */
class StreamAdapter implements AdaptiveHooks {
  /** The active state: what the QA graph judges with. */
  activeEnvelope: StreamProfile | undefined;
  activeThreshold: number | undefined;
  generation = 0;
  /** The candidate learner; the active envelope is a snapshot of it at its last promotion. */
  readonly learner = new FeatureStats();
  private readonly activeStats = new FeatureStats();
  private scores: P2Quantile;
  private sinceShadow = 0;
  private liveActive = 0;
  private liveCandidate = 0;
  /** Windows left with fast forgetting after a detected change. */
  private fast = 0;
  private cusumUp = 0;
  private cusumDown = 0;
  /** Reservoir of known-good windows, ENTRY numbers each. */
  readonly reservoir: Float64Array;
  reservoirSize = 0;
  private reservoirSeen = 0;
  private rng: number;
  /** Rolling record of the last retrain_after_windows windows: bit 0 clean-but-failing, bit 1 model-only flag. */
  private readonly history: Uint8Array;
  private historyAt = 0;
  private historyCount = 0;
  private failingClean = 0;
  private modelOnly = 0;
  private lastRetrain = -Infinity;
  windows = 0;
  divertLeft = 0;
  private readonly f = new Float64Array(4);

  constructor(
    readonly name: string,
    private readonly o: AdaptOptions,
    private readonly judge: JudgeParams,
    seed: StreamProfile | undefined,
    seedIndex: number,
  ) {
    this.reservoir = new Float64Array(o.reservoir * ENTRY);
    this.history = new Uint8Array(o.retrain_after_windows);
    this.scores = new P2Quantile(o.threshold_quantile);
    this.rng = (0x9e3779b9 ^ (seedIndex * 0x85ebca6b)) >>> 0 || 1;
    if (seed && PROFILE_FEATURES.some((k) => seed[k])) {
      this.activeEnvelope = seed;
      this.activeStats.seed(seed, o.envelope_z, o.warmup_windows);
      this.learner.copyFrom(this.activeStats);
    }
  }

  envelope(): StreamProfile | undefined {
    return this.activeEnvelope;
  }

  anomalyThreshold(): number | undefined {
    return this.activeThreshold;
  }

  private random(): number {
    // xorshift32: a deterministic reservoir, so runs of one input are repeatable.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 2 ** 32;
  }

  /** Would a state (envelope, threshold) fail a window with features f and anomaly score s? */
  private fails(env: StreamProfile | undefined, threshold: number | undefined, f: ArrayLike<number>, s: number): boolean {
    const j = this.judge;
    if (j.relevance.enabled && env) {
      const { D } = envelopeDistance(f, env);
      if (D / (D + j.relevance.k) > j.relevance.threshold) return true;
    }
    if (j.anomaly.enabled && !Number.isNaN(s) && s > (threshold ?? j.anomaly.threshold)) return true;
    return false;
  }

  private candidateThreshold(): number | undefined {
    const j = this.judge.anomaly;
    if (!j.enabled || this.scores.n < MIN_SCORES) return this.activeThreshold;
    const q = this.scores.value * this.o.threshold_margin;
    return Math.min(j.threshold, Math.max(this.o.threshold_floor * j.threshold, q));
  }

  observe(values: Float64Array, v: Verdict, emit: (e: AdaptEvent) => void, counters: AdaptCounters): void {
    this.windows++;
    if (this.divertLeft > 0) this.divertLeft--;
    const f = this.f;
    const n = summarize(values, f);
    const anomaly = v.children['anomaly'];
    const s = anomaly ? anomaly.score : NaN;
    const clean = v.parents.integrity !== 'fail' && v.parents.intrinsic !== 'fail' && n > 0;
    // Only the model flags it: every other intrinsic child passed.
    const modelOnly = anomaly !== undefined && !anomaly.pass && Object.entries(v.children).every(([k, c]) => k === 'anomaly' || c.parent !== 'intrinsic' || c.pass);
    const failingClean = clean && v.parents.contextual === 'fail';
    this.record((failingClean ? 1 : 0) | (modelOnly ? 2 : 0));
    this.checkRetrain(v, emit, counters);
    if (!clean) {
      counters.adapt_windows_refused++;
      return;
    }
    counters.adapt_windows_learned++;

    // Known-good: passed every parent under the active state.
    if (!v.failed.length && !Object.values(v.parents).includes('fail')) this.keep(f, s);

    // The shadow run: the candidate judges the same clean window.
    const candEnv = this.learner.n >= this.o.warmup_windows ? this.learner.envelope(this.o.envelope_z) : undefined;
    const candThr = this.candidateThreshold();
    if (this.fails(this.activeEnvelope, this.activeThreshold, f, s)) this.liveActive++;
    if (this.fails(candEnv ?? this.activeEnvelope, candThr, f, s)) this.liveCandidate++;

    // Change detection on the standardised window mean, against the active state.
    if (this.activeStats.n > 0) {
      const sd = Math.sqrt(this.activeStats.v[0]!);
      const z = sd > 0 ? Math.max(-1e6, Math.min(1e6, (f[0]! - this.activeStats.mu[0]!) / sd)) : 0;
      this.cusumUp = Math.max(0, this.cusumUp + z - CUSUM_K);
      this.cusumDown = Math.max(0, this.cusumDown - z - CUSUM_K);
      if (this.cusumUp > CUSUM_H || this.cusumDown > CUSUM_H) {
        this.cusumUp = 0;
        this.cusumDown = 0;
        this.fast = Math.max(1, Math.round(this.o.forgetting_windows / 8));
        counters.adapt_changes++;
        emit({ kind: 'change_detected', stream: this.name, generation: this.generation, reason: `window mean ${fmt(f[0]!)} moved from the active level ${fmt(this.activeStats.mu[0]!)} (CUSUM); learning 8× faster for ${this.fast} windows`, verdict_seq: v.seq, t0: v.t0, t1: v.t1 });
      }
    }

    // Learn.
    const H = this.fast > 0 ? this.o.forgetting_windows / 8 : this.o.forgetting_windows;
    if (this.fast > 0) this.fast--;
    this.learner.update(f, 1 / H);
    if (anomaly && anomaly.pass) this.scores.update(s);

    if (!this.activeEnvelope && this.judge.relevance.enabled && this.learner.n >= this.o.warmup_windows) {
      this.promote(v, emit, counters, `first envelope learned from ${this.learner.n} clean windows`);
      return;
    }
    if (++this.sinceShadow >= this.o.shadow_windows) this.shadow(v, candEnv, candThr, emit, counters);
  }

  private shadow(v: Verdict, candEnv: StreamProfile | undefined, candThr: number | undefined, emit: (e: AdaptEvent) => void, counters: AdaptCounters): void {
    const periodA = this.liveActive;
    const periodC = this.liveCandidate;
    const period = this.sinceShadow;
    this.sinceShadow = 0;
    this.liveActive = 0;
    this.liveCandidate = 0;
    if (this.reservoirSize < MIN_RESERVOIR && this.activeEnvelope) return;
    let faA = 0;
    let faC = 0;
    const r = this.reservoir;
    for (let i = 0; i < this.reservoirSize; i++) {
      const e = r.subarray(i * ENTRY, i * ENTRY + F);
      const s = r[i * ENTRY + F]!;
      if (this.fails(this.activeEnvelope, this.activeThreshold, e, s)) faA++;
      if (this.fails(candEnv ?? this.activeEnvelope, candThr, e, s)) faC++;
    }
    const size = Math.max(1, this.reservoirSize);
    const rateA = faA / size;
    const rateC = faC / size;
    const figures = `reservoir false alarms ${faC}/${this.reservoirSize} (active ${faA}); live clean windows failing ${periodC}/${period} (active ${periodA})`;
    if (rateC > rateA + this.o.tolerance) {
      counters.adapt_rollbacks++;
      // Discarded: the candidate starts again from the active state.
      this.learner.copyFrom(this.activeStats);
      this.scores = new P2Quantile(this.o.threshold_quantile);
      emit({ kind: 'rolled_back', stream: this.name, generation: this.generation, reason: `candidate rolled back: it would raise false alarms on known-good windows: ${figures}`, verdict_seq: v.seq, t0: v.t0, t1: v.t1 });
      return;
    }
    const tighter = candThr !== undefined && candThr < (this.activeThreshold ?? this.judge.anomaly.threshold) - 1e-9;
    if (periodC < periodA || tighter) {
      this.promote(v, emit, counters, `candidate promoted: ${figures}${tighter ? `; anomaly threshold ${fmt(this.activeThreshold ?? this.judge.anomaly.threshold)} → ${fmt(candThr!)}` : ''}`, candThr);
    }
  }

  private promote(v: Verdict, emit: (e: AdaptEvent) => void, counters: AdaptCounters, reason: string, threshold = this.candidateThreshold()): void {
    this.activeStats.copyFrom(this.learner);
    if (this.judge.relevance.enabled && this.learner.n >= this.o.warmup_windows) this.activeEnvelope = this.learner.envelope(this.o.envelope_z);
    this.activeThreshold = threshold;
    this.generation++;
    counters.adapt_promotions++;
    this.cusumUp = 0;
    this.cusumDown = 0;
    emit({ kind: 'promoted', stream: this.name, generation: this.generation, reason, verdict_seq: v.seq, t0: v.t0, t1: v.t1 });
  }

  private keep(f: ArrayLike<number>, s: number): void {
    const cap = this.o.reservoir;
    if (cap === 0) return;
    // Algorithm R over a count capped at 4·cap: a new window always enters with probability ≥ 1/4,
    // so the reservoir follows the last few cap windows rather than all history.
    this.reservoirSeen = Math.min(this.reservoirSeen + 1, 4 * cap);
    let slot: number;
    if (this.reservoirSize < cap) slot = this.reservoirSize++;
    else {
      slot = Math.floor(this.random() * this.reservoirSeen);
      if (slot >= cap) return;
    }
    for (let i = 0; i < F; i++) this.reservoir[slot * ENTRY + i] = f[i]!;
    this.reservoir[slot * ENTRY + F] = s;
  }

  private record(bits: number): void {
    const H = this.history.length;
    if (H === 0) return;
    if (this.historyCount === H) {
      const old = this.history[this.historyAt]!;
      if (old & 1) this.failingClean--;
      if (old & 2) this.modelOnly--;
    } else this.historyCount++;
    this.history[this.historyAt] = bits;
    if (bits & 1) this.failingClean++;
    if (bits & 2) this.modelOnly++;
    this.historyAt = (this.historyAt + 1) % H;
  }

  private checkRetrain(v: Verdict, emit: (e: AdaptEvent) => void, counters: AdaptCounters): void {
    const H = this.history.length;
    if (H === 0 || this.historyCount < H || this.windows - this.lastRetrain < H) return;
    const rate = this.o.retrain_fail_rate;
    const clean = this.failingClean / H;
    const model = this.modelOnly / H;
    if (clean < rate && model < rate) return;
    this.lastRetrain = this.windows;
    this.divertLeft = this.o.divert_windows;
    counters.adapt_retrain_requests++;
    const why =
      clean >= rate
        ? `${this.failingClean} of the last ${H} windows were clean but outside the active envelope: adaptation has not caught up`
        : `the model flagged ${this.modelOnly} of the last ${H} windows that no rule child faulted: a model that no longer fits, or a lasting process fault`;
    emit({ kind: 'retrain_requested', stream: this.name, generation: this.generation, reason: `retrain requested: ${why}; the next ${this.o.divert_windows} windows are diverted to local storage`, verdict_seq: v.seq, t0: v.t0, t1: v.t1 });
  }

  toJSON(): StreamState {
    return {
      generation: this.generation,
      active: { envelope: this.activeEnvelope ?? null, threshold: this.activeThreshold ?? null, mu: [...this.activeStats.mu], v: [...this.activeStats.v], n: this.activeStats.n },
      learner: { mu: [...this.learner.mu], v: [...this.learner.v], n: this.learner.n },
      reservoir: Array.from(this.reservoir.subarray(0, this.reservoirSize * ENTRY), (x) => (Number.isNaN(x) ? null : x)),
      reservoir_seen: this.reservoirSeen,
      windows: this.windows,
    };
  }

  restore(s: StreamState): void {
    this.generation = s.generation;
    this.activeEnvelope = s.active.envelope ?? undefined;
    this.activeThreshold = s.active.threshold ?? undefined;
    this.activeStats.mu.set(s.active.mu);
    this.activeStats.v.set(s.active.v);
    this.activeStats.n = s.active.n;
    this.learner.mu.set(s.learner.mu);
    this.learner.v.set(s.learner.v);
    this.learner.n = s.learner.n;
    const entries = Math.min(this.o.reservoir, Math.floor(s.reservoir.length / ENTRY));
    for (let i = 0; i < entries * ENTRY; i++) this.reservoir[i] = s.reservoir[i] ?? NaN;
    this.reservoirSize = entries;
    this.reservoirSeen = Math.min(s.reservoir_seen, 4 * this.o.reservoir);
    this.windows = s.windows;
  }
}

/** A stream's state in a checkpoint (JSON). */
export interface StreamState {
  generation: number;
  active: { envelope: StreamProfile | null; threshold: number | null; mu: number[]; v: number[]; n: number };
  learner: { mu: number[]; v: number[]; n: number };
  reservoir: (number | null)[];
  reservoir_seen: number;
  windows: number;
}

export interface AdapterState {
  version: 1;
  streams: Record<string, StreamState>;
}

const isNumArray = (x: unknown, len?: number): x is number[] => Array.isArray(x) && (len === undefined || x.length === len) && x.every((y) => typeof y === 'number' && Number.isFinite(y));

/** Checks a checkpoint's JSON; returns the problem, or undefined when it can be restored. */
export function checkState(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return 'not an object';
  const s = x as Partial<AdapterState>;
  if (s.version !== 1) return `unknown version ${String(s.version)}`;
  if (typeof s.streams !== 'object' || s.streams === null) return 'no streams';
  for (const [name, st] of Object.entries(s.streams)) {
    const bad = (what: string) => `stream ${name}: ${what}`;
    if (typeof st !== 'object' || st === null) return bad('not an object');
    if (!Number.isInteger(st.generation) || st.generation < 0) return bad('generation');
    if (!st.active || !isNumArray(st.active.mu, F) || !isNumArray(st.active.v, F) || !(st.active.n >= 0)) return bad('active statistics');
    if (!st.learner || !isNumArray(st.learner.mu, F) || !isNumArray(st.learner.v, F) || !(st.learner.n >= 0)) return bad('learner statistics');
    if (st.active.threshold !== null && !(typeof st.active.threshold === 'number' && st.active.threshold >= 0 && st.active.threshold <= 1)) return bad('threshold');
    if (!Array.isArray(st.reservoir) || !st.reservoir.every((y) => y === null || (typeof y === 'number' && Number.isFinite(y)))) return bad('reservoir');
    if (st.active.envelope !== null) {
      if (typeof st.active.envelope !== 'object') return bad('envelope');
      for (const r of Object.values(st.active.envelope)) if (!r || !(Number.isFinite(r.lo) && Number.isFinite(r.hi) && r.lo <= r.hi)) return bad('envelope range');
    }
  }
  return undefined;
}

/**
 * The adaptation layer of one device: a StreamAdapter per stream, created on first use. The
 * pipeline asks `hooks(stream)` when it builds a stream and calls `observe` with every judged window.
 */
export class Adapter {
  readonly counters: AdaptCounters = {
    adapt_windows_learned: 0,
    adapt_windows_refused: 0,
    adapt_promotions: 0,
    adapt_rollbacks: 0,
    adapt_changes: 0,
    adapt_retrain_requests: 0,
  };
  private readonly streams = new Map<string, StreamAdapter>();
  private pending: AdapterState | undefined;
  /** Bumped by every change of state worth a checkpoint (a promotion, a rollback). */
  revision = 0;

  private readonly judge: JudgeParams;

  constructor(
    private readonly o: AdaptOptions,
    judge: JudgeParams,
    /** Seed envelopes (the reference profile of the config or of the model), per stream. */
    private readonly seed: (stream: string) => StreamProfile | undefined,
    private readonly onEvent: (e: AdaptEvent) => void = () => {},
  ) {
    // One object shared by every stream, so `reconfigure` reaches them all.
    this.judge = structuredClone(judge);
  }

  /** New relevance and anomaly parameters (a set_threshold or set_config command). */
  reconfigure(judge: JudgeParams): void {
    this.judge.relevance = { ...judge.relevance };
    this.judge.anomaly = { ...judge.anomaly };
  }

  private stream(name: string): StreamAdapter {
    let s = this.streams.get(name);
    if (!s) {
      s = new StreamAdapter(name, this.o, this.judge, this.seed(name), this.streams.size + 1);
      const saved = this.pending?.streams[name];
      if (saved) s.restore(saved);
      this.streams.set(name, s);
    }
    return s;
  }

  hooks(stream: string): AdaptiveHooks {
    return this.stream(stream);
  }

  observe(stream: string, values: Float64Array, v: Verdict): void {
    this.stream(stream).observe(values, v, (e) => {
      if (e.kind === 'promoted' || e.kind === 'rolled_back') this.revision++;
      this.onEvent(e);
    }, this.counters);
  }

  /** Whether the stream's windows are to be diverted for retraining now (after a retrain request). */
  diverting(stream: string): boolean {
    return (this.streams.get(stream)?.divertLeft ?? 0) > 0;
  }

  /** The active state of a stream, for reports. */
  active(stream: string): { generation: number; envelope: StreamProfile | undefined; threshold: number | undefined } | undefined {
    const s = this.streams.get(stream);
    return s && { generation: s.generation, envelope: s.activeEnvelope, threshold: s.activeThreshold };
  }

  snapshot(): AdapterState {
    const streams: Record<string, StreamState> = { ...(this.pending?.streams ?? {}) };
    for (const [name, s] of this.streams) streams[name] = s.toJSON();
    return { version: 1, streams };
  }

  /** Restores a checkpoint: streams built later start from their saved state. */
  restore(state: AdapterState): void {
    this.pending = state;
    for (const [name, s] of this.streams) {
      const saved = state.streams[name];
      if (saved) s.restore(saved);
    }
  }
}

/** The adapter a config asks for: its adapt options, and the relevance and anomaly parameters it shadows. */
export function createAdapter(config: Readonly<TinyqaConfig>, seed: (stream: string) => StreamProfile | undefined, onEvent?: (e: AdaptEvent) => void): Adapter {
  return new Adapter(config.adapt, judgeParams(config), seed, onEvent);
}

/** The relevance and anomaly parameters of a config, as the shadow evaluation judges with them. */
export function judgeParams(config: Readonly<TinyqaConfig>): JudgeParams {
  const q = config.qa;
  return {
    relevance: { enabled: q.relevance.enabled, k: q.relevance.k, threshold: q.relevance.threshold },
    anomaly: { enabled: q.anomaly.enabled, threshold: q.anomaly.threshold },
  };
}
