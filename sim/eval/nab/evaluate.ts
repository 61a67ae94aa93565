/**
 * Normalised NAB scores of a set of scored series for the three profiles: with the corpus-optimised
 * threshold (the leaderboard method, NAB optimizer.py) or with one threshold given in advance.
 */

import { PROFILE_NAMES, normalise, optimiseThreshold, prepareSweep, scoreSeries, type CostMatrix, type ProfileName, type RecordPositions } from './scorer.js';

export type ProfileScores = Record<ProfileName, number>;

export interface ScoredSeries {
  readonly pos: RecordPositions;
  readonly scores: ArrayLike<number>;
}

/** Scores are reported to 4 decimals (the published README table prints 1–2). */
function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export function optimisedScores(items: readonly ScoredSeries[], profiles: Readonly<Record<ProfileName, CostMatrix>>): { scores: ProfileScores; thresholds: ProfileScores } {
  const sweep = prepareSweep(items);
  const scores = {} as ProfileScores;
  const thresholds = {} as ProfileScores;
  for (const p of PROFILE_NAMES) {
    const o = optimiseThreshold(sweep, profiles[p]);
    scores[p] = round(normalise(o.raw, sweep.windows, profiles[p]));
    thresholds[p] = o.threshold;
  }
  return { scores, thresholds };
}

export function scoresAt(items: readonly ScoredSeries[], threshold: number, profiles: Readonly<Record<ProfileName, CostMatrix>>): ProfileScores {
  const out = {} as ProfileScores;
  for (const p of PROFILE_NAMES) {
    let raw = 0;
    let windows = 0;
    for (const it of items) {
      const r = scoreSeries(it.pos, it.scores, threshold, profiles[p]);
      raw += r.raw;
      windows += r.windows;
    }
    out[p] = round(normalise(raw, windows, profiles[p]));
  }
  return out;
}
