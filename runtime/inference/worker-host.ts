/**
 * Runs models in a worker thread (DESIGN §5): the serial reader and the QA graph stay on the main
 * thread and never wait for an inference. Inputs are transferred, not copied. If the worker dies (an
 * engine that takes the whole thread down), every pending call is rejected with the reason, the
 * models it held are gone, and the next `load` starts a fresh worker — the runtime meanwhile keeps
 * judging with its rule dimensions.
 */

import { Worker } from 'node:worker_threads';
import { ErrorCode, TinyqaError } from '../core/errors.js';
import type { WorkerReply, WorkerRequest } from './worker-main.js';

export interface RemoteModel {
  readonly handle: number;
  readonly engine: string;
  readonly inputs: { name: string; size: number; shape: string }[];
  readonly batching: 'native' | 'loop';
}

/** Omit over each member of a union (TypeScript's Omit collapses unions). */
type RequestBody = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

type Pending = { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void };

export class InferenceWorker {
  private worker: Worker | undefined;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  /** Workers started so far (1 + restarts after a crash). */
  starts = 0;

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const bundled = process.env.TINYQA_BUNDLE === '1';
    // The bundle is its own worker entry (runtime/cli/entry.ts checks workerData); from source, a
    // small entry file is run through the same TypeScript loader the CLI uses.
    const w = bundled
      ? new Worker(new URL(import.meta.url), { workerData: { tinyqaRole: 'inference' } })
      : new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { tinyqaRole: 'inference' } });
    this.starts++;
    w.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      // An idle worker must not keep the process alive; a busy one must.
      if (this.pending.size === 0) w.unref();
      if (r.ok) p.resolve(r);
      else p.reject(new TinyqaError((r.code ?? ErrorCode.EngineFailed) as ErrorCode, r.message.replace(/^E\d+ /, '')));
    });
    const died = (why: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new TinyqaError(ErrorCode.ModelCrashed, `the inference worker died (${why}); its models are unloaded`, { hint: 'load the model again; rule dimensions keep judging meanwhile' }));
      this.pending.clear();
    };
    w.on('error', (e) => died(e.message));
    w.on('exit', (code) => died(`exit code ${code}`));
    w.unref();
    this.worker = w;
    return w;
  }

  private call(req: RequestBody, transfer: ArrayBuffer[] = []): Promise<WorkerReply & { ok: true }> {
    const w = this.ensure();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ ...req, id } as WorkerRequest, transfer);
    });
  }

  async load(bytes: Uint8Array, name: string, format?: 'tflite' | 'onnx'): Promise<RemoteModel> {
    const copy = bytes.slice();
    const r = await this.call({ op: 'load', bytes: copy, name, ...(format ? { format } : {}) }, [copy.buffer as ArrayBuffer]);
    return { handle: r.model!, engine: r.engine!, inputs: r.inputs ?? [], batching: r.batching ?? 'loop' };
  }

  /**
   * Runs `batch` rows at once (each input holds them back to back); the input arrays are transferred
   * to the worker (they are empty afterwards). `us` is the engine time inside the worker.
   */
  async run(model: RemoteModel, inputs: Record<string, Float32Array>, batch = 1): Promise<{ outputs: Record<string, Float32Array | Float64Array>; us: number }> {
    const r = await this.call({ op: 'run', model: model.handle, inputs, batch }, Object.values(inputs).map((a) => a.buffer as ArrayBuffer));
    return { outputs: r.outputs ?? {}, us: r.us ?? 0 };
  }

  async dispose(model: RemoteModel): Promise<void> {
    if (!this.worker) return;
    await this.call({ op: 'dispose', model: model.handle });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) p.reject(new TinyqaError(ErrorCode.EngineFailed, 'the inference worker was closed'));
    this.pending.clear();
    if (w) await w.terminate();
  }

  /** For tests: kill the worker as an engine crash that takes the thread down would. */
  async crashForTest(): Promise<void> {
    await this.worker?.terminate();
  }
}
