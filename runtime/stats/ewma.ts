/**
 * Exponentially weighted mean and variance with forgetting (West 1979; Finch 2009, "Incremental
 * calculation of weighted mean and variance", §9), with an exact warm-up:
 *   a_n = max(α, 1/n)            n = values taken so far (this one included)
 *   d   = x − μ
 *   μ  ← μ + a_n·d
 *   S  ← (1 − a_n)·(S + a_n·d²)  S = the weighted (population) variance
 * Properties:
 * - While 1/n ≥ α, μ and S are exactly the running mean and population variance of every value
 *   so far (no bias toward the first value, unlike an EWMA seeded with it).
 * - Afterwards a value k updates old weighs α(1 − α)^k: the effective memory is ≈ 1/α values and
 *   the half-life ln 2 / α. After a step of size Δ the mean has covered 1 − (1 − α)^k of it.
 * - α = 0 never forgets: the cumulative mean and variance (Welford).
 * Non-finite values are refused (not taken, `update` returns false). |x| up to ~1e154 keeps d²
 * finite; callers judging raw sensor values scale or clip first.
 */
export class Ewma {
  /** NaN until the first value. */
  mean = NaN;
  /** Population variance; NaN until the first value. */
  variance = NaN;
  /** Values taken since construction or the last reset. */
  n = 0;

  constructor(readonly alpha: number) {
    if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`EWMA alpha must be in [0, 1]; got ${alpha}`);
  }

  /** Takes one value; false (and no change) for NaN or ±Infinity. */
  update(x: number): boolean {
    if (!Number.isFinite(x)) return false;
    this.n++;
    if (this.n === 1) {
      this.mean = x;
      this.variance = 0;
      return true;
    }
    const a = Math.max(this.alpha, 1 / this.n);
    const d = x - this.mean;
    this.mean += a * d;
    this.variance = (1 - a) * (this.variance + a * d * d);
    return true;
  }

  get std(): number {
    return Math.sqrt(this.variance);
  }

  reset(): void {
    this.mean = NaN;
    this.variance = NaN;
    this.n = 0;
  }
}
