import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../../runtime/core/errors.js';
import { fixtureBytes, haveFixture } from '../../runtime/inference/tflite/fixtures.js';
import { qmlpFromTflite } from './from-tflite.js';
import { toOnnx } from './onnx.js';
import { quantizeInt8, runQMlpReference } from './reference.js';
import { AD01, ad01Frames, ad01Windows, anomalyScore, runRows, stepsOff } from './testing.js';
import { toTflite } from './tflite.js';

const HW_INT8 = 'tflm_hello_world_int8';
const HW_FLOAT = 'tflm_hello_world_float';
const KWS = 'tflm_keyword_scrambled_8bit';
const ADD4 = 'tfjs_tflite_add4';

function refusal(f: () => unknown): { code: number; message: string } {
  try {
    f();
  } catch (e) {
    if (isTinyqaError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('not refused');
}

describe.skipIf(!haveFixture(AD01.folder))('TFLite import: MLPerf Tiny AD01 int8 autoencoder', () => {
  const bytes = () => fixtureBytes(AD01.folder, AD01.model);

  it('reads 10 FULLY_CONNECTED layers 640→128→128→128→128→8→128→128→128→128→640, RELU on the first 9, per-tensor weights', () => {
    const q = qmlpFromTflite(bytes(), 'ad01');
    expect(q.layers.map((l) => l.outDim)).toEqual([128, 128, 128, 128, 8, 128, 128, 128, 128, 640]);
    expect(q.layers.map((l) => l.activation)).toEqual([...new Array(9).fill('relu'), 'none']);
    expect(q.layers.every((l) => l.weightScales.every((s) => s === l.weightScales[0]))).toBe(true);
    // SOURCE.md: input_1 scale 0.391015232 zp 89; Identity scale 0.364498466 zp 96.
    expect([q.inputName, q.inDim, q.inZeroPoint, q.outputName, q.layers[9]!.outZeroPoint]).toEqual(['input_1', 640, 89, 'Identity', 96]);
    expect(q.inScale).toBeCloseTo(0.391015232, 9);
    expect(q.layers[9]!.outScale).toBeCloseTo(0.364498466, 9);
  });

  it('gives the documented window-0 int8 values in the integer reference', () => {
    const q = qmlpFromTflite(bytes(), 'ad01');
    const frames = ad01Frames();
    // SOURCE.md: q_in[0..3] = [-46,10,55,74], q_out[0..3] = [-35,15,44,66].
    expect(Array.from(frames.subarray(0, 4), (x) => quantizeInt8(x, Math.fround(q.inScale), q.inZeroPoint))).toEqual([-46, 10, 55, 74]);
    expect(Array.from(runQMlpReference(q, frames.slice(0, 640), 1).int8.subarray(0, 4))).toEqual([-35, 15, 44, 66]);
  });

  it('scores the shipped clip the same on onnxruntime-web (imported → ONNX) as the original .tflite on the TFLite engine', async () => {
    const q = qmlpFromTflite(bytes(), 'ad01');
    const { x, windows } = ad01Windows(ad01Frames());
    expect(windows).toBe(196);
    const viaTflite = await runRows(bytes(), AD01.model, 'input_1', 'Identity', x, windows);
    const viaOnnx = await runRows(toOnnx(q), 'ad01.onnx', 'input_1', 'Identity', x, windows);
    const reference = runQMlpReference(q, x, windows).real;
    const scores = { tflite: anomalyScore(x, viaTflite, windows), onnx: anomalyScore(x, viaOnnx, windows), reference: anomalyScore(x, reference, windows) };
    const scale = q.layers[9]!.outScale;
    const onnxVsTflite = stepsOff(viaOnnx, viaTflite, scale);
    const tfliteVsRef = stepsOff(viaTflite, reference, scale);
    console.log(`[ad01] score tflite ${scores.tflite.toFixed(6)}, onnx ${scores.onnx.toFixed(6)}, reference ${scores.reference.toFixed(6)}; ` +
      `onnx vs tflite max ${onnxVsTflite.max} steps (${onnxVsTflite.differing} differ), tflite vs reference max ${tfliteVsRef.max} steps`);
    // SOURCE.md "checked independently": 10.2652 with int8 I/O.
    expect(scores.tflite).toBeCloseTo(10.2652, 3);
    // Quantization tolerance: outputs within one step of 0.364 (one step on every output of every
    // window would move the score by at most ~2·step·RMS error ≈ 2.4, far more than allowed here).
    expect(onnxVsTflite.max).toBeLessThanOrEqual(1);
    expect(tfliteVsRef.max).toBeLessThanOrEqual(1);
    expect(Math.abs(scores.onnx - scores.tflite)).toBeLessThan(0.01);
  });

  it('re-exports to a .tflite that the engine runs exactly like the original', async () => {
    const q = qmlpFromTflite(bytes(), 'ad01');
    const { x } = ad01Windows(ad01Frames());
    const rows = 20;
    const a = await runRows(bytes(), AD01.model, 'input_1', 'Identity', x.subarray(0, rows * 640), rows);
    const b = await runRows(toTflite(q), 'ad01_again.tflite', 'input_1', 'Identity', x.subarray(0, rows * 640), rows);
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});

describe.skipIf(!haveFixture(HW_INT8))('TFLite import: TFLM hello_world int8', () => {
  it('imports 1→16→16→1 and matches the engine within one step over the sine sweep, and the upstream golden values', async () => {
    const bytes = fixtureBytes(HW_INT8, 'hello_world_int8.tflite');
    const q = qmlpFromTflite(bytes, 'hello_world');
    expect(q.layers.map((l) => [l.inDim, l.outDim, l.activation])).toEqual([[1, 16, 'relu'], [16, 16, 'relu'], [16, 1, 'none']]);
    const x = Float32Array.from({ length: 629 }, (_, i) => i / 100);
    const engine = await runRows(bytes, 'hello_world_int8.tflite', q.inputName, q.outputName, x, x.length);
    expect(stepsOff(engine, runQMlpReference(q, x, x.length).real, q.layers[2]!.outScale).max).toBeLessThanOrEqual(1);
    // hello_world_test.cc: int8 inputs {-96,-63,-34,0} ↔ x {0.77,1.57,2.3,3.14}, within 0.05 of sin(x).
    const golden = Float32Array.from([-96, -63, -34, 0], (qi) => q.inScale * (qi - q.inZeroPoint));
    const y = runQMlpReference(q, golden, 4).real;
    [0.77, 1.57, 2.3, 3.14].forEach((xi, i) => expect(Math.abs(y[i]! - Math.sin(xi))).toBeLessThan(0.05));
  });
});

describe('TFLite import refusals', () => {
  it.skipIf(!haveFixture(KWS))('refuses a model with other operators, naming the operator', () => {
    const e = refusal(() => qmlpFromTflite(fixtureBytes(KWS, 'keyword_scrambled_8bit.tflite'), 'kws'));
    expect(e.code).toBe(ErrorCode.ModelUnsupported);
    expect(e.message).toMatch(/operator \d+ \(SVDF v\d+\) is not supported/);
  });

  it.skipIf(!haveFixture(ADD4))('refuses a model whose only operator is ADD', () => {
    const e = refusal(() => qmlpFromTflite(fixtureBytes(ADD4, 'add4.tflite'), 'add4'));
    expect(e.code).toBe(ErrorCode.ModelUnsupported);
    expect(e.message).toMatch(/\(ADD v\d+\) is not supported/);
  });

  it.skipIf(!haveFixture(HW_FLOAT))('refuses a float FULLY_CONNECTED model: its input is not int8', () => {
    const e = refusal(() => qmlpFromTflite(fixtureBytes(HW_FLOAT, 'hello_world_float.tflite'), 'hw_float'));
    expect(e.code).toBe(ErrorCode.ModelUnsupported);
    expect(e.message).toMatch(/is FLOAT32, not INT8/);
  });

  it('refuses truncated bytes as an invalid model, not with a RangeError', () => {
    const bytes = toTflite(qmlpLike());
    for (const n of [0, 7, 64, bytes.length >> 1]) {
      expect(refusal(() => qmlpFromTflite(bytes.subarray(0, n), 'cut')).code).toBe(ErrorCode.ModelInvalid);
    }
  });
});

function qmlpLike() {
  return {
    name: 'small', description: 'd', inputName: 'x', outputName: 'y', inDim: 2, inScale: 0.5, inZeroPoint: 0,
    layers: [{ inDim: 2, outDim: 1, weights: Int8Array.of(1, 2), weightScales: Float32Array.of(0.25), bias: Int32Array.of(3), activation: 'none' as const, outScale: 0.125, outZeroPoint: 0 }],
  };
}
