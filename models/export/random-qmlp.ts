/**
 * Test fixture: seeded random QMlps that look like trained, post-training-quantized models (weights
 * using the int8 range per unit, activation ranges calibrated on sample inputs), so exporter tests
 * exercise realistic scales rather than degenerate ones. Deterministic for a given seed.
 */
import type { Activation, QDense, QMlp } from '../ir.js';
import { quantizeInt8 } from './reference.js';

/** mulberry32: a tiny 32-bit PRNG, enough for reproducible fixtures (not for anything secret). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomQMlpSpec {
  seed: number;
  /** Layer widths: [inDim, hidden..., outDim]. */
  dims: number[];
  /** Activation per layer (length dims.length − 1). */
  activations: Activation[];
  /** One weight scale per layer instead of one per unit. */
  perTensor?: boolean;
  /** Real input range the model is calibrated for. */
  inputRange?: [number, number];
}

/** Random inputs in the spec's input range, row-major batch × inDim. */
export function randomInputs(spec: RandomQMlpSpec, batch: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  const [lo, hi] = spec.inputRange ?? [-1, 1];
  return Float32Array.from({ length: batch * spec.dims[0]! }, () => lo + (hi - lo) * rnd());
}

/** Affine int8 quantization covering [min, max] (widened to hold 0, as TFLite's calibration does). */
function rangeQuant(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0, lo + 1e-6);
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale, zeroPoint };
}

export function randomQMlp(spec: RandomQMlpSpec): QMlp {
  const rnd = seededRandom(spec.seed);
  const [lo, hi] = spec.inputRange ?? [-1, 1];
  const input = rangeQuant(lo, hi);
  const calib = randomInputs(spec, 64, spec.seed + 1);
  const inDim = spec.dims[0]!;
  // Real values of the current activations on the calibration batch (dequantized int8).
  let act = Array.from(calib, (x) => input.scale * (quantizeInt8(x, input.scale, input.zeroPoint) - input.zeroPoint));
  let inScale = input.scale;
  const layers: QDense[] = [];

  for (let li = 0; li + 1 < spec.dims.length; li++) {
    const n = spec.dims[li]!;
    const m = spec.dims[li + 1]!;
    const activation = spec.activations[li] ?? 'none';
    // Float weights ~ U(−1, 1)/√n, each unit with its own gain so per-unit scales differ.
    const wf = new Float64Array(m * n);
    for (let o = 0; o < m; o++) {
      const gain = 0.25 + 1.75 * rnd();
      for (let i = 0; i < n; i++) wf[o * n + i] = (gain * (2 * rnd() - 1)) / Math.sqrt(n);
    }
    const rowMax = Array.from({ length: m }, (_, o) => Math.max(1e-8, ...Array.from(wf.subarray(o * n, o * n + n), Math.abs)));
    const globalMax = Math.max(...rowMax);
    const weightScales = Float32Array.from(rowMax, (r) => (spec.perTensor ? globalMax : r) / 127);
    const weights = Int8Array.from(wf, (w, k) => Math.max(-127, Math.min(127, Math.round(w / weightScales[Math.floor(k / n)]!))));
    const bias = Int32Array.from({ length: m }, (_, o) =>
      Math.round((0.3 * (2 * rnd() - 1)) / (Math.fround(inScale) * Math.fround(weightScales[o]!))));

    // Calibrate the output range on the real pre-activation values of the quantized layer.
    const batch = act.length / n;
    const y = new Float64Array(batch * m);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < m; o++) {
        let s = bias[o]! * inScale * weightScales[o]!;
        for (let i = 0; i < n; i++) s += act[b * n + i]! * weights[o * n + i]! * weightScales[o]!;
        y[b * m + o] = activation === 'relu' ? Math.max(0, s) : s;
      }
    }
    let yMin = Infinity;
    let yMax = -Infinity;
    for (const v of y) { yMin = Math.min(yMin, v); yMax = Math.max(yMax, v); }
    const out = rangeQuant(yMin, yMax);
    layers.push({ inDim: n, outDim: m, weights, weightScales, bias, activation, outScale: out.scale, outZeroPoint: out.zeroPoint });
    act = Array.from(y, (v) => out.scale * (quantizeInt8(v, out.scale, out.zeroPoint) - out.zeroPoint));
    inScale = out.scale;
  }

  return {
    name: `random_${spec.seed}`,
    description: `random QMlp seed ${spec.seed}, dims ${spec.dims.join('-')}`,
    inputName: 'x',
    outputName: 'y',
    inDim,
    inScale: input.scale,
    inZeroPoint: input.zeroPoint,
    layers,
  };
}
