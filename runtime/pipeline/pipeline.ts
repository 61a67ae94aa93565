/**
 * The device pipeline (DESIGN §2): messages from the device link → per-stream windows → QA graph →
 * verdicts. Pure of I/O: it is handed messages and hands verdicts to a callback, so the composition
 * root decides where messages come from and where verdicts go.
 */

import type { Logger } from '../core/log.js';
import { WindowRing } from '../core/window.js';
import type { FrameHeader } from '../framing/frame.js';
import type { ChannelInfo, Hello, Message, Samples } from '../framing/messages.js';
import type { CrossLink } from '../qa/dimensions/cross-sensor.js';
import { type AdaptiveHooks, StreamJudge } from '../qa/graph.js';
import type { ReferenceProfile } from '../qa/profile.js';
import type { AnomalyScorer, IntegrityCounters, QaConfig, Verdict, WindowInput } from '../qa/types.js';

export interface PipelineOptions {
  device: string;
  window: { size: number; hop: number };
  qa: QaConfig;
  profileHash: string | null;
  /** Maps a device time (ms since its boot) to wall time (ms since the epoch). */
  toWallMs: (deviceMs: number) => number | undefined;
  /**
   * The link's cumulative receive counters — `() => link.counters` — which the frame_integrity and
   * sequence_continuity children difference between windows. Without it they are inactive.
   */
  integrity?: () => IntegrityCounters;
  /** The reference profile of the relevance child (config `loadReferenceProfile`). Without it relevance is inactive. */
  profile?: ReferenceProfile;
  /** When the config names no profile: the active model's training envelope, read at each HELLO. */
  modelProfile?: () => ReferenceProfile | undefined;
  /** A model-backed anomaly detector per stream; default: the built-in ForecastScorer (runtime/qa). */
  anomalyScorer?: (channel: ChannelInfo) => AnomalyScorer;
  /**
   * A QA model that judges whole multichannel windows off the main thread (runtime/inference). With
   * one, windows wait for its answer before they are judged — in order, and never blocking the
   * reader: samples keep arriving while the model runs.
   */
  model?: WindowModelPort;
  /** Windows that may wait for the model at once; beyond, windows are judged without it (default 256). */
  modelMaxPending?: number;
  /** The adaptation layer (runtime/adapt): per-stream hooks for the graph, and every judged window to learn from. */
  adapt?: AdaptPort;
  /** The budget governor's current decisions (runtime/governor via the root); absent: full mode always. */
  budget?: BudgetPort;
}

/** What the pipeline needs of the adaptation layer (runtime/adapt/adapter.ts provides it). */
export interface AdaptPort {
  /** The stream's hooks for the QA graph; asked once per stream when the HELLO builds it. */
  hooks(stream: string): AdaptiveHooks;
  /** Every judged window with its verdict (values reused after the call: copy what you keep). */
  observe(stream: string, values: Float64Array, v: Verdict): void;
}

/** The budget governor's decisions the pipeline follows (DESIGN §7), read at every window. */
export interface BudgetPort {
  /** Whether windows are judged now; false in a duty cycle's off phase (windows are then skipped, counted). */
  judging(): boolean;
  /** Whether this window set goes to the model (reduced mode: every k-th); when not, the anomaly child is off for it. */
  modelTurn(): boolean;
  /** The children allowed to run, or undefined for all of them. */
  children(): ReadonlySet<string> | undefined;
  /** Whether the adaptation layer learns from this window (minimal and duty-cycled: no). */
  adapting(): boolean;
}

/** What the pipeline needs of a QA model (runtime/inference/model-service.ts provides it). */
export interface WindowModelPort {
  /** The channels the active model reads, in its order; undefined while no model is active. */
  readonly channels: readonly string[] | undefined;
  /**
   * Scores one aligned window (windows[i] is channel channels[i]); resolves undefined when the model
   * is unavailable (loading, crashed, replaced) — the window is then judged without it.
   */
  score(windows: readonly Float64Array[]): Promise<{ ratios: Record<string, number>; name: string } | undefined>;
}

/** A window copied out of its ring, to be judged once the model has answered. */
interface Snapshot {
  values: Float64Array;
  times: Float64Array;
  t0: number;
  t1: number;
  fresh: number;
}

export interface PipelineCounters {
  hellos: number;
  /** Samples that arrived before any HELLO told us the channel layout (dropped; PROTOCOL §6). */
  samples_before_hello: number;
  /** Batches whose channel count disagrees with the last HELLO (dropped). */
  layout_mismatch: number;
  samples: number;
  missing_values: number;
  /** Samples the device itself reports it could not send (HEARTBEAT key 1). */
  device_dropped: number;
  verdicts: number;
  /** Stream windows judged with the model's score. */
  model_scored: number;
  /** Stream windows judged without it while a model is configured (unavailable, or a channel it does not read). */
  model_unscored: number;
  /** Windows not sent to the model because too many already waited for it (backpressure). */
  model_skipped: number;
  /** Window sets not sent to the model because the budget governor's mode skips it (reduced mode). */
  model_skipped_budget: number;
  /** Stream windows not judged in a duty cycle's off phase. */
  windows_skipped_duty: number;
  /** Wall time spent judging windows (QA graph, synchronous: ≈ CPU time of the stage), µs. */
  stage_qa_us: number;
  /** Wall time spent in the adaptation layer, µs. */
  stage_adapt_us: number;
}

interface Stream {
  channel: ChannelInfo;
  ring: WindowRing;
  judge: StreamJudge;
}

/** The nominal sample period (ms) a HELLO declares, NaN if it declares none. */
function nominalPeriodMs(h: Hello): number {
  return h.rate_hz > 0 && Number.isFinite(h.rate_hz) ? 1000 / h.rate_hz : NaN;
}

export class Pipeline {
  readonly counters: PipelineCounters = {
    hellos: 0,
    samples_before_hello: 0,
    layout_mismatch: 0,
    samples: 0,
    missing_values: 0,
    device_dropped: 0,
    verdicts: 0,
    model_scored: 0,
    model_unscored: 0,
    model_skipped: 0,
    model_skipped_budget: 0,
    windows_skipped_duty: 0,
    stage_qa_us: 0,
    stage_adapt_us: 0,
  };
  /** Judging of windows that wait for the model, chained so verdicts keep their order. */
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;
  private readyList: number[] = [];
  private warnedModelLayout = false;
  private streams: Stream[] = [];
  /** Per stream: a window is ready after the current sample (all channels are pushed before any is judged). */
  private ready = new Uint8Array(0);
  /** Nominal period from the HELLO, or the last batch's period_us when the HELLO gives none. */
  private periodMs = NaN;
  private hello: Hello | undefined;
  private verdictSeq = 0;
  private warnedNoHello = false;
  private readonly noAnomaly = new WeakMap<ReadonlySet<string> | StreamJudge, ReadonlySet<string>>();

  constructor(
    private readonly o: PipelineOptions,
    /** Gets every verdict, and the window it judged (values in time order; reused: copy what you keep). */
    private readonly onVerdict: (v: Verdict, window?: { readonly values: Float64Array }) => void,
    private readonly log: Logger,
  ) {}

  get deviceHello(): Hello | undefined {
    return this.hello;
  }

  /** Handles one message from the device. */
  handle(h: FrameHeader, m: Message): void {
    if (m.type === 'hello') this.onHello(m);
    else if (m.type === 'samples') this.onSamples(h, m);
    else if (m.type === 'heartbeat') this.counters.device_dropped = m.dropped;
  }

  private onHello(h: Hello): void {
    this.counters.hellos++;
    const same =
      this.hello !== undefined &&
      this.hello.channels.length === h.channels.length &&
      this.hello.channels.every((c, i) => {
        const d = h.channels[i]!;
        return c.name === d.name && c.min === d.min && c.max === d.max && c.unit === d.unit;
      });
    this.hello = h;
    this.periodMs = nominalPeriodMs(h);
    if (same) return;
    this.log.info?.(
      `firmware ${h.device} (fw ${h.fw}) at ${h.rate_hz} Hz: ${h.channels.map((c) => `${c.name}[${c.min}..${c.max} ${c.unit}]`).join(', ')}`,
    );
    this.buildStreams(h.channels);
  }

  /** The QA config in force; `reconfigure` replaces it. */
  private qa: QaConfig | undefined;

  /**
   * New QA parameters (a `set_threshold` or `set_config` command): the judges are rebuilt with them,
   * the windows in progress are kept, so no sample is lost. The anomaly scorers start afresh.
   */
  reconfigure(qa: QaConfig): void {
    this.qa = qa;
    if (this.hello) this.buildStreams(this.hello.channels, this.streams.map((s) => s.ring));
  }

  private buildStreams(channels: ChannelInfo[], keep?: WindowRing[]): void {
    const qa = this.qa ?? this.o.qa;
    const rings = keep && keep.length === channels.length ? keep : channels.map(() => new WindowRing(this.o.window.size, this.o.window.hop));
    const index = new Map(channels.map((c, i) => [c.name, i]));
    const cross: CrossLink[][] = channels.map(() => []);
    if (qa.cross_sensor.enabled) {
      for (const pair of qa.cross_sensor.pairs) {
        const a = index.get(pair.a);
        const b = index.get(pair.b);
        if (a === undefined || b === undefined) {
          this.log.warn?.(`qa.cross_sensor pair ${pair.a}/${pair.b}: the device has no channel ${a === undefined ? pair.a : pair.b}; pair ignored`);
          continue;
        }
        const sign = pair.relation === 'positive' ? 1 : -1;
        const ca = channels[a]!;
        const cb = channels[b]!;
        cross[a]!.push({ peer: pair.b, sign, min: cb.min, max: cb.max, window: () => rings[b]!.view });
        cross[b]!.push({ peer: pair.a, sign, min: ca.min, max: ca.max, window: () => rings[a]!.view });
      }
    }
    const profile = qa.relevance.enabled ? (this.o.profile ?? this.o.modelProfile?.()) : undefined;
    if (profile) {
      const missing = channels.filter((c) => !profile.streams[c.name]).map((c) => c.name);
      if (missing.length) this.log.warn?.(`qa.relevance: the reference profile has no entry for ${missing.join(', ')}; relevance is inactive there`);
    }
    const clockOffsetMs = this.o.toWallMs(0) ?? NaN;
    this.streams = channels.map((channel, i) => {
      const streamProfile = profile?.streams[channel.name];
      const anomalyScorer = this.o.anomalyScorer?.(channel);
      return {
        channel,
        ring: rings[i]!,
        judge: new StreamJudge(qa, {
          channel,
          cross: cross[i]!,
          clockOffsetMs,
          ...(this.o.integrity ? { integrity: this.o.integrity } : {}),
          ...(streamProfile ? { profile: streamProfile } : {}),
          ...(anomalyScorer ? { anomalyScorer } : {}),
          ...(this.o.adapt ? { adaptive: this.o.adapt.hooks(channel.name) } : {}),
        }),
      };
    });
    this.ready = new Uint8Array(channels.length);
  }

  private onSamples(h: FrameHeader, b: Samples): void {
    const count = b.values.length / b.channels;
    if (!this.hello) {
      this.counters.samples_before_hello += count;
      if (!this.warnedNoHello) this.log.warn?.('samples arrive before the firmware said HELLO; dropping them until it does');
      this.warnedNoHello = true;
      return;
    }
    if (b.channels !== this.streams.length) {
      this.counters.layout_mismatch++;
      this.log.debug?.(`batch with ${b.channels} channels, HELLO declared ${this.streams.length}; dropped`);
      return;
    }
    const deviceT0 = b.t0_us !== undefined ? b.t0_us / 1000 : h.time_ms;
    const t0 = this.o.toWallMs(deviceT0) ?? deviceT0;
    const periodMs = b.period_us / 1000;
    if (!(this.periodMs > 0)) this.periodMs = periodMs;
    const C = b.channels;
    const v = b.values;
    const ready = this.ready;
    for (let i = 0; i < count; i++) {
      const t = t0 + i * periodMs;
      let any = false;
      for (let c = 0; c < C; c++) {
        const x = v[i * C + c]!;
        if (Number.isNaN(x)) this.counters.missing_values++;
        if (this.streams[c]!.ring.push(x, t)) {
          ready[c] = 1;
          any = true;
        }
      }
      // Judge only once every channel holds this sample, so a cross-sensor child sees its partner's
      // window over the same samples.
      if (any) {
        const list = this.readyList;
        list.length = 0;
        for (let c = 0; c < C; c++) {
          if (ready[c] === 0) continue;
          ready[c] = 0;
          list.push(c);
        }
        if (this.o.budget && !this.o.budget.judging()) this.counters.windows_skipped_duty += list.length;
        else if (this.o.model) this.viaModel(list);
        else for (const c of list) this.emit(this.streams[c]!, this.streams[c]!.ring.view);
      }
    }
    this.counters.samples += count;
  }

  /**
   * Copies the ready windows, asks the model for the aligned multichannel window, and judges them when
   * it answers — after every window queued before them.
   */
  private viaModel(list: readonly number[]): void {
    const model = this.o.model!;
    const snaps = list.map((c) => {
      const w = this.streams[c]!.ring.view;
      return { c, snap: { values: w.values.slice(), times: w.times.slice(), t0: w.t0, t1: w.t1, fresh: w.fresh } satisfies Snapshot };
    });
    let result: Promise<{ ratios: Record<string, number>; name: string } | undefined> = Promise.resolve(undefined);
    let budgetSkip = false;
    const names = model.channels;
    if (names) {
      const byName = new Map(snaps.map((x) => [this.streams[x.c]!.channel.name, x.snap.values]));
      const windows = names.map((n) => byName.get(n));
      if (windows.every((w) => w !== undefined)) {
        if (this.o.budget && !this.o.budget.modelTurn()) {
          this.counters.model_skipped_budget++;
          budgetSkip = true;
        } else if (this.waiting < (this.o.modelMaxPending ?? 256)) result = model.score(windows as Float64Array[]).catch(() => undefined);
        else this.counters.model_skipped++;
      } else if (!this.warnedModelLayout) {
        this.warnedModelLayout = true;
        this.log.warn?.(`the model reads channels ${names.join(', ')}, but this window has ${[...byName.keys()].join(', ')}; judging without the model`);
      }
    }
    this.waiting++;
    this.tail = this.tail.then(async () => {
      const r = await result;
      this.waiting--;
      for (const { c, snap } of snaps) {
        const s = this.streams[c]!;
        const ratio = r?.ratios[s.channel.name];
        if (ratio !== undefined) this.counters.model_scored++;
        else if (!budgetSkip) this.counters.model_unscored++;
        // A model that answered but does not score this stream does not read it: the anomaly child skips it.
        // A window the governor kept from the model is judged without the anomaly child (its judge is the model).
        this.emit(s, snap, ratio !== undefined ? { ratio, name: r!.name } : r ? { name: r.name, reads: false } : undefined, budgetSkip);
      }
    });
  }

  /** `only` (or every child of a judge) less the anomaly child; one set per source, not one per window. */
  private withoutAnomaly(source: ReadonlySet<string> | StreamJudge): ReadonlySet<string> {
    let set = this.noAnomaly.get(source);
    if (!set) {
      const names = new Set(source instanceof StreamJudge ? source.childNames : source);
      names.delete('anomaly');
      this.noAnomaly.set(source, (set = names));
    }
    return set;
  }

  /** Resolves once every window waiting for the model has been judged. */
  idle(): Promise<void> {
    return this.tail;
  }

  private emit(s: Stream, w: Snapshot, model?: WindowInput['model'], withoutAnomaly = false): void {
    const budget = this.o.budget;
    let only = budget?.children();
    if (withoutAnomaly) only = this.withoutAnomaly(only ?? s.judge);
    const started = performance.now();
    const j = s.judge.judge({
      values: w.values,
      times: w.times,
      t0: w.t0,
      t1: w.t1,
      channel: s.channel,
      periodMs: this.periodMs,
      fresh: w.fresh,
      clockOffsetMs: this.o.toWallMs(0) ?? NaN,
      ...(model ? { model } : {}),
    }, only);
    const judged = performance.now();
    this.counters.stage_qa_us += Math.round((judged - started) * 1000);
    this.verdictSeq++;
    this.counters.verdicts++;
    const v: Verdict = {
      v: 1,
      device: this.o.device,
      stream: s.channel.name,
      seq: this.verdictSeq,
      t0: w.t0,
      t1: w.t1,
      n: w.values.length,
      unit: s.channel.unit,
      parents: j.parents,
      ...(Object.keys(j.parentScores).length > 0 ? { parent_scores: j.parentScores } : {}),
      children: j.children,
      failed: j.failed,
      profile: this.o.profileHash,
      model: model && model.ratio !== undefined ? model.name : null,
    };
    // Learning sees the verdict before the publisher does, so a window's own judgement is never
    // changed by what it teaches (the state it was judged with is already used).
    if (this.o.adapt && (!budget || budget.adapting())) {
      this.o.adapt.observe(s.channel.name, w.values, v);
      this.counters.stage_adapt_us += Math.round((performance.now() - judged) * 1000);
    }
    this.onVerdict(v, w);
  }
}
