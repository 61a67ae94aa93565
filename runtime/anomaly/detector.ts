/**
 * Streaming anomaly detector for one scalar series: a score in [0,1] per sample, computed from the
 * past only, in constant memory (a 96-bin daily profile and a 10-sample ring), with no allocation
 * per sample. One instance per series.
 *
 * For each sample x at time t (NaN/±∞ are skipped: score 0, state untouched):
 *  1. Level forecaster: EW mean m and variance v (α = 0.002):         z₀ = |x − m| / √v
 *  2. Daily profile: EW mean pᵦ and variance qᵦ of x in its 15-minute time-of-day bin b
 *     (α = 0.1):                                                       z₁ = |x − pᵦ| / √(qᵦ + 0.01 v)
 *  3. Trust the forecaster with the smaller recent error: EW means e₀, e₁ of the squared residuals
 *     (α = 0.01, updated when bin b has history); z = z₁ if e₁ < e₀, else z₀.
 *  4. raw = 1 − e^{−z/4}: a bounded surprise (z = 4 ↦ 0.63) that keeps heavy-tailed series from
 *     dominating the score distribution.
 *  5. score = anomaly likelihood of raw (./likelihood.ts): the Gaussian tail probability p of the
 *     10-sample mean of raw against its long-run distribution, log-scaled: log(p + 1e−10) / log(1e−10),
 *     so 0.5 ⇔ p = 1e−5.
 *  6. Range novelty, the "spatial anomaly" of NAB's Numenta detector (numenta/NAB
 *     nab/detectors/numenta/numenta_detector.py, SPATIAL_TOLERANCE): after 150 samples, a value
 *     outside [min − 0.02 R, max + 0.02 R] of all values seen so far (R = max − min) scores 1; unlike
 *     NAB's, R = 0 counts too, so the first change of a so-far constant series is novel.
 *
 * Method: steps 5–6 follow Ahmad et al. 2017 (Neurocomputing 262, §4.3) and NAB's Numenta detector,
 * with forecast residuals (1–4) in place of HTM's prediction error. The constants were chosen on half
 * of the NAB corpus (the even-indexed files) and checked on the other half; see sim/eval/nab/run.ts
 * for how clean that split is and the figures (`tinyqa eval nab`).
 */

import { ErrorCode, TinyqaError } from '../core/errors.js';
import { DailyProfile, LevelForecaster } from './forecast.js';
import { AnomalyLikelihood, LIKELIHOOD_DEFAULTS } from './likelihood.js';

export interface AnomalyDetector {
  /** Feeds one sample; returns its anomaly score in [0,1] (0 for a missing value). */
  update(value: number, timestampMs: number): number;
}

interface OptionSpec {
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly unit: string;
  readonly why: string;
}

/** Every option: declared once with its unit, range, default and the reason for the default. */
export const DETECTOR_OPTIONS = {
  levelAlpha: { default: 0.002, min: 1e-6, max: 1, unit: '1/sample', why: 'a level that remembers ~500 samples (1.7 days at 5 min), so an anomaly stands out instead of being absorbed' },
  profileBins: { default: 96, min: 1, max: 1440, unit: 'bins/day', why: '15-minute bins: fine enough for daily shapes, coarse enough that each bin sees every day of 1–15-minute data' },
  profileAlpha: { default: 0.1, min: 1e-4, max: 1, unit: '1/day', why: 'each time-of-day bin remembers ~10 days' },
  errorAlpha: { default: 0.01, min: 1e-5, max: 1, unit: '1/sample', why: 'forecasters are compared on their last ~100 residuals' },
  rawScale: { default: 4, min: 0.1, max: 100, unit: 'z', why: 'a 4-sigma residual is a clear but not saturated surprise (raw 0.63)' },
  rangeTolerance: { default: 0.02, min: 0, max: 10, unit: 'fraction of range', why: 'a new extreme must exceed the seen range by 2 % of its width to count' },
  warmup: { default: 150, min: 0, max: 1e7, unit: 'samples', why: 'the range and forecasters need a few days of 5-minute data before a new extreme means anything' },
  likelihoodLearning: { default: LIKELIHOOD_DEFAULTS.learning, min: 0, max: 1e7, unit: 'samples', why: 'raw scores are not judged before the forecasters settle' },
  likelihoodHistoric: { default: LIKELIHOOD_DEFAULTS.historic, min: 10, max: 1e7, unit: 'samples', why: 'Numenta: 30 days of 5-minute samples define "usual" surprise' },
  likelihoodAveraging: { default: LIKELIHOOD_DEFAULTS.averaging, min: 1, max: 1000, unit: 'samples', why: 'Numenta: a short mean of 10 raw scores, so one noisy sample is not an anomaly' },
} as const satisfies Record<string, OptionSpec>;

export type DetectorOptions = { readonly [K in keyof typeof DETECTOR_OPTIONS]: number };

/** Defaults overlaid with `given`; refuses an unknown key or a value outside its range, naming it. */
export function detectorOptions(given: Partial<Record<string, number>> = {}): DetectorOptions {
  const out: Record<string, number> = {};
  for (const key of Object.keys(given)) {
    if (!(key in DETECTOR_OPTIONS)) {
      throw new TinyqaError(ErrorCode.ConfigInvalid, `anomaly detector: unknown option "${key}"`, { hint: `options: ${Object.keys(DETECTOR_OPTIONS).join(', ')}` });
    }
  }
  for (const [key, spec] of Object.entries(DETECTOR_OPTIONS) as [string, OptionSpec][]) {
    const v = given[key] ?? spec.default;
    if (typeof v !== 'number' || !(v >= spec.min && v <= spec.max)) {
      throw new TinyqaError(ErrorCode.ConfigInvalid, `anomaly detector: ${key} must be a number in [${spec.min}, ${spec.max}] (${spec.unit}); got ${String(v)}`);
    }
    out[key] = v;
  }
  return Object.freeze(out as DetectorOptions);
}

export class ResidualLikelihoodDetector implements AnomalyDetector {
  private readonly o: DetectorOptions;
  private readonly level: LevelForecaster;
  private readonly profile: DailyProfile;
  private readonly likelihood: AnomalyLikelihood;
  private levelError = 0;
  private profileError = 0;
  private min = Infinity;
  private max = -Infinity;
  private samples = 0;

  constructor(options: Partial<Record<string, number>> = {}) {
    this.o = detectorOptions(options);
    this.level = new LevelForecaster(this.o.levelAlpha);
    this.profile = new DailyProfile(Math.round(this.o.profileBins), this.o.profileAlpha);
    this.likelihood = new AnomalyLikelihood({
      learning: this.o.likelihoodLearning,
      historic: this.o.likelihoodHistoric,
      averaging: this.o.likelihoodAveraging,
    });
  }

  update(value: number, timestampMs: number): number {
    if (!Number.isFinite(value)) return 0;
    const o = this.o;
    this.samples++;

    // Range novelty is judged against the range before this value (empty before the first sample).
    const tolerance = o.rangeTolerance * (this.max - this.min);
    const novel = this.samples > 1 && (value > this.max + tolerance || value < this.min - tolerance);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;

    const zLevel = this.level.observe(value);
    const zProfile = this.profile.observe(value, timestampMs, this.level.variance);
    let z = zLevel;
    if (!Number.isNaN(zProfile)) {
      const a = o.errorAlpha;
      const rl = this.level.residual;
      const rp = this.profile.residual;
      this.levelError += a * (rl * rl - this.levelError);
      this.profileError += a * (rp * rp - this.profileError);
      if (this.profileError < this.levelError) z = zProfile;
    }

    const raw = 1 - Math.exp(-z / o.rawScale);
    const score = this.likelihood.update(raw);
    if (novel && this.samples > o.warmup) return 1;
    // Values near ±Number.MAX_VALUE can overflow the moments; a score is still a number in [0,1].
    return score >= 0 ? Math.min(1, score) : 0;
  }
}

/** The detector `tinyqa eval nab` measures, with its defaults unless told otherwise. */
export function createAnomalyDetector(options: Partial<Record<string, number>> = {}): AnomalyDetector {
  return new ResidualLikelihoodDetector(options);
}
