import type { ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, isoTime, markResent } from './util.js';

export type UniquenessParams = ChildParams;

/**
 * uniqueness — duplicated samples. A sample is a duplicate when an earlier sample in the window has
 * the same timestamp and the same value (bit-exact; a missing value repeats a missing value): the
 * same reading delivered twice, as when the firmware re-sends a frame or a batch is replayed (the
 * pipeline derives sample times from the frame's time and the period, so a re-sent frame repeats
 * them exactly).
 *   score = (# duplicates) / n
 * A repeated time with a different value is not a duplicate but a clock fault (clock_sanity);
 * repeated values at distinct times are flatline's. NaN timestamps never match. Cost: one pass while
 * the times strictly increase (the normal case); otherwise an index sort of scratch arrays
 * allocated once per stream.
 */
export class Uniqueness implements Dimension {
  readonly name = 'uniqueness';
  readonly parent: ParentName = 'intrinsic';
  private idx = new Uint32Array(0);
  private flags = new Uint8Array(0);

  constructor(private readonly p: UniquenessParams) {}

  evaluate(w: WindowInput): ChildResult {
    const t = w.times;
    const n = t.length;
    let increasing = true;
    for (let i = 1; i < n && increasing; i++) if (!(t[i]! > t[i - 1]!)) increasing = false;
    let dups = 0;
    let first = -1;
    if (!increasing) {
      if (this.idx.length < n) {
        this.idx = new Uint32Array(n);
        this.flags = new Uint8Array(n);
      }
      dups = markResent(t, w.values, this.idx, this.flags);
      for (let i = 0; i < n && first < 0; i++) if (this.flags[i]) first = i;
    }
    const score = n === 0 ? 0 : dups / n;
    return childResult(this, this.p, score, 'duplicates', (pass) =>
      pass || first < 0
        ? `${dups}/${n} samples repeat an earlier sample`
        : `${dups}/${n} samples repeat an earlier sample's time and value (first at ${isoTime(t[first]!)}) — a re-sent frame?`,
    );
  }
}
