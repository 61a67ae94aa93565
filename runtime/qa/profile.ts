/**
 * The reference profile of the `relevance` child: per stream, the envelope of the training data's
 * window summaries (DESIGN §5: a model package carries "the reference profile of the training
 * data"). A JSON file, named by `qa.relevance.profile`:
 *
 *   {
 *     "version": 1,
 *     "window": 100,                      optional: the window size the summaries were taken over;
 *                                         when given it must equal the config's window.size
 *     "source": "pump-01 2024-05 clean",  optional: free text
 *     "streams": {
 *       "<channel name>": {               as the firmware's HELLO names it
 *         "mean": { "lo": 3.6, "hi": 4.4 },
 *         "std":  { "lo": 0.05, "hi": 0.2 },
 *         "min":  { "lo": 3.3, "hi": 4.2 },
 *         "max":  { "lo": 3.8, "hi": 4.7 }
 *       }
 *     }
 *   }
 *
 * Each feature is optional (at least one per stream); `lo` ≤ `hi`, both finite. A natural envelope
 * is the 0.5 % and 99.5 % quantiles of each feature over the training windows, which is what
 * `ProfileBuilder` computes (streaming, with P²).
 */

import { ErrorCode, TinyqaError } from '../core/errors.js';
import { P2Quantile } from '../stats/quantile.js';
import { summarize } from './dimensions/util.js';

export const PROFILE_FEATURES = ['mean', 'std', 'min', 'max'] as const;
export type ProfileFeature = (typeof PROFILE_FEATURES)[number];

export interface FeatureRange {
  lo: number;
  hi: number;
}

export type StreamProfile = Partial<Record<ProfileFeature, FeatureRange>>;

export interface ReferenceProfile {
  version: 1;
  window?: number;
  source?: string;
  streams: Record<string, StreamProfile>;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Validates a parsed profile; throws one ConfigInvalid error listing every problem, each naming
 * its key (e.g. `streams.pressure.mean.hi`), the way validateConfig does.
 */
export function parseProfile(input: unknown, source = 'profile'): ReferenceProfile {
  const problems: string[] = [];
  const out: ReferenceProfile = { version: 1, streams: {} };
  if (!isObject(input)) {
    problems.push(`(top level): must be an object with keys version, streams; got ${Array.isArray(input) ? 'array' : input === null ? 'null' : typeof input}`);
  } else {
    for (const k of Object.keys(input)) {
      if (!['version', 'window', 'source', 'streams'].includes(k)) problems.push(`${k}: is not a known key; allowed keys at the top level: version, window, source, streams`);
    }
    if (input.version !== 1) problems.push(`version: must be 1; got ${JSON.stringify(input.version)}`);
    if (input.window !== undefined) {
      if (typeof input.window !== 'number' || !Number.isInteger(input.window) || input.window < 2) problems.push(`window: must be an integer ≥ 2 (samples per window); got ${JSON.stringify(input.window)}`);
      else out.window = input.window;
    }
    if (input.source !== undefined) {
      if (typeof input.source !== 'string') problems.push(`source: must be a string; got ${JSON.stringify(input.source)}`);
      else out.source = input.source;
    }
    if (!isObject(input.streams)) problems.push(`streams: must be an object mapping channel names to feature envelopes; got ${JSON.stringify(input.streams) ?? 'nothing'}`);
    else {
      for (const [name, stream] of Object.entries(input.streams)) {
        const key = `streams.${name}`;
        if (!NAME.test(name)) problems.push(`${key}: a channel name is letters, digits, "_", "." or "-", 1–64 characters`);
        if (!isObject(stream)) {
          problems.push(`${key}: must be an object with some of the keys ${PROFILE_FEATURES.join(', ')}; got ${JSON.stringify(stream)}`);
          continue;
        }
        const sp: StreamProfile = {};
        for (const f of Object.keys(stream)) {
          if (!(PROFILE_FEATURES as readonly string[]).includes(f)) problems.push(`${key}.${f}: is not a known feature; allowed: ${PROFILE_FEATURES.join(', ')}`);
        }
        for (const f of PROFILE_FEATURES) {
          const r = stream[f];
          if (r === undefined) continue;
          const fk = `${key}.${f}`;
          if (!isObject(r)) {
            problems.push(`${fk}: must be an object { "lo": number, "hi": number }; got ${JSON.stringify(r)}`);
            continue;
          }
          for (const k of Object.keys(r)) if (k !== 'lo' && k !== 'hi') problems.push(`${fk}.${k}: is not a known key; allowed: lo, hi`);
          const lo = r.lo;
          const hi = r.hi;
          const okLo = typeof lo === 'number' && Number.isFinite(lo);
          const okHi = typeof hi === 'number' && Number.isFinite(hi);
          if (!okLo) problems.push(`${fk}.lo: must be a finite number; got ${JSON.stringify(lo) ?? 'nothing'}`);
          if (!okHi) problems.push(`${fk}.hi: must be a finite number; got ${JSON.stringify(hi) ?? 'nothing'}`);
          if (okLo && okHi) {
            if ((lo as number) > (hi as number)) problems.push(`${fk}: lo (${lo}) must be ≤ hi (${hi})`);
            else if (f === 'std' && (lo as number) < 0) problems.push(`${fk}.lo: a standard deviation is ≥ 0; got ${lo}`);
            else sp[f] = { lo: lo as number, hi: hi as number };
          }
        }
        if (Object.keys(stream).length === 0) problems.push(`${key}: names no feature; give at least one of ${PROFILE_FEATURES.join(', ')}`);
        out.streams[name] = sp;
      }
    }
  }
  if (problems.length > 0) {
    throw new TinyqaError(ErrorCode.ConfigInvalid, `${source} is invalid (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      hint: 'a reference profile is { "version": 1, "streams": { "<channel>": { "mean": { "lo": …, "hi": … }, … } } } (runtime/qa/profile.ts)',
    });
  }
  return out;
}

/**
 * Builds a profile from training windows, streaming: per stream and feature, P² estimates of the
 * `qLo` and `qHi` quantiles of the windows' summaries. Memory is constant in the number of windows.
 */
export class ProfileBuilder {
  private readonly streams = new Map<string, { lo: P2Quantile; hi: P2Quantile }[]>();
  private readonly summary = new Float64Array(4);

  constructor(
    private readonly qLo = 0.005,
    private readonly qHi = 0.995,
  ) {}

  /** Adds one training window of one stream (windows without finite values are skipped). */
  add(stream: string, values: ArrayLike<number>): void {
    if (summarize(values, this.summary) === 0) return;
    let qs = this.streams.get(stream);
    if (!qs) {
      qs = PROFILE_FEATURES.map(() => ({ lo: new P2Quantile(this.qLo), hi: new P2Quantile(this.qHi) }));
      this.streams.set(stream, qs);
    }
    for (let f = 0; f < PROFILE_FEATURES.length; f++) {
      qs[f]!.lo.update(this.summary[f]!);
      qs[f]!.hi.update(this.summary[f]!);
    }
  }

  build(window?: number, source?: string): ReferenceProfile {
    const out: ReferenceProfile = { version: 1, streams: {} };
    if (window !== undefined) out.window = window;
    if (source !== undefined) out.source = source;
    for (const [name, qs] of this.streams) {
      const sp: StreamProfile = {};
      PROFILE_FEATURES.forEach((f, i) => {
        const lo = qs[i]!.lo.value;
        const hi = qs[i]!.hi.value;
        sp[f] = { lo: Math.min(lo, hi), hi: Math.max(lo, hi) };
      });
      out.streams[name] = sp;
    }
    return out;
  }
}
