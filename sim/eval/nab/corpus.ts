/**
 * Reads the Numenta Anomaly Benchmark corpus (NAB v1.1, MIT licence, © Numenta — see
 * `<data>/LICENSE.txt` and `<data>/SOURCE.md`) from the shared data folder: the 58 series, their
 * scoring windows (labels/combined_windows.json) and the three cost profiles (config/profiles.json).
 * The files are read where they are, never copied into the repository.
 */

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, TinyqaError } from '../../../runtime/core/errors.js';
import { PROFILE_NAMES, type CostMatrix, type LabelledSeries, type ProfileName } from './scorer.js';

export { PROFILE_NAMES, type ProfileName };

export interface NabSeries extends LabelledSeries {
  /** `<category>/<file>.csv`, the key used by the label files. */
  readonly name: string;
  /** Epoch milliseconds (the CSV's `YYYY-MM-DD HH:MM:SS`, read as UTC). */
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

export interface NabCorpus {
  readonly dir: string;
  readonly series: readonly NabSeries[];
  readonly profiles: Readonly<Record<ProfileName, CostMatrix>>;
}

const MARKER = join('labels', 'combined_windows.json');

/**
 * The default data folder: `shared/data/nab` beside the repository (`<repo>/../shared/data/nab`),
 * found by walking up from this module, so it also resolves from a bundle in `<repo>/dist/`.
 */
export function defaultNabDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'shared', 'data', 'nab');
    if (existsSync(join(candidate, MARKER))) return candidate;
    const up = dirname(dir);
    if (up === dir) return resolve(fileURLToPath(new URL('../../../../shared/data/nab', import.meta.url)));
    dir = up;
  }
}

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` as UTC epoch milliseconds; NaN when it does not parse. */
export function parseNabTime(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/.exec(s.trim());
  if (!m) return NaN;
  const ms = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + ms;
}

function readJson(dir: string, rel: string): unknown {
  const path = join(dir, rel);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TinyqaError(ErrorCode.ConfigUnreadable, `eval nab: cannot read ${path}`, {
      cause: e,
      hint: 'point --data at a NAB folder (with data/, labels/, config/)',
    });
  }
}

/** One column CSV with a header (`detector_scores/…`): the values in row order. */
export function readScoreColumn(path: string): Float64Array {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t !== '') out.push(Number(t));
  }
  return Float64Array.from(out);
}

function readSeriesCsv(path: string): { timestamps: Float64Array; values: Float64Array } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const ts: number[] = [];
  const vs: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const comma = line.indexOf(',');
    if (comma < 0) continue;
    ts.push(parseNabTime(line.slice(0, comma)));
    const cell = line.slice(comma + 1).trim();
    // An empty or non-numeric cell is a missing value (DESIGN §9), passed on as NaN.
    vs.push(cell === '' ? NaN : Number(cell));
  }
  return { timestamps: Float64Array.from(ts), values: Float64Array.from(vs) };
}

/** Index of `t` in the series' timestamps; the labeller builds windows from data timestamps, so it is exact. */
function indexOf(name: string, timestamps: Float64Array, label: string): number {
  const t = parseNabTime(label);
  const i = timestamps.indexOf(t);
  if (i < 0) throw new TinyqaError(ErrorCode.ConfigInvalid, `eval nab: window limit ${label} is not a timestamp of ${name}`);
  return i;
}

export function loadProfiles(dir: string): Record<ProfileName, CostMatrix> {
  const raw = readJson(dir, join('config', 'profiles.json')) as Record<string, { CostMatrix: CostMatrix }>;
  const out = {} as Record<ProfileName, CostMatrix>;
  for (const p of PROFILE_NAMES) {
    const c = raw[p]?.CostMatrix;
    if (!c) throw new TinyqaError(ErrorCode.ConfigInvalid, `eval nab: config/profiles.json has no ${p} profile`);
    out[p] = { tpWeight: c.tpWeight, fpWeight: c.fpWeight, fnWeight: c.fnWeight };
  }
  return out;
}

/** Every series name in the label file, sorted (the order of the report and of the progress). */
export function listSeries(dir: string): string[] {
  return Object.keys(readJson(dir, MARKER) as Record<string, unknown>).sort();
}

/**
 * Loads the corpus, or only the named series (`only`, names as in the label file or just the file
 * name). Unknown names are refused with the list of valid ones.
 */
export function loadCorpus(dir: string, only?: readonly string[]): NabCorpus {
  const windows = readJson(dir, MARKER) as Record<string, [string, string][]>;
  let names = Object.keys(windows).sort();
  if (only && only.length > 0) {
    const picked = only.map((o) => names.find((n) => n === o || n.endsWith('/' + o)));
    const missing = only.filter((_, i) => picked[i] === undefined);
    if (missing.length > 0) {
      throw new TinyqaError(ErrorCode.UsageInvalid, `eval nab: unknown series ${missing.join(', ')}`, { hint: `series are e.g. ${names.slice(0, 3).join(', ')}` });
    }
    names = [...new Set(picked as string[])];
  }
  const dataDir = join(dir, 'data');
  if (!existsSync(dataDir) || readdirSync(dataDir).length === 0) {
    throw new TinyqaError(ErrorCode.ConfigUnreadable, `eval nab: no series under ${dataDir}`, { hint: 'point --data at a NAB folder' });
  }
  const series = names.map((name): NabSeries => {
    const { timestamps, values } = readSeriesCsv(join(dataDir, name));
    const w = (windows[name] ?? []).map(([a, b]) => [indexOf(name, timestamps, a), indexOf(name, timestamps, b)] as const);
    return { name, timestamps, values, length: values.length, windows: w };
  });
  return { dir, series, profiles: loadProfiles(dir) };
}
