/**
 * The inference worker's side (DESIGN §5: inference runs off the main thread so the serial reader is
 * never starved). It keeps loaded models by id and answers load/run/dispose requests; buffers come
 * and go as transferred ArrayBuffers, not copies.
 */

import type { MessagePort } from 'node:worker_threads';
import { errorMessage, isTinyqaError } from '../core/errors.js';
import { loadAny, type LoadedModel } from './registry.js';

export type WorkerRequest =
  | { op: 'load'; id: number; bytes: Uint8Array; name: string; format?: 'tflite' | 'onnx' }
  | { op: 'run'; id: number; model: number; inputs: Record<string, Float32Array>; batch?: number }
  | { op: 'dispose'; id: number; model: number };

export type WorkerReply =
  | { id: number; ok: true; model?: number; inputs?: { name: string; size: number; shape: string }[]; outputs?: Record<string, Float32Array | Float64Array>; us?: number; engine?: string; batching?: 'native' | 'loop' }
  | { id: number; ok: false; code?: number; message: string };

export function serveInference(port: MessagePort): void {
  const models = new Map<number, LoadedModel>();
  let next = 1;
  port.on('message', (req: WorkerRequest) => {
    void (async () => {
      try {
        if (req.op === 'load') {
          const m = await loadAny(req.bytes, req.name, req.format);
          const handle = next++;
          models.set(handle, m);
          port.postMessage({ id: req.id, ok: true, model: handle, inputs: m.inputs, engine: m.engine, batching: m.batching } satisfies WorkerReply);
        } else if (req.op === 'run') {
          const m = models.get(req.model);
          if (!m) throw new Error(`no model ${req.model} in this worker`);
          const t0 = performance.now();
          const outputs = await m.run(req.inputs, req.batch ?? 1);
          const us = Math.round((performance.now() - t0) * 1000);
          port.postMessage({ id: req.id, ok: true, outputs, us } satisfies WorkerReply, Object.values(outputs).map((o) => o.buffer as ArrayBuffer));
        } else {
          const m = models.get(req.model);
          models.delete(req.model);
          await m?.dispose();
          port.postMessage({ id: req.id, ok: true } satisfies WorkerReply);
        }
      } catch (e) {
        port.postMessage({ id: req.id, ok: false, message: errorMessage(e), ...(isTinyqaError(e) ? { code: e.code } : {}) } satisfies WorkerReply);
      }
    })();
  });
}
