/**
 * TFLite engine for Node: the emscripten build shipped in @tensorflow/tfjs-tflite, driven directly
 * (the package's own loader assumes a browser: `self is not defined`). This is the only file that
 * imports that engine (STYLE §10, §12).
 *
 * Isolation: every loaded model owns its own emscripten Module instance. A WASM trap poisons the
 * whole instance (observed with keyword_scrambled_8bit: after `delete()` traps, the next model's
 * `data()` stops returning typed arrays), so a crashed model is marked dead and its instance is
 * dropped; the next load starts a fresh one. The compiled WebAssembly.Module is shared, so a new
 * instance costs an instantiation, not a compilation.
 *
 * The engine reports no scale/zero-point, so quantization comes from our flatbuffer reader and is
 * matched to the runner's tensors by tensor index (`TensorInfo.id`).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TinyqaError, errorMessage } from '../../core/errors.js';
import { TfliteErrorCode } from './codes.js';
import { readTfliteModel, type TfliteTensorMeta } from './flatbuffer.js';

// ---- the slice of the emscripten/embind API that we use (checked against 0.0.1-alpha.10) ----

type TypedView = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array;
interface EmHandle { delete(): void }
interface EmTensorInfo extends EmHandle {
  readonly id: number;
  readonly name: string;
  readonly dataType: string;
  readonly shape: string;
  data(): TypedView;
}
interface EmVector<T> extends EmHandle { size(): number; get(i: number): T }
interface EmRunner extends EmHandle {
  GetInputs(): EmVector<EmTensorInfo>;
  GetOutputs(): EmVector<EmTensorInfo>;
  Infer(): boolean;
}
interface EmStatusOr<T> extends EmHandle { ok(): boolean; errorMessage(): string; value(): T }
interface EmModule {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  TFLiteWebModelRunner: {
    CreateFromBufferAndOptions(
      ptr: number, len: number,
      opts: { numThreads: number; enableProfiling: boolean; maxProfilingBufferEntries: number },
    ): EmStatusOr<EmRunner>;
  };
}
type EmFactory = (opts: Record<string, unknown>) => Promise<EmModule>;

/** lib is ES2022 without DOM, so the WebAssembly global is typed here to the two calls we make. */
type WasmModule = object;
type WasmInstance = object;
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const WASM_JS = '@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.js';
const WASM_BIN = '@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.wasm';

let shared: Promise<{ factory: EmFactory; compiled: WasmModule }> | undefined;

/** Loads the factory (CommonJS `module.exports`) and compiles the wasm once per process. */
function sharedEngine(): Promise<{ factory: EmFactory; compiled: WasmModule }> {
  shared ??= (async () => {
    const require = createRequire(import.meta.url);
    // In the single-file bundle the engine's files sit in assets/tflite beside it (esbuild.config.mjs).
    const bundled = process.env.TINYQA_BUNDLE === '1';
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'assets', 'tflite');
    const factory = require(bundled ? join(dir, 'tflite_web_api_cc_simd.js') : WASM_JS) as EmFactory;
    const compiled = await wasm.compile(await readFile(bundled ? join(dir, 'tflite_web_api_cc_simd.wasm') : require.resolve(WASM_BIN)));
    return { factory, compiled };
  })();
  shared.catch(() => { shared = undefined; });
  return shared;
}

/** A fresh, private Module instance; engine log lines are kept for error messages, not printed. */
async function newModuleInstance(log: string[]): Promise<EmModule> {
  const { factory, compiled } = await sharedEngine();
  return new Promise<EmModule>((resolve, reject) => {
    const keep = (line: string): void => { log.push(line); if (log.length > 20) log.shift(); };
    factory({
      print: keep,
      printErr: keep,
      // Emscripten hook: we instantiate from the shared compiled module instead of fetching a file.
      instantiateWasm(imports: object, done: (i: WasmInstance, m: WasmModule) => void) {
        wasm.instantiate(compiled, imports).then((inst) => done(inst, compiled), reject);
        return {};
      },
    }).then(resolve, reject);
  });
}

// ---- public API ----

export type TfliteIoType = 'float32' | 'int8' | 'uint8' | 'int16' | 'int32';

export interface TfliteIo {
  readonly index: number;
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: TfliteIoType;
  /** Number of elements = product of shape. */
  readonly size: number;
  /** Per-tensor quantization; undefined for float tensors and unquantized integers (passed raw). */
  readonly scale: number | undefined;
  readonly zeroPoint: number | undefined;
}

export type TfliteModelState =
  | { readonly kind: 'ready' }
  | { readonly kind: 'dead'; readonly error: TinyqaError }
  | { readonly kind: 'disposed' };

export interface TfliteModel {
  readonly name: string;
  readonly inputs: readonly TfliteIo[];
  readonly outputs: readonly TfliteIo[];
  readonly state: TfliteModelState;
  /**
   * Runs once on real-valued inputs (quantized here for integer tensors) and returns real-valued
   * outputs. Pass `into` (one array per output, of the output's size) to avoid allocating.
   */
  run(inputs: readonly Float32Array[], into?: Float32Array[]): Float32Array[];
  /** Frees the model. Idempotent. Throws TinyqaError(ModelCrashed) if the engine traps while freeing. */
  dispose(): void;
}

const RANGES: Record<TfliteIoType, [number, number] | undefined> = {
  float32: undefined, int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], int32: [-2147483648, 2147483647],
};
const FLAT_TYPES: Record<string, TfliteIoType> = {
  FLOAT32: 'float32', INT8: 'int8', UINT8: 'uint8', INT16: 'int16', INT32: 'int32',
};

function describeIo(name: string, t: TfliteTensorMeta): TfliteIo {
  const type = FLAT_TYPES[t.type];
  const unsupported = (what: string): never => {
    throw new TinyqaError(TfliteErrorCode.ModelUnsupported, `model ${name}: I/O tensor ${t.index} "${t.name}" ${what}`, {
      hint: 'use a model with float32/int8/uint8/int16/int32 inputs and outputs and per-tensor quantization',
    });
  };
  if (type === undefined) return unsupported(`has type ${t.type}`);
  const q = t.quantization;
  if (q !== undefined && (q.scale.length !== 1 || q.zeroPoint.length !== 1)) unsupported('is quantized per channel');
  const quantized = type !== 'float32' && q !== undefined;
  return {
    index: t.index,
    name: t.name,
    shape: t.shape,
    type,
    size: t.shape.reduce((a, b) => a * b, 1),
    scale: quantized ? q.scale[0] : undefined,
    zeroPoint: quantized ? q.zeroPoint[0] : undefined,
  };
}

/** TFLite's reference quantizer: zp + round(x / scale), std::round = half away from zero, clamped. */
export function quantize(x: number, scale: number, zeroPoint: number, lo: number, hi: number): number {
  const v = x / scale;
  const q = zeroPoint + Math.sign(v) * Math.round(Math.abs(v));
  return q < lo ? lo : q > hi ? hi : q;
}

function writeInput(io: TfliteIo, src: Float32Array, dst: TypedView): void {
  const range = RANGES[io.type];
  if (range === undefined) { dst.set(src); return; }
  const [lo, hi] = range;
  const scale = io.scale ?? 1;
  const zp = io.zeroPoint ?? 0;
  for (let i = 0; i < src.length; i++) dst[i] = quantize(src[i]!, scale, zp, lo, hi);
}

function readOutput(io: TfliteIo, src: TypedView, dst: Float32Array): void {
  if (io.scale === undefined) { dst.set(src); return; }
  const scale = io.scale;
  const zp = io.zeroPoint ?? 0;
  for (let i = 0; i < dst.length; i++) dst[i] = scale * (src[i]! - zp);
}

function safely(f: () => void): void {
  try { f(); } catch { /* the instance is being discarded anyway */ }
}

/**
 * Loads a .tflite model into a private engine instance. Rejects with TinyqaError: 7001 bad bytes,
 * 7002 unsupported I/O, 7003 engine refused the model.
 */
export async function loadTfliteModel(bytes: Uint8Array, name: string): Promise<TfliteModel> {
  const meta = readTfliteModel(bytes);
  const inputs = meta.inputs.map((t) => describeIo(name, t));
  const outputs = meta.outputs.map((t) => describeIo(name, t));

  const log: string[] = [];
  const loadFailed = (why: string, cause?: unknown): TinyqaError =>
    new TinyqaError(TfliteErrorCode.EngineLoadFailed, `TFLite engine could not load model ${name}: ${why}`, {
      hint: 'check that the model uses builtin ops supported by TFLite; engine log: ' + (log.join(' | ') || '(empty)'),
      cause,
    });
  let mod: EmModule;
  try {
    mod = await newModuleInstance(log);
  } catch (e) {
    throw loadFailed(`engine start failed (${errorMessage(e)})`, e);
  }

  // The runner keeps pointers into the model buffer (FlatBufferModel::BuildFromBuffer does not
  // copy; tfjs-tflite frees it only in cleanUp), so it stays allocated until dispose().
  let modelPtr = 0;
  let runner: EmRunner | undefined;
  const handles: EmHandle[] = [];
  try {
    modelPtr = mod._malloc(bytes.length);
    if (modelPtr === 0) throw loadFailed(`cannot allocate ${bytes.length} bytes in the WASM heap`);
    mod.HEAPU8.set(bytes, modelPtr);
    const status = mod.TFLiteWebModelRunner.CreateFromBufferAndOptions(modelPtr, bytes.length, {
      numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 1024,
    });
    try {
      if (!status.ok()) throw loadFailed(status.errorMessage());
      runner = status.value();
    } finally {
      status.delete();
    }
    const infos = (v: EmVector<EmTensorInfo>, want: readonly TfliteIo[], what: string): EmTensorInfo[] => {
      handles.push(v);
      const list = Array.from({ length: v.size() }, (_, i) => v.get(i));
      handles.push(...list);
      if (list.length !== want.length || list.some((t, i) => t.id !== want[i]!.index)) {
        throw loadFailed(`engine ${what} [${list.map((t) => t.id).join(',')}] differ from the flatbuffer's [${want.map((t) => t.index).join(',')}]`);
      }
      return list;
    };
    const inInfos = infos(runner.GetInputs(), inputs, 'inputs');
    const outInfos = infos(runner.GetOutputs(), outputs, 'outputs');
    return makeModel(name, mod, runner, modelPtr, handles, inputs, outputs, inInfos, outInfos);
  } catch (e) {
    // Best effort: the instance is unreachable after this and will be garbage-collected whole.
    for (const h of handles) safely(() => h.delete());
    if (runner !== undefined) safely(() => runner!.delete());
    if (modelPtr !== 0) safely(() => mod._free(modelPtr));
    if (e instanceof TinyqaError) throw e;
    throw loadFailed(`engine crashed while loading (${errorMessage(e)})`, e);
  }
}

function makeModel(
  name: string, mod: EmModule | undefined, runner: EmRunner | undefined, modelPtr: number, handles: EmHandle[],
  inputs: readonly TfliteIo[], outputs: readonly TfliteIo[], inInfos: EmTensorInfo[], outInfos: EmTensorInfo[],
): TfliteModel {
  let state: TfliteModelState = { kind: 'ready' };

  const crash = (during: string, e: unknown): TinyqaError => {
    const error = new TinyqaError(TfliteErrorCode.ModelCrashed,
      `TFLite engine crashed during ${during} of model ${name}: ${errorMessage(e)}`, {
        hint: 'this model instance is dead; load it again (a fresh engine instance is created) or check the model',
        cause: e,
      });
    state = { kind: 'dead', error };
    // Drop every reference into the poisoned instance so that it can be collected.
    mod = undefined;
    runner = undefined;
    handles.length = 0;
    inInfos.length = 0;
    outInfos.length = 0;
    return error;
  };

  return {
    name,
    inputs,
    outputs,
    get state() { return state; },

    run(values, into) {
      if (state.kind !== 'ready' || runner === undefined) {
        throw new TinyqaError(TfliteErrorCode.ModelNotUsable, `model ${name} is ${state.kind}; run() refused`, {
          hint: state.kind === 'dead' ? `it crashed earlier (${state.error.message}); load it again` : 'load it again',
        });
      }
      const mismatch = (why: string): TinyqaError =>
        new TinyqaError(TfliteErrorCode.InputMismatch, `model ${name}: ${why}`, {
          hint: `expected ${inputs.map((t) => `${t.name || t.index}[${t.shape.join(',')}]`).join(', ')}`,
        });
      if (values.length !== inputs.length) throw mismatch(`got ${values.length} inputs, the model has ${inputs.length}`);
      inputs.forEach((io, i) => {
        if (values[i]!.length !== io.size) throw mismatch(`input ${i} has ${values[i]!.length} values, needs ${io.size}`);
      });
      const out = into ?? outputs.map((io) => new Float32Array(io.size));
      if (out.length !== outputs.length || out.some((o, i) => o.length !== outputs[i]!.size)) {
        throw mismatch('`into` does not match the output sizes');
      }

      let ok: boolean;
      try {
        // data() views are re-fetched every call: they are views on the WASM memory, which a
        // memory.grow detaches.
        inputs.forEach((io, i) => writeInput(io, values[i]!, inInfos[i]!.data()));
        ok = runner.Infer();
        if (ok) outputs.forEach((io, i) => readOutput(io, outInfos[i]!.data(), out[i]!));
      } catch (e) {
        throw crash('run()', e);
      }
      if (!ok) {
        throw new TinyqaError(TfliteErrorCode.InferFailed, `TFLite Infer() reported failure for model ${name}`, {
          hint: 'the engine returned an error status; check the engine log and the model ops',
        });
      }
      return out;
    },

    dispose() {
      if (state.kind !== 'ready') return;
      const m = mod;
      const r = runner;
      try {
        for (const h of handles) h.delete();
        r?.delete();
        if (m !== undefined) m._free(modelPtr);
      } catch (e) {
        throw crash('dispose()', e);
      }
      state = { kind: 'disposed' };
      mod = undefined;
      runner = undefined;
    },
  };
}
