/**
 * The integrity children: was the data carried intact from the device? They are per device, not
 * per channel: the link's counters (frame_integrity, sequence_continuity) and the time map
 * (clock_sanity) belong to the serial link every stream shares. Each stream's instance differences
 * the cumulative counters since that stream's previous window (since the judge was built, for its
 * first), so every stream's verdict carries them — with the same values, as the streams of one
 * device emit their windows together.
 */

import type { ChildResult, Dimension, IntegrityCounters, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt, markResent } from './util.js';

export type IntegrityParams = ChildParams;

const REJECTED = ['bad_cobs', 'runt', 'oversize', 'bad_crc', 'bad_version', 'unknown_flags', 'bad_body'] as const;

function rejected(c: IntegrityCounters): number {
  let s = 0;
  for (const k of REJECTED) s += c[k];
  return s;
}

/**
 * frame_integrity — how clean the serial line was since the previous window (PROTOCOL §2–§3):
 *   rejected = Δ(bad_cobs + runt + oversize + bad_crc + bad_version + unknown_flags + bad_body)
 *              delimited pieces that were not a valid frame
 *   dirty    = rejected + Δresyncs      plus valid frames that arrived with garbage glued in front
 *   score    = dirty / (rejected + Δframes)   the share of delimited pieces that were not a clean frame
 * Δdiscarded_bytes is reported in the reason. CRC-rejected frames never reach a window, so this is
 * the line's health rather than the data's; frames lost outright are sequence_continuity's.
 */
export class FrameIntegrity implements Dimension {
  readonly name = 'frame_integrity';
  readonly parent: ParentName = 'integrity';
  private frames: number;
  private rejected: number;
  private resyncs: number;
  private crc: number;
  private discarded: number;

  constructor(
    private readonly p: IntegrityParams,
    private readonly counters: () => IntegrityCounters,
  ) {
    const c = counters();
    this.frames = c.frames;
    this.rejected = rejected(c);
    this.resyncs = c.resyncs;
    this.crc = c.bad_crc;
    this.discarded = c.discarded_bytes;
  }

  evaluate(_w: WindowInput): ChildResult {
    const c = this.counters();
    const frames = c.frames - this.frames;
    const rej = rejected(c) - this.rejected;
    const resyncs = c.resyncs - this.resyncs;
    const crc = c.bad_crc - this.crc;
    const discarded = c.discarded_bytes - this.discarded;
    this.frames = c.frames;
    this.rejected = rejected(c);
    this.resyncs = c.resyncs;
    this.crc = c.bad_crc;
    this.discarded = c.discarded_bytes;
    const dirty = rej + resyncs;
    const pieces = rej + frames;
    const score = pieces > 0 ? Math.min(1, dirty / pieces) : 0;
    return childResult(this, this.p, score, 'corrupt', (pass) => {
      const text = `${dirty}/${pieces} pieces not a clean frame (${crc} bad CRC, ${rej - crc} other rejects, ${resyncs} resyncs), ${discarded} bytes discarded since the previous window`;
      return pass ? text : `${text}: ${fmt(100 * score)} % > ${fmt(100 * this.p.threshold)} %`;
    });
  }
}

/**
 * sequence_continuity — were frames lost, repeated or reordered since the previous window
 * (PROTOCOL §7 sequence numbers)?
 *   lost   = Δseq_gaps     frames missing by sequence number
 *   resets = Δseq_resets   jumps too large to be gaps: a restart, a repeated or a reordered frame
 *   score  = (lost + resets) / (lost + resets + Δframes)   the share of expected frames that did not
 *            arrive in order (a reset counts as one)
 */
export class SequenceContinuity implements Dimension {
  readonly name = 'sequence_continuity';
  readonly parent: ParentName = 'integrity';
  private frames: number;
  private gaps: number;
  private resets: number;

  constructor(
    private readonly p: IntegrityParams,
    private readonly counters: () => IntegrityCounters,
  ) {
    const c = counters();
    this.frames = c.frames;
    this.gaps = c.seq_gaps;
    this.resets = c.seq_resets;
  }

  evaluate(_w: WindowInput): ChildResult {
    const c = this.counters();
    const frames = c.frames - this.frames;
    const lost = c.seq_gaps - this.gaps;
    const resets = c.seq_resets - this.resets;
    this.frames = c.frames;
    this.gaps = c.seq_gaps;
    this.resets = c.seq_resets;
    const bad = lost + resets;
    const score = bad > 0 ? bad / (bad + frames) : 0;
    return childResult(this, this.p, score, resets > 0 && lost === 0 ? 'reset' : 'gap', (pass) => {
      const text = `${lost} frame${lost === 1 ? '' : 's'} lost, ${resets} sequence reset${resets === 1 ? '' : 's'}, ${frames} frames received since the previous window`;
      return pass ? text : `${text}: ${fmt(100 * score)} % of expected frames out of sequence`;
    });
  }
}

export interface ClockSanityParams extends ChildParams {
  /** Time-map steps up to this size are re-synchronisation jitter, not a clock fault (ms). */
  step_tolerance_ms: number;
}

/**
 * clock_sanity — can the window's timestamps be trusted?
 *   back  = Σ (t_{i−1} + P − t_i) over the steps with t_i ≤ t_{i−1}, except onto a re-sent sample
 *           (same time and value as an earlier one: uniqueness's): how far each sample that failed
 *           to move forward lies from where it belonged, one period after its predecessor
 *   jump  = max(0, |Δoffset| − step_tolerance_ms)   how far the link's time map (wall ms − device ms,
 *           PROTOCOL §7) moved since this stream's previous window beyond re-sync jitter: a device
 *           clock that reset, jumped or drifted against the host's
 *   err   = max(0, back − max(0, −Δoffset)) + jump   a map moved back by m ms re-times later samples
 *           m ms earlier: that much of `back` is the re-synchronisation, judged once in `jump`
 *   score = min(1, err / span)   the clock error as a share of the window's nominal span
 *           span = (n − 1) · P with the nominal period P, else the window's own t_last − t_first
 *           (and P = 0 in `back`)
 * A non-finite timestamp scores 1. Scratch for the re-send check is allocated once per stream and
 * used only when time fails to move forward.
 */
export class ClockSanity implements Dimension {
  readonly name = 'clock_sanity';
  readonly parent: ParentName = 'integrity';
  private lastOffset: number;
  private idx = new Uint32Array(0);
  private flags = new Uint8Array(0);

  /** `initialOffsetMs`: the time map when the stream started, so the first window's re-sync counts too. */
  constructor(
    private readonly p: ClockSanityParams,
    initialOffsetMs = NaN,
  ) {
    this.lastOffset = initialOffsetMs;
  }

  evaluate(w: WindowInput): ChildResult {
    const t = w.times;
    const n = t.length;
    const P = w.periodMs > 0 && Number.isFinite(w.periodMs) ? w.periodMs : NaN;
    const own = t[n - 1]! - t[0]!;
    const span = P > 0 ? (n - 1) * P : own > 0 && Number.isFinite(own) ? own : NaN;
    const step = P > 0 ? P : 0;
    let back = 0;
    let steps = 0;
    let nonFinite = 0;
    let marked = false;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(t[i]!)) {
        nonFinite++;
        continue;
      }
      if (i === 0 || !Number.isFinite(t[i - 1]!) || t[i]! > t[i - 1]!) continue;
      if (!marked) {
        if (this.idx.length < n) {
          this.idx = new Uint32Array(n);
          this.flags = new Uint8Array(n);
        }
        markResent(t, w.values, this.idx, this.flags);
        marked = true;
      }
      if (this.flags[i]) continue;
      back += t[i - 1]! + step - t[i]!;
      steps++;
    }
    const offset = w.clockOffsetMs ?? NaN;
    const delta = Number.isFinite(offset) && Number.isFinite(this.lastOffset) ? offset - this.lastOffset : 0;
    if (Number.isFinite(offset)) this.lastOffset = offset;
    const moved = Math.abs(delta);
    const jump = Math.max(0, moved - this.p.step_tolerance_ms);
    // A time map moved back by m ms re-times the samples after it m ms earlier: that much of `back`
    // is the re-synchronisation itself, judged once, in `jump`.
    const err = Math.max(0, back - Math.max(0, -delta)) + jump;
    const score = nonFinite > 0 ? 1 : err === 0 ? 0 : span > 0 ? Math.min(1, err / span) : 1;
    return childResult(this, this.p, score, nonFinite > 0 ? 'bad_time' : jump > 0 && back === 0 ? 'jump' : 'backwards', (pass) => {
      const text =
        `${steps} sample${steps === 1 ? '' : 's'} not after ${steps === 1 ? 'its' : 'their'} predecessor (${fmt(back)} ms off), time map moved ${fmt(moved)} ms since the previous window` +
        (nonFinite ? `, ${nonFinite} non-finite timestamps` : '');
      return pass ? text : `${text}: clock error ${fmt(100 * score)} % of the window's span > ${fmt(100 * this.p.threshold)} % (tolerance ${fmt(this.p.step_tolerance_ms)} ms)`;
    });
  }
}
