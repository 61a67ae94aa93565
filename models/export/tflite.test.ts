import { describe, expect, it } from 'vitest';
import { readTfliteModel } from '../../runtime/inference/tflite/flatbuffer.js';
import type { QMlp } from '../ir.js';
import { EXPORT_CASES } from './cases.js';
import { qmlpFromTflite } from './from-tflite.js';
import { randomInputs, randomQMlp } from './random-qmlp.js';
import { runQMlpReference } from './reference.js';
import { runRows, stepsOff } from './testing.js';
import { readTfliteGraph } from './tflite-graph.js';
import { toTflite } from './tflite.js';

const perAxis = () => randomQMlp({ seed: 21, dims: [64, 48, 32, 10], activations: ['relu', 'relu', 'none'] });
const perTensor = () => randomQMlp({ seed: 21, dims: [64, 48, 32, 10], activations: ['relu', 'relu', 'none'], perTensor: true });

/** The QMlp's output scale (last layer). */
const outScaleOf = (q: QMlp) => q.layers[q.layers.length - 1]!.outScale;

describe('TFLite export: the flatbuffer read back', () => {
  it('declares schema version 3, the description, and int8 I/O [1, dim] with the QMlp quantization', () => {
    const q = perAxis();
    const m = readTfliteModel(toTflite(q));
    expect(m.version).toBe(3);
    expect(m.description).toBe(q.description);
    expect(m.inputs.map((t) => [t.name, t.type, t.shape])).toEqual([['x', 'INT8', [1, 64]]]);
    expect(m.outputs.map((t) => [t.name, t.type, t.shape])).toEqual([['y', 'INT8', [1, 10]]]);
    expect(m.inputs[0]!.quantization).toEqual({ scale: [Math.fround(q.inScale)], zeroPoint: [q.inZeroPoint], quantizedDimension: 0 });
    expect(m.outputs[0]!.quantization).toEqual({ scale: [Math.fround(q.layers[2]!.outScale)], zeroPoint: [q.layers[2]!.outZeroPoint], quantizedDimension: 0 });
  });

  it('writes weights per axis (dimension 0) when units differ in scale, per tensor when they share one', () => {
    const axis = readTfliteModel(toTflite(perAxis())).tensors.filter((t) => t.name.endsWith('/weights'));
    expect(axis.map((t) => [t.type, t.shape, t.quantization!.scale.length, t.quantization!.quantizedDimension])).toEqual([
      ['INT8', [48, 64], 48, 0], ['INT8', [32, 48], 32, 0], ['INT8', [10, 32], 10, 0],
    ]);
    expect(axis.every((t) => t.quantization!.zeroPoint.every((z) => z === 0))).toBe(true);
    const tensor = readTfliteModel(toTflite(perTensor())).tensors.filter((t) => t.name.endsWith('/weights'));
    expect(tensor.map((t) => t.quantization!.scale.length)).toEqual([1, 1, 1]);
  });

  it('gives each bias int32 with scale inScale·wScale and zero point 0', () => {
    const q = perAxis();
    const biases = readTfliteModel(toTflite(q)).tensors.filter((t) => t.name.endsWith('/bias'));
    expect(biases.map((t) => t.type)).toEqual(['INT32', 'INT32', 'INT32']);
    const inScales = [q.inScale, q.layers[0]!.outScale, q.layers[1]!.outScale];
    biases.forEach((t, l) => {
      const want = Array.from(q.layers[l]!.weightScales, (s) => Math.fround(Math.fround(inScales[l]!) * s));
      expect(t.quantization!.scale).toEqual(want);
      expect(t.quantization!.zeroPoint.every((z) => z === 0)).toBe(true);
    });
  });

  it('uses one FULLY_CONNECTED v4 operator code, fuses RELU where the layer has it, and chains the layers', () => {
    const q = perAxis();
    const g = readTfliteGraph(toTflite(q));
    expect(g.operators.map((op) => [op.opName, op.version])).toEqual([['FULLY_CONNECTED', 4], ['FULLY_CONNECTED', 4], ['FULLY_CONNECTED', 4]]);
    expect(g.operators.map((op) => g.fullyConnectedOptions(op).fusedActivation)).toEqual([1, 1, 0]);
    g.operators.forEach((op, i) => {
      if (i > 0) expect(op.inputs[0]).toBe(g.operators[i - 1]!.outputs[0]);
    });
  });

  it('keeps buffer 0 empty, starts constant data on 16-byte boundaries and pads the file to 16 bytes', () => {
    const bytes = toTflite(perAxis());
    const m = readTfliteModel(bytes);
    const g = readTfliteGraph(bytes);
    expect(bytes.length % 16).toBe(0);
    // Activations refer to buffer 0 (no data); every weight and bias has its own aligned bytes.
    for (const t of m.tensors) {
      const data = g.tensorData(t.index);
      const constant = t.name.endsWith('/weights') || t.name.endsWith('/bias');
      expect(data === undefined).toBe(!constant);
      if (data) expect(data.byteOffset % 16).toBe(0);
    }
  });

  it('puts QUANTIZE v1 first and DEQUANTIZE v2 last for float I/O, with float32 model input and output', () => {
    const bytes = toTflite(perAxis(), { io: 'float' });
    const m = readTfliteModel(bytes);
    expect([m.inputs[0]!.type, m.outputs[0]!.type]).toEqual(['FLOAT32', 'FLOAT32']);
    expect([m.inputs[0]!.name, m.outputs[0]!.name]).toEqual(['x', 'y']);
    expect(readTfliteGraph(bytes).operators.map((op) => `${op.opName} v${op.version}`)).toEqual([
      'QUANTIZE v1', 'FULLY_CONNECTED v4', 'FULLY_CONNECTED v4', 'FULLY_CONNECTED v4', 'DEQUANTIZE v2',
    ]);
  });

  it('imports back to the same QMlp, with int8 and with float I/O', () => {
    for (const q of [perAxis(), perTensor(), randomQMlp({ seed: 2, dims: [3, 2], activations: ['relu'] })]) {
      expect(qmlpFromTflite(toTflite(q), q.name)).toEqual(q);
      expect(qmlpFromTflite(toTflite(q, { io: 'float' }), q.name)).toEqual(q);
    }
  });
});

describe('TFLite export on the TFLite engine (tfjs-tflite WASM) against the integer reference', () => {
  it.each(EXPORT_CASES)('$label: every output within one quantization step', async ({ label, spec, rows }) => {
    const q = randomQMlp(spec);
    const x = randomInputs(spec, rows, spec.seed + 100);
    const ref = runQMlpReference(q, x, rows);
    const y = await runRows(toTflite(q), `${q.name}.tflite`, 'x', 'y', x, rows);
    const off = stepsOff(y, ref.real, outScaleOf(q));
    console.log(`[tflite] ${label}: max ${off.max.toFixed(3)} steps, ${off.differing}/${y.length} outputs differ`);
    expect(off.max).toBeLessThanOrEqual(1);
  });

  it('runs the float-I/O variant (QUANTIZE/DEQUANTIZE inside the model) within one step too', async () => {
    const spec = EXPORT_CASES[1]!.spec;
    const q = randomQMlp(spec);
    const x = randomInputs(spec, 100, 7);
    const y = await runRows(toTflite(q, { io: 'float' }), 'float_io.tflite', 'x', 'y', x, 100);
    const off = stepsOff(y, runQMlpReference(q, x, 100).real, outScaleOf(q));
    console.log(`[tflite float I/O] max ${off.max.toFixed(3)} steps, ${off.differing}/${y.length} outputs differ`);
    expect(off.max).toBeLessThanOrEqual(1);
  });

  it("honours per-axis weight scales: matches the per-unit reference, not one that applies the first unit's scale to all", async () => {
    const q = perAxis();
    const x = randomInputs({ seed: 21, dims: [64], activations: [] }, 100, 9);
    const y = await runRows(toTflite(q), 'per_axis.tflite', 'x', 'y', x, 100);
    const firstScaleOnly: QMlp = { ...q, layers: q.layers.map((l) => ({ ...l, weightScales: new Float32Array(l.outDim).fill(l.weightScales[0]!) })) };
    expect(stepsOff(y, runQMlpReference(q, x, 100).real, outScaleOf(q)).max).toBeLessThanOrEqual(1);
    expect(stepsOff(y, runQMlpReference(firstScaleOnly, x, 100).real, outScaleOf(q)).max).toBeGreaterThan(5);
  });

  it("requantizes with one rounding (bit-exact with the 'real' reference), not with TFLite's double-rounding reference kernel", async () => {
    // Observed with tfjs-tflite 0.0.1-alpha.10 for per-tensor and per-axis weights alike: XNNPACK's
    // fp32 requantization. The builtin reference kernel would round twice (reference.ts).
    for (const q of [perAxis(), perTensor()]) {
      const x = randomInputs({ seed: 1, dims: [64], activations: [] }, 100, 13);
      const y = await runRows(toTflite(q), 'rounding.tflite', 'x', 'y', x, 100);
      expect(stepsOff(y, runQMlpReference(q, x, 100).real, outScaleOf(q)).differing).toBe(0);
      expect(stepsOff(y, runQMlpReference(q, x, 100, { requantize: 'fixed-point' }).real, outScaleOf(q)).differing).toBeGreaterThan(0);
    }
  });
});
