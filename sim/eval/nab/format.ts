/** The readable table of `tinyqa eval nab` (the JSON form is the NabReport itself). */

import type { ProfileScores } from './evaluate.js';
import type { NabReport } from './run.js';

/** DESIGN §8 detection-quality targets for NAB. */
const TARGET_STANDARD = 70;
const TARGET_LOW_FP = 67.0;

function row(label: string, s: ProfileScores, note = ''): string {
  const f = (x: number) => x.toFixed(2).padStart(10);
  return `${label.padEnd(40)}${f(s.standard)}${f(s.reward_low_FP_rate)}${f(s.reward_low_FN_rate)}${note ? '   ' + note : ''}\n`;
}

export function formatNabReport(r: NabReport): string {
  const th = r.thresholds;
  let out =
    `NAB: ${r.files} series, ${r.windows} windows, ${r.records.toLocaleString('en')} records, ${r.elapsed_s.toFixed(1)} s (data: ${r.data})\n` +
    `${''.padEnd(40)}${'standard'.padStart(10)}${'low FP'.padStart(10)}${'low FN'.padStart(10)}\n` +
    row('detector, corpus-optimised threshold', r, `θ = ${th.standard.toFixed(4)} / ${th.reward_low_FP_rate.toFixed(4)} / ${th.reward_low_FN_rate.toFixed(4)}`) +
    row(`detector, fixed threshold ${r.fixed_threshold.threshold}`, r.fixed_threshold, 'fixed in advance (p = 1e-5), not tuned');
  if (r.development_split) {
    out += row('  development half (constants chosen)', r.development_split.development) + row('  held-out half', r.development_split.holdout);
  }
  out +=
    row('baseline: null (never fires)', r.baselines.null) +
    row(`baseline: random (seed ${r.baselines.random.seed})`, r.baselines.random, 'corpus-optimised threshold') +
    row('baseline: always alarm', r.baselines.always_alarm);
  for (const [name, s] of Object.entries(r.published ?? {})) out += row(`published: ${name}`, s);
  if (r.published) {
    const ok = (x: number, t: number) => (x >= t ? 'meets' : 'BELOW');
    out += `DESIGN §8 targets: standard ≥ ${TARGET_STANDARD} — ${ok(r.standard, TARGET_STANDARD)}; reward-low-FP > ${TARGET_LOW_FP} — ${ok(r.reward_low_FP_rate, TARGET_LOW_FP + 1e-9)}\n`;
  }
  return out;
}

/** The NAB report as a self-contained HTML page (`tinyqa eval nab --report FILE.html`). */
export function nabReportPage(r: import('./run.js').NabReport): import('../../report/html.js').Report {
  const row = (name: string, s: { standard: number; reward_low_FP_rate: number; reward_low_FN_rate: number }, note = '') => [name, s.standard, s.reward_low_FP_rate, s.reward_low_FN_rate, note];
  const rows = [
    row('tinyqa, corpus-optimised threshold', r, `θ = ${r.thresholds.standard.toFixed(4)}`),
    row('tinyqa, fixed threshold', r.fixed_threshold, r.fixed_threshold.rule),
    ...(r.development_split ? [row('  development half', r.development_split.development, 'constants chosen here'), row('  held-out half', r.development_split.holdout, 'checked here')] : []),
    row('baseline: null', r.baselines.null),
    row('baseline: random', r.baselines.random, `seed ${r.baselines.random.seed}`),
    row('baseline: always alarm', r.baselines.always_alarm),
    ...Object.entries(r.published ?? {}).map(([name, s]) => row(`published: ${name}`, s)),
  ];
  return {
    title: 'tinyqa eval nab',
    subtitle: `Numenta Anomaly Benchmark: ${r.files} series, ${r.records.toLocaleString('en')} records, ${r.windows} anomaly windows; ${r.detector}`,
    summary: { standard: r.standard, 'reward low FP': r.reward_low_FP_rate, 'reward low FN': r.reward_low_FN_rate, data: r.data, 'elapsed (s)': r.elapsed_s },
    sections: [
      {
        kind: 'curves',
        title: 'standard score: tinyqa beside baselines and published detectors',
        xLabel: 'rank',
        yLabel: 'score / 100',
        curves: rows
          .filter((x) => Number(x[1]) > 0)
          .map((x, i) => ({ name: String(x[0]).trim(), x: [i + 1], y: [Number(x[1]) / 100] })),
      },
      { kind: 'table', title: 'Scores (NAB normalised, three profiles)', columns: ['detector', 'standard', 'reward low FP', 'reward low FN', 'note'], rows: rows.map((x) => x.map((c) => (typeof c === 'number' ? Number(c.toFixed(2)) : c))) },
    ],
  };
}
