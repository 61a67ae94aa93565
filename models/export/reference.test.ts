import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../../runtime/core/errors.js';
import type { QMlp } from '../ir.js';
import { toOnnx } from './onnx.js';
import { multiplyByQuantizedMultiplier, quantizeInt8, quantizeMultiplier, runQMlpReference } from './reference.js';
import { randomInputs, randomQMlp } from './random-qmlp.js';
import { toTflite } from './tflite.js';

/** One 2→2 layer with power-of-two scales, so every product below is exact and checkable by hand. */
function tiny(activation: 'none' | 'relu'): QMlp {
  return {
    name: 'tiny', description: '', inputName: 'x', outputName: 'y', inDim: 2, inScale: 0.5, inZeroPoint: 1,
    layers: [{
      inDim: 2, outDim: 2, weights: Int8Array.of(2, -3, 1, 4), weightScales: Float32Array.of(0.25, 0.125),
      bias: Int32Array.of(4, -8), activation, outScale: 0.125, outZeroPoint: -3,
    }],
  };
}

function errorOf(f: () => unknown): { code: number; message: string } | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (isTinyqaError(e)) return { code: e.code, message: e.message };
    throw e;
  }
}

describe('integer reference', () => {
  it('computes a dense layer by hand: quantize, accumulate with the zero point, requantize, add the output zero point', () => {
    // q_in = 1 + round(1.3/0.5) = 4, 1 + round(-0.2/0.5) = 1 → (q − zp) = [3, 0]
    // unit 0: acc = 4 + 3·2 = 10, M = 0.5·0.25/0.125 = 1   → 10 − 3 = 7
    // unit 1: acc = −8 + 3·1 = −5, M = 0.5·0.125/0.125 = 0.5 → round(−2.5) = −3 (ties away) → −6
    const r = runQMlpReference(tiny('none'), Float32Array.of(1.3, -0.2), 1);
    expect(Array.from(r.int8)).toEqual([7, -6]);
    expect(Array.from(r.real)).toEqual([0.125 * 10, 0.125 * -3]);
  });

  it('clamps a fused RELU at the output zero point, not at −128', () => {
    expect(Array.from(runQMlpReference(tiny('relu'), Float32Array.of(1.3, -0.2), 1).int8)).toEqual([7, -3]);
  });

  it('rounds input halves away from zero and saturates to int8', () => {
    expect([0.25, 0.75, -0.25, -0.75, 1000, -1000].map((x) => quantizeInt8(x, 0.5, 0))).toEqual([1, 2, -1, -2, 127, -128]);
  });

  it('splits real multipliers into Q31 and a shift as TFLite QuantizeMultiplier does', () => {
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 2 ** 30, shift: 0 });
    expect(quantizeMultiplier(0.25)).toEqual({ multiplier: 2 ** 30, shift: -1 });
    expect(quantizeMultiplier(1.25)).toEqual({ multiplier: 0.625 * 2 ** 31, shift: 1 });
    // A mantissa that rounds up to 2^31 is halved and the exponent bumped.
    expect(quantizeMultiplier(1 - 2 ** -40)).toEqual({ multiplier: 2 ** 30, shift: 1 });
    // Exponents below −31 flush to zero.
    expect(quantizeMultiplier(2 ** -40)).toEqual({ multiplier: 0, shift: 0 });
    for (const m of [0.0013301224037636943, 0.1379545234452955, 0.9, 3.7]) {
      const { multiplier, shift } = quantizeMultiplier(m);
      expect(Math.abs(multiplier * 2 ** (shift - 31) - m) / m).toBeLessThan(2 ** -30);
    }
  });

  it("rounds twice in TFLite's fixed-point requantization, one step off the real one at some ties", () => {
    // M = 0.2 = 0.8·2^−2, acc = 12: real 2.4 → 2; fixed point: round(12·0.8) = 10, then 10/4 = 2.5 → 3.
    expect(multiplyByQuantizedMultiplier(12, quantizeMultiplier(0.2))).toBe(3);
    expect(multiplyByQuantizedMultiplier(10, quantizeMultiplier(1.25))).toBe(13);
    const fixed = runQMlpReference(tiny('none'), Float32Array.of(1.3, -0.2), 1, { requantize: 'fixed-point' });
    // Unit 1's −2.5: the doubling high multiply's nudge rounds this negative half toward zero.
    expect(Array.from(fixed.int8)).toEqual([7, -5]);
  });

  it('keeps both requantizations within one step of each other on a random two-layer model, differing rarely', () => {
    const spec = { seed: 11, dims: [32, 24, 8], activations: ['relu', 'none'] as ('relu' | 'none')[] };
    const q = randomQMlp(spec);
    const x = randomInputs(spec, 200, 5);
    const a = runQMlpReference(q, x, 200).int8;
    const b = runQMlpReference(q, x, 200, { requantize: 'fixed-point' }).int8;
    const diffs = Array.from(a, (v, i) => Math.abs(v - b[i]!));
    // Observed: 5 of 1600 outputs differ, each by one step (a hidden-layer difference could in
    // principle move an output further; it does not on this seed).
    expect(Math.max(...diffs)).toBe(1);
    expect(diffs.filter((d) => d > 0).length).toBeLessThan(1600 * 0.02);
  });
});

describe('QMlp validation', () => {
  const bad = (): QMlp => {
    const q = randomQMlp({ seed: 3, dims: [6, 5, 4], activations: ['relu', 'none'] });
    q.layers[1] = { ...q.layers[1]!, inDim: 7, weights: new Int8Array(7 * 4) };
    return q;
  };

  it('refuses a layer whose inDim is not the previous outDim, naming the layer, in the reference and both exporters', () => {
    for (const f of [() => runQMlpReference(bad(), new Float32Array(6), 1), () => toTflite(bad()), () => toOnnx(bad())]) {
      const e = errorOf(f);
      expect(e?.code).toBe(ErrorCode.ModelInvalid);
      expect(e?.message).toMatch(/layer 1 has inDim 7, but its input has 5 values/);
    }
  });

  it('refuses wrong weight, scale and bias counts and out-of-range zero points', () => {
    const base = () => randomQMlp({ seed: 3, dims: [6, 5], activations: ['relu'] });
    const cases: [(q: QMlp) => void, RegExp][] = [
      [(q) => { q.layers[0]!.weights = new Int8Array(29); }, /29 weights, outDim·inDim = 5·6 = 30/],
      [(q) => { q.layers[0]!.weightScales = new Float32Array(4).fill(0.1); }, /4 weight scales/],
      [(q) => { q.layers[0]!.weightScales[2] = 0; }, /weight scale \[2\] = 0/],
      [(q) => { q.layers[0]!.bias = new Int32Array(6); }, /6 biases, needs 5/],
      [(q) => { q.layers[0]!.outZeroPoint = 128; }, /output zero point 128/],
      [(q) => { q.inScale = -1; }, /input scale -1/],
      [(q) => { q.layers = []; }, /has no layers/],
    ];
    for (const [spoil, message] of cases) {
      const q = base();
      spoil(q);
      const e = errorOf(() => toTflite(q));
      expect(e?.code).toBe(ErrorCode.ModelInvalid);
      expect(e?.message).toMatch(message);
    }
  });

  it('refuses an input of the wrong length with InputMismatch', () => {
    expect(errorOf(() => runQMlpReference(tiny('none'), new Float32Array(3), 1))?.code).toBe(ErrorCode.InputMismatch);
    expect(errorOf(() => runQMlpReference(tiny('none'), new Float32Array(4), 0))?.code).toBe(ErrorCode.InputMismatch);
  });
});
