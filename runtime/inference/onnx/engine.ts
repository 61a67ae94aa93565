/**
 * ONNX models on onnxruntime-web's WASM backend, in Node, single-threaded, loaded from bytes.
 * The only file that imports onnxruntime-web (STYLE §10, §12).
 *
 * Locating the .wasm without network: the engine is pointed explicitly at the package's own files,
 * found with Node's resolver (`createRequire(import.meta.url).resolve('onnxruntime-web')` →
 * node_modules/onnxruntime-web/dist/ort.node.min.js, whose folder also holds
 * ort-wasm-simd-threaded.{mjs,wasm}). Both are given to `env.wasm.wasmPaths` as file: URLs; ORT then
 * `import()`s the .mjs glue, and the emscripten glue, seeing Node and a file: URL, reads the .wasm with
 * `fs.readFileSync(new URL(…))` — no fetch. ORT's default (paths relative to its own
 * `import.meta.url`) also works from node_modules, but not once the runtime is bundled by esbuild
 * (import.meta.url is then the bundle's), so we never rely on it: if the files are not where the
 * resolver says, loading fails with a coded error naming the path instead of trying anything else.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';
import { ErrorCode, TinyqaError, errorMessage } from '../../core/errors.js';

/** The codes this layer reports (the 7xxx range of runtime/core/errors.ts), by name. */
export const OnnxErrorCode = {
  /** The engine refused the model bytes (not ONNX, opset/operator it does not implement, …). */
  ModelInvalid: ErrorCode.ModelInvalid,
  /** The WASM engine could not start, or failed while running a loaded model. */
  EngineFailed: ErrorCode.EngineFailed,
  /** run() after dispose(). */
  ModelNotUsable: ErrorCode.ModelNotUsable,
  /** run() feeds do not match the model (names, or data length vs dims). */
  InputMismatch: ErrorCode.InputMismatch,
} as const;

export type OnnxElementType = 'float32' | 'int8' | 'uint8' | 'int32' | 'int64';
export type OnnxData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;
export interface OnnxFeed {
  data: OnnxData;
  dims: number[];
}
export interface OnnxResult {
  data: OnnxData;
  dims: number[];
  type: OnnxElementType;
}

export interface OnnxValueInfo {
  name: string;
  /** Element type ('float32', 'uint8', …) when the session metadata gives one. */
  type?: string;
  /** Dimensions; a string is a symbolic dimension ("batch"), when the metadata gives a shape. */
  shape?: ReadonlyArray<number | string>;
}

export interface OnnxModel {
  readonly name: string;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /** Runs once; outputs are copies owned by the caller (the engine's tensors are freed before returning). */
  run(feeds: Record<string, OnnxFeed>): Promise<Record<string, OnnxResult>>;
  /** Frees the session's WASM memory. Idempotent. */
  dispose(): Promise<void>;
}

const SUPPORTED: ReadonlySet<string> = new Set<OnnxElementType>(['float32', 'int8', 'uint8', 'int32', 'int64']);

let envReady: Promise<void> | undefined;

/** Configures ort.env once per process; ORT reads env.wasm only at its first session, later changes are ignored. */
function prepareEnvironment(): Promise<void> {
  envReady ??= (async () => {
    let dist: string;
    try {
      // In the single-file bundle the engine's files sit in assets/ort beside it (esbuild.config.mjs).
      dist = process.env.TINYQA_BUNDLE === '1' ? join(dirname(fileURLToPath(import.meta.url)), 'assets', 'ort') : dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
    } catch (e) {
      throw new TinyqaError(ErrorCode.EngineFailed, `onnxruntime-web is not installed: ${errorMessage(e)}`, { hint: 'run npm install' });
    }
    const mjs = join(dist, 'ort-wasm-simd-threaded.mjs');
    const wasm = join(dist, 'ort-wasm-simd-threaded.wasm');
    for (const f of [mjs, wasm]) {
      if (!existsSync(f)) throw new TinyqaError(ErrorCode.EngineFailed, `onnxruntime-web's WASM engine file ${f} is missing`, { hint: 'reinstall onnxruntime-web (npm ci); nothing is downloaded at run time' });
    }
    // Single thread: gateways have 1–2 cores, and threads would need SharedArrayBuffer + worker files.
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = { mjs: pathToFileURL(mjs).href, wasm: pathToFileURL(wasm).href };
  })();
  return envReady;
}

function describeValues(meta: readonly ort.InferenceSession.ValueMetadata[] | undefined, names: readonly string[]): OnnxValueInfo[] {
  return names.map((name) => {
    const m = meta?.find((x) => x.name === name);
    if (!m || !m.isTensor) return { name };
    return { name, type: m.type, shape: [...m.shape] };
  });
}

/** Strips ORT's generic prefix so the message leads with the reason. */
function engineReason(e: unknown): string {
  return errorMessage(e).replace(/^Can't create a session\. ERROR_CODE: \d+, ERROR_MESSAGE: /, '');
}

export async function loadOnnxModel(bytes: Uint8Array, name: string): Promise<OnnxModel> {
  if (bytes.length === 0) throw new TinyqaError(OnnxErrorCode.ModelInvalid, `ONNX model ${name} is empty (0 bytes)`);
  await prepareEnvironment();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  } catch (e) {
    const reason = engineReason(e);
    // "no available backend found" = the WASM engine itself did not start; anything else is about the model.
    if (/no available backend/i.test(reason)) {
      envReady = undefined;
      throw new TinyqaError(OnnxErrorCode.EngineFailed, `onnxruntime-web could not start its WASM engine to load ${name}: ${reason}`, { cause: e });
    }
    throw new TinyqaError(OnnxErrorCode.ModelInvalid, `ONNX model ${name} refused by onnxruntime-web ${ort.env.versions.web ?? ''}: ${reason}`, {
      hint: 'onnxruntime supports opset 7 and later; re-export the model with a recent opset (e.g. torch.onnx.export(opset_version=17)) or run it on the TFLite engine',
      cause: e,
    });
  }
  return new OrtModel(name, session);
}

class OrtModel implements OnnxModel {
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  private session: ort.InferenceSession | undefined;

  constructor(
    readonly name: string,
    session: ort.InferenceSession,
  ) {
    this.session = session;
    this.inputs = describeValues(session.inputMetadata, session.inputNames);
    this.outputs = describeValues(session.outputMetadata, session.outputNames);
  }

  async run(feeds: Record<string, OnnxFeed>): Promise<Record<string, OnnxResult>> {
    const session = this.session;
    if (!session) throw new TinyqaError(OnnxErrorCode.ModelNotUsable, `ONNX model ${this.name} was disposed`);
    const missing = session.inputNames.filter((n) => !(n in feeds));
    const unknown = Object.keys(feeds).filter((n) => !session.inputNames.includes(n));
    if (missing.length || unknown.length) {
      throw new TinyqaError(OnnxErrorCode.InputMismatch, `ONNX model ${this.name}: inputs ${missing.length ? `missing [${missing.join(', ')}]` : ''}${missing.length && unknown.length ? ', ' : ''}${unknown.length ? `unknown [${unknown.join(', ')}]` : ''}`, {
        hint: `the model's inputs are [${session.inputNames.join(', ')}]`,
      });
    }
    const inputs: Record<string, ort.Tensor> = {};
    let results: ort.InferenceSession.ReturnType | undefined;
    try {
      for (const [key, feed] of Object.entries(feeds)) {
        const count = feed.dims.reduce((a, d) => a * d, 1);
        if (!feed.dims.every((d) => Number.isInteger(d) && d >= 0) || count !== feed.data.length) {
          throw new TinyqaError(OnnxErrorCode.InputMismatch, `ONNX model ${this.name}: input ${key} has ${feed.data.length} elements, dims ${JSON.stringify(feed.dims)} need ${count}`);
        }
        inputs[key] = new ort.Tensor(feed.data, feed.dims);
      }
      try {
        results = await session.run(inputs);
      } catch (e) {
        throw new TinyqaError(OnnxErrorCode.EngineFailed, `ONNX model ${this.name} failed to run: ${errorMessage(e)}`, { cause: e });
      }
      const out: Record<string, OnnxResult> = {};
      for (const [key, t] of Object.entries(results)) {
        if (!SUPPORTED.has(t.type)) throw new TinyqaError(OnnxErrorCode.EngineFailed, `ONNX model ${this.name}: output ${key} has type ${t.type}, supported: ${[...SUPPORTED].join(', ')}`);
        // Copy out of the engine's tensor so dispose() below cannot invalidate what we return.
        out[key] = { data: (t.data as OnnxData).slice(), dims: [...t.dims], type: t.type as OnnxElementType };
      }
      return out;
    } finally {
      for (const t of Object.values(inputs)) t.dispose();
      if (results) for (const t of Object.values(results)) t.dispose();
    }
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await session.release();
  }
}
