import type { ChildResult, Dimension, ParentName, WindowInput } from '../types.js';
import { type ChildParams, childResult, diffScale, fmt } from './util.js';

export interface CrossSensorParams extends ChildParams {
  /** Spread of a channel, in units of its own first-difference noise scale, that counts as "the process moved". */
  min_excitation: number;
}

/** A partner channel's current window, as the pipeline holds it. */
export interface PeerWindow {
  readonly values: Float64Array;
  readonly t0: number;
  readonly t1: number;
}

export interface CrossLink {
  /** The partner channel's name. */
  peer: string;
  /** +1: the two rise together; −1: one rises as the other falls. */
  sign: 1 | -1;
  /** The partner's physical range (its HELLO min and max): values outside it are left out. */
  min: number;
  max: number;
  /** The partner's window for the same samples (the pipeline judges all streams after pushing a sample to each). */
  window: () => PeerWindow | undefined;
}

/** Fewest sample pairs (both present) a correlation is computed over. */
const MIN_PAIRS = 10;

/**
 * cross_sensor — physical consistency of two channels configured as a pair with an expected
 * monotonic relation s (+1 positive, −1 negative, e.g. a pump's discharge pressure and flow move
 * against each other along the pump curve). Over the samples where both values are valid — finite
 * and inside their channel's physical range; a value that is not is completeness's or validity's
 * business, and must not make the healthy partner fail too — (≥ 10 such pairs):
 *   r     = Pearson correlation of the two channels
 *   e_x   = std(x) / σ_Δ(x)     excitation: the channel's spread in units of its own robust
 *                               first-difference noise scale (≈ 1 for pure noise, ≫ 1 when the
 *                               process moves the signal)
 *   judged only when max(e_a, e_b) ≥ min_excitation: if neither channel moved beyond its noise,
 *   the window says nothing about the relation (score 0, "not judged")
 *   score = (1 − s·r) / 2      0 perfectly as expected, 0.5 unrelated, 1 perfectly opposite
 *   a channel that is constant over the valid pairs (r undefined) is not judged either: a stuck
 *   sensor is flatline's, and must not make its healthy partner fail
 * A stream in several pairs scores its worst pair. Both streams of a pair carry the child with the
 * same score: the data cannot tell which of the two sensors is wrong.
 * Parent: intrinsic, as DESIGN §4 lists it — a contradiction between two sensors on one process is
 * a property of the data alone (at least one reading is wrong), needing no model or reference
 * profile, unlike the contextual children. Computed on values scaled by their largest magnitude,
 * so values near ±1e308 stay finite.
 */
export class CrossSensor implements Dimension {
  readonly name = 'cross_sensor';
  readonly parent: ParentName = 'intrinsic';
  private scratch = new Float64Array(0);

  constructor(
    private readonly p: CrossSensorParams,
    private readonly links: readonly CrossLink[],
  ) {}

  evaluate(w: WindowInput): ChildResult {
    let worst = 0;
    let worstText = '';
    const notes: string[] = [];
    for (const link of this.links) {
      const peer = link.window();
      const r =
        peer && peer.values.length === w.values.length && peer.t0 === w.t0 && peer.t1 === w.t1
          ? this.pair(w.values, w.channel.min, w.channel.max, peer.values, link.min, link.max)
          : undefined;
      if (r === undefined) {
        notes.push(`${link.peer}: not judged (its window does not cover the same samples)`);
        continue;
      }
      if (r.pairs < MIN_PAIRS) {
        notes.push(`${link.peer}: not judged (${r.pairs} valid sample pairs)`);
        continue;
      }
      if (r.constant) {
        notes.push(`${link.peer}: not judged (${r.constant === 'a' ? w.channel.name : link.peer} is constant)`);
        continue;
      }
      if (!(Math.max(r.excA, r.excB) >= this.p.min_excitation)) {
        notes.push(`${link.peer}: not judged (neither channel moved beyond ${fmt(this.p.min_excitation)}× its noise)`);
        continue;
      }
      const corr = Math.max(-1, Math.min(1, r.corr));
      const score = Math.min(1, Math.max(0, (1 - link.sign * corr) / 2));
      const text = `correlation with ${link.peer} ${fmt(corr)} (expected ${link.sign > 0 ? 'positive' : 'negative'})`;
      notes.push(text);
      if (score >= worst) {
        worst = score;
        worstText = text;
      }
    }
    return childResult(this, this.p, worst, 'inconsistent', (pass) =>
      pass ? notes.join('; ') : `${w.channel.name} contradicts its partner: ${worstText}, score ${fmt(worst)} > ${fmt(this.p.threshold)}`,
    );
  }

  private pair(
    a: Float64Array,
    aMin: number,
    aMax: number,
    b: Float64Array,
    bMin: number,
    bMax: number,
  ): { pairs: number; corr: number; excA: number; excB: number; constant?: 'a' | 'b' } {
    const n = a.length;
    // Both values valid: finite and within the channel's physical range (NaN comparisons are false).
    const ok = (x: number, y: number) => x >= aMin && x <= aMax && y >= bMin && y <= bMax && Number.isFinite(x) && Number.isFinite(y);
    let pairs = 0;
    let maxA = 0;
    let maxB = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (!ok(x, y)) continue;
      pairs++;
      maxA = Math.max(maxA, Math.abs(x));
      maxB = Math.max(maxB, Math.abs(y));
    }
    if (pairs < MIN_PAIRS) return { pairs, corr: NaN, excA: 0, excB: 0 };
    const sa = maxA || 1;
    const sb = maxB || 1;
    let ma = 0;
    let mb = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (!ok(x, y)) continue;
      ma += x / sa;
      mb += y / sb;
    }
    ma /= pairs;
    mb /= pairs;
    let saa = 0;
    let sbb = 0;
    let sab = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (!ok(x, y)) continue;
      const dx = x / sa - ma;
      const dy = y / sb - mb;
      saa += dx * dx;
      sbb += dy * dy;
      sab += dx * dy;
    }
    if (!(saa > 0)) return { pairs, corr: NaN, excA: 0, excB: 0, constant: 'a' };
    if (!(sbb > 0)) return { pairs, corr: NaN, excA: 0, excB: 0, constant: 'b' };
    const corr = sab / Math.sqrt(saa * sbb);
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    const excA = this.excitation(Math.sqrt(saa / pairs) * sa, a);
    const excB = this.excitation(Math.sqrt(sbb / pairs) * sb, b);
    return { pairs, corr, excA, excB };
  }

  private excitation(std: number, v: Float64Array): number {
    if (!(std > 0)) return 0;
    const noise = diffScale(v, this.scratch);
    if (Number.isNaN(noise)) return 0;
    return noise > 0 ? std / noise : Infinity;
  }
}
