/**
 * Two-sided Page-Hinkley test for a change in the mean (Page 1954; Hinkley 1971; the streaming form
 * of Gama et al. 2013, "On evaluating stream learning algorithms", §4). With x̄_t the mean of the
 * values since the last reset (x_t included):
 *   increase:  m_t = α·m_{t−1} + (x_t − x̄_t − δ),   M_t = min_{s≤t} m_s,   g⁺_t = m_t − M_t
 *   decrease:  m'_t = α·m'_{t−1} + (x_t − x̄_t + δ),  M'_t = max_{s≤t} m'_s,  g⁻_t = M'_t − m'_t
 *   alarm when t ≥ minInstances and g⁺_t > λ (an increase) or g⁻_t > λ (a decrease); then reset.
 * δ is the magnitude of change tolerated (in the values' unit), λ the alarm threshold (same unit ×
 * values); α ≤ 1 is a forgetting factor on the cumulative sums (1 = the classical test).
 * Properties: for a shift of the mean by Δ > δ the statistic grows by ≈ Δ − δ per value, so the
 * detection delay is ≈ λ / (Δ − δ) values (longer in practice: x̄ itself drifts toward the new
 * level); under no change g± behaves like a reflected random walk with negative drift −δ, so false
 * alarms become exponentially rare in λ·δ / σ². The tests measure both.
 */

export interface PageHinkleyOptions {
  /** Tolerated change δ (the values' unit); > 0. */
  delta: number;
  /** Alarm threshold λ; > 0. */
  lambda: number;
  /** Forgetting factor α of the cumulative sums, in (0, 1]. Default 1 (none). */
  alpha?: number;
  /** Values after a reset before an alarm may be raised. Default 30. */
  minInstances?: number;
}

export class PageHinkley {
  readonly delta: number;
  readonly lambda: number;
  private readonly alpha: number;
  private readonly minInstances: number;
  /** Values since the last reset. */
  n = 0;
  mean = 0;
  private mUp = 0;
  private minUp = 0;
  private mDown = 0;
  private maxDown = 0;
  /** Current statistics g⁺ and g⁻. */
  up = 0;
  down = 0;
  /** Alarms since construction. */
  detections = 0;

  constructor(o: PageHinkleyOptions) {
    this.delta = o.delta;
    this.lambda = o.lambda;
    this.alpha = o.alpha ?? 1;
    this.minInstances = o.minInstances ?? 30;
    if (!(this.delta >= 0 && Number.isFinite(this.delta))) throw new RangeError(`Page-Hinkley delta must be finite and ≥ 0; got ${this.delta}`);
    if (!(this.lambda > 0 && Number.isFinite(this.lambda))) throw new RangeError(`Page-Hinkley lambda must be finite and > 0; got ${this.lambda}`);
    if (!(this.alpha > 0 && this.alpha <= 1)) throw new RangeError(`Page-Hinkley alpha must be in (0, 1]; got ${this.alpha}`);
    if (!Number.isInteger(this.minInstances) || this.minInstances < 1) throw new RangeError(`Page-Hinkley minInstances must be an integer ≥ 1; got ${this.minInstances}`);
  }

  /** The larger of g⁺ and g⁻ relative to λ: ≥ 1 at an alarm. */
  get ratio(): number {
    return Math.max(this.up, this.down) / this.lambda;
  }

  /** Takes one value; returns +1 for a detected increase, −1 for a decrease, 0 otherwise. Non-finite values are ignored. */
  update(x: number): -1 | 0 | 1 {
    if (!Number.isFinite(x)) return 0;
    this.n++;
    this.mean += (x - this.mean) / this.n;
    const dev = x - this.mean;
    this.mUp = this.alpha * this.mUp + (dev - this.delta);
    if (this.mUp < this.minUp) this.minUp = this.mUp;
    this.up = this.mUp - this.minUp;
    this.mDown = this.alpha * this.mDown + (dev + this.delta);
    if (this.mDown > this.maxDown) this.maxDown = this.mDown;
    this.down = this.maxDown - this.mDown;
    if (this.n < this.minInstances) return 0;
    const s = this.up > this.lambda ? 1 : this.down > this.lambda ? -1 : 0;
    if (s !== 0) {
      this.detections++;
      this.resetState();
    }
    return s;
  }

  private resetState(): void {
    this.n = 0;
    this.mean = 0;
    this.mUp = this.minUp = this.mDown = this.maxDown = 0;
  }

  reset(): void {
    this.resetState();
    this.up = this.down = 0;
  }
}
