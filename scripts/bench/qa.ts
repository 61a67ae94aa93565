/**
 * `tinyqa bench qa`: the QA graph on one core (DESIGN §8: all rule dimensions, window 64, hop 32,
 * ≥ 1 M samples/s). The peer in the same run is the same pipeline with every child switched off
 * (windowing and verdict assembly only), so the ratio is what judging costs on top of moving samples.
 */

import { validateConfig } from '../../runtime/config/schema.js';
import type { FrameHeader } from '../../runtime/framing/frame.js';
import { KNOWN_CHILDREN } from '../../runtime/qa/catalog.js';
import { createOfflinePipeline } from '../../runtime/root.js';

export interface QaBenchReport {
  samples_per_s: number;
  windowing_only_samples_per_s: number;
  qa_cost_ratio: number;
  target_samples_per_s: number;
  meets_target: boolean;
  children: string[];
  window: { size: number; hop: number };
  heap_growth_bytes_per_sample: number;
  runs: number;
}

// Children that need a live link or site configuration (pairs, a reference profile) are left out.
const OFFLINE = KNOWN_CHILDREN.filter((c) => !['frame_integrity', 'sequence_continuity', 'clock_sanity', 'relevance', 'cross_sensor'].includes(c));

function run(enabled: readonly string[], samples: number): { s: number; heap: number } {
  const qa: Record<string, unknown> = {};
  for (const c of OFFLINE) qa[c] = { enabled: enabled.includes(c) };
  const config = validateConfig({ device: 'bench', serial: { path: '(bench)' }, window: { size: 64, hop: 32 }, qa, log: { level: 'silent' } });
  let verdicts = 0;
  const p = createOfflinePipeline(config, () => verdicts++);
  const h: FrameHeader = { version: 1, incompat_flags: 0, compat_flags: 0, type: 2, seq: 0, time_ms: 1_700_000_000_000 };
  p.handle(h, { type: 'hello', fw: 'b', device: 'bench', channels: [{ name: 'x', unit: '', min: -100, max: 100 }], rate_hz: 1000, batch: 32, heartbeat_ms: 1000, commands: [], proto_min: 1 });
  const batch = new Float32Array(32);
  let seed = 1;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < samples; i += 32) {
    for (let k = 0; k < 32; k++) {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      batch[k] = Math.sin((i + k) / 50) * 10 + (seed / 0x7fffffff - 0.5);
    }
    h.time_ms = 1_700_000_000_000 + i;
    p.handle(h, { type: 'samples', channels: 1, period_us: 1000, values: batch });
  }
  const s = (performance.now() - t0) / 1000;
  if (verdicts < samples / 32 - 2) throw new Error(`only ${verdicts} verdicts`);
  return { s, heap: process.memoryUsage().heapUsed - heap0 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export function benchQa(o: { runs: number; progress?: (m: string) => void }): QaBenchReport {
  const N = 1_000_000;
  run(OFFLINE, N / 4);
  run([], N / 4);
  const full: number[] = [];
  const bare: number[] = [];
  const heaps: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const a = run(OFFLINE, N);
    const b = run([], N);
    full.push(N / a.s);
    bare.push(N / b.s);
    heaps.push(a.heap / N);
    o.progress?.(`run ${r + 1}/${o.runs}: ${(N / a.s / 1e6).toFixed(2)} M samples/s with ${OFFLINE.length} children, ${(N / b.s / 1e6).toFixed(2)} M windowing only`);
  }
  const samples_per_s = Math.round(median(full));
  const windowing = Math.round(median(bare));
  return {
    samples_per_s,
    windowing_only_samples_per_s: windowing,
    qa_cost_ratio: Number((windowing / samples_per_s).toFixed(2)),
    target_samples_per_s: 1_000_000,
    meets_target: samples_per_s >= 1_000_000,
    children: [...OFFLINE],
    window: { size: 64, hop: 32 },
    heap_growth_bytes_per_sample: Number(median(heaps).toFixed(3)),
    runs: o.runs,
  };
}
