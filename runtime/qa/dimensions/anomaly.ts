import type { AnomalyScorer, ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt, isoTime } from './util.js';

export type AnomalyParams = ChildParams;

/**
 * anomaly — the window's most anomalous sample, according to the stream's `AnomalyScorer` (the
 * built-in ForecastScorer, or a model-backed detector plugged in by the composition root).
 *   s_i   = scorer.update(x_i, t_i)   for every new finite sample, each fed once, in arrival order
 *           (with overlapping windows only the `fresh` samples are new)
 *   score = max_i s_i over the window's samples   (a scorer's NaN counts as 1, values clipped to [0, 1])
 * Missing and non-finite values are not fed (completeness and validity judge them).
 * When a QA model scored the window (`w.model`, its error over its threshold r = e / threshold), the
 * model judges instead:  score = r / (r + 1)   (0.5 exactly at the model's threshold). The built-in
 * scorer is still fed, so it is warm the moment the model becomes unavailable. A stream the active
 * model does not read is not judged (score 0): with a model, the anomaly child is the model's.
 */
export class Anomaly implements Dimension {
  readonly name = 'anomaly';
  readonly parent: ParentName = 'intrinsic';
  /** Per-sample scores of the current window, in window order. */
  private scores = new Float64Array(0);

  constructor(
    private readonly p: AnomalyParams,
    private readonly scorer: AnomalyScorer,
  ) {}

  evaluate(w: WindowInput): ChildResult {
    const v = w.values;
    const n = v.length;
    if (this.scores.length !== n) this.scores = new Float64Array(n);
    const fresh = Math.min(n, Math.max(0, w.fresh ?? n));
    // Keep the scores of samples still in the window, then score the new ones.
    this.scores.copyWithin(0, fresh);
    let worst = 0;
    let at = -1;
    for (let i = n - fresh; i < n; i++) {
      const x = v[i]!;
      let s = 0;
      if (Number.isFinite(x)) {
        s = this.scorer.update(x, w.times[i]!);
        s = Number.isNaN(s) ? 1 : Math.min(1, Math.max(0, s));
      }
      this.scores[i] = s;
    }
    for (let i = 0; i < n; i++) {
      if (this.scores[i]! > worst) {
        worst = this.scores[i]!;
        at = i;
      }
    }
    const m = w.model;
    if (m && m.ratio === undefined) return childResult(this, this.p, 0, 'outlier', () => `not judged: model ${m.name} does not read this stream`);
    if (m) {
      const r = Number.isNaN(m.ratio) ? Infinity : Math.max(0, m.ratio);
      const score = r === Infinity ? 1 : r / (r + 1);
      return childResult(this, this.p, score, 'outlier', (pass) => `model ${m.name}: window error ${fmt(r)}× its threshold${pass ? '' : ` (score ${fmt(score)} > ${fmt(this.p.threshold)})`}`);
    }
    return childResult(this, this.p, worst, 'outlier', (pass) =>
      pass || at < 0
        ? `largest sample anomaly score ${fmt(worst)}`
        : `sample anomaly score ${fmt(worst)} > ${fmt(this.p.threshold)} at ${isoTime(w.times[at]!)} (value ${fmt(v[at]!)}${w.channel.unit ? ' ' + w.channel.unit : ''})`,
    );
  }
}
