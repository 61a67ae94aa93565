import type { AnomalyScorer } from './types.js';

export interface ForecastScorerParams {
  /** Robust z at which a sample scores 0.5. */
  k: number;
  /** EWMA weight α of the level (the one-step forecast). */
  alpha: number;
  /** Values learned before scoring. */
  warmup: number;
  /** Smallest residual σ assumed (the channel's unit), so a constant signal that starts moving scores finitely. Default 0. */
  minSigma?: number;
}

/** EWMA weight of the residual scale: slower than the level, so one burst does not redefine "normal". */
const SCALE_BETA = 0.02;
/** The scale shrinks 4× slower than it grows: a quiet or stuck stretch must not make normal noise look anomalous afterwards. */
const SCALE_BETA_DOWN = SCALE_BETA / 4;
/** EWMA weight of the typical sampling interval. */
const DT_ALPHA = 0.05;
/** Huber clip: a residual moves the level and the scale by at most this many scales. */
const CLIP = 3;
/** √(π/2): for Gaussian residuals E|e| = σ·√(2/π), so σ ≈ 1.2533 · E|e|. */
const MAE_TO_SIGMA = Math.sqrt(Math.PI / 2);

/**
 * The built-in `AnomalyScorer`, used until a model-backed one is plugged in: a robust z-score of the
 * one-step forecast residual of an EWMA level.
 *   f_t   = level after x_{t−1}                         the one-step forecast
 *   e_t   = x_t − f_t
 *   h_t   = max(1, (t − t_prev) / dt)                   forecast horizon in typical intervals dt
 *                                                       (an EWMA of the intervals): after a gap the
 *                                                       forecast is older, its error larger
 *   z_t   = |e_t| / (max(1.2533 · s_{t−1}, σ_min) · √h_t)   s = EWMA of |residual|: a robust scale
 *   score = z_t / (z_t + k)                             0.5 exactly at z = k
 *   ẽ_t   = clip(e_t, ±3 · s_{t−1} · √h_t)               Huber: an outlier cannot drag the state
 *   level ← level + α·ẽ_t
 *   s     ← s + β·(|ẽ_t|/√h_t − s)                      β = 0.02 growing, 0.005 shrinking; not on a
 *                                                       bit-exact repeat of the previous value
 * The first `warmup` values only learn (the level and s start as their running mean and mean
 * absolute residual) and score 0. A level shift scores high for a few samples, then the clipped
 * updates walk the level over (s grows by up to 2 · β per sample meanwhile); a stuck or quiet
 * stretch lowers s only slowly, so normal noise afterwards is not an anomaly. Non-finite values
 * score 0 and change nothing. O(1) time and memory per value, no allocation.
 */
export class ForecastScorer implements AnomalyScorer {
  private level = NaN;
  private scale = 0;
  private n = 0;
  private last = NaN;
  private lastT = NaN;
  private dt = NaN;

  constructor(private readonly p: ForecastScorerParams) {}

  update(value: number, tMs: number): number {
    if (!Number.isFinite(value)) return 0;
    this.n++;
    // Horizon h: how many typical intervals since the previous value (1 without usable times).
    const gap = tMs - this.lastT;
    const h = gap > 0 && this.dt > 0 ? Math.max(1, gap / this.dt) : 1;
    if (gap > 0 && Number.isFinite(gap)) this.dt = Number.isNaN(this.dt) ? gap : this.dt + DT_ALPHA * (Math.min(gap, 4 * this.dt) - this.dt);
    if (Number.isFinite(tMs)) this.lastT = tMs;
    const repeat = value === this.last;
    this.last = value;
    if (this.n === 1) {
      this.level = value;
      return 0;
    }
    const e = value / 2 - this.level / 2; // halved: no overflow near ±1e308
    if (this.n <= this.p.warmup) {
      // Running means while warming up: no clipping yet, the scale is still being found.
      this.scale += (Math.abs(e) * 2 - this.scale) / (this.n - 1);
      this.level += Math.max(this.p.alpha, 1 / this.n) * e * 2;
      return 0;
    }
    const sigma = Math.max(MAE_TO_SIGMA * this.scale, this.p.minSigma ?? 0) * Math.sqrt(h);
    const z = sigma > 0 ? (Math.abs(e) * 2) / sigma : e === 0 ? 0 : Infinity;
    const c = CLIP * this.scale * Math.sqrt(h);
    const clipped = Math.max(-c, Math.min(c, e * 2));
    this.level += this.p.alpha * clipped;
    // A bit-exact repeat says nothing about the residual scale (a stuck sensor is flatline's business).
    if (!repeat) {
      const r = Math.abs(clipped) / Math.sqrt(h);
      this.scale += (r > this.scale ? SCALE_BETA : SCALE_BETA_DOWN) * (r - this.scale);
    }
    if (!Number.isFinite(z)) return 1;
    return z / (z + this.p.k);
  }
}
