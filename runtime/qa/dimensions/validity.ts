import type { ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt } from './util.js';

export type ValidityParams = ChildParams;

/**
 * validity — share of present values outside the channel's physical range [min, max], as the
 * firmware declares it in its hello message (a sensor cannot physically read outside it).
 *   score = (# present values with x < min or x > max) / max(1, # present values)
 */
export class Validity implements Dimension {
  readonly name = 'validity';
  readonly parent: ParentName = 'intrinsic';
  constructor(private readonly p: ValidityParams) {}

  evaluate(w: WindowInput): ChildResult {
    const v = w.values;
    const { min, max } = w.channel;
    let present = 0;
    let invalid = 0;
    let worst = NaN;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (Number.isNaN(x)) continue;
      present++;
      if (x < min || x > max || !Number.isFinite(x)) {
        invalid++;
        if (Number.isNaN(worst) || Math.abs(x - (min + max) / 2) > Math.abs(worst - (min + max) / 2)) worst = x;
      }
    }
    const score = invalid / Math.max(1, present);
    return childResult(this, this.p, score, 'out_of_range', (pass) =>
      pass
        ? `all ${present} values in [${fmt(min)}, ${fmt(max)}] ${w.channel.unit}`.trimEnd()
        : `${invalid}/${present} values outside [${fmt(min)}, ${fmt(max)}] ${w.channel.unit} (worst ${fmt(worst)})`,
    );
  }
}
