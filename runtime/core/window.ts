/**
 * Per-stream sliding windows over a ring buffer of typed arrays (STYLE §5: no allocation per sample).
 * Samples are pushed one at a time; every `hop` samples, once `size` samples are held, the window is
 * copied in time order into a reused contiguous view and handed to the caller.
 */

export interface WindowView {
  /** The window's values in time order; NaN marks a missing value. Reused: copy what you keep. */
  readonly values: Float64Array;
  /**
   * The timestamp (ms since epoch) of each value, in the same (arrival) order. Arrival order is
   * time order for a healthy device; repeated or backward times are what the timeliness,
   * uniqueness and clock_sanity children look for. Reused: copy what you keep.
   */
  readonly times: Float64Array;
  /** Device timestamps (ms since epoch) of the first and last sample. */
  t0: number;
  t1: number;
  /** Samples in this window that were not in the previous one: `size` for the first window, else `hop`. */
  fresh: number;
}

export class WindowRing {
  private readonly ring: Float64Array;
  private readonly times: Float64Array;
  private head = 0; // next write position
  private filled = 0;
  private sinceEmit = 0;
  private emitted = false;
  readonly view: WindowView;

  constructor(
    readonly size: number,
    readonly hop: number,
  ) {
    if (!Number.isInteger(size) || size < 2) throw new RangeError('window size must be an integer ≥ 2');
    if (!Number.isInteger(hop) || hop < 1 || hop > size) throw new RangeError('window hop must be an integer in [1, size]');
    this.ring = new Float64Array(size);
    this.times = new Float64Array(size);
    this.view = { values: new Float64Array(size), times: new Float64Array(size), t0: 0, t1: 0, fresh: 0 };
  }

  /** Adds one sample; returns true when a new window is ready in `view`. */
  push(value: number, time: number): boolean {
    this.ring[this.head] = value;
    this.times[this.head] = time;
    this.head = this.head + 1 === this.size ? 0 : this.head + 1;
    if (this.filled < this.size) this.filled++;
    this.sinceEmit++;
    if (this.filled < this.size || this.sinceEmit < this.hop) return false;
    this.view.fresh = this.emitted ? this.sinceEmit : this.size;
    this.sinceEmit = 0;
    this.emitted = true;
    // Oldest sample sits at `head` once the ring is full.
    const tail = this.size - this.head;
    const v = this.view.values;
    v.set(this.ring.subarray(this.head), 0);
    v.set(this.ring.subarray(0, this.head), tail);
    const t = this.view.times;
    t.set(this.times.subarray(this.head), 0);
    t.set(this.times.subarray(0, this.head), tail);
    this.view.t0 = t[0]!;
    this.view.t1 = t[this.size - 1]!;
    return true;
  }

  reset(): void {
    this.head = 0;
    this.filled = 0;
    this.sinceEmit = 0;
    this.emitted = false;
  }
}
