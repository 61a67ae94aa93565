/**
 * The fresh process `tinyqa bench inference` measures cold loads and resident memory in. It is
 * bundled by esbuild the way dist/tinyqa.mjs is (minified, TINYQA_BUNDLE=1, the engines' WASM in
 * assets/ beside it), so its RSS carries no TypeScript loader: tsx alone adds ~35 MB to a Node
 * process, more than the engines under test. Like the gateway bundle, the same file is also the
 * inference worker's entry (runtime/cli/entry.ts does this for the real bundle).
 *
 * Input: a JSON job in the TINYQA_PROBE environment variable. Output: one JSON line on stdout.
 */

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { RemoteModel } from '../../runtime/inference/worker-host.js';

/** A model file and the one input the probe feeds it (name and values per window). */
export interface ProbeModel {
  file: string;
  input: string;
  size: number;
}

export type ProbeJob = ({ mode: 'cold'; format: 'tflite' | 'onnx' } & ProbeModel) | { mode: 'memory'; tflite: ProbeModel; onnx: ProbeModel; batch: number; calls: number };

export interface ColdProbeResult {
  /** Bytes in memory → model ready (engine start: WASM compile and instantiate, model parse). */
  load_ms: number;
  first_run_ms: number;
  rss_before: number;
  rss_after: number;
}

export interface MemoryProbeResult {
  /** Probe started, nothing loaded. */
  rss_baseline: number;
  /** A TFLite model loaded and run in the inference worker. */
  rss_tflite: number;
  /** … and an ONNX model on onnxruntime-web beside it, in the same worker. */
  rss_both: number;
  max_rss: number;
  /** Bytes → first result through a fresh InferenceWorker (worker start + TFLite engine start). */
  worker_tflite_first_ms: number;
  /** Bytes → first result of the ONNX model, the worker already running (onnxruntime-web start). */
  worker_onnx_first_ms: number;
}

/** RSS once the heap is collected and the allocator has had a moment to return pages. */
async function settledRss(): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(150);
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

/** Deterministic values around 0 (timing and memory do not depend on them). */
const row = (n: number, batch = 1) => Float32Array.from({ length: n * batch }, (_, i) => Math.sin(i * 0.37) * 1.5);

async function cold(job: Extract<ProbeJob, { mode: 'cold' }>): Promise<ColdProbeResult> {
  const bytes = new Uint8Array(readFileSync(job.file));
  const x = row(job.size);
  const rss_before = await settledRss();
  const t0 = performance.now();
  const { loadAny } = await import('../../runtime/inference/registry.js');
  const m = await loadAny(bytes, job.file, job.format);
  const t1 = performance.now();
  const out = await m.run({ [job.input]: x });
  const t2 = performance.now();
  if (Object.keys(out).length === 0) throw new Error('the model gave no output');
  const rss_after = process.memoryUsage().rss;
  await m.dispose();
  return { load_ms: t1 - t0, first_run_ms: t2 - t1, rss_before, rss_after };
}

async function memory(job: Extract<ProbeJob, { mode: 'memory' }>): Promise<MemoryProbeResult> {
  const tflite = new Uint8Array(readFileSync(job.tflite.file));
  const onnx = new Uint8Array(readFileSync(job.onnx.file));
  const { InferenceWorker } = await import('../../runtime/inference/worker-host.js');
  const rss_baseline = await settledRss();
  const w = new InferenceWorker();
  try {
    // Inputs are transferred to the worker, so each call gets fresh arrays.
    const exercise = async (m: RemoteModel, io: ProbeModel) => {
      for (let i = 0; i < job.calls; i++) await w.run(m, { [io.input]: row(io.size, job.batch) }, job.batch);
    };
    let t0 = performance.now();
    const mt = await w.load(tflite, 'probe.tflite', 'tflite');
    await w.run(mt, { [job.tflite.input]: row(job.tflite.size) });
    const worker_tflite_first_ms = performance.now() - t0;
    await exercise(mt, job.tflite);
    const rss_tflite = await settledRss();
    t0 = performance.now();
    const mo = await w.load(onnx, 'probe.onnx', 'onnx');
    await w.run(mo, { [job.onnx.input]: row(job.onnx.size) });
    const worker_onnx_first_ms = performance.now() - t0;
    await exercise(mo, job.onnx);
    await exercise(mt, job.tflite);
    const rss_both = await settledRss();
    return { rss_baseline, rss_tflite, rss_both, max_rss: process.resourceUsage().maxRSS * 1024, worker_tflite_first_ms, worker_onnx_first_ms };
  } finally {
    await w.close();
  }
}

if (!isMainThread && (workerData as { tinyqaRole?: string } | undefined)?.tinyqaRole === 'inference') {
  const { serveInference } = await import('../../runtime/inference/worker-main.js');
  serveInference(parentPort!);
} else if (process.env.TINYQA_PROBE) {
  const job = JSON.parse(process.env.TINYQA_PROBE) as ProbeJob;
  try {
    const r = job.mode === 'cold' ? await cold(job) : await memory(job);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  } catch (e) {
    process.stderr.write(`probe failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
