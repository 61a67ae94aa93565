import { Adwin } from '../../stats/adwin.js';
import { Ewma } from '../../stats/ewma.js';
import { PageHinkley } from '../../stats/page-hinkley.js';
import type { ChildResult, Dimension, EvalContext, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt, saturate, summarize } from './util.js';

const Z_MAX = 1e6;

export interface DriftParams extends ChildParams {
  /** ADWIN confidence δ. */
  delta: number;
  /** Page-Hinkley tolerated change δ, in reference standard deviations of the window mean. */
  ph_delta: number;
  /** Page-Hinkley alarm threshold λ, in the same units. */
  ph_lambda: number;
  /** Intrinsically clean windows that set the reference scale before the detectors start. */
  warmup: number;
}

/**
 * drift — has the stream's level moved? Each window's mean μ_k (of its finite values) is
 * standardised and fed to two streaming change detectors (runtime/stats):
 *   z_k   = (μ_k − c) / s     (clamped to ±10⁶) c, s: mean and standard deviation of the first `warmup` window means
 *                             that passed intrinsic QA; s is floored at their median standard error
 *                             σ_window/√n (so a very steady process does not make noise look like
 *                             drift) and at 1e-9 of the channel's range
 *   ADWIN (δ = delta, R = 1, i.e. one reference σ) and two-sided Page-Hinkley (δ = ph_delta,
 *   λ = ph_lambda, 10 windows before an alarm) on z_k
 *   u     = max(ADWIN's largest |μ̂₀ − μ̂₁| / ε_cut, Page-Hinkley's max(g⁺, g⁻) / λ)   ≥ 1 ⇔ a detector fired
 *   score = u / (1 + u)       0.5 exactly at a detection; the reason names the detector(s) that fired
 * After an alarm Page-Hinkley restarts and ADWIN keeps only the recent part of its window, so a
 * drift fails one window (or a few), then the detectors follow the new level. Windows that failed
 * intrinsic QA are not fed (a stuck or out-of-range window is a fault, not drift): they score 0.
 */
export class Drift implements Dimension {
  readonly name = 'drift';
  readonly parent: ParentName = 'contextual';
  private readonly refMean = new Ewma(0);
  private readonly refSe = new Float64Array(64);
  private refSeCount = 0;
  private c = NaN;
  private s = NaN;
  private readonly adwin: Adwin;
  private readonly ph: PageHinkley;
  private readonly summary = new Float64Array(4);

  constructor(private readonly p: DriftParams) {
    this.adwin = new Adwin({ delta: p.delta, range: 1 });
    this.ph = new PageHinkley({ delta: p.ph_delta, lambda: p.ph_lambda, minInstances: 10 });
  }

  evaluate(w: WindowInput, ctx: EvalContext = {}): ChildResult {
    const n = summarize(w.values, this.summary);
    const mean = this.summary[0]!;
    if (n === 0 || !Number.isFinite(mean)) return childResult(this, this.p, 0, 'detected', () => 'not judged: no finite values');
    if (ctx.intrinsic === 'fail') return childResult(this, this.p, 0, 'detected', () => 'not judged: the window failed intrinsic QA');
    if (Number.isNaN(this.s)) {
      this.refMean.update(mean);
      const se = this.summary[1]! / Math.sqrt(n);
      if (this.refSeCount < this.refSe.length && Number.isFinite(se)) this.refSe[this.refSeCount++] = se;
      if (this.refMean.n < this.p.warmup) {
        return childResult(this, this.p, 0, 'detected', () => `learning the reference level (${this.refMean.n}/${this.p.warmup} windows)`);
      }
      const ses = this.refSe.subarray(0, this.refSeCount).sort();
      const seMedian = ses.length ? ses[ses.length >> 1]! : 0;
      const range = w.channel.max - w.channel.min;
      this.c = this.refMean.mean;
      this.s = Math.max(this.refMean.std, seMedian, Number.isFinite(range) && range > 0 ? 1e-9 * range : 0, Number.MIN_VALUE);
    }
    // Clamped: a mean a million reference σ away is a change either way, and the detectors' sums stay finite.
    const z = Math.max(-Z_MAX, Math.min(Z_MAX, (mean / 2 - this.c / 2) / (this.s / 2)));
    const before = this.adwin.mean;
    const cut = this.adwin.update(z);
    const ph = this.ph.update(z);
    const u = Math.max(this.adwin.lastRatio, this.ph.ratio);
    const score = saturate(u, 1);
    const fired = cut && ph !== 0 ? 'both' : cut ? 'adwin' : ph !== 0 ? 'page_hinkley' : 'detected';
    const unit = w.channel.unit ? ` ${w.channel.unit}` : '';
    return childResult(this, this.p, score, fired, (pass) => {
      if (pass) return `window mean ${fmt(mean)}${unit} (${fmt(z)} σ_ref from the reference); detectors at ${fmt(100 * u)} % of their limit`;
      const parts: string[] = [];
      if (cut) parts.push(`ADWIN cut its window: the recent mean moved ${fmt((this.adwin.mean - before) * this.s)}${unit} (${fmt(this.adwin.mean - before)} σ_ref); ${this.adwin.width} windows kept`);
      if (ph !== 0) parts.push(`Page-Hinkley: ${ph > 0 ? 'increase' : 'decrease'} (statistic > λ = ${fmt(this.p.ph_lambda)} σ_ref)`);
      if (parts.length === 0) return `level moving: window mean ${fmt(mean)}${unit}, detectors at ${fmt(100 * u)} % of their limit`;
      return `level drift at window mean ${fmt(mean)}${unit}: ${parts.join('; ')}`;
    });
  }
}
