import type { ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, fmt, medianInPlace, smallMedian } from './util.js';

export interface SpikeParams extends ChildParams {
  /** Robust z-score above which a sample is a spike. */
  k: number;
}

const MAD_TO_SIGMA = 1.4826;
/** Weight of a new window in the reference noise scale (an EWMA over passing windows). */
const REF_ALPHA = 0.1;

/**
 * spike — impulsive outliers: samples that jump away from BOTH sides of their neighbourhood.
 *   L_i, R_i = median of the up-to-3 present values just before / just after x_i
 *   r_i      = min(|x_i − L_i|, |x_i − R_i|) if x_i is above both or below both, else 0
 *              (a step or a trend leaves x_i between its sides: no spike; a spike of one or two
 *              samples stands out against both)
 *   σ        = max(1.4826 · MAD(x_{i+1} − x_i) / √2, ½ · σ_ref, σ_min)
 *              (noise scale from first differences, robust to the spikes themselves; σ_ref is an
 *              EWMA over past passing windows, so a half-stuck window with MAD ≈ 0 does not make
 *              ordinary noise look huge; σ_min = 1e-6 of the physical range keeps it finite)
 *   z_max    = max_i r_i / σ,     score = z_max / (z_max + k)   (0.5 exactly at z_max = k)
 * The first and last sample of a window have one side only and are not judged. Missing and
 * non-finite values (±Infinity: `validity` reports those) are left out of every term.
 */
export class Spike implements Dimension {
  readonly name = 'spike';
  readonly parent: ParentName = 'intrinsic';
  private diffs: Float64Array = new Float64Array(0);
  private readonly side = new Float64Array(3);
  private refScale = NaN;

  constructor(private readonly p: SpikeParams) {}

  /** Median of the up-to-3 present values at v[from..to] (inclusive, clipped); NaN if none. */
  private sideMedian(v: Float64Array, from: number, to: number): number {
    let c = 0;
    for (let j = Math.max(0, from); j <= Math.min(v.length - 1, to); j++) {
      const y = v[j]!;
      if (Number.isFinite(y)) this.side[c++] = y;
    }
    return c === 0 ? NaN : smallMedian(this.side, c);
  }

  evaluate(w: WindowInput): ChildResult {
    const v = w.values;
    const n = v.length;
    if (this.diffs.length < n) this.diffs = new Float64Array(n);

    let m = 0;
    for (let i = 1; i < n; i++) {
      const d = v[i]! - v[i - 1]!;
      if (Number.isFinite(d)) this.diffs[m++] = d;
    }
    const range = w.channel.max - w.channel.min;
    const sMin = Number.isFinite(range) ? 1e-6 * range : Number.MIN_VALUE;
    let s = sMin;
    if (m >= 5) {
      const med = medianInPlace(this.diffs, m);
      for (let i = 0; i < m; i++) this.diffs[i] = Math.abs(this.diffs[i]! - med);
      s = Math.max(s, (MAD_TO_SIGMA * medianInPlace(this.diffs, m)) / Math.SQRT2);
    }
    const windowScale = s;
    if (!Number.isNaN(this.refScale)) s = Math.max(s, 0.5 * this.refScale);

    let zMax = 0;
    let spikes = 0;
    let worst = NaN;
    for (let i = 1; i < n - 1; i++) {
      const x = v[i]!;
      if (!Number.isFinite(x)) continue;
      const L = this.sideMedian(v, i - 3, i - 1);
      const R = this.sideMedian(v, i + 1, i + 3);
      if (Number.isNaN(L) || Number.isNaN(R)) continue;
      const dl = x - L;
      const dr = x - R;
      if ((dl > 0) !== (dr > 0) || dl === 0 || dr === 0) continue;
      const z = Math.min(Math.abs(dl), Math.abs(dr)) / s;
      if (z > this.p.k) spikes++;
      if (z > zMax) {
        zMax = z;
        worst = x;
      }
    }
    // Overflowing differences (|x| near 1e308) make z infinite: that is the worst score, not NaN.
    const score = Number.isFinite(zMax) ? zMax / (zMax + this.p.k) : 1;
    const pass = score <= this.p.threshold;
    if (pass && m >= 5 && windowScale > sMin) {
      this.refScale = Number.isNaN(this.refScale) ? windowScale : this.refScale + REF_ALPHA * (windowScale - this.refScale);
    }
    return childResult(this, this.p, score, 'outliers', (ok) =>
      ok
        ? `max robust z ${fmt(zMax)} ≤ ${fmt(this.p.k)}`
        : `${spikes} spike${spikes === 1 ? '' : 's'}, max robust z ${fmt(zMax)} > ${fmt(this.p.k)} (worst ${fmt(worst)} ${w.channel.unit})`.trimEnd(),
    );
  }
}
