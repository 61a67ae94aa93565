import type { ChildResult, Dimension, ParentName, Severity, WindowInput } from '../types.js';
import { fmt } from './util.js';

export interface CompletenessParams {
  threshold: number;
  severity: Severity;
}

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
    const pass = score <= this.p.threshold;
    return {
      score,
      threshold: this.p.threshold,
      pass,
      severity: this.p.severity,
      parent: this.parent,
      code: pass ? 'completeness.ok' : 'completeness.missing',
      reason: pass ? `${missing}/${v.length} missing` : `${missing}/${v.length} values missing (${fmt(100 * score)} % > ${fmt(100 * this.p.threshold)} %)`,
    };
  }
}
