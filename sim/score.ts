/**
 * `tinyqa score --csv FILE`: the QA graph and the online anomaly detector over any CSV (DESIGN §9),
 * record by record in file order (no look-ahead), so anyone can evaluate tinyqa on their own
 * labelled data. Each record gets the anomaly score of its own value (the maximum over channels) and
 * the verdict of the tumbling window it falls in (null for a last, incomplete window).
 */

import { createAnomalyDetector } from '../runtime/anomaly/detector.js';
import { validateConfig, type TinyqaConfig } from '../runtime/config/schema.js';
import type { FrameHeader } from '../runtime/framing/frame.js';
import { verdictFails, type Verdict } from '../runtime/qa/types.js';
import { createOfflinePipeline } from '../runtime/root.js';
import { csvHello, type CsvTable } from './csv.js';

export interface ScoredRecord {
  t: number;
  anomaly_score: number;
  verdict: 'pass' | 'fail' | null;
  failed: string[];
}

export interface ScoreSummary {
  records: number;
  channels: string[];
  windows: number;
  failed_windows: number;
  time_format: string;
  separator: string;
  bad_rows: number;
  bad_cells: number;
}

/** Fills what a CSV run does not need from a gateway config (device id, serial path). */
export function scoreConfig(given: Record<string, unknown> | undefined, name: string): Readonly<TinyqaConfig> {
  const device = name.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'csv';
  return validateConfig({ device, ...given, serial: { path: '(csv)', ...((given?.serial as object) ?? {}) } }, 'score config');
}

export function scoreTable(table: CsvTable, config: Readonly<TinyqaConfig>, profileHash: string | null, emit: (r: ScoredRecord) => void): ScoreSummary {
  const size = config.window.size;
  const C = table.channels.length;
  const detectors = table.channels.map(() => createAnomalyDetector());
  const verdictsByWindow = new Map<number, Verdict[]>();
  let windowIndex = 0;
  let windows = 0;
  let failedWindows = 0;
  const pipeline = createOfflinePipeline(
    // Tumbling windows: every record belongs to exactly one verdict.
    { ...config, window: { size, hop: size } },
    (v) => {
      const list = verdictsByWindow.get(windowIndex) ?? [];
      list.push(v);
      verdictsByWindow.set(windowIndex, list);
    },
    undefined,
    profileHash,
  );
  // The CSV's channels and measured rate; physical ranges are unknown (validity inactive).
  const hello = csvHello(table, config.device);
  const h: FrameHeader = { version: 1, incompat_flags: 0, compat_flags: 0, type: 2, seq: 0, time_ms: 0 };
  pipeline.handle(h, hello);
  const values = new Float32Array(C);
  const pending: ScoredRecord[] = [];
  const n = table.times.length;
  for (let i = 0; i < n; i++) {
    const t = table.times[i]!;
    let score = 0;
    for (let c = 0; c < C; c++) {
      const x = table.values[c]![i]!;
      values[c] = x;
      score = Math.max(score, detectors[c]!.update(x, t));
    }
    const period = i + 1 < n ? Math.max(1, table.times[i + 1]! - t) : 1;
    h.time_ms = t;
    pipeline.handle(h, { type: 'samples', channels: C, period_us: Math.round(period * 1000), values });
    pending.push({ t, anomaly_score: Number(score.toFixed(6)), verdict: null, failed: [] });
    if ((i + 1) % size === 0) {
      const vs = verdictsByWindow.get(windowIndex) ?? [];
      verdictsByWindow.delete(windowIndex);
      const fail = vs.some(verdictFails);
      const failed = [...new Set(vs.flatMap((v) => v.failed))];
      windows++;
      if (fail) failedWindows++;
      for (const r of pending) {
        r.verdict = fail ? 'fail' : 'pass';
        r.failed = failed;
        emit(r);
      }
      pending.length = 0;
      windowIndex++;
    }
  }
  for (const r of pending) emit(r);
  return { records: n, channels: table.channels, windows, failed_windows: failedWindows, time_format: table.timeFormat, separator: table.separator, bad_rows: table.badRows, bad_cells: table.badCells };
}
