/** Inference in a worker thread, on the real engines and fixture models. */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import { REPO } from '../../sim/testing/cli.js';
import { InferenceWorker } from './worker-host.js';

const fixtures = join(REPO, '..', 'shared', 'fixtures', 'models');

describe.skipIf(!existsSync(fixtures))('InferenceWorker', () => {
  it('runs TFLite and ONNX models off the main thread, transferring the inputs', async () => {
    const w = new InferenceWorker();
    try {
      const hw = await w.load(new Uint8Array(readFileSync(join(fixtures, 'tflm_hello_world_float', 'hello_world_float.tflite'))), 'hello_world_float.tflite');
      expect(hw.engine).toMatch(/tflite/);
      const x = Float32Array.of(Math.PI / 2);
      const r = await w.run(hw, { [hw.inputs[0]!.name]: x });
      expect(x.length).toBe(0); // transferred, not copied
      expect(Math.abs(Object.values(r.outputs)[0]![0]! - 1)).toBeLessThan(0.06);
      const relu = await w.load(new Uint8Array(readFileSync(join(fixtures, 'onnx_backend_node_float', 'test_relu', 'model.onnx'))), 'relu.onnx');
      const out = await w.run(relu, { x: Float32Array.from({ length: 60 }, (_, i) => i - 30) });
      expect(Array.from(out.outputs.y!)).toEqual(Array.from({ length: 60 }, (_, i) => Math.max(0, i - 30)));
      await w.dispose(relu);
    } finally {
      await w.close();
    }
  }, 60_000);

  it('rejects pending calls when the worker dies and starts a fresh one for the next model', async () => {
    const w = new InferenceWorker();
    try {
      const bytes = new Uint8Array(readFileSync(join(fixtures, 'tflm_hello_world_float', 'hello_world_float.tflite')));
      const m = await w.load(bytes, 'hello');
      const pending = w.run(m, { [m.inputs[0]!.name]: Float32Array.of(1) }).then(() => 'ran', (e: unknown) => e);
      await w.crashForTest();
      const outcome = await pending;
      // Either the run finished before the crash, or it was rejected with the crash named.
      if (outcome !== 'ran') expect(isTinyqaError(outcome, ErrorCode.ModelCrashed)).toBe(true);
      const again = await w.load(bytes, 'hello again');
      const r = await w.run(again, { [again.inputs[0]!.name]: Float32Array.of(0) });
      expect(Object.values(r.outputs)[0]!.length).toBe(1);
      expect(w.starts).toBe(2);
    } finally {
      await w.close();
    }
  }, 60_000);
});
