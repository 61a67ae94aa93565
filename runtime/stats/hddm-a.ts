/**
 * HDDM_A — drift detection by Hoeffding's bound on a difference of averages (Frías-Blanco, del
 * Campo-Ávila, Ramos-Jiménez, Morales-Bueno, Ortiz-Díaz & Caballero-Mota 2015, "Online and
 * non-parametric drift detection methods based on Hoeffding's bounds", IEEE TKDE 27(3), the A-test).
 * With values clipped into [lo, hi], R = hi − lo, n values since the last restart, Z̄ their mean and
 * X̄_m the mean of the first m of them:
 *   bound of one mean:        ε(m)       = R · √( ln(2/δ) / (2m) )
 *   bound of the difference:  ε(n, m, δ) = R · √( (n − m)/(2·m·n) · ln(2/δ) )
 *     (Hoeffding for Z̄ − X̄_m, which share their first m values: P(Z̄ − X̄_m − E[Z̄ − X̄_m] ≥ ε)
 *      ≤ exp(−2ε²·m·n / ((n − m)·R²)); solved for ε at probability δ/2)
 *   increase: the cut point m⁺ is the m minimising X̄_m + ε(m) (moved to n whenever
 *             Z̄ + ε(n) ≤ X̄_{m⁺} + ε(m⁺)); drift when Z̄ − X̄_{m⁺} ≥ ε(n, m⁺, δ_drift),
 *             warning when only Z̄ − X̄_{m⁺} ≥ ε(n, m⁺, δ_warning);
 *   decrease: the mirror image, with m⁻ maximising X̄_m − ε(m) and X̄_{m⁻} − Z̄ tested;
 *   after a drift every statistic restarts from the next value.
 * The paper states the one-sided test at δ; the two sides here each run at δ/2 (hence ln(2/δ)), so
 * that for given cut points the pair has level δ at each step.
 *
 * Defaults: δ_drift = 0.001 and δ_warning = 0.005 are the paper's. `range` has no default: the
 * bound scales with R, and the paper's inputs (error indicators) live in [0, 1] while this
 * runtime's are real-valued; choose a range that holds nearly all the values (e.g. μ ± 5σ), since
 * values outside it are clipped and a wider range makes the test slower but no less sound.
 *
 * Properties: the bound holds for any distribution within [lo, hi] (no Gaussian assumption) and at
 * every n, so no warm-up is needed and false alarms are very rare; the price is conservatism, as
 * Hoeffding uses R where a variance bound would use σ. Roughly, after m stable values and a shift
 * of the mean by Δ, the cut sits near the change and Z̄ − X̄_m ≈ Δ·k/(m + k) after k more values,
 * so the drift is found once k ≥ K·m/(m − K), K = R²·ln(2/δ)/(2Δ²): never if m ≤ K, ≈ K values
 * when m ≫ K. With R = 10σ and δ = 0.001, K ≈ 380/Δ² values (Δ in σ): a 1σ shift after 2000
 * stable values takes ≈ 470 values, a 0.5σ shift ≈ 6300. There is no forgetting (Z̄ averages
 * everything since the restart; the paper's W-test adds it). O(1) time and memory per value, no
 * allocation.
 */

export interface HddmAOptions {
  /** [lo, hi], lo < hi, both finite: values are clipped into it and the bound scales with hi − lo. */
  range: readonly [number, number];
  /** Drift confidence δ_drift ∈ (0, 1). Default 0.001 (the paper's). */
  driftConfidence?: number;
  /** Warning confidence δ_warning ∈ [δ_drift, 1). Default 0.005 (the paper's). */
  warningConfidence?: number;
}

export class HddmA {
  readonly lo: number;
  readonly hi: number;
  readonly driftConfidence: number;
  readonly warningConfidence: number;
  private readonly R: number;
  /** ln(2/δ_drift), and the ratio √(ln(2/δ_warning) / ln(2/δ_drift)) of the warning bound to the drift bound. */
  private readonly lnDrift: number;
  private readonly warnScale: number;
  /** Values since the last restart, and their sum. */
  n = 0;
  private total = 0;
  /** Cut points (count and sum of the first m values) for an increase and for a decrease. */
  private upN = 0;
  private upSum = 0;
  private downN = 0;
  private downSum = 0;
  /** True while a side passes its warning bound without passing its drift bound. */
  warning = false;
  /** Side of the larger ratio at the last update: +1 increase, −1 decrease, 0 none. Kept through a drift's restart. */
  direction: -1 | 0 | 1 = 0;
  /** Larger of (Z̄ − X̄_{m⁺}) / ε and (X̄_{m⁻} − Z̄) / ε at the last update, ε the drift bound: ≥ 1 at a drift. Kept through a drift's restart. */
  ratio = 0;
  /** Drift bound ε(n, m, δ_drift) of the side reported in `direction` (0 when there is none). */
  bound = 0;
  /** Drifts detected since construction. */
  detections = 0;

  constructor(o: HddmAOptions) {
    const range = o.range as readonly number[] | undefined;
    if (!Array.isArray(range) || range.length !== 2) throw new RangeError(`HDDM_A range must be [lo, hi]; got ${String(range)}`);
    this.lo = range[0]!;
    this.hi = range[1]!;
    this.driftConfidence = o.driftConfidence ?? 0.001;
    this.warningConfidence = o.warningConfidence ?? 0.005;
    if (!(Number.isFinite(this.lo) && Number.isFinite(this.hi) && this.lo < this.hi)) {
      throw new RangeError(`HDDM_A range must be [lo, hi] with finite lo < hi; got [${this.lo}, ${this.hi}]`);
    }
    if (!(this.driftConfidence > 0 && this.driftConfidence < 1)) throw new RangeError(`HDDM_A driftConfidence must be in (0, 1); got ${this.driftConfidence}`);
    if (!(this.warningConfidence >= this.driftConfidence && this.warningConfidence < 1)) {
      throw new RangeError(`HDDM_A warningConfidence must be in [driftConfidence, 1); got ${this.warningConfidence}`);
    }
    this.R = this.hi - this.lo;
    if (!Number.isFinite(this.R)) throw new RangeError(`HDDM_A range width hi − lo must be finite; got [${this.lo}, ${this.hi}]`);
    this.lnDrift = Math.log(2 / this.driftConfidence);
    this.warnScale = Math.sqrt(Math.log(2 / this.warningConfidence) / this.lnDrift);
  }

  /** Mean of the (clipped) values since the last restart; NaN when there are none. */
  get mean(): number {
    return this.n === 0 ? NaN : this.total / this.n;
  }

  /** Takes one value; true when a drift is detected (then `direction` tells its side). Non-finite values are ignored. */
  update(x: number): boolean {
    if (!Number.isFinite(x)) return false;
    const v = x < this.lo ? this.lo : x > this.hi ? this.hi : x;
    const n = ++this.n;
    this.total += v;
    const mean = this.total / n;
    // ε(m) = c / √m with c = R·√(ln(2/δ)/2).
    const c = this.R * Math.sqrt(this.lnDrift / 2);
    const eps = c / Math.sqrt(n);
    if (this.upN === 0 || mean + eps <= this.upSum / this.upN + c / Math.sqrt(this.upN)) {
      this.upN = n;
      this.upSum = this.total;
    }
    if (this.downN === 0 || mean - eps >= this.downSum / this.downN - c / Math.sqrt(this.downN)) {
      this.downN = n;
      this.downSum = this.total;
    }
    let upRatio = 0;
    let upBound = 0;
    if (this.upN < n) {
      upBound = this.differenceBound(n, this.upN);
      upRatio = Math.max(0, mean - this.upSum / this.upN) / upBound;
    }
    let downRatio = 0;
    let downBound = 0;
    if (this.downN < n) {
      downBound = this.differenceBound(n, this.downN);
      downRatio = Math.max(0, this.downSum / this.downN - mean) / downBound;
    }
    if (upRatio === 0 && downRatio === 0) {
      this.ratio = 0;
      this.direction = 0;
      this.bound = 0;
    } else if (upRatio >= downRatio) {
      this.ratio = upRatio;
      this.direction = 1;
      this.bound = upBound;
    } else {
      this.ratio = downRatio;
      this.direction = -1;
      this.bound = downBound;
    }
    if (this.ratio >= 1) {
      this.detections++;
      this.restart();
      return true;
    }
    this.warning = this.ratio >= this.warnScale;
    return false;
  }

  /** ε(n, m, δ_drift) = R·√((n − m)/(2mn)·ln(2/δ_drift)), for 0 < m < n. */
  private differenceBound(n: number, m: number): number {
    return this.R * Math.sqrt(((n - m) / (2 * m * n)) * this.lnDrift);
  }

  private restart(): void {
    this.n = 0;
    this.total = 0;
    this.upN = this.upSum = this.downN = this.downSum = 0;
    this.warning = false;
  }

  reset(): void {
    this.restart();
    this.ratio = 0;
    this.direction = 0;
    this.bound = 0;
  }
}
