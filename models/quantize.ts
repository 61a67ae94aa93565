/**
 * Post-training int8 quantization (the scheme in models/ir.ts) with calibration data:
 *   activation range [lo, hi] = min/max over the calibration set of that tensor, widened to hold 0
 *   scale = (hi − lo) / 255,  zero_point = round(−128 − lo / scale)        asymmetric int8
 *   weights: s_o = max_j |W[o][j]| / 127 per output unit (or one s for the tensor), q = round(W / s)
 *   bias:    q = round(b_o / (s_in · s_o))                                    int32, zero point 0
 */

import type { FloatMlp, QDense, QMlp } from './ir.js';

/** Float forward pass of rows (batch × inDim); returns every layer's output, the last being the model's. */
export function forwardFloat(m: FloatMlp, x: Float32Array, batch: number): Float32Array[] {
  const outs: Float32Array[] = [];
  let cur = x;
  for (const l of m.layers) {
    const y = new Float32Array(batch * l.outDim);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < l.outDim; o++) {
        let s = l.bias[o]!;
        const wr = o * l.inDim;
        const xr = b * l.inDim;
        for (let j = 0; j < l.inDim; j++) s += l.weights[wr + j]! * cur[xr + j]!;
        y[b * l.outDim + o] = l.activation === 'relu' && s < 0 ? 0 : s;
      }
    }
    outs.push(y);
    cur = y;
  }
  return outs;
}

function range(a: Float32Array): { scale: number; zeroPoint: number } {
  let lo = 0;
  let hi = 0;
  for (const v of a) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = Math.fround(Math.max(hi - lo, 1e-6) / 255);
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale, zeroPoint };
}

export interface QuantizeOptions {
  name: string;
  description: string;
  inputName: string;
  outputName: string;
  /** One weight scale per output unit (per-axis) or one per tensor. */
  perAxis: boolean;
}

export function quantizeMlp(m: FloatMlp, calibration: Float32Array, batch: number, o: QuantizeOptions): QMlp {
  const acts = forwardFloat(m, calibration, batch);
  const inQ = range(calibration);
  let sIn = inQ.scale;
  const layers: QDense[] = m.layers.map((l, i) => {
    const weightScales = new Float32Array(l.outDim);
    let tensorMax = 0;
    for (let r = 0; r < l.outDim; r++) {
      let mx = 0;
      for (let j = 0; j < l.inDim; j++) mx = Math.max(mx, Math.abs(l.weights[r * l.inDim + j]!));
      weightScales[r] = Math.max(mx, 1e-12) / 127;
      tensorMax = Math.max(tensorMax, mx);
    }
    if (!o.perAxis) weightScales.fill(Math.max(tensorMax, 1e-12) / 127);
    const weights = new Int8Array(l.outDim * l.inDim);
    const bias = new Int32Array(l.outDim);
    for (let r = 0; r < l.outDim; r++) {
      for (let j = 0; j < l.inDim; j++) weights[r * l.inDim + j] = Math.max(-127, Math.min(127, Math.round(l.weights[r * l.inDim + j]! / weightScales[r]!)));
      bias[r] = Math.round(l.bias[r]! / (sIn * weightScales[r]!));
    }
    const out = range(acts[i]!);
    sIn = out.scale;
    return { inDim: l.inDim, outDim: l.outDim, weights, weightScales, bias, activation: l.activation, outScale: out.scale, outZeroPoint: out.zeroPoint };
  });
  return { name: o.name, description: o.description, inputName: o.inputName, outputName: o.outputName, inDim: m.inDim, inScale: inQ.scale, inZeroPoint: inQ.zeroPoint, layers };
}
