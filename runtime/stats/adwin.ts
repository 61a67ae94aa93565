/**
 * ADWIN — adaptive windowing (Bifet & Gavaldà 2007, "Learning from time-changing data with adaptive
 * windowing", SDM; the ADWIN2 variant of §4). It keeps a window W of the most recent values that is
 * as long as the data allow: whenever some split W = W₀·W₁ (W₀ older) shows means that differ by
 * more than chance allows, the older part is dropped and a change is reported.
 *
 * Cut test, for a split with n₀ and n₁ values (paper §3, variance-based bound):
 *   m      = 1 / (1/n₀ + 1/n₁)                 (harmonic mean of the two sizes, halved)
 *   δ'     = δ / ln n                          (n = |W|; ADWIN2 tests O(log n) splits, not n)
 *   ε_cut  = √( (2/m) · σ²_W · ln(2/δ') ) + (2R / (3m)) · ln(2/δ')
 *   cut when |μ̂₀ − μ̂₁| > ε_cut, and drop the oldest bucket; repeat until no split cuts.
 * σ²_W is W's variance; R is the range of the values (the paper assumes values in [0, 1], R = 1;
 * pass the data's scale otherwise). The bound is Bernstein's: its first term is the Gaussian
 * approximation the paper recommends in practice, the second keeps small windows honest.
 *
 * Memory — the exponential histogram (paper §4): W is stored as buckets of 2^i values each
 * (their sum and their variance, i.e. sum of squared deviations), at most M per size; when a size
 * holds M + 1 buckets its two oldest merge into one of the next size. Only the boundaries between
 * buckets are tested, so memory and time per value are O(M · log(n/M)) and the cut positions are
 * those of the histogram (relative error ~ 1/M). No allocation after construction.
 *
 * Properties (paper Thm 3.1, for the rigorous δ' = δ/n): with a stationary stream, the probability
 * that ADWIN shrinks its window at a given step is at most δ; after an abrupt change of the mean by
 * ε, the window shrinks within O(μ ln(1/δ) / ε²) values. The tests measure both for this version.
 */

export interface AdwinOptions {
  /** Confidence δ ∈ (0, 1): smaller → fewer false cuts, slower detection. Default 0.002 (the paper's). */
  delta?: number;
  /** Buckets per size before merging (M). Default 5. */
  maxBuckets?: number;
  /** Fewest values on each side of a tested split. Default 5. */
  minSide?: number;
  /** Test for a cut every `clock` values (1 = every value). Default 1. */
  clock?: number;
  /** Range R of the values, in the second (small-window) term of ε_cut. Default 1. */
  range?: number;
}

/** Bucket sizes 2^0 … 2^(ROWS−1): enough for any window a process can hold. */
const ROWS = 48;

export class Adwin {
  readonly delta: number;
  private readonly M: number;
  private readonly minSide: number;
  private readonly clock: number;
  private readonly range: number;
  /** Bucket (row r, slot j; j = 0 oldest) is at r·(M+1) + j. */
  private readonly sums: Float64Array;
  private readonly vars: Float64Array;
  private readonly count = new Int32Array(ROWS);
  private rows = 0;
  private ticks = 0;
  /** Values in the window. */
  width = 0;
  private total = 0;
  /** Sum of squared deviations from the window mean. */
  private m2 = 0;
  /** Changes detected since construction. */
  detections = 0;
  /** Largest |μ̂₀ − μ̂₁| / ε_cut over the splits tested at the last update (≥ 1 means a cut was made). */
  lastRatio = 0;

  constructor(o: AdwinOptions = {}) {
    this.delta = o.delta ?? 0.002;
    this.M = o.maxBuckets ?? 5;
    this.minSide = o.minSide ?? 5;
    this.clock = o.clock ?? 1;
    this.range = o.range ?? 1;
    if (!(this.delta > 0 && this.delta < 1)) throw new RangeError(`ADWIN delta must be in (0, 1); got ${this.delta}`);
    if (!Number.isInteger(this.M) || this.M < 2) throw new RangeError(`ADWIN maxBuckets must be an integer ≥ 2; got ${this.M}`);
    if (!Number.isInteger(this.minSide) || this.minSide < 1) throw new RangeError(`ADWIN minSide must be an integer ≥ 1; got ${this.minSide}`);
    if (!Number.isInteger(this.clock) || this.clock < 1) throw new RangeError(`ADWIN clock must be an integer ≥ 1; got ${this.clock}`);
    if (!(this.range >= 0 && Number.isFinite(this.range))) throw new RangeError(`ADWIN range must be finite and ≥ 0; got ${this.range}`);
    this.sums = new Float64Array(ROWS * (this.M + 1));
    this.vars = new Float64Array(ROWS * (this.M + 1));
  }

  get mean(): number {
    return this.width === 0 ? NaN : this.total / this.width;
  }

  get variance(): number {
    return this.width === 0 ? NaN : this.m2 / this.width;
  }

  /** Adds one value; true when the window was cut (a change was detected). Non-finite values are ignored. */
  update(x: number): boolean {
    this.lastRatio = 0;
    if (!Number.isFinite(x)) return false;
    this.insert(x);
    this.compress();
    if (++this.ticks % this.clock !== 0) return false;
    let cut = false;
    while (this.cutOnce()) cut = true;
    if (cut) this.detections++;
    return cut;
  }

  private insert(x: number): void {
    this.width++;
    if (this.width > 1) {
      const d = x - this.total / (this.width - 1);
      this.m2 += ((this.width - 1) * d * d) / this.width;
    }
    this.total += x;
    const j = this.count[0]!++;
    this.sums[j] = x;
    this.vars[j] = 0;
    if (this.rows === 0) this.rows = 1;
  }

  private compress(): void {
    const stride = this.M + 1;
    for (let r = 0; r < ROWS - 1; r++) {
      if (this.count[r]! <= this.M) return;
      // Merge the two oldest buckets of row r into the newest slot of row r + 1.
      const size = 2 ** r;
      const a = r * stride;
      const s0 = this.sums[a]!;
      const s1 = this.sums[a + 1]!;
      const d = (s0 - s1) / size;
      const merged = this.vars[a]! + this.vars[a + 1]! + (size / 2) * d * d;
      this.sums.copyWithin(a, a + 2, a + this.count[r]!);
      this.vars.copyWithin(a, a + 2, a + this.count[r]!);
      this.count[r]! -= 2;
      const b = (r + 1) * stride + this.count[r + 1]!++;
      this.sums[b] = s0 + s1;
      this.vars[b] = merged;
      if (this.rows < r + 2) this.rows = r + 2;
    }
  }

  /** Tests every bucket boundary, oldest first; on a cut drops the oldest bucket and returns true. */
  private cutOnce(): boolean {
    const n = this.width;
    if (n < 2 * this.minSide) return false;
    const stride = this.M + 1;
    const lnTerm = Math.log((2 * Math.log(n)) / this.delta);
    const sigma2 = this.m2 / n;
    let n0 = 0;
    let u0 = 0;
    for (let r = this.rows - 1; r >= 0; r--) {
      const size = 2 ** r;
      const c = this.count[r]!;
      for (let j = 0; j < c; j++) {
        n0 += size;
        u0 += this.sums[r * stride + j]!;
        const n1 = n - n0;
        if (n1 < this.minSide) return false;
        if (n0 < this.minSide) continue;
        const m = 1 / (1 / n0 + 1 / n1);
        const eps = Math.sqrt((2 / m) * sigma2 * lnTerm) + ((2 * this.range) / (3 * m)) * lnTerm;
        const diff = Math.abs(u0 / n0 - (this.total - u0) / n1);
        const ratio = eps > 0 ? diff / eps : diff > 0 ? Infinity : 0;
        if (ratio > this.lastRatio) this.lastRatio = ratio;
        if (diff > eps) {
          this.dropOldest();
          return true;
        }
      }
    }
    return false;
  }

  private dropOldest(): void {
    const stride = this.M + 1;
    let r = this.rows - 1;
    while (r > 0 && this.count[r] === 0) r--;
    const size = 2 ** r;
    const a = r * stride;
    const s = this.sums[a]!;
    const v = this.vars[a]!;
    this.sums.copyWithin(a, a + 1, a + this.count[r]!);
    this.vars.copyWithin(a, a + 1, a + this.count[r]!);
    this.count[r]!--;
    while (this.rows > 0 && this.count[this.rows - 1] === 0) this.rows--;
    this.width -= size;
    this.total -= s;
    if (this.width === 0) {
      this.m2 = 0;
      this.total = 0;
      return;
    }
    // Removing a bucket of size n_b, mean μ_b from the rest (n, μ): M2 −= v_b + n_b·n/(n_b + n)·(μ_b − μ)².
    const d = s / size - this.total / this.width;
    this.m2 = Math.max(0, this.m2 - v - ((size * this.width) / (size + this.width)) * d * d);
  }

  reset(): void {
    this.count.fill(0);
    this.rows = 0;
    this.width = 0;
    this.total = 0;
    this.m2 = 0;
    this.ticks = 0;
    this.lastRatio = 0;
  }
}
