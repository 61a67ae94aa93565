/**
 * Shape and range checks of a QMlp before anything is computed or written from it. Every exporter
 * and the reference call this first, so a wrong model is refused with one clear message naming the
 * layer and the field, instead of an engine's opaque load error or a silently wrong file.
 */
import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import type { QMlp } from '../ir.js';

const INT8_MIN = -128;
const INT8_MAX = 127;

const isPositiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;
const isScale = (s: number): boolean => Number.isFinite(s) && s > 0 && Math.fround(s) > 0;
const isInt8 = (z: number): boolean => Number.isInteger(z) && z >= INT8_MIN && z <= INT8_MAX;

/** Throws TinyqaError(ModelInvalid) naming the first inconsistency of `q`. */
export function validateQMlp(q: QMlp): void {
  const bad = (what: string): never => {
    throw new TinyqaError(ErrorCode.ModelInvalid, `QMlp "${q.name}": ${what}`, {
      hint: 'each layer must take the previous layer\'s outDim as its inDim, with outDim·inDim weights, outDim weight scales and outDim biases',
    });
  };
  if (!isPositiveInt(q.inDim)) bad(`inDim ${q.inDim} is not a positive integer`);
  if (!isScale(q.inScale)) bad(`input scale ${q.inScale} is not a positive float32`);
  if (!isInt8(q.inZeroPoint)) bad(`input zero point ${q.inZeroPoint} is not an int8`);
  if (q.layers.length === 0) bad('has no layers');
  if (q.inputName === '' || q.outputName === '' || q.inputName === q.outputName) bad(`input/output names "${q.inputName}"/"${q.outputName}" must be distinct and non-empty`);
  let prev = q.inDim;
  q.layers.forEach((l, i) => {
    const at = `layer ${i}`;
    if (l.inDim !== prev) bad(`${at} has inDim ${l.inDim}, but its input has ${prev} values (${i === 0 ? 'the model\'s inDim' : `layer ${i - 1}'s outDim`})`);
    if (!isPositiveInt(l.outDim)) bad(`${at} outDim ${l.outDim} is not a positive integer`);
    if (l.weights.length !== l.outDim * l.inDim) bad(`${at} has ${l.weights.length} weights, outDim·inDim = ${l.outDim}·${l.inDim} = ${l.outDim * l.inDim}`);
    if (l.weightScales.length !== l.outDim) bad(`${at} has ${l.weightScales.length} weight scales, needs one per output unit (${l.outDim})`);
    const s = l.weightScales.findIndex((x) => !isScale(x));
    if (s >= 0) bad(`${at} weight scale [${s}] = ${l.weightScales[s]} is not a positive float32`);
    if (l.bias.length !== l.outDim) bad(`${at} has ${l.bias.length} biases, needs ${l.outDim}`);
    if (l.activation !== 'none' && l.activation !== 'relu') bad(`${at} activation "${String(l.activation)}" is not 'none' or 'relu'`);
    if (!isScale(l.outScale)) bad(`${at} output scale ${l.outScale} is not a positive float32`);
    if (!isInt8(l.outZeroPoint)) bad(`${at} output zero point ${l.outZeroPoint} is not an int8`);
    prev = l.outDim;
  });
}

/** Output width of the whole model (the last layer's outDim); call after validateQMlp. */
export function outDimOf(q: QMlp): number {
  return q.layers[q.layers.length - 1]!.outDim;
}

/** True when every output unit of the layer shares one weight scale (exact float32 equality). */
export function hasUniformScales(scales: Float32Array): boolean {
  return scales.every((s) => s === scales[0]);
}
