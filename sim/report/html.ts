/**
 * Self-contained HTML reports (`--report FILE.html` on `sim` and `eval`): one file with the charting
 * library (uPlot, MIT, inlined with its licence notice), the data, and the page — it opens offline,
 * from a mail attachment or a CI artefact, with nothing to fetch.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, TinyqaError, errorMessage } from '../../runtime/core/errors.js';

export interface TimeSeriesSection {
  kind: 'timeseries';
  title: string;
  unit: string;
  /** ms since the epoch */
  times: number[];
  values: (number | null)[];
  /** Failing windows are shaded; `label` names the children that failed. */
  windows?: { t0: number; t1: number; fail: boolean; label: string }[];
  /** An optional score in [0,1] on a second axis (e.g. the anomaly score). */
  score?: (number | null)[];
  scoreLabel?: string;
}

export interface CurveSection {
  kind: 'curves';
  title: string;
  xLabel: string;
  yLabel: string;
  /** One curve per name; x values may differ per curve. */
  curves: { name: string; x: number[]; y: number[] }[];
  logX?: boolean;
}

export interface TableSection {
  kind: 'table';
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
}

export type Section = TimeSeriesSection | CurveSection | TableSection;

export interface Report {
  title: string;
  subtitle: string;
  summary: Record<string, string | number>;
  sections: Section[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** uPlot's script and style: from node_modules in a checkout, from assets/ beside the bundle. */
function chartLibrary(): { js: string; css: string; licence: string } {
  const fromBundle = process.env.TINYQA_BUNDLE === '1';
  try {
    if (fromBundle) {
      const dir = join(dirname(fileURLToPath(import.meta.url)), 'assets');
      return { js: readFileSync(join(dir, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dir, 'uPlot.min.css'), 'utf8'), licence: readFileSync(join(dir, 'uPlot.LICENSE'), 'utf8') };
    }
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
    const licence = join(dist, '..', 'LICENSE');
    return { js: readFileSync(join(dist, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dist, 'uPlot.min.css'), 'utf8'), licence: existsSync(licence) ? readFileSync(licence, 'utf8') : 'MIT' };
  } catch (e) {
    throw new TinyqaError(ErrorCode.ReportFailed, `cannot load the charting library for the report: ${errorMessage(e)}`, { hint: 'reinstall with npm ci (or rebuild the bundle, which copies it to dist/assets)' });
  }
}

// The page's own script: draws every section from the embedded data with uPlot.
const PAGE_SCRIPT = `
const data = JSON.parse(document.getElementById('report-data').textContent);
const width = () => Math.min(1100, document.body.clientWidth - 40);
function shade(windows) {
  return { hooks: { drawClear: [u => {
    const ctx = u.ctx; ctx.save();
    for (const w of windows) {
      if (!w.fail) continue;
      const x0 = u.valToPos(w.t0 / 1000, 'x', true), x1 = u.valToPos(w.t1 / 1000, 'x', true);
      ctx.fillStyle = 'rgba(220, 40, 40, 0.15)';
      ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
    }
    ctx.restore();
  }] } };
}
data.sections.forEach((s, i) => {
  const el = document.getElementById('section-' + i);
  if (s.kind === 'timeseries') {
    const series = [{}, { label: s.title + (s.unit ? ' (' + s.unit + ')' : ''), stroke: '#2463b5', width: 1, scale: 'y' }];
    const cols = [s.times.map(t => t / 1000), s.values];
    const axes = [{}, { scale: 'y', label: s.unit }];
    if (s.score) { series.push({ label: s.scoreLabel || 'score', stroke: '#d08000', width: 1, scale: 'score' }); cols.push(s.score); axes.push({ scale: 'score', side: 1, grid: { show: false }, label: s.scoreLabel || 'score' }); }
    new uPlot({ width: width(), height: 260, series, axes, scales: { score: { range: [0, 1] } }, plugins: s.windows ? [shade(s.windows)] : [] }, cols, el);
  } else if (s.kind === 'curves') {
    const xs = [...new Set(s.curves.flatMap(c => c.x))].sort((a, b) => a - b);
    const cols = [xs, ...s.curves.map(c => xs.map(x => { const j = c.x.indexOf(x); return j < 0 ? null : c.y[j]; }))];
    const palette = ['#2463b5', '#d08000', '#2a9d4b', '#c0392b', '#8e44ad', '#16a085', '#7f8c8d', '#e67e22'];
    new uPlot({ width: width(), height: 300, scales: { x: { time: false, distr: s.logX ? 3 : 1 }, y: { range: [0, 1.02] } },
      axes: [{ label: s.xLabel }, { label: s.yLabel }], series: [{ label: s.xLabel }, ...s.curves.map((c, k) => ({ label: c.name, stroke: palette[k % palette.length], width: 2, points: { show: true }, spanGaps: true }))] }, cols, el);
  }
});
`;

export function renderReport(r: Report): string {
  const lib = chartLibrary();
  const summary = Object.entries(r.summary)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
    .join('');
  const sections = r.sections
    .map((s, i) => {
      if (s.kind === 'table') {
        const head = s.columns.map((c) => `<th>${esc(c)}</th>`).join('');
        const body = s.rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c === null ? '—' : String(c))}</td>`).join('')}</tr>`).join('');
        return `<section><h2>${esc(s.title)}</h2><table class="data"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></section>`;
      }
      const note = s.kind === 'timeseries' && s.windows?.some((w) => w.fail) ? '<p class="note">Shaded: windows that failed QA.</p>' : '';
      return `<section><h2>${esc(s.title)}</h2>${note}<div id="section-${i}"></div></section>`;
    })
    .join('\n');
  // JSON inside a <script> must not be able to close it.
  const json = JSON.stringify({ sections: r.sections.map((s) => (s.kind === 'table' ? { kind: 'table' } : s)) }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${lib.css}
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}h1{margin:0 0 4px}h2{font-size:16px;margin:24px 0 6px}
.sub{color:#666;margin-bottom:16px}table{border-collapse:collapse}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
table.data td{font-variant-numeric:tabular-nums}.note{color:#a33;margin:0 0 4px;font-size:12px}footer{margin-top:30px;color:#888;font-size:11px;white-space:pre-wrap}
</style></head><body>
<h1>${esc(r.title)}</h1><div class="sub">${esc(r.subtitle)}</div>
<table>${summary}</table>
${sections}
<footer>Charts drawn with uPlot, inlined under its licence:
${esc(lib.licence)}</footer>
<script>${lib.js}</script>
<script type="application/json" id="report-data">${json}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}

export function writeReport(path: string, r: Report): void {
  try {
    writeFileSync(path, renderReport(r));
  } catch (e) {
    if (e instanceof TinyqaError) throw e;
    throw new TinyqaError(ErrorCode.ReportFailed, `cannot write the report ${path}: ${errorMessage(e)}`, { hint: 'check that the folder exists and is writable' });
  }
}
