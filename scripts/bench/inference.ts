/**
 * `tinyqa bench inference`: the shipped int8 autoencoder (and MLPerf Tiny AD01 when the shared
 * fixtures are there) on onnxruntime-web (WASM, 1 thread) and the TFLite engine of tfjs-tflite, both
 * through the registry the runtime uses, beside the native peer onnxruntime-node on the same ONNX
 * bytes, in the same run (DESIGN §8: web ≤ 1.5× native; TFLite within 1.5× of web, micro-batched).
 *
 * Speed is measured in this process, engines interleaved run by run so drift hits all alike; each
 * figure is the median over runs of µs per window, after a warm-up. Cold load (bytes → first result)
 * and resident memory need a fresh process each: a probe bundled like dist/tinyqa.mjs
 * (inference-probe.ts) for the WASM engines, plain `node -e` for the native peer — never the
 * TypeScript loader, which alone adds ~35 MB of RSS.
 *
 * onnxruntime-node is a devDependency and this is the only file that imports it (STYLE §12), lazily:
 * without it the bench says so and reports the rest.
 */

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../../runtime/core/errors.js';
import { verifyPackage } from '../../runtime/inference/package.js';
import { loadAny } from '../../runtime/inference/registry.js';
import { Rng } from '../../sim/random.js';
import type { ColdProbeResult, MemoryProbeResult, ProbeJob, ProbeModel } from './inference-probe.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SHIPPED_DIR = join(REPO, 'models', 'pump-ae', '1.0.0');
const AD01_DIR = fileURLToPath(new URL('../../../shared/fixtures/models/mlperf_tiny_ad01_int8/', import.meta.url));

export type EngineId = 'onnxruntime-web' | 'tflite-wasm' | 'onnxruntime-node';
const ENGINES: readonly EngineId[] = ['onnxruntime-node', 'onnxruntime-web', 'tflite-wasm'];
export const TARGETS = { web_vs_native: 1.5, tflite_vs_web: 1.5, tflite_active_mb: 80, both_engines_mb: 128 } as const;
/** The native peer as the WASM engines run: one thread, sequential, full graph optimisation. */
const NATIVE_SESSION = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' } as const;

export interface InferenceRow {
  model: string;
  engine: EngineId;
  batch: number;
  /** 'native': one engine call takes the whole batch; 'loop': one invoke per window inside one call (TFLite's fixed shapes). */
  batching: 'native' | 'loop';
  /** Median over runs. */
  us_per_window: number;
  us_per_window_min: number;
  us_per_window_max: number;
  us_per_call: number;
  windows_per_s: number;
  calls_per_run: number;
}

export interface EngineRatios {
  model: string;
  /** Each engine at its own best batch size (lowest µs per window). */
  best_batch: Partial<Record<EngineId, number>>;
  web_vs_native: number | null;
  tflite_vs_web: number | null;
  meets: { web_vs_native: boolean | null; tflite_vs_web: boolean | null };
  by_batch: { batch: number; web_vs_native: number | null; tflite_vs_web: number | null }[];
}

export interface ColdLoad {
  model: string;
  engine: EngineId;
  /** Median, bytes in memory → first result, in a fresh process: engine start + model load + first run. */
  ms: number;
  load_ms: number;
  first_run_ms: number;
  runs: number;
  /** Process RSS right after that first result (model on the main thread, nothing else loaded). */
  rss_mb: number;
}

export interface MemoryReport {
  model: string;
  how: string;
  baseline_mb: number;
  tflite_active_mb: number;
  both_engines_mb: number;
  max_mb: number;
  meets: { tflite_active_mb: boolean; both_engines_mb: boolean };
  /** Through a fresh InferenceWorker: TFLite bytes → first result (worker start included), then ONNX beside it. */
  worker_first_result_ms: { tflite: number; onnx: number };
  /** The same process measure for onnxruntime-node alone: RSS before importing it and after its first result. */
  native_peer: { baseline_mb: number; loaded_mb: number } | { unavailable: string };
}

export interface ModelInfo {
  name: string;
  source: string;
  input: { name: string; size: number };
  data: string;
  files: { tflite?: string; onnx?: string };
  /** Largest |difference| of the first output on the same window (quantization steps apart at most). */
  agreement: { tflite_vs_web?: number; native_vs_web?: number };
}

export interface InferenceBenchReport {
  rows: InferenceRow[];
  /** The shipped autoencoder (or AD01 while the package is not built); null when no model could run. */
  ratios: EngineRatios | null;
  ratios_per_model: EngineRatios[];
  targets: typeof TARGETS;
  cold_load: ColdLoad[];
  memory: MemoryReport | { unavailable: string };
  models: ModelInfo[];
  native: { available: true; version: string } | { available: false; reason: string };
  notes: string[];
  runs: number;
  batches: number[];
  /** Other work on the machine makes every figure noisier: the 1-minute load average before and after. */
  machine: { cores: number; load_1m_start: number; load_1m_end: number };
}

export interface InferenceBenchOptions {
  runs: number;
  /** Target wall time of one measured run of one (model, engine, batch) cell. */
  runMs?: number;
  warmupMs?: number;
  batches?: number[];
  /** Shipped package folder (default models/pump-ae/1.0.0). */
  packageDir?: string;
  /** Include MLPerf Tiny AD01 when the shared fixtures are present (default true). */
  ad01?: boolean;
  /** Fresh processes per engine for the cold-load median (default min(runs, 3)). */
  coldRuns?: number;
  /** Measure cold loads and memory in fresh processes (default true). */
  fresh?: boolean;
  progress?: (msg: string) => void;
}

interface BenchModel {
  name: string;
  source: string;
  tflite?: Uint8Array;
  onnx?: Uint8Array;
  files: ModelInfo['files'];
  data: string;
  /** `count` windows of `size` values, back to back, the same on every call. */
  windows(size: number, count: number): Float32Array;
}

interface Runner {
  engine: EngineId;
  batching: 'native' | 'loop';
  maxBatch: number;
  input: { name: string; size: number };
  call(batch: number): Promise<ArrayLike<number>>;
  dispose(): Promise<void>;
}

type Ort = typeof import('onnxruntime-node');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits: number) => Number(x.toFixed(digits));
const mb = (bytes: number) => round(bytes / 1048576, 1);

function gaussWindows(seed: number): BenchModel['windows'] {
  return (size, count) => {
    const rng = new Rng(seed);
    return Float32Array.from({ length: size * count }, () => rng.gauss());
  };
}

async function toOnnxBytes(tflite: Uint8Array, name: string): Promise<Uint8Array> {
  const { qmlpFromTflite } = await import('../../models/export/from-tflite.js');
  const { toOnnx } = await import('../../models/export/onnx.js');
  return toOnnx(qmlpFromTflite(tflite, name));
}

async function shippedModel(dir: string, notes: string[]): Promise<BenchModel | undefined> {
  const where = relative(REPO, dir) || dir;
  if (!existsSync(join(dir, 'manifest.json'))) {
    notes.push(`the shipped package ${where} is not built: run \`npm run models\`, then bench again (ratios below are for AD01 meanwhile)`);
    return undefined;
  }
  const m: BenchModel = { name: 'pump-ae', source: `package ${where}`, files: {}, data: 'seeded normalised windows ~N(0,1)', windows: gaussWindows(1) };
  for (const format of ['tflite', 'onnx'] as const) {
    try {
      // Verifies every file of the package (sizes and sha256), then picks this format.
      const p = verifyPackage(dir, { format });
      m.name = p.manifest.name;
      m[format] = p.modelBytes;
      m.files[format] = `${where}/${p.file.file}`;
    } catch (e) {
      notes.push(`shipped package, ${format}: ${errorMessage(e)}`);
    }
  }
  if (m.tflite && !m.onnx) {
    try {
      m.onnx = await toOnnxBytes(m.tflite, m.name);
      m.files.onnx = 'converted from the TFLite file (models/export: qmlpFromTflite → toOnnx)';
    } catch (e) {
      notes.push(`shipped package: no ONNX form and converting the TFLite one failed: ${errorMessage(e)}`);
    }
  }
  return m.tflite || m.onnx ? m : undefined;
}

async function ad01Model(notes: string[]): Promise<BenchModel | undefined> {
  const file = join(AD01_DIR, 'ad01_int8.tflite');
  if (!existsSync(file)) {
    notes.push(`MLPerf Tiny AD01 skipped: ${file} not found (the shared fixtures live in ../shared beside the repository)`);
    return undefined;
  }
  const tflite = new Uint8Array(readFileSync(file));
  const sample = join(AD01_DIR, 'normal_id_01_00000000_hist_librosa.bin');
  const m: BenchModel = { name: 'mlperf-tiny-ad01', source: 'MLPerf Tiny AD01 (ToyCar dense autoencoder, full int8)', tflite, files: { tflite: relative(REPO, file) }, data: 'seeded values ~N(0,1)', windows: gaussWindows(2) };
  if (existsSync(sample)) {
    // SOURCE.md: 200 frames × 128 log-mels, float32 LE; window i = floats [128·i, 128·i + 640).
    const buf = readFileSync(sample);
    const frames = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    m.data = 'the fixture\'s log-mel windows (normal_id_01_00000000, 196 windows, cycled)';
    m.windows = (size, count) => {
      const out = new Float32Array(size * count);
      const n = Math.floor((frames.length - size) / 128) + 1;
      for (let r = 0; r < count; r++) out.set(frames.subarray(128 * (r % n), 128 * (r % n) + size), r * size);
      return out;
    };
  }
  try {
    m.onnx = await toOnnxBytes(tflite, 'ad01');
    m.files.onnx = 'converted from the TFLite file (models/export: qmlpFromTflite → toOnnx)';
  } catch (e) {
    notes.push(`AD01: converting to ONNX failed, so onnxruntime rows are skipped for it: ${errorMessage(e)}`);
  }
  return m;
}

/** Inputs for each batch size, built once: the timed calls allocate nothing of ours. */
function feedCache(model: BenchModel, size: number): (batch: number) => Float32Array {
  const cache = new Map<number, Float32Array>();
  return (b) => {
    let x = cache.get(b);
    if (!x) cache.set(b, (x = model.windows(size, b)));
    return x;
  };
}

async function registryRunner(model: BenchModel, format: 'tflite' | 'onnx'): Promise<Runner> {
  const m = await loadAny(model[format]!, `${model.name}.${format}`, format);
  const io = m.inputs[0];
  if (!io || m.inputs.length !== 1 || io.size <= 0) {
    await m.dispose();
    throw new Error(`${model.name}.${format}: the bench feeds one input of known size; the model has ${m.inputs.map((x) => `${x.name} [${x.shape}]`).join(', ')}`);
  }
  const feed = feedCache(model, io.size);
  const engine: EngineId = format === 'tflite' ? 'tflite-wasm' : 'onnxruntime-web';
  return {
    engine,
    batching: m.batching,
    // TFLite loops inside one call; an ONNX model with a fixed first dimension takes one window per call.
    maxBatch: format === 'onnx' && m.batching === 'loop' ? 1 : Infinity,
    input: { name: io.name, size: io.size },
    call: async (b) => Object.values(await m.run({ [io.name]: feed(b) }, b))[0]!,
    dispose: () => m.dispose(),
  };
}

async function nativeRunner(ort: Ort, model: BenchModel): Promise<Runner> {
  const s = await ort.InferenceSession.create(model.onnx!, NATIVE_SESSION);
  const meta = s.inputMetadata[0];
  const shape = meta && meta.isTensor ? meta.shape : [];
  const size = shape.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' && d > 0 ? d : 1), 1);
  const name = s.inputNames[0]!;
  if (s.inputNames.length !== 1 || !meta?.isTensor || meta.type !== 'float32' || shape.length !== 2) {
    await s.release();
    throw new Error(`${model.name}.onnx: the native peer is fed one float32 [batch, n] input; the model has ${s.inputNames.join(', ')}`);
  }
  const fixed = typeof shape[0] === 'number' && shape[0] > 0;
  const feed = feedCache(model, size);
  const out = s.outputNames[0]!;
  return {
    engine: 'onnxruntime-node',
    batching: fixed ? 'loop' : 'native',
    maxBatch: fixed ? 1 : Infinity,
    input: { name, size },
    call: async (b) => (await s.run({ [name]: new ort.Tensor('float32', feed(b), [b, size]) }))[out]!.data as Float32Array,
    dispose: () => s.release(),
  };
}

async function loadNative(): Promise<{ ort: Ort; version: string } | { reason: string }> {
  try {
    const ort = (await import('onnxruntime-node')) as Ort;
    return { ort, version: ort.env.versions.node ?? ort.env.versions.common ?? '?' };
  } catch (e) {
    return { reason: `onnxruntime-node is not available (${errorMessage(e).split('\n')[0]}): it is a devDependency, install it with \`npm install\`; native rows and web_vs_native are left out` };
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(a.length, b.length); i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return round(d, 6);
}

interface Cell { model: string; runner: Runner; batch: number; calls: number; samples: number[] }

async function timeCalls(cell: Cell, calls: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await cell.runner.call(cell.batch);
  return performance.now() - t0;
}

function ratiosFor(model: string, rows: InferenceRow[]): EngineRatios {
  const mine = rows.filter((r) => r.model === model);
  const best: Partial<Record<EngineId, InferenceRow>> = {};
  for (const r of mine) if (!best[r.engine] || r.us_per_window < best[r.engine]!.us_per_window) best[r.engine] = r;
  const ratio = (a?: InferenceRow, b?: InferenceRow) => (a && b ? round(a.us_per_window / b.us_per_window, 3) : null);
  const web_vs_native = ratio(best['onnxruntime-web'], best['onnxruntime-node']);
  const tflite_vs_web = ratio(best['tflite-wasm'], best['onnxruntime-web']);
  const at = (b: number, e: EngineId) => mine.find((r) => r.batch === b && r.engine === e);
  return {
    model,
    best_batch: Object.fromEntries(Object.entries(best).map(([e, r]) => [e, r.batch])),
    web_vs_native,
    tflite_vs_web,
    meets: { web_vs_native: web_vs_native === null ? null : web_vs_native <= TARGETS.web_vs_native, tflite_vs_web: tflite_vs_web === null ? null : tflite_vs_web <= TARGETS.tflite_vs_web },
    by_batch: [...new Set(mine.map((r) => r.batch))].sort((a, b) => a - b).map((b) => ({ batch: b, web_vs_native: ratio(at(b, 'onnxruntime-web'), at(b, 'onnxruntime-node')), tflite_vs_web: ratio(at(b, 'tflite-wasm'), at(b, 'onnxruntime-web')) })),
  };
}

// ---- fresh-process probes ----

/** The native peer's probe: plain Node, no loader, nothing else imported. */
const NATIVE_PROBE = `
import { readFileSync } from 'node:fs';
const job = JSON.parse(process.env.TINYQA_PROBE);
const bytes = new Uint8Array(readFileSync(job.file));
const x = Float32Array.from({ length: job.size }, (_, i) => Math.sin(i * 0.37) * 1.5);
globalThis.gc?.(); await new Promise((r) => setTimeout(r, 150)); globalThis.gc?.();
const rss_before = process.memoryUsage().rss;
const t0 = performance.now();
const ort = await import('onnxruntime-node');
const s = await ort.InferenceSession.create(bytes, ${JSON.stringify(NATIVE_SESSION)});
const t1 = performance.now();
const out = await s.run({ [job.input]: new ort.Tensor('float32', x, [1, job.size]) });
const t2 = performance.now();
if (!out[s.outputNames[0]]) throw new Error('no output');
const rss_after = process.memoryUsage().rss;
await s.release();
process.stdout.write(JSON.stringify({ load_ms: t1 - t0, first_run_ms: t2 - t1, rss_before, rss_after }) + '\\n');
process.exit(0);
`;

function runNode(args: string[], job: ProbeJob): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', ...args], { cwd: REPO, env: { ...process.env, TINYQA_PROBE: JSON.stringify(job) }, timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const lines = String(stderr).trim().split('\n');
        return reject(new Error(lines.find((l) => /error|failed/i.test(l))?.trim() ?? (lines.slice(-3).join(' ') || err.message)));
      }
      try {
        resolve(JSON.parse(String(stdout).trim().split('\n').pop()!));
      } catch {
        reject(new Error(`unexpected probe output: ${String(stdout).slice(0, 200)}`));
      }
    });
  });
}

/**
 * Bundles inference-probe.ts as dist/tinyqa.mjs is bundled, into `dir`, beside the engines' assets
 * that the project's own build (esbuild.config.mjs) puts there.
 */
async function buildProbe(dir: string): Promise<string> {
  // The build empties its output folder first.
  execFileSync(process.execPath, [join(REPO, 'esbuild.config.mjs'), dir], { cwd: REPO, stdio: 'pipe' });
  const { build } = await import('esbuild');
  const outfile = join(dir, 'probe.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./inference-probe.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    define: { 'process.env.TINYQA_BUNDLE': '"1"' },
    // As esbuild.config.mjs: CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));" },
    logLevel: 'error',
  });
  return outfile;
}

// ---- the bench ----

export async function benchInference(o: InferenceBenchOptions): Promise<InferenceBenchReport> {
  const runMs = o.runMs ?? 150;
  const warmupMs = o.warmupMs ?? 150;
  const batches = o.batches ?? [1, 8, 32, 64];
  const coldRuns = o.coldRuns ?? Math.min(o.runs, 3);
  const say = o.progress ?? (() => {});
  const notes: string[] = [];
  const load_1m_start = round(loadavg()[0]!, 2);

  const native = await loadNative();
  if ('reason' in native) notes.push(native.reason);
  const models = [await shippedModel(o.packageDir ?? SHIPPED_DIR, notes), o.ad01 === false ? undefined : await ad01Model(notes)].filter((m): m is BenchModel => m !== undefined);

  const cells: Cell[] = [];
  const infos: ModelInfo[] = [];
  const runners: Runner[] = [];
  /** Input name and size by "model engine" (a TFLite and an ONNX form may name their input differently). */
  const inputs = new Map<string, { name: string; size: number }>();
  try {
    for (const model of models) {
      const mine: Runner[] = [];
      const attempts: [EngineId, () => Promise<Runner>][] = [];
      if (model.onnx && 'ort' in native) attempts.push(['onnxruntime-node', () => nativeRunner(native.ort, model)]);
      if (model.onnx) attempts.push(['onnxruntime-web', () => registryRunner(model, 'onnx')]);
      if (model.tflite) attempts.push(['tflite-wasm', () => registryRunner(model, 'tflite')]);
      for (const [engine, load] of attempts) {
        try {
          mine.push(await load());
        } catch (e) {
          notes.push(`${model.name} on ${engine}: ${errorMessage(e)}`);
        }
      }
      runners.push(...mine);
      if (mine.length === 0) continue;
      // The same window through every engine: they must compute the same model before we time them.
      const first = new Map<EngineId, ArrayLike<number>>();
      for (const r of mine) first.set(r.engine, await r.call(1));
      const web = first.get('onnxruntime-web');
      const agreement: ModelInfo['agreement'] = {};
      if (web && first.has('tflite-wasm')) agreement.tflite_vs_web = maxAbsDiff(first.get('tflite-wasm')!, web);
      if (web && first.has('onnxruntime-node')) agreement.native_vs_web = maxAbsDiff(first.get('onnxruntime-node')!, web);
      infos.push({ name: model.name, source: model.source, input: mine[0]!.input, data: model.data, files: model.files, agreement });
      for (const r of mine) inputs.set(`${model.name} ${r.engine}`, r.input);
      for (const r of mine) for (const b of batches) if (b <= r.maxBatch) cells.push({ model: model.name, runner: r, batch: b, calls: 1, samples: [] });
      for (const r of mine) if (r.maxBatch < Math.max(...batches)) notes.push(`${model.name} on ${r.engine}: the model's first dimension is fixed, so only batch 1 is measured`);
    }

    for (const c of cells) {
      let n = 0;
      const t0 = performance.now();
      while (n < 3 || performance.now() - t0 < warmupMs) {
        await c.runner.call(c.batch);
        n++;
      }
      c.calls = Math.max(1, Math.round(runMs / ((performance.now() - t0) / n)));
    }
    say(`warmed up ${cells.length} cells (${models.map((m) => m.name).join(', ')} × engines × batches ${batches.join('/')})`);
    for (let run = 0; run < o.runs && cells.length > 0; run++) {
      for (const c of cells) c.samples.push(((await timeCalls(c, c.calls)) * 1000) / (c.calls * c.batch));
      const mine = cells.filter((c) => c.model === cells[0]!.model);
      const best = (e: EngineId) => Math.min(...mine.filter((c) => c.runner.engine === e).map((c) => c.samples[run]!));
      say(`run ${run + 1}/${o.runs}: ${cells[0]!.model} best µs/window ${[...new Set(mine.map((c) => c.runner.engine))].map((e) => `${e} ${best(e).toFixed(1)}`).join(', ')}`);
    }
  } finally {
    for (const r of runners) await r.dispose().catch(() => {});
  }

  const rows: InferenceRow[] = cells.map((c) => {
    const us = median(c.samples);
    return {
      model: c.model,
      engine: c.runner.engine,
      batch: c.batch,
      batching: c.runner.batching,
      us_per_window: round(us, 2),
      us_per_window_min: round(Math.min(...c.samples), 2),
      us_per_window_max: round(Math.max(...c.samples), 2),
      us_per_call: round(us * c.batch, 1),
      windows_per_s: Math.round(1e6 / us),
      calls_per_run: c.calls,
    };
  });
  const perModel = infos.map((m) => ratiosFor(m.name, rows));
  const primary = models[0];
  const info = infos.find((m) => m.name === primary?.name);

  // ---- cold loads and memory, in fresh processes ----
  const cold_load: ColdLoad[] = [];
  let memory: InferenceBenchReport['memory'] = { unavailable: o.fresh === false ? 'not requested' : 'no model could be loaded' };
  if (primary && info && o.fresh !== false) {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-bench-inference-'));
    try {
      // Each form with the input its engine reported (the native peer reads the same ONNX bytes as the web engine).
      const files: Partial<Record<'tflite' | 'onnx', ProbeModel>> = {};
      for (const [f, engine] of [['tflite', 'tflite-wasm'], ['onnx', 'onnxruntime-web']] as const) {
        const io = inputs.get(`${primary.name} ${engine}`) ?? (f === 'onnx' ? inputs.get(`${primary.name} onnxruntime-node`) : undefined);
        if (!primary[f] || !io) continue;
        files[f] = { file: join(dir, `model.${f}`), input: io.name, size: io.size };
        writeFileSync(files[f].file, primary[f]);
      }
      let probe: string | undefined;
      try {
        probe = await buildProbe(join(dir, 'bundle'));
      } catch (e) {
        notes.push(`cold load and memory of the WASM engines not measured: bundling the probe failed: ${errorMessage(e).split('\n')[0]}`);
      }
      const nativeCold: ColdProbeResult[] = [];
      for (const engine of ENGINES) {
        const format = engine === 'tflite-wasm' ? 'tflite' : 'onnx';
        const model = files[format];
        if (!model || (engine === 'onnxruntime-node' ? !('ort' in native) : !probe)) continue;
        const got: ColdProbeResult[] = [];
        try {
          for (let i = 0; i < coldRuns; i++) {
            const job: ProbeJob = { mode: 'cold', format, ...model };
            got.push((await runNode(engine === 'onnxruntime-node' ? ['--input-type=module', '-e', NATIVE_PROBE] : [probe!], job)) as ColdProbeResult);
          }
        } catch (e) {
          notes.push(`cold load on ${engine} failed: ${errorMessage(e)}`);
          continue;
        }
        if (engine === 'onnxruntime-node') nativeCold.push(...got);
        const load = median(got.map((g) => g.load_ms));
        const firstRun = median(got.map((g) => g.first_run_ms));
        cold_load.push({ model: primary.name, engine, ms: round(median(got.map((g) => g.load_ms + g.first_run_ms)), 1), load_ms: round(load, 1), first_run_ms: round(firstRun, 2), runs: got.length, rss_mb: mb(median(got.map((g) => g.rss_after))) });
        say(`cold load on ${engine}: ${cold_load.at(-1)!.ms} ms`);
      }
      if (!files.tflite || !files.onnx) memory = { unavailable: `${primary.name} needs both a TFLite and an ONNX form for the two-engine memory figure` };
      else if (!probe) memory = { unavailable: 'the probe could not be bundled (see notes)' };
      else {
        try {
          const best = perModel[0]?.best_batch['onnxruntime-web'] ?? 32;
          const m = (await runNode([probe], { mode: 'memory', tflite: files.tflite, onnx: files.onnx, batch: best, calls: 50 })) as MemoryProbeResult;
          memory = {
            model: primary.name,
            how: 'one fresh process running a probe bundled like dist/tinyqa.mjs (no TypeScript loader): RSS at start, after a TFLite model is loaded and run in the InferenceWorker, after an ONNX model on onnxruntime-web is also loaded and run there (each after GC and a short settle)',
            baseline_mb: mb(m.rss_baseline),
            tflite_active_mb: mb(m.rss_tflite),
            both_engines_mb: mb(m.rss_both),
            max_mb: mb(m.max_rss),
            meets: { tflite_active_mb: m.rss_tflite / 1048576 <= TARGETS.tflite_active_mb, both_engines_mb: m.rss_both / 1048576 <= TARGETS.both_engines_mb },
            worker_first_result_ms: { tflite: round(m.worker_tflite_first_ms, 1), onnx: round(m.worker_onnx_first_ms, 1) },
            native_peer: nativeCold[0] ? { baseline_mb: mb(median(nativeCold.map((g) => g.rss_before))), loaded_mb: mb(median(nativeCold.map((g) => g.rss_after))) } : { unavailable: 'onnxruntime-node not measured' },
          };
        } catch (e) {
          memory = { unavailable: `the memory probe failed: ${errorMessage(e)}` };
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const cores = availableParallelism();
  const load_1m_end = round(loadavg()[0]!, 2);
  if (Math.max(load_1m_start, load_1m_end) > cores / 2) notes.push(`the machine was busy (1-minute load ${load_1m_start} → ${load_1m_end} on ${cores} cores): the figures are noisy; bench again on a quiet machine`);
  return {
    rows,
    ratios: perModel[0] ?? null,
    ratios_per_model: perModel,
    targets: TARGETS,
    cold_load,
    memory,
    models: infos,
    native: 'ort' in native ? { available: true, version: native.version } : { available: false, reason: native.reason },
    notes,
    runs: o.runs,
    batches,
    machine: { cores, load_1m_start, load_1m_end },
  };
}

// ---- text ----

const pad = (s: string | number, n: number) => String(s).padStart(n);
const verdict = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'meets' : 'BELOW');

export function formatInferenceReport(r: InferenceBenchReport): string {
  const out: string[] = [];
  out.push(`inference, µs per window (median of ${r.runs} runs after warm-up; all engines single-threaded; the WASM engines through the runtime's registry, the native peer through its own API):`);
  out.push(`  ${'model'.padEnd(18)} ${'engine'.padEnd(17)} ${pad('batch', 5)}  ${'batching'.padEnd(8)} ${pad('µs/window', 10)} ${pad('min–max', 15)} ${pad('windows/s', 10)}`);
  for (const x of r.rows) {
    out.push(`  ${x.model.padEnd(18)} ${x.engine.padEnd(17)} ${pad(x.batch, 5)}  ${x.batching.padEnd(8)} ${pad(x.us_per_window.toFixed(2), 10)} ${pad(`${x.us_per_window_min.toFixed(1)}–${x.us_per_window_max.toFixed(1)}`, 15)} ${pad(x.windows_per_s, 10)}`);
  }
  for (const q of r.ratios_per_model) {
    const b = q.best_batch;
    out.push(`${q.model}, each engine at its best batch (native ${b['onnxruntime-node'] ?? '-'}, web ${b['onnxruntime-web'] ?? '-'}, tflite ${b['tflite-wasm'] ?? '-'}):`);
    out.push(`  onnxruntime-web = ${q.web_vs_native ?? 'n/a'}× onnxruntime-node — target ≤ ${r.targets.web_vs_native}×: ${verdict(q.meets.web_vs_native)}`);
    out.push(`  tflite-wasm = ${q.tflite_vs_web ?? 'n/a'}× onnxruntime-web — target ≤ ${r.targets.tflite_vs_web}×: ${verdict(q.meets.tflite_vs_web)}`);
  }
  for (const m of r.models) {
    const a = Object.entries(m.agreement).map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`).join(', ');
    out.push(`${m.name}: ${m.source}; input ${m.input.name} × ${m.input.size}; data: ${m.data}${a ? `; max |output difference| ${a}` : ''}`);
  }
  if (r.cold_load.length) {
    out.push(`cold load, bytes → first result in a fresh process (median of ${r.cold_load[0]!.runs}), model ${r.cold_load[0]!.model}:`);
    for (const c of r.cold_load) out.push(`  ${c.engine.padEnd(17)} ${pad(c.ms.toFixed(1), 7)} ms (load ${c.load_ms} ms + first run ${c.first_run_ms} ms); RSS then ${c.rss_mb} MB`);
  }
  const m = r.memory;
  if ('unavailable' in m) out.push(`resident memory: not measured — ${m.unavailable}`);
  else {
    out.push(`resident memory (${m.model}, fresh bundled process, models in the InferenceWorker): baseline ${m.baseline_mb} MB`);
    out.push(`  TFLite model active: ${m.tflite_active_mb} MB — target ≤ ${r.targets.tflite_active_mb} MB: ${verdict(m.meets.tflite_active_mb)}`);
    out.push(`  + ONNX model on onnxruntime-web: ${m.both_engines_mb} MB — target ≤ ${r.targets.both_engines_mb} MB: ${verdict(m.meets.both_engines_mb)} (peak ${m.max_mb} MB)`);
    out.push(`  first result through a fresh worker: TFLite ${m.worker_first_result_ms.tflite} ms (worker start included), then ONNX ${m.worker_first_result_ms.onnx} ms`);
    if ('baseline_mb' in m.native_peer) out.push(`  native peer for comparison: ${m.native_peer.baseline_mb} MB → ${m.native_peer.loaded_mb} MB with onnxruntime-node loaded`);
  }
  out.push(r.native.available ? `native peer: onnxruntime-node ${r.native.version}` : `native peer: ${r.native.reason}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}
