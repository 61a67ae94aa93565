import { Ewma } from '../../stats/ewma.js';
import type { ChildResult, Dimension, Outcome, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, diffScale, fmt, saturate } from './util.js';

export interface NoiseParams extends ChildParams {
  /** Ratio r of window to reference noise (either way) that scores 0.5. */
  ratio: number;
  /** EWMA weight of a new passing window in the reference. */
  alpha: number;
  /** Passing windows learned before the child judges. */
  warmup: number;
}

/**
 * noise — the noise floor against the stream's own reference, in both directions: a sensor that
 * got much noisier (loose connector, EMI) or suspiciously quieter (saturated, filtered, replaced
 * by a constant) than it was.
 *   σ_w      = max(1.4826 · MAD(x_{i+1} − x_i) / √2, σ_min)    robust first-difference noise scale
 *              of the window (≥ 5 finite differences, else not judged); σ_min = 1e-9 of the
 *              channel's range, so a constant window has a finite, tiny σ_w
 *   ln σ_ref = EWMA_α of ln σ_w over the past windows that passed intrinsic QA (the exact mean of
 *              the first 1/α of them); no judgement until `warmup` windows were learned
 *   L        = |ln(σ_w / σ_ref)|                                 symmetric in the log: 3× and 1/3× weigh the same
 *   score    = L / (L + ln r)                                     0.5 exactly at a ratio of r or 1/r
 * Learning happens in `settle`, after the judge knows the window's intrinsic outcome, and only from
 * windows this child passed.
 */
export class Noise implements Dimension {
  readonly name = 'noise';
  readonly parent: ParentName = 'intrinsic';
  private scratch = new Float64Array(0);
  private readonly ref: Ewma;
  private pending = NaN;
  private pendingPass = false;

  constructor(private readonly p: NoiseParams) {
    this.ref = new Ewma(p.alpha);
  }

  evaluate(w: WindowInput): ChildResult {
    const v = w.values;
    if (this.scratch.length < v.length) this.scratch = new Float64Array(v.length);
    const range = w.channel.max - w.channel.min;
    const sMin = Number.isFinite(range) && range > 0 ? 1e-9 * range : Number.MIN_VALUE;
    const raw = diffScale(v, this.scratch);
    this.pending = Number.isNaN(raw) ? NaN : Math.log(Math.max(raw, sMin));
    if (Number.isNaN(raw)) return childResult(this, this.p, 0, 'noisy', () => 'not judged: fewer than 5 finite differences');
    this.pendingPass = true;
    if (this.ref.n < this.p.warmup) {
      return childResult(this, this.p, 0, 'noisy', () => `learning the reference noise scale (${this.ref.n}/${this.p.warmup} windows)`);
    }
    const sigma = Math.exp(this.pending);
    const sigmaRef = Math.exp(this.ref.mean);
    const L = Math.abs(this.pending - this.ref.mean);
    const score = saturate(L, Math.log(this.p.ratio));
    const louder = this.pending > this.ref.mean;
    const unit = w.channel.unit ? ` ${w.channel.unit}` : '';
    const ratio = Math.exp(this.pending - this.ref.mean);
    this.pendingPass = score <= this.p.threshold;
    return childResult(this, this.p, score, louder ? 'noisy' : 'quiet', (pass) =>
      pass
        ? `noise ${fmt(sigma)}${unit}, ${fmt(ratio)}× the reference ${fmt(sigmaRef)}${unit}`
        : louder
          ? `noise ${fmt(sigma)}${unit} is ${fmt(ratio)}× the reference ${fmt(sigmaRef)}${unit} (> ${fmt(this.p.ratio)}×)`
          : `suspiciously quiet: noise ${fmt(sigma)}${unit} is 1/${fmt(1 / ratio)} of the reference ${fmt(sigmaRef)}${unit} (< 1/${fmt(this.p.ratio)})`,
    );
  }

  settle(intrinsic: Outcome | undefined): void {
    // Learn only from windows that passed both intrinsic QA and this child (a noisy window under a
    // warning-severity noise child passes its parent but must not become the new normal).
    if (intrinsic !== 'fail' && this.pendingPass && Number.isFinite(this.pending)) this.ref.update(this.pending);
    this.pending = NaN;
  }
}
