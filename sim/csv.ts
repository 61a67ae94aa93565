/**
 * CSV input (DESIGN §9): a header row; a timestamp column (ISO 8601 or epoch seconds/milliseconds,
 * detected and reported) and one or more numeric channels; `,` or `;` as separator, detected; empty
 * or `NaN` cells are missing values, never a crash. Rows that cannot be read are counted and named.
 */

import { readFileSync } from 'node:fs';
import { ErrorCode, TinyqaError, errorMessage } from '../runtime/core/errors.js';
import type { Hello } from '../runtime/framing/messages.js';

export type TimeFormat = 'iso8601' | 'epoch_s' | 'epoch_ms';

export interface CsvTable {
  path: string;
  separator: ',' | ';';
  timeColumn: string;
  timeFormat: TimeFormat;
  channels: string[];
  /** Timestamps in ms since the epoch, one per row kept. */
  times: Float64Array;
  /** values[c][i]: channel c of row i; NaN where missing. */
  values: Float64Array[];
  /** Rows dropped because their timestamp could not be read, with the first few line numbers. */
  badRows: number;
  badRowLines: number[];
  /** Cells that were not numbers (kept as missing). */
  badCells: number;
}

const TIME_NAMES = /^(timestamp|time|datetime|date|ts|t)$/i;

function parseIso(s: string): number {
  // NAB and many loggers write "YYYY-MM-DD HH:MM:SS" without a zone: read it as UTC, stated in the report.
  const t = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s) ? Date.parse(s.replace(' ', 'T') + 'Z') : Date.parse(s);
  return Number.isFinite(t) ? t : NaN;
}

/** The format most of the first rows are in (a stray bad row does not decide it). */
function detectTimeFormat(samples: string[]): TimeFormat | undefined {
  if (samples.length === 0) return 'iso8601';
  const nums = samples.map(Number).filter((n) => Number.isFinite(n));
  const isos = samples.filter((s) => !Number.isFinite(Number(s)) && Number.isFinite(parseIso(s))).length;
  if (nums.length > 0.5 * samples.length) {
    // Epoch ms are ~1e12 today; epoch seconds ~1e9.
    const median = [...nums].sort((a, b) => a - b)[nums.length >> 1]!;
    return median > 1e11 ? 'epoch_ms' : 'epoch_s';
  }
  return isos > 0.5 * samples.length ? 'iso8601' : undefined;
}

function toMs(cell: string, f: TimeFormat): number {
  if (f === 'iso8601') return parseIso(cell);
  const n = Number(cell);
  if (cell.trim() === '' || !Number.isFinite(n)) return NaN;
  return f === 'epoch_s' ? n * 1000 : n;
}

function splitLine(line: string, sep: string): string[] {
  if (!line.includes('"')) return line.split(sep).map((c) => c.trim());
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '"') {
      if (quoted && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === sep && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

export function parseCsv(text: string, path = '(csv)'): CsvTable {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerLine = lines.findIndex((l) => l.trim() !== '');
  if (headerLine < 0) throw new TinyqaError(ErrorCode.CsvInvalid, `${path} is empty`, { hint: 'a CSV needs a header row, then one row per record' });
  const header = lines[headerLine]!;
  const separator: ',' | ';' = (header.match(/;/g)?.length ?? 0) > (header.match(/,/g)?.length ?? 0) ? ';' : ',';
  const names = splitLine(header, separator);
  if (names.length < 2) throw new TinyqaError(ErrorCode.CsvInvalid, `${path}: the header "${header.slice(0, 80)}" has fewer than two columns`, { hint: 'expected a timestamp column and at least one channel, separated by "," or ";"' });
  let timeIdx = names.findIndex((n) => TIME_NAMES.test(n));
  if (timeIdx < 0) timeIdx = 0;
  const dataLines: { line: string; no: number }[] = [];
  for (let i = headerLine + 1; i < lines.length; i++) if (lines[i]!.trim() !== '') dataLines.push({ line: lines[i]!, no: i + 1 });
  const probe = dataLines.slice(0, 20).map((d) => splitLine(d.line, separator)[timeIdx] ?? '');
  const timeFormat = probe.length ? detectTimeFormat(probe.filter((s) => s !== '')) : 'iso8601';
  if (!timeFormat) throw new TinyqaError(ErrorCode.CsvInvalid, `${path}: column "${names[timeIdx]}" holds neither ISO 8601 times nor epoch seconds/milliseconds (e.g. "${probe[0]}")`, { hint: 'put the timestamp in a column named timestamp or first' });
  const channels = names.filter((_, i) => i !== timeIdx);
  const times: number[] = [];
  const cols: number[][] = channels.map(() => []);
  let badRows = 0;
  let badCells = 0;
  const badRowLines: number[] = [];
  for (const { line, no } of dataLines) {
    const cells = splitLine(line, separator);
    const t = toMs(cells[timeIdx] ?? '', timeFormat);
    if (!Number.isFinite(t)) {
      badRows++;
      if (badRowLines.length < 5) badRowLines.push(no);
      continue;
    }
    times.push(t);
    let c = 0;
    for (let i = 0; i < names.length; i++) {
      if (i === timeIdx) continue;
      const raw = cells[i] ?? '';
      const cell = separator === ';' ? raw.replace(',', '.') : raw;
      let v = NaN;
      if (cell !== '' && !/^nan$/i.test(cell)) {
        v = Number(cell);
        if (!Number.isFinite(v)) {
          badCells++;
          v = NaN;
        }
      }
      cols[c++]!.push(v);
    }
  }
  return {
    path,
    separator,
    timeColumn: names[timeIdx]!,
    timeFormat,
    channels,
    times: Float64Array.from(times),
    values: cols.map((c) => Float64Array.from(c)),
    badRows,
    badRowLines,
    badCells,
  };
}

export function readCsv(path: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TinyqaError(ErrorCode.CsvInvalid, `cannot read ${path}: ${errorMessage(e)}`, { hint: 'check the path given to --csv' });
  }
  return parseCsv(text, path);
}

/** Mean sample period of a table in ms (1 s when it has a single row). */
export function csvPeriodMs(table: CsvTable): number {
  const n = table.times.length;
  return n > 1 ? (table.times[n - 1]! - table.times[0]!) / (n - 1) : 1000;
}

/**
 * The HELLO a CSV stands for when it is judged offline: its channels (names made protocol-safe) and
 * its measured rate — the timeliness child compares intervals with it. Physical ranges are unknown,
 * so they are ±∞ and the validity child never fails.
 */
export function csvHello(table: CsvTable, device: string): Hello {
  return {
    type: 'hello',
    fw: 'csv',
    device,
    channels: table.channels.map((name) => ({ name: name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'value', unit: '', min: -Infinity, max: Infinity })),
    rate_hz: 1000 / csvPeriodMs(table),
    batch: 10,
    heartbeat_ms: 1000,
    commands: [],
    proto_min: 1,
  };
}
