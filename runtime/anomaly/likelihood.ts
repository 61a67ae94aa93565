/**
 * Anomaly likelihood: turns a stream of raw anomaly scores in [0,1] into the tail probability of
 * their recent average, then into a log-scaled score in [0,1]. Re-implemented from the description
 * in Ahmad, Lavin, Purdy & Agha, "Unsupervised real-time anomaly detection for streaming data",
 * Neurocomputing 262 (2017), §4.3 (eqs. 5–8), and the NAB detector that uses it:
 *
 *   a_t  = mean of the last W′ raw scores                                  (short window, W′ = 10)
 *   μ, σ² = moments of a over the long window W (cumulative until W samples, then exponentially
 *           weighted with α = 1/W), floored at μ ≥ 0.03 and σ² ≥ 0.0003 so that a blip on an almost
 *           silent stream is not a certainty
 *   p_t  = Q((a_t − μ) / σ), the Gaussian upper tail (eq. 7: L = 1 − p)
 *   a second "red" p (≤ 1e−5) in a row is raised to the "yellow" 1e−3: a sustained anomaly alarms once
 *   score = log(p + 1e−10) / log(1e−10)    ∈ [0,1]; 0.5 ⇔ p = 1e−5, 1 ⇔ p = 0
 *
 * The first `learning` samples return 0 and the next `estimation` ones p = 0.5 (≈ 0.03) while the
 * moments settle. Constant memory: a ring of W′ doubles; no allocation per sample.
 */

export interface LikelihoodOptions {
  /** Samples that return 0 before any estimate. */
  readonly learning: number;
  /** Samples of the moving average needed before a probability is given. */
  readonly estimation: number;
  /** Long window W of the score distribution, in samples. */
  readonly historic: number;
  /** Short averaging window W′, in samples. */
  readonly averaging: number;
}

/** Numenta's values (historic 8640 = 30 days of 5-minute samples, averaging 10), learning shortened to 150. */
export const LIKELIHOOD_DEFAULTS: LikelihoodOptions = { learning: 150, estimation: 100, historic: 8640, averaging: 10 };

const RED = 1e-5;
const YELLOW = 1e-3;
const LOG_FLOOR = Math.log(1e-10);

/**
 * Complementary error function, Chebyshev fit with fractional error < 1.2e−7 everywhere
 * (Press et al., Numerical Recipes, 2nd ed., §6.2, "erfcc"), so small tails keep their precision.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Upper tail of the standard normal distribution, Q(z) = P(Z > z). */
export function normalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Log-scaled anomaly score of a tail probability: 0.5 at 1e−5, 1 at 0. */
export function logScore(p: number): number {
  return Math.log(p + 1e-10) / LOG_FLOOR;
}

export class AnomalyLikelihood {
  private readonly ring: Float64Array;
  private readonly opts: LikelihoodOptions;
  private at = 0;
  private sum = 0;
  private seen = 0;
  private estimated = 0;
  private mean = 0;
  private variance = 0;
  private prevRed = false;

  constructor(options: Partial<LikelihoodOptions> = {}) {
    this.opts = { ...LIKELIHOOD_DEFAULTS, ...options };
    this.ring = new Float64Array(Math.max(1, Math.floor(this.opts.averaging)));
  }

  /** Feeds one raw score in [0,1]; returns the log-scaled likelihood score in [0,1]. */
  update(raw: number): number {
    const o = this.opts;
    this.sum += raw - this.ring[this.at]!;
    this.ring[this.at] = raw;
    this.at = (this.at + 1) % this.ring.length;
    if (this.at === 0) {
      // Re-add the ring once per turn so rounding in the running sum cannot build up over months.
      this.sum = 0;
      for (let i = 0; i < this.ring.length; i++) this.sum += this.ring[i]!;
    }
    this.seen++;
    const avg = this.sum / Math.min(this.seen, this.ring.length);
    if (this.seen <= o.learning) return 0;

    let p = 0.5;
    if (this.estimated >= o.estimation) {
      const mean = Math.max(this.mean, 0.03);
      const sd = Math.sqrt(Math.max(this.variance, 0.0003));
      p = normalTail((avg - mean) / sd);
    }
    // Moments after the test: the current average is judged against the past only.
    this.estimated++;
    const alpha = 1 / Math.min(this.estimated, o.historic);
    const d = avg - this.mean;
    this.mean += alpha * d;
    this.variance = (1 - alpha) * (this.variance + alpha * d * d);

    const red = p <= RED;
    if (red && this.prevRed) p = YELLOW;
    this.prevRed = red;
    return logScore(p);
  }
}
