import type { ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt } from './util.js';

export type TimelinessParams = ChildParams;

/**
 * timeliness — are the samples spaced by the nominal period P (the device's HELLO rate)?
 *   d_i   = t_i − t_{i−1} over the intervals with d_i > 0 (m of them; repeated or backward times are
 *           the uniqueness and clock_sanity children's business)
 *   E     = Σ |d_i − P| / P     the timing error in periods: a gap that lost k samples adds ≈ k,
 *                               jitter of j·P on every interval adds ≈ j per interval
 *   score = E / (E + m)         ≈ the share of the window's sample slots lost to gaps and jitter
 * Not judged (score 0) without a nominal period or a positive interval. Allocates nothing.
 */
export class Timeliness implements Dimension {
  readonly name = 'timeliness';
  readonly parent: ParentName = 'intrinsic';
  constructor(private readonly p: TimelinessParams) {}

  evaluate(w: WindowInput): ChildResult {
    const P = w.periodMs;
    const t = w.times;
    if (!(P > 0) || !Number.isFinite(P)) return childResult(this, this.p, 0, 'late', () => 'not judged: no nominal sample period');
    let m = 0;
    let E = 0;
    let gaps = 0;
    let lost = 0;
    let maxGap = 0;
    let jitterSum = 0;
    let regular = 0;
    for (let i = 1; i < t.length; i++) {
      const d = t[i]! - t[i - 1]!;
      if (!(d > 0)) continue;
      m++;
      const e = Math.abs(d - P) / P;
      E += e;
      if (d > 1.5 * P) {
        gaps++;
        lost += Math.round(d / P) - 1;
        if (d > maxGap) maxGap = d;
      } else {
        jitterSum += e;
        regular++;
      }
    }
    const score = m === 0 ? 0 : Number.isFinite(E) ? E / (E + m) : 1;
    const jitter = regular === 0 ? 0 : jitterSum / regular;
    return childResult(this, this.p, score, gaps > 0 ? 'gaps' : 'jitter', (pass) => {
      const parts = `${gaps} gap${gaps === 1 ? '' : 's'} (${fmt(lost)} sample${lost === 1 ? '' : 's'} lost${gaps ? `, longest ${fmt(maxGap)} ms` : ''}), mean jitter ${fmt(100 * jitter)} % of the ${fmt(P)} ms period`;
      return pass ? parts : `timing error ${fmt(100 * score)} % of sample slots > ${fmt(100 * this.p.threshold)} %: ${parts}`;
    });
  }
}
