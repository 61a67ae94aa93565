/**
 * KSWIN — Kolmogorov–Smirnov windowing (Raab, Heusinger & Schleif 2020, "Reactive soft prototype
 * computing for concept drift streams", Neurocomputing 416). It keeps a sliding window Ψ of
 * the last n values (the oldest leaves when a new one arrives). Once Ψ is full, the last r values
 * R are compared with r values W drawn uniformly, without replacement, from the older n − r:
 *   D  = sup_x |F_R(x) − F_W(x)|                       (F: empirical distribution functions; ties
 *                                                        are stepped over together)
 *   λ  = (√nₑ + 0.12 + 0.11/√nₑ) · D,  nₑ = r·r/(r + r) = r/2   (Stephens' 1970 small-sample factor)
 *   p  = Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}        (Kolmogorov's limit law; for λ < 1.18 the
 *        same function is summed as 1 − (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)}, which converges faster)
 *   change when p < α; Ψ then keeps only R and refills.
 * The test runs every `checkEvery` values once Ψ is full (the paper tests every value); the draw
 * of W uses a small seeded PRNG (xorshift32), so a run replays identically from its seed.
 *
 * Defaults: n = 2000, r = 200, α = 10⁻⁴, a test every 20 values. The paper's n = 100, r = 30,
 * α = 0.005, a test at every value, raise ≈ 3 false alarms per 1000 values on a stationary
 * stream (measured in the tests: each test rejects with probability ≈ α and there are 1000 tests
 * per 1000 values), far too many for a gateway that reports each one. A smaller α alone then
 * misses most changes, since 30 against 30 values resolve little; a longer window fixes both: r =
 * 200 values resolve a 0.5σ shift of the mean, and n = 2000 keeps the values from before a change
 * (or from the start of a slow drift) long enough for the test to see them. With a test every 20
 * values there are 50 tests per 1000 values, so ≤ 50·α = 0.005 false alarms per 1000 values; the
 * delay grows by at most 19 values.
 *
 * Properties: KSWIN compares whole distributions, so it also sees changes of spread or shape that
 * leave the mean alone. It forgets: a change can only be seen while the older part of Ψ still
 * holds values from before it, i.e. within ≈ n values; a change smaller than r against r values can
 * resolve is often missed, and so is a drift slow enough that Ψ never spans much of it. Memory:
 * n + 2r doubles and n − r 32-bit indices (≈ 26 KB with the defaults), allocated at construction.
 * Time: O(1) per value, plus O(r log r) per test (two in-place heapsorts, a merge and the draw of
 * W by a partial Fisher–Yates shuffle), so O(r log r / checkEvery) per value on average.
 */

export interface KswinOptions {
  /** Window length n. Integer ≥ 2·statSize. Default 2000 (the paper's is 100). */
  windowSize?: number;
  /** Length r of the recent part R and of the sample W. Integer ≥ 2. Default 200 (the paper's is 30). */
  statSize?: number;
  /** Significance level α ∈ (0, 1): a change when the KS p-value < α. Default 10⁻⁴ (the paper's is 0.005). */
  alpha?: number;
  /** Test once every `checkEvery` values while the window is full (1 = every value, as in the paper). Default 20. */
  checkEvery?: number;
  /** Seed of the PRNG that draws W; an integer. Default 1. */
  seed?: number;
}

export class Kswin {
  readonly windowSize: number;
  readonly statSize: number;
  readonly alpha: number;
  readonly checkEvery: number;
  private readonly seed: number;
  /** Ring buffer of the window; the oldest value is at `head` once full. */
  private readonly buf: Float64Array;
  private head = 0;
  /** Sorted copies of R and W for the test, and the index permutation the draw shuffles. */
  private readonly recent: Float64Array;
  private readonly sample: Float64Array;
  private readonly perm: Int32Array;
  private rng = 1;
  private sinceTest = 0;
  /** Values in the window (≤ windowSize). */
  width = 0;
  /** KS statistic D and p-value of the last test (NaN before the first). */
  statistic = NaN;
  pValue = NaN;
  /** Changes detected since construction. */
  detections = 0;

  constructor(o: KswinOptions = {}) {
    this.windowSize = o.windowSize ?? 2000;
    this.statSize = o.statSize ?? 200;
    this.alpha = o.alpha ?? 1e-4;
    this.checkEvery = o.checkEvery ?? 20;
    this.seed = o.seed ?? 1;
    if (!Number.isInteger(this.statSize) || this.statSize < 2) throw new RangeError(`KSWIN statSize must be an integer ≥ 2; got ${this.statSize}`);
    if (!Number.isInteger(this.windowSize) || this.windowSize < 2 * this.statSize) {
      throw new RangeError(`KSWIN windowSize must be an integer ≥ 2·statSize (${2 * this.statSize}); got ${this.windowSize}`);
    }
    if (!(this.alpha > 0 && this.alpha < 1)) throw new RangeError(`KSWIN alpha must be in (0, 1); got ${this.alpha}`);
    if (!Number.isInteger(this.checkEvery) || this.checkEvery < 1) throw new RangeError(`KSWIN checkEvery must be an integer ≥ 1; got ${this.checkEvery}`);
    if (!Number.isSafeInteger(this.seed)) throw new RangeError(`KSWIN seed must be an integer; got ${this.seed}`);
    this.buf = new Float64Array(this.windowSize);
    this.recent = new Float64Array(this.statSize);
    this.sample = new Float64Array(this.statSize);
    this.perm = new Int32Array(this.windowSize - this.statSize);
    this.reset();
  }

  /** Adds one value; true when a change was detected. Non-finite values are ignored. */
  update(x: number): boolean {
    if (!Number.isFinite(x)) return false;
    const n = this.windowSize;
    if (this.width < n) {
      this.buf[(this.head + this.width) % n] = x;
      this.width++;
    } else {
      this.buf[this.head] = x;
      this.head = (this.head + 1) % n;
    }
    this.sinceTest++;
    if (this.width < n || this.sinceTest < this.checkEvery) return false;
    this.sinceTest = 0;
    this.test();
    if (!(this.pValue < this.alpha)) return false;
    this.detections++;
    // Keep only R: move the last r values to the front of the buffer.
    const r = this.statSize;
    for (let i = 0; i < r; i++) this.recent[i] = this.buf[(this.head + n - r + i) % n]!;
    this.buf.set(this.recent);
    this.head = 0;
    this.width = r;
    return true;
  }

  /** Draws W, sorts R and W, and sets `statistic` and `pValue`. */
  private test(): void {
    const n = this.windowSize;
    const r = this.statSize;
    const old = n - r;
    for (let i = 0; i < r; i++) this.recent[i] = this.buf[(this.head + old + i) % n]!;
    // Partial Fisher–Yates: perm stays a permutation of 0 … old−1, so it never needs re-filling.
    const perm = this.perm;
    for (let i = 0; i < r; i++) {
      const j = i + Math.floor(this.uniform() * (old - i));
      const t = perm[j]!;
      perm[j] = perm[i]!;
      perm[i] = t;
      this.sample[i] = this.buf[(this.head + t) % n]!;
    }
    heapSort(this.recent);
    heapSort(this.sample);
    this.statistic = ksStatistic(this.recent, this.sample);
    const ne = r / 2;
    const sq = Math.sqrt(ne);
    this.pValue = kolmogorovQ((sq + 0.12 + 0.11 / sq) * this.statistic);
  }

  /** xorshift32 (Marsaglia 2003), uniform in [0, 1). */
  private uniform(): number {
    let s = this.rng;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.rng = s;
    return (s >>> 0) / 4294967296;
  }

  reset(): void {
    this.head = 0;
    this.width = 0;
    this.sinceTest = 0;
    this.statistic = NaN;
    this.pValue = NaN;
    // Mix both halves of the seed into a 32-bit state; xorshift32 must not start at 0.
    const lo = this.seed | 0;
    const hi = Math.floor(this.seed / 4294967296) | 0;
    this.rng = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) ^ 0x5bd1e995 || 0x2545f491;
    for (let i = 0; i < this.perm.length; i++) this.perm[i] = i;
  }
}

/**
 * Two-sample KS statistic sup_x |F_a(x) − F_b(x)| of two ascending-sorted samples (any sizes ≥ 1):
 * a merge over the pooled values, comparing the two distribution functions after each distinct value.
 */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const na = a.length;
  const nb = b.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < na && j < nb) {
    const v = Math.min(a[i]!, b[j]!);
    while (i < na && a[i]! <= v) i++;
    while (j < nb && b[j]! <= v) j++;
    const gap = Math.abs(i / na - j / nb);
    if (gap > d) d = gap;
  }
  return d;
}

/** Kolmogorov's survival function Q(λ) = P(K > λ), the asymptotic p-value of √nₑ·D; 1 for λ ≤ 0. */
export function kolmogorovQ(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    // Q = 1 − (√(2π)/λ) Σ e^{−(2j−1)²π²/(8λ²)}: terms fall off at least as fast as e^{−0.89·(2j−1)²}.
    const c = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let s = 0;
    for (let j = 1; j <= 6; j++) s += Math.exp(-(2 * j - 1) * (2 * j - 1) * c);
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * s));
  }
  // Q = 2 Σ (−1)^{j−1} e^{−2j²λ²}: terms fall off at least as fast as e^{−2.78·j²}.
  const l2 = -2 * lambda * lambda;
  let s = 0;
  for (let j = 1; j <= 8; j++) s += (j % 2 === 1 ? 1 : -1) * Math.exp(l2 * j * j);
  return Math.min(1, Math.max(0, 2 * s));
}

/** In-place ascending heapsort: O(m log m), no allocation (TypedArray.prototype.sort may allocate). */
function heapSort(a: Float64Array): void {
  const m = a.length;
  for (let start = (m >> 1) - 1; start >= 0; start--) siftDown(a, start, m);
  for (let end = m - 1; end > 0; end--) {
    const t = a[0]!;
    a[0] = a[end]!;
    a[end] = t;
    siftDown(a, 0, end);
  }
}

function siftDown(a: Float64Array, root: number, end: number): void {
  const v = a[root]!;
  let i = root;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= end) break;
    if (c + 1 < end && a[c + 1]! > a[c]!) c++;
    if (a[c]! <= v) break;
    a[i] = a[c]!;
    i = c;
  }
  a[i] = v;
}
