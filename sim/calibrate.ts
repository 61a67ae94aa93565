/**
 * `tinyqa calibrate`: the paper's §3.1 loop — dimension selection, QA model training and robustness
 * testing — on clean reference data.
 *
 * 1. Candidates: every child that can judge this data (integrity children need a live link, and
 *    relevance/cross_sensor need a profile or channel pairs, so they are left to the config).
 * 2. Robustness testing: each fault kind of sim/faults.ts is injected at every magnitude of its sweep
 *    into copies of the clean data (4-window episodes, rotating over channels), and every window is
 *    judged with all candidates on, keeping each child's score.
 * 3. Boundaries: a child's threshold is the larger of its documented default and the clean-score
 *    quantile at 1 − target_far / m (m = candidates: a Bonferroni split of the false-alarm budget),
 *    so it rises where this data is rougher than the defaults assume and never goes below them.
 * 4. Selection with a sparsity penalty: starting from none, the child that detects the most
 *    still-undetected fault episodes is added while it detects more than `lambda` of all episodes;
 *    children never added are switched off (not computed at run time).
 * 5. Check: the selected set is replayed on the clean data; while its false-alarm rate exceeds the
 *    target, the threshold of the child that fails most clean windows is raised to its next clean
 *    quantile (and the selection repeated) — alternating fitting and selection until stable.
 * The profile written is what `sim`, `run` and `score` load with `--profile`.
 */

import { createHash } from 'node:crypto';
import { validateConfig, type TinyqaConfig } from '../runtime/config/schema.js';
import { CHILD_PARENT, KNOWN_CHILDREN, type ChildName } from '../runtime/qa/catalog.js';
import { verdictFails, type Verdict } from '../runtime/qa/types.js';
import { csvHello, csvPeriodMs, type CsvTable } from './csv.js';
import { injectEpisodes, judgeReplay, type Replay } from './eval/faults.js';
import { INJECTED_FAULTS, MAGNITUDES, type InjectedFault } from './faults.js';
import { Rng } from './random.js';

export interface CalibrateOptions {
  /** `rule`: thresholds + selection; `weighted`: also a sparse logistic model for the intrinsic parent. */
  decision?: 'rule' | 'weighted';
  targetFar: number;
  lambda: number;
  window: number;
  seed: number;
  progress?: (m: string) => void;
}

export interface Profile {
  format: 'tinyqa-profile/1';
  created: string;
  source: { csv: string; sha256: string; records: number; channels: string[] };
  window: number;
  target_false_alarm_rate: number;
  measured_false_alarm_rate: number;
  selected: string[];
  /** Config overrides for the qa section: enabled, threshold and severity per child (selected children are critical). */
  qa: Record<string, { enabled: boolean; threshold: number; severity: 'critical' | 'warning' }>;
  robustness: { fault: string; magnitude: number; recall: number }[];
  /** With --decision weighted: the intrinsic parent's fitted sparse logistic model. */
  parents?: Record<string, { decision: 'weighted'; weights: Record<string, number>; bias: number; threshold: number }>;
  /** sha256 of the canonical qa section and window: what verdicts report as `profile`. */
  hash: string;
}

const NEEDS_CONTEXT = new Set<ChildName>(['frame_integrity', 'sequence_continuity', 'clock_sanity', 'relevance', 'cross_sensor', 'validity']);
const CANDIDATES = KNOWN_CHILDREN.filter((c) => !NEEDS_CONTEXT.has(c));
// Faults a CSV without physical ranges can be checked against (range needs the sensor's range).
const SWEEP_FAULTS: InjectedFault[] = INJECTED_FAULTS.filter((f) => f !== 'range');

function replayOf(table: CsvTable): Replay {
  const C = table.channels.length;
  return {
    hello: csvHello(table, 'calibration'),
    times: Float64Array.from(table.times),
    values: Array.from({ length: C }, (_, c) => Float64Array.from(table.values[c]!, (x) => Math.fround(x))),
    periodMs: csvPeriodMs(table),
  };
}

function configWith(enabled: Iterable<string>, thresholds: Map<string, number>, window: number): Readonly<TinyqaConfig> {
  const qa: Record<string, unknown> = {};
  const on = new Set(enabled);
  for (const c of KNOWN_CHILDREN) {
    if (NEEDS_CONTEXT.has(c) && c !== 'validity') continue;
    qa[c] = { enabled: on.has(c), ...(on.has(c) && c !== 'validity' ? { severity: 'critical' } : {}), ...(thresholds.has(c) ? { threshold: thresholds.get(c)! } : {}) };
  }
  return validateConfig({ device: 'calibration', serial: { path: '(csv)' }, window: { size: window, hop: window }, qa, log: { level: 'silent' } }, 'calibration config');
}

const flat = (m: Map<string, Verdict[]>) => [...m.values()].flat();
const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

interface Episode {
  fault: InjectedFault;
  magnitude: number;
  /** Per window inside the episode: each candidate child's score. */
  windows: Record<string, number>[];
}

export function calibrate(table: CsvTable, o: CalibrateOptions): { profile: Profile; defaults: Map<string, number> } {
  const replay = replayOf(table);
  const W = o.window;
  if (replay.times.length < 20 * W) throw new RangeError(`calibration needs at least ${20 * W} records (20 windows of ${W}); the CSV has ${replay.times.length}`);
  const base = configWith(CANDIDATES, new Map(), W);
  const defaults = new Map<string, number>(CANDIDATES.map((c) => [c, (base.qa as unknown as Record<string, { threshold: number }>)[c]!.threshold]));

  // Clean scores of every candidate.
  o.progress?.('judging the clean data with every candidate child');
  const clean = flat(judgeReplay(replay, base));
  const cleanScores = new Map<string, number[]>(CANDIDATES.map((c) => [c, clean.map((v) => v.children[c]?.score ?? 0)]));

  // Fault episodes at every magnitude.
  const episodes: Episode[] = [];
  // A CSV has no physical ranges: the observed range of the clean data stands in for them.
  const observed = replay.values.map((v) => {
    let min = Infinity;
    let max = -Infinity;
    for (const x of v) if (Number.isFinite(x)) (min = Math.min(min, x)), (max = Math.max(max, x));
    return { min, max };
  });
  for (const fault of SWEEP_FAULTS) {
    for (const magnitude of MAGNITUDES[fault].sweep) {
      const rng = new Rng(o.seed * 104_729 + Math.round(magnitude * 1000));
      const { replay: r, spans } = injectEpisodes(replay, fault, magnitude, W, observed, rng);
      const judged = judgeReplay(r, base);
      for (const sp of spans) {
        const list = judged.get(replay.hello.channels[sp.channel]!.name) ?? [];
        episodes.push({ fault, magnitude, windows: list.slice(sp.start / W, sp.end / W).map((v) => Object.fromEntries(CANDIDATES.map((c) => [c, v.children[c]?.score ?? 0]))) });
      }
      o.progress?.(`robustness sweep: ${fault} × ${magnitude} (${spans.length} episodes)`);
    }
  }

  // Boundaries from the clean scores (Bonferroni split of the false-alarm budget).
  const perChild = o.targetFar / CANDIDATES.length;
  const thresholds = new Map<string, number>();
  for (const c of CANDIDATES) thresholds.set(c, Math.max(defaults.get(c)!, quantile(cleanScores.get(c)!, 1 - perChild)));

  const detects = (c: string, e: Episode) => e.windows.some((w) => (w[c] ?? 0) > thresholds.get(c)!);
  let selected: string[] = [];
  let measuredFar = 1;
  for (let round = 0; round < 10; round++) {
    // Greedy forward selection with a sparsity penalty.
    selected = [];
    const undetected = new Set(episodes.map((_, i) => i));
    for (;;) {
      let best: string | undefined;
      let gain = 0;
      for (const c of CANDIDATES) {
        if (selected.includes(c)) continue;
        let g = 0;
        for (const i of undetected) if (detects(c, episodes[i]!)) g++;
        if (g > gain) (gain = g), (best = c);
      }
      if (!best || gain <= o.lambda * episodes.length) break;
      selected.push(best);
      for (const i of [...undetected]) if (detects(best, episodes[i]!)) undetected.delete(i);
    }
    // Check on clean data with the selected set only.
    const check = flat(judgeReplay(replay, configWith(selected, thresholds, W)));
    const failing = check.filter(verdictFails);
    measuredFar = failing.length / Math.max(1, check.length);
    o.progress?.(`round ${round + 1}: selected ${selected.join(', ') || 'none'}; false-alarm rate on clean windows ${(100 * measuredFar).toFixed(2)} %`);
    if (measuredFar <= o.targetFar) break;
    const blame = new Map<string, number>();
    for (const v of failing) for (const c of v.failed) blame.set(c, (blame.get(c) ?? 0) + 1);
    const worst = [...blame.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (!worst || !thresholds.has(worst)) break;
    const scores = cleanScores.get(worst)!.filter((s) => s > thresholds.get(worst)!);
    thresholds.set(worst, scores.length ? Math.min(...scores) * 1.0001 + 1e-12 : thresholds.get(worst)! * 1.5);
  }

  // Robustness curves of the final profile.
  const robustness = [...new Set(episodes.map((e) => `${e.fault}|${e.magnitude}`))].map((key) => {
    const [fault, mag] = key.split('|') as [string, string];
    const es = episodes.filter((e) => e.fault === fault && String(e.magnitude) === mag);
    const hit = es.filter((e) => selected.some((c) => detects(c, e))).length;
    return { fault, magnitude: Number(mag), recall: Number((hit / Math.max(1, es.length)).toFixed(4)) };
  });

  // The sparse model for the intrinsic parent (paper §3.1 "QA model training"): L1-penalised logistic
  // regression of "window inside a fault episode" on the selected intrinsic children's scores,
  // by proximal gradient descent; its threshold is the clean-probability quantile at 1 − target_far.
  let parents: Profile['parents'];
  if (o.decision === 'weighted') {
    const feats = selected.filter((c) => CHILD_PARENT[c as ChildName] === 'intrinsic');
    if (feats.length > 0) {
      const rows: { x: number[]; y: number }[] = [];
      for (const v of clean) rows.push({ x: feats.map((c) => v.children[c]?.score ?? 0), y: 0 });
      for (const e of episodes) for (const w of e.windows) rows.push({ x: feats.map((c) => w[c] ?? 0), y: 1 });
      const w = new Float64Array(feats.length);
      let b = 0;
      const l1 = o.lambda * 0.1;
      const lr = 1;
      for (let it = 0; it < 400; it++) {
        const g = new Float64Array(feats.length);
        let gb = 0;
        for (const r of rows) {
          let z = b;
          for (let j = 0; j < feats.length; j++) z += w[j]! * r.x[j]!;
          const d = 1 / (1 + Math.exp(-z)) - r.y;
          for (let j = 0; j < feats.length; j++) g[j] = g[j]! + d * r.x[j]!;
          gb += d;
        }
        b -= (lr * gb) / rows.length;
        for (let j = 0; j < feats.length; j++) {
          const t = w[j]! - (lr * g[j]!) / rows.length;
          w[j] = Math.sign(t) * Math.max(0, Math.abs(t) - lr * l1); // soft threshold: the sparsity
        }
      }
      const p = (x: number[]) => 1 / (1 + Math.exp(-(b + x.reduce((acc, xi, j) => acc + w[j]! * xi, 0))));
      const cleanP = rows.filter((r) => r.y === 0).map((r) => p(r.x));
      const threshold = Math.min(0.999999, Math.max(0.5, quantile(cleanP, 1 - o.targetFar) + 1e-9));
      const weights: Record<string, number> = {};
      feats.forEach((c, j) => {
        if (w[j] !== 0) weights[c] = Number(w[j]!.toPrecision(6));
      });
      parents = { intrinsic: { decision: 'weighted', weights, bias: Number(b.toPrecision(6)), threshold: Number(threshold.toPrecision(6)) } };
      o.progress?.(`weighted intrinsic parent: ${Object.entries(weights).map(([c, x]) => `${c} ${x.toFixed(2)}`).join(', ')}; bias ${b.toFixed(2)}; threshold ${threshold.toFixed(4)}`);
    }
  }

  const qa: Profile['qa'] = {};
  // A child calibration selected is one whose failure must fail its parent: it is made critical.
  for (const c of CANDIDATES) qa[c] = { enabled: selected.includes(c), threshold: Number(thresholds.get(c)!.toPrecision(6)), severity: selected.includes(c) ? 'critical' : 'warning' };
  const hash = createHash('sha256').update(JSON.stringify(parents ? { window: W, qa, parents } : { window: W, qa })).digest('hex').slice(0, 16);
  const csvHash = createHash('sha256');
  csvHash.update(table.times);
  for (const v of table.values) csvHash.update(v);
  return {
    defaults,
    profile: {
      format: 'tinyqa-profile/1',
      created: new Date().toISOString(),
      source: { csv: table.path, sha256: csvHash.digest('hex'), records: table.times.length, channels: table.channels },
      window: W,
      target_false_alarm_rate: o.targetFar,
      measured_false_alarm_rate: Number(measuredFar.toFixed(5)),
      selected,
      qa,
      robustness,
      ...(parents ? { parents } : {}),
      hash,
    },
  };
}

export const CALIBRATED_PARENT_OF = CHILD_PARENT;
