import type { ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt } from './util.js';

export type CompletenessParams = ChildParams;

/**
 * completeness — share of missing values in the window.
 *   score = (# NaN values) / (window length)
 * A firmware reports a sample it could not read as NaN; gaps in the frame sequence are the
 * `sequence_continuity` child's business.
 */
export class Completeness implements Dimension {
  readonly name = 'completeness';
  readonly parent: ParentName = 'intrinsic';
  constructor(private readonly p: CompletenessParams) {}

  evaluate(w: WindowInput): ChildResult {
    const v = w.values;
    let missing = 0;
    for (let i = 0; i < v.length; i++) if (Number.isNaN(v[i]!)) missing++;
    const score = missing / v.length;
    return childResult(this, this.p, score, 'missing', (pass) =>
      pass
        ? `${missing}/${v.length} missing`
        : `${missing}/${v.length} values missing (${fmt(100 * score)} % > ${fmt(100 * this.p.threshold)} %)`,
    );
  }
}
