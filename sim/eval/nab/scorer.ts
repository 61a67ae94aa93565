/**
 * The NAB scoring rules (Lavin & Ahmad 2015, arXiv:1510.03336 §"Scoring"; NAB v1.1 nab/sweeper.py,
 * optimizer.py and runner.normalize as summarised in shared/data/nab/SOURCE.md). Own code; checked
 * against the published leaderboard numbers in scorer.test.ts.
 *
 * Per record i of a series with n records and windows [l_k, r_k] (inclusive indices, w_k = r_k − l_k + 1):
 *   σ(y)      = 2 / (1 + e^{5y}) − 1, and −1 when y > 3                    (the scaled sigmoid)
 *   in window k:            u_i = σ(−(r_k − i + 1) / w_k)   → TP credit A_TP · u_i / σ(−1)
 *   after window k (outside): u_i = σ(|i − r_k| / (w_k − 1)) → FP cost  A_FP · u_i   (u_i < 0 beyond r_k)
 *   before any window:        u_i = −1                        → FP cost −A_FP
 * The first min(⌊0.15 n⌋, 750) records are the probationary period and are not scored.
 * With detections {i ≥ prob : score_i ≥ θ}: raw = Σ_k (best credit of window k, or −A_FN if none)
 *                                                + Σ_{detections outside windows} A_FP · u_i.
 * Corpus raw = Σ over series; NAB = 100 · (raw − raw_null) / (raw_perfect − raw_null), with
 * raw_perfect = A_TP · #windows and raw_null = −A_FN · #windows (the detector that never fires).
 */

export type ProfileName = 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';
/** NAB's three application profiles (config/profiles.json). */
export const PROFILE_NAMES: readonly ProfileName[] = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'];

export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** What the scorer needs to know about a series: its length and its windows as inclusive index ranges. */
export interface LabelledSeries {
  readonly length: number;
  readonly windows: ReadonlyArray<readonly [number, number]>;
}

/** NAB's probationary period: 15 % of the file, at most 15 % of 5000 records (sweeper._getProbationaryLength). */
export function probationaryLength(n: number): number {
  return Math.min(Math.floor(0.15 * n), 0.15 * 5000);
}

export function scaledSigmoid(y: number): number {
  return y > 3 ? -1 : 2 / (1 + Math.exp(5 * y)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/**
 * Per scorable record (after the probationary period): the unweighted sigmoid value u and the
 * window it lies in (index into `series.windows`, or −1 outside every window).
 */
export interface RecordPositions {
  /** Index of the first scored record (= the probationary length, rounded up). */
  readonly first: number;
  readonly unweighted: Float64Array;
  readonly window: Int32Array;
}

export function recordPositions(series: LabelledSeries): RecordPositions {
  const n = series.length;
  const first = Math.min(n, Math.ceil(probationaryLength(n)));
  const unweighted = new Float64Array(n - first);
  const window = new Int32Array(n - first).fill(-1);
  let k = 0; // next window to enter
  let cur = -1; // window we are in
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i++) {
    const w = series.windows[k];
    if (cur < 0 && w !== undefined && i === w[0]) cur = k;
    let u: number;
    if (cur >= 0) {
      const [l, r] = series.windows[cur]!;
      u = scaledSigmoid(-(r - i + 1) / (r - l + 1));
    } else if (prevRight < 0) {
      u = -1;
    } else {
      u = scaledSigmoid(Math.abs(i - prevRight) / (prevWidth - 1));
    }
    if (i >= first) {
      unweighted[i - first] = u;
      window[i - first] = cur;
    }
    if (cur >= 0 && i === series.windows[cur]![1]) {
      prevRight = i;
      prevWidth = i - series.windows[cur]![0] + 1;
      cur = -1;
      k++;
    }
  }
  return { first, unweighted, window };
}

/** Windows that contain at least one scored record: those that count as missed when nothing fires. */
export function scoredWindowCount(pos: RecordPositions): number {
  const seen = new Set<number>();
  for (const w of pos.window) if (w >= 0) seen.add(w);
  return seen.size;
}

export interface SeriesScore {
  readonly raw: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  /** Scored windows (the ones that can be hit or missed). */
  readonly windows: number;
}

/** Raw NAB score of one series at a threshold (a record is a detection when score ≥ threshold). */
export function scoreSeries(pos: RecordPositions, scores: ArrayLike<number>, threshold: number, cost: CostMatrix): SeriesScore {
  const best = new Map<number, number>();
  let fpSum = 0;
  let fp = 0;
  for (let j = 0; j < pos.unweighted.length; j++) {
    const s = scores[pos.first + j]!;
    if (!(s >= threshold)) continue;
    const w = pos.window[j]!;
    const u = pos.unweighted[j]!;
    if (w < 0) {
      fpSum += cost.fpWeight * u;
      fp++;
    } else {
      const credit = (u * cost.tpWeight) / MAX_TP;
      best.set(w, Math.max(best.get(w) ?? -Infinity, credit));
    }
  }
  const windows = scoredWindowCount(pos);
  let raw = fpSum - cost.fnWeight * (windows - best.size);
  for (const v of best.values()) raw += v;
  return { raw, tp: best.size, fp, fn: windows - best.size, windows };
}

/** Normalised NAB score of a corpus raw total, given its window count (runner.normalize). */
export function normalise(raw: number, windows: number, cost: CostMatrix): number {
  const perfect = cost.tpWeight * windows;
  const nul = -cost.fnWeight * windows;
  return perfect === nul ? 0 : (100 * (raw - nul)) / (perfect - nul);
}

/** A corpus prepared for threshold sweeps: every scored record of every series, sorted by score once. */
export interface Sweep {
  /** Record indices sorted by descending score. */
  readonly order: Uint32Array;
  readonly scores: Float64Array;
  readonly unweighted: Float64Array;
  /** Corpus-wide window id, −1 outside windows. */
  readonly window: Int32Array;
  /** Size of the window id space (ids of windows lying wholly in a probationary period never occur). */
  readonly slots: number;
  /** Scored windows. */
  readonly windows: number;
}

export function prepareSweep(items: ReadonlyArray<{ pos: RecordPositions; scores: ArrayLike<number> }>): Sweep {
  let total = 0;
  for (const it of items) total += it.pos.unweighted.length;
  const scores = new Float64Array(total);
  const unweighted = new Float64Array(total);
  const window = new Int32Array(total);
  let at = 0;
  let windowBase = 0;
  for (const { pos, scores: s } of items) {
    let maxW = -1;
    for (let j = 0; j < pos.unweighted.length; j++, at++) {
      const v = s[pos.first + j]!;
      // NaN never reaches a threshold; −∞ sorts it last and keeps it below every candidate.
      scores[at] = Number.isNaN(v) ? -Infinity : v;
      unweighted[at] = pos.unweighted[j]!;
      const w = pos.window[j]!;
      window[at] = w < 0 ? -1 : windowBase + w;
      if (w > maxW) maxW = w;
    }
    windowBase += maxW + 1;
  }
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  const seen = new Uint8Array(windowBase);
  let windows = 0;
  for (const w of window) if (w >= 0 && seen[w] === 0) (seen[w] = 1), windows++;
  return { order, scores, unweighted, window, slots: windowBase, windows };
}

export interface Optimum {
  readonly threshold: number;
  readonly raw: number;
}

/**
 * The corpus-optimised threshold (optimizer.optimizeThreshold): the candidate thresholds are 1.1
 * (nothing fires) and every distinct score; the best raw score wins, the highest threshold on ties.
 * One pass over the sorted records, updating each window's best credit incrementally.
 */
export function optimiseThreshold(sweep: Sweep, cost: CostMatrix): Optimum {
  const best = new Float64Array(sweep.slots).fill(-cost.fnWeight);
  let windowPart = -cost.fnWeight * sweep.windows;
  let fpPart = 0;
  let bestRaw = windowPart;
  let bestThreshold = 1.1;
  const { order, scores, unweighted, window } = sweep;
  for (let k = 0; k < order.length; ) {
    const s = scores[order[k]!]!;
    if (s === -Infinity) break;
    for (; k < order.length && scores[order[k]!] === s; k++) {
      const i = order[k]!;
      const w = window[i]!;
      if (w < 0) fpPart += cost.fpWeight * unweighted[i]!;
      else {
        const credit = (unweighted[i]! * cost.tpWeight) / MAX_TP;
        if (credit > best[w]!) {
          windowPart += credit - best[w]!;
          best[w] = credit;
        }
      }
    }
    const raw = windowPart + fpPart;
    if (raw > bestRaw) {
      bestRaw = raw;
      bestThreshold = s;
    }
  }
  return { threshold: bestThreshold, raw: bestRaw };
}
