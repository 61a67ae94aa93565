/** Terminal rendering of verdicts: one line per window, coloured on a TTY (NO_COLOR respected). */

import type { Verdict } from '../qa/types.js';

export interface Style {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export const ansi: Style = { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
const id = (s: string) => s;
export const plain: Style = { red: id, green: id, yellow: id, dim: id, bold: id };

export function styleFor(stream: NodeJS.WriteStream): Style {
  const wanted = stream.isTTY && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
  return wanted || 'FORCE_COLOR' in process.env ? ansi : plain;
}

function clockTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** e.g. `14:02:07.120 pump-01 pressure    #42  intrinsic FAIL  flatline: stuck at 4.02 bar for 100/100 samples` */
export function formatVerdict(v: Verdict, st: Style): string {
  const parents = Object.entries(v.parents)
    .map(([name, outcome]) => `${name} ${outcome === 'pass' ? st.green('pass') : st.red(st.bold('FAIL'))}`)
    .join('  ');
  const why = v.failed.map((name) => {
    const c = v.children[name]!;
    const text = `${name}: ${c.reason}`;
    return c.severity === 'critical' ? st.red(text) : st.yellow(text);
  });
  return `${st.dim(clockTime(v.t0))} ${v.device} ${v.stream.padEnd(11)} ${st.dim(('#' + v.seq).padEnd(6))} ${parents}${why.length ? '  ' + why.join('; ') : ''}`;
}
