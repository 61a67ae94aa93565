/**
 * Streaming quantile estimate with the P² algorithm (Jain & Chlamtac 1985, "The P² algorithm for
 * dynamic calculation of quantiles and histograms without storing observations", CACM 28(10)).
 * Five markers track the minimum, the p/2, p and (1+p)/2 quantiles and the maximum:
 *   heights q₀…q₄, actual positions n₀…n₄ (1-based ranks), desired positions n'ᵢ += dn'ᵢ per value,
 *   dn' = (0, p/2, p, (1+p)/2, 1).
 * For each value: find its cell k (q_k ≤ x < q_{k+1}; extend q₀ or q₄ if outside), shift the
 * positions above it, then move each middle marker i whose actual position lags its desired one by
 * ≥ 1 by d = ±1 rank, to the piecewise-parabolic (P²) prediction
 *   q'ᵢ = qᵢ + d/(n_{i+1} − n_{i−1}) · [ (nᵢ − n_{i−1} + d)(q_{i+1} − qᵢ)/(n_{i+1} − nᵢ)
 *                                       + (n_{i+1} − nᵢ − d)(qᵢ − q_{i−1})/(nᵢ − n_{i−1}) ]
 * or, if that would leave (q_{i−1}, q_{i+1}), to the linear one qᵢ + d(q_{i+d} − qᵢ)/(n_{i+d} − nᵢ).
 * Properties: O(1) memory and time per value, no allocation; exact for the first five values
 * (linear interpolation between order statistics), after which the middle marker q₂ is the
 * estimate; q₀ and q₄ are the exact minimum and maximum;
 * the markers stay sorted. The estimate converges for continuous distributions; its error is
 * largest for tail quantiles of short or strongly non-stationary streams.
 * Non-finite values are refused (`update` returns false).
 */
export class P2Quantile {
  private readonly q = new Float64Array(5);
  private readonly pos = new Float64Array(5);
  private readonly want = new Float64Array(5);
  private readonly dWant: Float64Array;
  /** Values taken. */
  n = 0;

  constructor(readonly p: number) {
    if (!(p > 0 && p < 1)) throw new RangeError(`quantile p must be in (0, 1); got ${p}`);
    this.dWant = Float64Array.of(0, p / 2, p, (1 + p) / 2, 1);
  }

  update(x: number): boolean {
    if (!Number.isFinite(x)) return false;
    const q = this.q;
    if (this.n < 5) {
      // Insertion into the sorted first five.
      let j = this.n - 1;
      while (j >= 0 && q[j]! > x) {
        q[j + 1] = q[j]!;
        j--;
      }
      q[j + 1] = x;
      this.n++;
      if (this.n === 5) {
        const p = this.p;
        this.pos.set([1, 2, 3, 4, 5]);
        this.want.set([1, 1 + 2 * p, 1 + 4 * p, 3 + 2 * p, 5]);
      }
      return true;
    }
    this.n++;
    let k: number;
    if (x < q[0]!) {
      q[0] = x;
      k = 0;
    } else if (x >= q[4]!) {
      q[4] = x;
      k = 3;
    } else {
      k = 0;
      while (k < 3 && x >= q[k + 1]!) k++;
    }
    const pos = this.pos;
    for (let i = k + 1; i < 5; i++) pos[i]!++;
    for (let i = 0; i < 5; i++) this.want[i]! += this.dWant[i]!;
    for (let i = 1; i <= 3; i++) {
      const d = this.want[i]! - pos[i]!;
      if ((d >= 1 && pos[i + 1]! - pos[i]! > 1) || (d <= -1 && pos[i - 1]! - pos[i]! < -1)) {
        const s = d > 0 ? 1 : -1;
        const qp = this.parabolic(i, s);
        q[i] = q[i - 1]! < qp && qp < q[i + 1]! ? qp : this.linear(i, s);
        pos[i]! += s;
      }
    }
    return true;
  }

  private parabolic(i: number, d: number): number {
    const q = this.q;
    const n = this.pos;
    return (
      q[i]! +
      (d / (n[i + 1]! - n[i - 1]!)) *
        (((n[i]! - n[i - 1]! + d) * (q[i + 1]! - q[i]!)) / (n[i + 1]! - n[i]!) + ((n[i + 1]! - n[i]! - d) * (q[i]! - q[i - 1]!)) / (n[i]! - n[i - 1]!))
    );
  }

  private linear(i: number, d: number): number {
    const q = this.q;
    const n = this.pos;
    return q[i]! + (d * (q[i + d]! - q[i]!)) / (n[i + d]! - n[i]!);
  }

  /** The current estimate of the p-quantile; NaN before the first value. */
  get value(): number {
    if (this.n === 0) return NaN;
    if (this.n > 5) return this.q[2]!;
    // Exact: interpolate between the order statistics of the few values held.
    const h = (this.n - 1) * this.p;
    const lo = Math.floor(h);
    const hi = Math.min(this.n - 1, lo + 1);
    return this.q[lo]! + (h - lo) * (this.q[hi]! - this.q[lo]!);
  }

  /** Smallest and largest value seen (exact). */
  get min(): number {
    return this.n === 0 ? NaN : this.q[0]!;
  }

  get max(): number {
    return this.n === 0 ? NaN : this.q[Math.min(4, this.n - 1)]!;
  }

  reset(): void {
    this.n = 0;
  }
}
