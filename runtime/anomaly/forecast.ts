/**
 * Two one-step forecasters whose residuals feed the anomaly detector. Each returns the z-score
 * |x − forecast| / scale computed from its state *before* it learns x (no look-ahead), then learns x. Exponentially weighted moments (West 1979, "Updating mean and variance estimates":
 * m ← m + α d, v ← (1 − α)(v + α d²) with d = x − m) keep the memory constant.
 */

/** A scale below this fraction of the level is treated as exact arithmetic noise, not as variation. */
const RELATIVE_RESOLUTION = 1e-9;

function zScore(residual: number, variance: number, level: number): number {
  if (residual === 0) return 0;
  const floor = RELATIVE_RESOLUTION * Math.abs(level);
  return Math.abs(residual) / Math.sqrt(Math.max(variance, floor * floor, Number.MIN_VALUE));
}

/** Forecast = the exponentially weighted mean; scale = the exponentially weighted standard deviation. */
export class LevelForecaster {
  mean = 0;
  variance = 0;
  /** Residual of the last observed sample. */
  residual = 0;
  private started = false;

  constructor(private readonly alpha: number) {}

  observe(x: number): number {
    if (!this.started) {
      this.started = true;
      this.mean = x;
    }
    const d = x - this.mean;
    const z = zScore(d, this.variance, this.mean);
    this.residual = d;
    this.mean += this.alpha * d;
    this.variance = (1 - this.alpha) * (this.variance + this.alpha * d * d);
    return z;
  }
}

const DAY_MS = 86_400_000;

/**
 * Forecast = the exponentially weighted mean of the same time-of-day bin on earlier days; scale =
 * that bin's weighted standard deviation combined in quadrature with a tenth of the series' global
 * one (so a bin that happened to repeat exactly does not turn the next small difference into a
 * certainty).
 */
export class DailyProfile {
  private readonly mean: Float64Array;
  private readonly variance: Float64Array;
  private readonly seen: Uint8Array;
  /** Residual of the last observed sample (NaN when its bin had no history). */
  residual = NaN;

  constructor(
    private readonly bins: number,
    private readonly alpha: number,
  ) {
    this.mean = new Float64Array(bins);
    this.variance = new Float64Array(bins);
    this.seen = new Uint8Array(bins);
  }

  /** z-score of x at epoch time `timestampMs` (UTC time of day), or NaN when the bin is new or the time unknown. */
  observe(x: number, timestampMs: number, globalVariance: number): number {
    if (!Number.isFinite(timestampMs)) {
      this.residual = NaN;
      return NaN;
    }
    const phase = ((timestampMs % DAY_MS) + DAY_MS) % DAY_MS;
    const b = Math.min(this.bins - 1, Math.floor((phase / DAY_MS) * this.bins));
    if (this.seen[b] === 0) {
      this.seen[b] = 1;
      this.mean[b] = x;
      this.variance[b] = globalVariance;
      this.residual = NaN;
      return NaN;
    }
    const m = this.mean[b]!;
    const v = this.variance[b]!;
    const d = x - m;
    const z = zScore(d, v + 0.01 * globalVariance, m);
    this.residual = d;
    this.mean[b] = m + this.alpha * d;
    this.variance[b] = (1 - this.alpha) * (v + this.alpha * d * d);
    return z;
  }
}
