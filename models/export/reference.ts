/**
 * Integer reference of a QMlp: what an int8 FULLY_CONNECTED kernel computes under the TFLite int8
 * scheme (models/ir.ts), in plain arithmetic, so tests can hold any engine against it.
 *
 * Per layer, for output unit o:
 *   acc_o  = bias_o + Σ_i (q_in[i] − zp_in) · w[o][i]                       int32 accumulate
 *   M_o    = inScale · wScale[o] / outScale                                 real multiplier (double)
 *   q_o    = clamp(zp_out + requant(acc_o, M_o), act_min, 127)
 * act_min is −128, or zp_out for a fused RELU (TFLite CalculateActivationRangeQuantized:
 * quantize(0) = zp_out). Two requantizations are offered:
 * - 'real' (default): round(acc_o · M_o) to nearest, ties away from zero — what XNNPACK's int8
 *   fully-connected ("fp32" requantization: float multiply, round to nearest) and onnxruntime's
 *   QDQ path compute, up to float32 rounding of the product right at a tie;
 * - 'fixed-point': TFLite's builtin reference kernel
 *   (kernels/internal/reference/integer_ops/fully_connected.h): M_o becomes a Q31 multiplier and a
 *   shift (QuantizeMultiplier) and MultiplyByQuantizedMultiplier rounds TWICE (the doubling high
 *   multiply, then the rounding right shift). The double rounding differs from 'real' by one step
 *   whenever the first rounding lands on a half (e.g. frac(acc·M) in [0.375, 0.5) for a shift of −2):
 *   several percent of outputs on real models.
 *
 * Scales go through Math.fround first: both file formats store them as float32, and TFLite forms M
 * in double from those float32 values. Input quantization is zp + round-half-away(x / scale),
 * clamped, like std::round in TFLite's QUANTIZE and like the engine adapter's own quantizer.
 */
import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import type { QMlp } from '../ir.js';
import { validateQMlp } from './validate.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const TWO_31 = 2147483648;

/** std::round: halves go away from zero. */
export function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

/** Real value → int8 as TFLite quantizes: zp + round-half-away(x / scale), clamped to [-128, 127]. */
export function quantizeInt8(x: number, scale: number, zeroPoint: number): number {
  const q = zeroPoint + roundHalfAway(x / scale);
  return q < -128 ? -128 : q > 127 ? 127 : q;
}

export interface QuantizedMultiplier {
  /** Q31 fixed-point mantissa in [2^30, 2^31), or 0. */
  multiplier: number;
  /** Power-of-two exponent: real ≈ multiplier · 2^(shift − 31). */
  shift: number;
}

/**
 * TFLite QuantizeMultiplier (kernels/internal/quantization_util.cc): frexp splits m = f·2^shift with
 * f in [0.5, 1); f is rounded (std::round) to Q31; a mantissa that rounds up to 2^31 is halved and the
 * exponent bumped; exponents below −31 flush the multiplier to zero.
 */
export function quantizeMultiplier(m: number): QuantizedMultiplier {
  if (m === 0) return { multiplier: 0, shift: 0 };
  // frexp by hand: scaling by powers of two is exact in doubles, the loops fix log2's rounding.
  let shift = Math.floor(Math.log2(m)) + 1;
  let f = m / 2 ** shift;
  while (f >= 1) { f /= 2; shift++; }
  while (f < 0.5) { f *= 2; shift--; }
  let q = roundHalfAway(f * TWO_31);
  if (q === TWO_31) { q /= 2; shift++; }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  return { multiplier: q, shift };
}

/**
 * gemmlowp SaturatingRoundingDoublingHighMul: the high 32 bits of 2·a·b, rounded to nearest (the
 * nudge is +2^30 for a non-negative product, 1 − 2^30 for a negative one, then a division by 2^31
 * that truncates toward zero, as C++ integer division does; BigInt division does the same).
 */
function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / (1n << 31n));
}

/** gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero. */
function roundingDivideByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  const bx = BigInt(x);
  const mask = (1n << BigInt(exponent)) - 1n;
  const remainder = bx & mask;
  const threshold = (mask >> 1n) + (bx < 0n ? 1n : 0n);
  return Number((bx >> BigInt(exponent)) + (remainder > threshold ? 1n : 0n));
}

/** TFLite MultiplyByQuantizedMultiplier (the reference, double-rounding form). */
export function multiplyByQuantizedMultiplier(x: number, qm: QuantizedMultiplier): number {
  const left = qm.shift > 0 ? qm.shift : 0;
  const right = qm.shift > 0 ? 0 : -qm.shift;
  // C++ computes x·2^left in int32; for real multipliers below 1 (every sane layer) left is 0.
  const scaled = Math.max(INT32_MIN, Math.min(INT32_MAX, x * 2 ** left));
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(scaled, qm.multiplier), right);
}

/** Per-unit real multipliers M_o of one layer, formed in double from float32 scales as TFLite's Prepare does. */
export function realMultipliers(inScale: number, weightScales: Float32Array, outScale: number): number[] {
  const inS = Math.fround(inScale);
  const outS = Math.fround(outScale);
  return Array.from(weightScales, (ws) => (inS * Math.fround(ws)) / outS);
}

export type Requantization = 'real' | 'fixed-point';

/**
 * Runs `batch` rows of real inputs (row-major, batch × inDim) through the integer reference.
 * Returns the last layer's int8 output and its dequantized value outScale·(q − zp).
 * Throws TinyqaError ModelInvalid when the QMlp is inconsistent, InputMismatch when x has the wrong length.
 */
export function runQMlpReference(
  q: QMlp, x: Float32Array, batch: number, opts: { requantize?: Requantization } = {},
): { real: Float32Array; int8: Int8Array } {
  validateQMlp(q);
  if (!Number.isInteger(batch) || batch < 1 || x.length !== batch * q.inDim) {
    validateCall(q, x, batch);
  }
  const fixedPoint = opts.requantize === 'fixed-point';
  const multipliers = q.layers.map((l, i) => realMultipliers(i === 0 ? q.inScale : q.layers[i - 1]!.outScale, l.weightScales, l.outScale));
  const fixed = fixedPoint ? multipliers.map((m) => m.map(quantizeMultiplier)) : [];
  const inScale = Math.fround(q.inScale);
  let act = new Int8Array(batch * q.inDim);
  for (let k = 0; k < act.length; k++) act[k] = quantizeInt8(x[k]!, inScale, q.inZeroPoint);
  let zpIn = q.inZeroPoint;

  q.layers.forEach((l, li) => {
    const out = new Int8Array(batch * l.outDim);
    const lo = l.activation === 'relu' ? Math.max(-128, l.outZeroPoint) : -128;
    const m = multipliers[li]!;
    const mq = fixed[li];
    for (let b = 0; b < batch; b++) {
      const xOff = b * l.inDim;
      for (let o = 0; o < l.outDim; o++) {
        const wOff = o * l.inDim;
        // Exact in doubles: |acc| < 2^53 for any inDim below ~2^38.
        let acc = l.bias[o]!;
        for (let i = 0; i < l.inDim; i++) acc += (act[xOff + i]! - zpIn) * l.weights[wOff + i]!;
        // int32 accumulator, as the kernel's (a wrap there would be a broken model; saturate here).
        acc = Math.max(INT32_MIN, Math.min(INT32_MAX, acc));
        const v = (mq ? multiplyByQuantizedMultiplier(acc, mq[o]!) : roundHalfAway(acc * m[o]!)) + l.outZeroPoint;
        out[b * l.outDim + o] = v < lo ? lo : v > 127 ? 127 : v;
      }
    }
    act = out;
    zpIn = l.outZeroPoint;
  });

  const last = q.layers[q.layers.length - 1]!;
  const outScale = Math.fround(last.outScale);
  const real = Float32Array.from(act, (v) => outScale * (v - last.outZeroPoint));
  return { real, int8: act };
}

function validateCall(q: QMlp, x: Float32Array, batch: number): never {
  throw new TinyqaError(ErrorCode.InputMismatch, `QMlp "${q.name}": ${x.length} input values for a batch of ${batch} × ${q.inDim}`, {
    hint: 'pass batch · inDim real values, row-major, with batch a positive integer',
  });
}
