import { PROFILE_FEATURES, type StreamProfile } from '../profile.js';
import type { ChildResult, Dimension, EvalContext, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt, saturate, summarize } from './util.js';

export interface RelevanceParams extends ChildParams {
  /** Distance outside the envelope, in envelope widths, that scores 0.5. */
  k: number;
}

/**
 * relevance — is this window inside the operating envelope of the data the production model was
 * trained on (paper §3: clean data that is not relevant goes elsewhere)? The window's summary
 * f = (mean, std, min, max) of its finite values is compared with the stream's reference profile
 * (runtime/qa/profile.ts), one envelope [lo, hi] per feature the profile gives:
 *   d_f   = max(0, lo_f − f, f − hi_f) / max(hi_f − lo_f, w_min)   distance outside, in envelope widths
 *   D     = max_f d_f,      score = D / (D + k)                     0.5 exactly at k widths outside
 * w_min = 1e-9 · max(|lo|, |hi|, 1) keeps a degenerate envelope (lo = hi) usable. Arithmetic on
 * halves, so values near ±1e308 stay finite. Not judged (score 0): a window with no finite value,
 * and a window that failed intrinsic QA (relevance is a question about clean data: paper §3).
 */
export class Relevance implements Dimension {
  readonly name = 'relevance';
  readonly parent: ParentName = 'contextual';
  private readonly summary = new Float64Array(4);

  private readonly source: () => StreamProfile | undefined;

  /**
   * `profile`: a fixed envelope, or a source asked at every window (the adaptation layer's active
   * envelope, runtime/adapt); a source that has none yet leaves the window unjudged (score 0).
   */
  constructor(
    private readonly p: RelevanceParams,
    profile: StreamProfile | (() => StreamProfile | undefined),
  ) {
    this.source = typeof profile === 'function' ? profile : () => profile;
  }

  evaluate(w: WindowInput, ctx: EvalContext = {}): ChildResult {
    if (ctx.intrinsic === 'fail') return childResult(this, this.p, 0, 'outside_envelope', () => 'not judged: the window failed intrinsic QA');
    const profile = this.source();
    if (!profile) return childResult(this, this.p, 0, 'outside_envelope', () => 'not judged: the adaptive envelope is still learning');
    const n = summarize(w.values, this.summary);
    if (n === 0) return childResult(this, this.p, 0, 'outside_envelope', () => 'not judged: no finite values');
    const { D, worst } = envelopeDistance(this.summary, profile);
    const score = saturate(D, this.p.k);
    const unit = w.channel.unit ? ` ${w.channel.unit}` : '';
    return childResult(this, this.p, score, 'outside_envelope', (pass) => {
      if (worst < 0) return 'window summary inside the reference envelope';
      const f = PROFILE_FEATURES[worst]!;
      const r = profile[f]!;
      const text = `window ${f} ${fmt(this.summary[worst]!)}${unit} is ${fmt(D)} envelope widths outside [${fmt(r.lo)}, ${fmt(r.hi)}]${unit}`;
      return pass ? text : `${text} (> ${fmt(this.p.k)})`;
    });
  }
}

/**
 * D = max_f d_f, the distance of a window summary (mean, std, min, max in PROFILE_FEATURES order)
 * outside an envelope, in envelope half-widths (see Relevance), and the feature that set it (−1:
 * inside). Shared with the adaptation layer, which scores candidate envelopes with it.
 */
export function envelopeDistance(summary: ArrayLike<number>, profile: StreamProfile): { D: number; worst: number } {
  let D = 0;
  let worst = -1;
  for (let f = 0; f < PROFILE_FEATURES.length; f++) {
    const r = profile[PROFILE_FEATURES[f]!];
    if (!r) continue;
    const x = summary[f]!;
    const halfWidth = Math.max(r.hi / 2 - r.lo / 2, 0.5e-9 * Math.max(Math.abs(r.lo), Math.abs(r.hi), 1));
    const out = x < r.lo ? r.lo / 2 - x / 2 : x > r.hi ? x / 2 - r.hi / 2 : 0;
    const d = out / halfWidth;
    if (d > D) {
      D = d;
      worst = f;
    }
  }
  return { D, worst };
}
