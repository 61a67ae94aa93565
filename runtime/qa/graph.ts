/**
 * The dimension graph (DESIGN §4): children grouped under parents, declared as data in the config,
 * instantiated once per stream. Parents are judged in order — integrity, intrinsic, contextual —
 * and contextual children see the intrinsic outcome (paper §3: contextual QA on clean data).
 * Each parent decides by its configured rule:
 * - `rule`: it fails when any of its critical children fails; warning and info children are
 *   reported but do not fail it;
 * - `weighted`: p = σ(bias + Σ wᵢ · scoreᵢ) over its active children, failing when p > threshold
 *   (weights from calibration; severity is then informational).
 * A parent with no active child is absent from the judgement. Disabled children are never built,
 * so they cost nothing.
 */

import type { ChannelInfo } from '../framing/messages.js';
import { type ChildName, KNOWN_CHILDREN } from './catalog.js';
import { Anomaly } from './dimensions/anomaly.js';
import { Completeness } from './dimensions/completeness.js';
import { type CrossLink, CrossSensor } from './dimensions/cross-sensor.js';
import { Drift } from './dimensions/drift.js';
import { Flatline } from './dimensions/flatline.js';
import { ClockSanity, FrameIntegrity, SequenceContinuity } from './dimensions/integrity.js';
import { Noise } from './dimensions/noise.js';
import { Relevance } from './dimensions/relevance.js';
import { Spike } from './dimensions/spike.js';
import { Timeliness } from './dimensions/timeliness.js';
import { Uniqueness } from './dimensions/uniqueness.js';
import { Validity } from './dimensions/validity.js';
import { ForecastScorer } from './forecast-scorer.js';
import type { StreamProfile } from './profile.js';
import {
  type AnomalyScorer,
  type ChildResult,
  type Dimension,
  type IntegrityCounters,
  type Outcome,
  PARENTS,
  type ParentConfig,
  type ParentName,
  type QaConfig,
  type WindowInput,
} from './types.js';

export { KNOWN_CHILDREN, type ChildName } from './catalog.js';

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;

export interface Judgement {
  parents: Partial<Record<ParentName, Outcome>>;
  /** p and threshold of every parent decided by weights (empty when all use the rule). */
  parentScores: Partial<Record<ParentName, { p: number; threshold: number }>>;
  children: Record<string, ChildResult>;
  failed: string[];
}

/**
 * What a stream's children may need beyond the config. A child whose input is missing here is
 * inactive for the stream (not built, absent from its verdicts), even when enabled.
 */
export interface StreamContext {
  /** The stream's channel (the default anomaly scorer scales its floor to the physical range). */
  channel?: ChannelInfo;
  /** The link's cumulative counters: frame_integrity and sequence_continuity need them. */
  integrity?: () => IntegrityCounters;
  /** The stream's reference profile: relevance needs it. */
  profile?: StreamProfile;
  /** The stream's configured partners: cross_sensor needs at least one. */
  cross?: readonly CrossLink[];
  /** The anomaly child's detector; default: the built-in ForecastScorer. */
  anomalyScorer?: AnomalyScorer;
  /** The link's time map (wall − device ms) when the stream starts; clock_sanity differences from it. */
  clockOffsetMs?: number;
  /**
   * The adaptation layer's per-stream state (runtime/adapt): when given, relevance judges against its
   * active envelope (instead of `profile`, which then only seeds it) and the anomaly child's
   * threshold is its active threshold.
   */
  adaptive?: AdaptiveHooks;
}

/** What the QA graph reads from the adaptation layer, per stream, at every window. */
export interface AdaptiveHooks {
  /** The active envelope; undefined while it is still being learned (relevance does not judge). */
  envelope(): StreamProfile | undefined;
  /** The active anomaly threshold; undefined: the configured one. */
  anomalyThreshold(): number | undefined;
}

function createChild(name: ChildName, qa: QaConfig, ctx: StreamContext): Dimension | undefined {
  switch (name) {
    case 'frame_integrity':
      return ctx.integrity && new FrameIntegrity(qa.frame_integrity, ctx.integrity);
    case 'sequence_continuity':
      return ctx.integrity && new SequenceContinuity(qa.sequence_continuity, ctx.integrity);
    case 'clock_sanity':
      return new ClockSanity(qa.clock_sanity, ctx.clockOffsetMs);
    case 'completeness':
      return new Completeness(qa.completeness);
    case 'validity':
      return new Validity(qa.validity);
    case 'timeliness':
      return new Timeliness(qa.timeliness);
    case 'uniqueness':
      return new Uniqueness(qa.uniqueness);
    case 'flatline':
      return new Flatline(qa.flatline);
    case 'spike':
      return new Spike(qa.spike);
    case 'noise':
      return new Noise(qa.noise);
    case 'anomaly': {
      const range = ctx.channel ? ctx.channel.max - ctx.channel.min : NaN;
      const scorer =
        ctx.anomalyScorer ?? new ForecastScorer({ k: qa.anomaly.k, alpha: qa.anomaly.alpha, warmup: qa.anomaly.warmup, minSigma: Number.isFinite(range) && range > 0 ? 1e-6 * range : 0 });
      const hooks = ctx.adaptive;
      // The adaptive threshold is read at every window, so a promotion applies to the next one.
      const params = hooks
        ? {
            ...qa.anomaly,
            get threshold() {
              // Never looser than the configured threshold, also after a command lowered it.
              return Math.min(hooks.anomalyThreshold() ?? Infinity, qa.anomaly.threshold);
            },
          }
        : qa.anomaly;
      return new Anomaly(params, scorer);
    }
    case 'cross_sensor':
      return ctx.cross && ctx.cross.length > 0 ? new CrossSensor(qa.cross_sensor, ctx.cross) : undefined;
    case 'relevance':
      if (ctx.adaptive) {
        const hooks = ctx.adaptive;
        return new Relevance(qa.relevance, () => hooks.envelope());
      }
      return ctx.profile && new Relevance(qa.relevance, ctx.profile);
    case 'drift':
      return new Drift(qa.drift);
  }
}

const RULE: ParentConfig = { decision: 'rule', weights: {}, bias: 0, threshold: 0.5 };
const ALL_RULE: Record<ParentName, ParentConfig> = { integrity: RULE, intrinsic: RULE, contextual: RULE };

/** The graph for one stream: its own dimension instances (they may keep per-stream state). */
export class StreamJudge {
  /** Active children per parent, in PARENTS order. */
  private readonly groups: Dimension[][];
  private readonly all: Dimension[];
  private readonly decisions: Record<ParentName, ParentConfig>;
  private restricted: WeakMap<ReadonlySet<string>, Dimension[][]> | undefined;

  constructor(qa: QaConfig, ctx: StreamContext = {}) {
    const dims: Dimension[] = [];
    for (const name of KNOWN_CHILDREN) {
      if (!qa[name].enabled) continue;
      const d = createChild(name, qa, ctx);
      if (d) dims.push(d);
    }
    this.all = dims;
    this.groups = PARENTS.map((p) => dims.filter((d) => d.parent === p));
    this.decisions = qa.parents;
  }

  /** A judge over given dimension instances (model-backed children and test doubles plug in here). */
  static of(dimensions: Dimension[], decisions: Record<ParentName, ParentConfig> = ALL_RULE): StreamJudge {
    const j = Object.create(StreamJudge.prototype) as StreamJudge;
    const w = j as unknown as { all: Dimension[]; groups: Dimension[][]; decisions: Record<ParentName, ParentConfig> };
    w.all = dimensions;
    w.groups = PARENTS.map((p) => dimensions.filter((d) => d.parent === p));
    w.decisions = decisions;
    return j;
  }

  get childNames(): string[] {
    return this.groups.flat().map((c) => c.name);
  }

  /** Each parent's children restricted to `only`, built once per set (the governor's sets live as long as it). */
  private groupsOf(only: ReadonlySet<string>): Dimension[][] {
    const cache = (this.restricted ??= new WeakMap());
    let g = cache.get(only);
    if (!g) cache.set(only, (g = this.groups.map((group) => group.filter((d) => only.has(d.name)))));
    return g;
  }

  /**
   * Judges one window. `only`: the children allowed to run (the budget governor's reduced and
   * minimal modes); the others are skipped — absent from the judgement, their state untouched.
   */
  judge(w: WindowInput, only?: ReadonlySet<string>): Judgement {
    const parents: Partial<Record<ParentName, Outcome>> = {};
    const parentScores: Partial<Record<ParentName, { p: number; threshold: number }>> = {};
    const children: Record<string, ChildResult> = {};
    const failed: string[] = [];
    const groups = only ? this.groupsOf(only) : this.groups;
    for (let g = 0; g < PARENTS.length; g++) {
      const group = groups[g]!;
      if (group.length === 0) continue;
      const parent = PARENTS[g]!;
      const ctx = parent === 'contextual' ? { intrinsic: parents.intrinsic } : {};
      let criticalFail = false;
      for (const dim of group) {
        const r = dim.evaluate(w, ctx);
        children[dim.name] = r;
        if (!r.pass) {
          failed.push(dim.name);
          if (r.severity === 'critical') criticalFail = true;
        }
      }
      const decision = this.decisions[parent];
      if (decision.decision === 'weighted') {
        let z = decision.bias;
        for (const dim of group) z += (decision.weights[dim.name] ?? 0) * children[dim.name]!.score;
        const p = 1 / (1 + Math.exp(-z));
        parentScores[parent] = { p, threshold: decision.threshold };
        parents[parent] = p > decision.threshold ? 'fail' : 'pass';
      } else {
        parents[parent] = criticalFail ? 'fail' : 'pass';
      }
    }
    for (const dim of this.all) if (!only || only.has(dim.name)) dim.settle?.(parents.intrinsic);
    failed.sort((a, b) => SEVERITY_RANK[children[a]!.severity] - SEVERITY_RANK[children[b]!.severity]);
    return { parents, parentScores, children, failed };
  }
}
