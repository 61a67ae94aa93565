import type { ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt } from './util.js';

export interface FlatlineParams extends ChildParams {
  /** Largest change still counted as "the same value", in the channel's unit (0: bit-exact). */
  epsilon: number;
}

/**
 * flatline — a stuck sensor repeats one value while the process it measures keeps moving.
 *   run   = longest stretch of consecutive present values within ±epsilon of the stretch's first value,
 *           stretches taken greedily left to right (a new stretch starts at the value that ended
 *           the previous one), so it is exact for epsilon = 0 and a lower bound otherwise
 *   score = run / window length
 * Missing values end a run. Real analogue sensors with noise never repeat bit-exactly for long; set
 * `epsilon` to the ADC step for coarse, quantised sensors.
 */
export class Flatline implements Dimension {
  readonly name = 'flatline';
  readonly parent: ParentName = 'intrinsic';
  constructor(private readonly p: FlatlineParams) {}

  evaluate(w: WindowInput): ChildResult {
    const v = w.values;
    const eps = this.p.epsilon;
    let best = 0;
    let bestValue = NaN;
    let run = 0;
    let anchor = NaN;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (Number.isNaN(x)) {
        run = 0;
        anchor = NaN;
        continue;
      }
      if (run > 0 && Math.abs(x - anchor) <= eps) run++;
      else {
        run = 1;
        anchor = x;
      }
      if (run > best) {
        best = run;
        bestValue = anchor;
      }
    }
    // A single value is not a flat line.
    const score = best <= 1 ? 0 : best / v.length;
    return childResult(this, this.p, score, 'stuck', (pass) =>
      pass
        ? `longest constant run ${best}/${v.length}`
        : `stuck at ${fmt(bestValue)} ${w.channel.unit} for ${best}/${v.length} samples`.replace('  ', ' '),
    );
  }
}
