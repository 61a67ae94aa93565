import { Adwin } from '../../stats/adwin.js';
import { Ewma } from '../../stats/ewma.js';
import { HddmA } from '../../stats/hddm-a.js';
import { Kswin } from '../../stats/kswin.js';
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
  /** The change detectors that run (default: adwin and page_hinkley). */
  detectors?: readonly DriftDetector[];
}

export const DRIFT_DETECTORS = ['adwin', 'page_hinkley', 'kswin', 'hddm_a'] as const;
export type DriftDetector = (typeof DRIFT_DETECTORS)[number];

/** KSWIN on window means: 200 windows, the last 50 against 50 older ones, α = 10⁻⁴, a test every 5 windows. */
const KSWIN_WINDOW = { windowSize: 200, statSize: 50, alpha: 1e-4, checkEvery: 5 } as const;
/** HDDM-A on z clipped to ±6 reference σ (its Hoeffding bound scales with the range). */
const HDDM_RANGE = [-6, 6] as const;

/**
 * drift — has the stream's level moved? Each window's mean μ_k (of its finite values) is
 * standardised and fed to two streaming change detectors (runtime/stats):
 *   z_k   = (μ_k − c) / s     (clamped to ±10⁶) c, s: mean and standard deviation of the first `warmup` window means
 *                             that passed intrinsic QA; s is floored at their median standard error
 *                             σ_window/√n (so a very steady process does not make noise look like
 *                             drift) and at 1e-9 of the channel's range
 *   the configured detectors (`detectors`, default ADWIN and Page-Hinkley) on z_k:
 *     adwin         ADWIN (δ = delta, R = 1, i.e. one reference σ)          u = largest |μ̂₀ − μ̂₁| / ε_cut
 *     page_hinkley  two-sided Page-Hinkley (δ = ph_delta, λ = ph_lambda,    u = max(g⁺, g⁻) / λ
 *                   10 windows before an alarm)
 *     kswin         KSWIN (200 windows, 50 against 50, α = 10⁻⁴, a test     u = log p / log α
 *                   every 5 windows): sees changes of the distribution of
 *                   window means, not only of their level
 *     hddm_a        HDDM-A (Hoeffding bound, δ_drift = 0.001) on z clipped   u = |difference| / bound
 *                   to ±6 (a slower, bound-guaranteed test)
 *   u     = max over the detectors                                           ≥ 1 ⇔ a detector fired
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
  private readonly adwin: Adwin | undefined;
  private readonly ph: PageHinkley | undefined;
  private readonly kswin: Kswin | undefined;
  private readonly hddm: HddmA | undefined;
  private readonly summary = new Float64Array(4);

  constructor(private readonly p: DriftParams) {
    const on = new Set(p.detectors ?? ['adwin', 'page_hinkley']);
    if (on.has('adwin')) this.adwin = new Adwin({ delta: p.delta, range: 1 });
    if (on.has('page_hinkley')) this.ph = new PageHinkley({ delta: p.ph_delta, lambda: p.ph_lambda, minInstances: 10 });
    if (on.has('kswin')) this.kswin = new Kswin(KSWIN_WINDOW);
    if (on.has('hddm_a')) this.hddm = new HddmA({ range: HDDM_RANGE });
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
    const adwin = this.adwin;
    const before = adwin ? adwin.mean : NaN;
    const cut = adwin ? adwin.update(z) : false;
    const ph = this.ph ? this.ph.update(z) : 0;
    const ks = this.kswin ? this.kswin.update(z) : false;
    const hd = this.hddm ? this.hddm.update(z) : false;
    const ksU = this.kswin && this.kswin.pValue > 0 ? Math.log(this.kswin.pValue) / Math.log(KSWIN_WINDOW.alpha) : this.kswin && this.kswin.pValue === 0 ? Infinity : 0;
    const u = Math.max(adwin ? adwin.lastRatio : 0, this.ph ? this.ph.ratio : 0, ks ? Math.max(1, ksU) : Math.min(ksU, 0.999), hd ? Math.max(1, this.hddm!.ratio) : this.hddm ? Math.min(this.hddm.ratio, 0.999) : 0);
    const score = saturate(u, 1);
    const names = [cut ? 'adwin' : '', ph !== 0 ? 'page_hinkley' : '', ks ? 'kswin' : '', hd ? 'hddm_a' : ''].filter((x) => x);
    const fired = names.length === 0 ? 'detected' : cut && ph !== 0 && names.length === 2 ? 'both' : names.length === 1 ? names[0]! : 'several';
    const unit = w.channel.unit ? ` ${w.channel.unit}` : '';
    return childResult(this, this.p, score, fired, (pass) => {
      if (pass) return `window mean ${fmt(mean)}${unit} (${fmt(z)} σ_ref from the reference); detectors at ${fmt(100 * u)} % of their limit`;
      const parts: string[] = [];
      if (cut && adwin) parts.push(`ADWIN cut its window: the recent mean moved ${fmt((adwin.mean - before) * this.s)}${unit} (${fmt(adwin.mean - before)} σ_ref); ${adwin.width} windows kept`);
      if (ph !== 0) parts.push(`Page-Hinkley: ${ph > 0 ? 'increase' : 'decrease'} (statistic > λ = ${fmt(this.p.ph_lambda)} σ_ref)`);
      if (ks) parts.push(`KSWIN: the last ${KSWIN_WINDOW.statSize} window means differ in distribution from older ones (KS D = ${fmt(this.kswin!.statistic)}, p = ${fmt(this.kswin!.pValue)})`);
      if (hd) parts.push(`HDDM-A: ${this.hddm!.direction > 0 ? 'increase' : 'decrease'} of the mean beyond its Hoeffding bound`);
      if (parts.length === 0) return `level moving: window mean ${fmt(mean)}${unit}, detectors at ${fmt(100 * u)} % of their limit`;
      return `level drift at window mean ${fmt(mean)}${unit}: ${parts.join('; ')}`;
    });
  }
}
