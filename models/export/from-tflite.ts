/**
 * TFLite int8 model → QMlp, for models that are a chain of FULLY_CONNECTED layers: int8 I/O, or a
 * float input behind QUANTIZE and a float output behind DEQUANTIZE (what the TFLite converter writes
 * for float I/O). This is the shape of the MLPerf Tiny anomaly-detection autoencoder (AD01) and of
 * every model toTflite writes, so `qmlpFromTflite(toTflite(q))` gives `q` back.
 *
 * Anything else is refused with TinyqaError(ModelUnsupported) naming what stands in the way: another
 * operator (by its schema name), a branch, a non-int8 tensor, asymmetric or per-axis-on-the-wrong-axis
 * weights, a bias whose scale is not inScale·wScale (the QMlp cannot express it), or a fused
 * activation other than NONE/RELU.
 */
import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import { readTfliteModel, type TfliteTensorMeta } from '../../runtime/inference/tflite/flatbuffer.js';
import type { Activation, QDense, QMlp } from '../ir.js';
import { readTfliteGraph, type TfliteOperator } from './tflite-graph.js';
import { ActivationFunctionType, BuiltinOperator, FC_WEIGHTS_DEFAULT } from './tflite-schema.js';
import { validateQMlp } from './validate.js';

/** Relative tolerance between a bias scale and inScale·wScale (TFLite's Prepare allows 1e-6; float32 rounding on either side). */
const BIAS_SCALE_TOLERANCE = 1e-5;

export function qmlpFromTflite(bytes: Uint8Array, name: string): QMlp {
  const meta = readTfliteModel(bytes);
  const graph = readTfliteGraph(bytes);
  const refuse = (what: string): never => {
    throw new TinyqaError(ErrorCode.ModelUnsupported, `TFLite model ${name}: ${what}`, {
      hint: 'only chains of int8 FULLY_CONNECTED layers (optionally behind QUANTIZE and before DEQUANTIZE) can be imported as a QMlp',
    });
  };
  const tensor = (i: number | undefined, what: string): TfliteTensorMeta =>
    (i === undefined ? undefined : meta.tensors[i]) ?? refuse(`${what} refers to tensor ${i}, which does not exist`);
  /** Per-tensor int8 quantization of an activation tensor. */
  const activationQuant = (t: TfliteTensorMeta, what: string): { scale: number; zeroPoint: number } => {
    const q = t.quantization;
    if (t.type !== 'INT8') refuse(`${what} tensor ${t.index} "${t.name}" is ${t.type}, not INT8`);
    if (q === undefined || q.scale.length !== 1) refuse(`${what} tensor ${t.index} "${t.name}" needs one scale and zero point (per-tensor int8)`);
    return { scale: q!.scale[0]!, zeroPoint: q!.zeroPoint[0] ?? 0 };
  };
  const describe = (op: TfliteOperator): string => `operator ${op.index} (${op.opName} v${op.version})`;

  const ops = graph.operators;
  // Name a foreign operator first; only then a QUANTIZE/DEQUANTIZE that is not at an end.
  const foreign = ops.find((op) => op.builtin !== BuiltinOperator.FULLY_CONNECTED && op.builtin !== BuiltinOperator.QUANTIZE && op.builtin !== BuiltinOperator.DEQUANTIZE);
  if (foreign !== undefined) refuse(`${describe(foreign)} is not supported: a QMlp holds only FULLY_CONNECTED layers`);
  const misplaced = ops.find((op, k) => (op.builtin === BuiltinOperator.QUANTIZE && k !== 0) || (op.builtin === BuiltinOperator.DEQUANTIZE && k !== ops.length - 1));
  if (misplaced !== undefined) refuse(`${describe(misplaced)} is not supported there: ${misplaced.opName} may only be the first (QUANTIZE) or last (DEQUANTIZE) operator`);

  if (meta.inputs.length !== 1 || meta.outputs.length !== 1) refuse(`has ${meta.inputs.length} inputs and ${meta.outputs.length} outputs; a QMlp has one of each`);

  let k = 0;
  let cur = meta.inputs[0]!.index;
  const inputName = meta.inputs[0]!.name;
  // Float input: QUANTIZE float32 → int8 first; the QMlp's input quantization is that op's output's.
  if (ops[0]?.builtin === BuiltinOperator.QUANTIZE) {
    const op = ops[0];
    if (op.inputs[0] !== cur || tensor(cur, 'the input').type !== 'FLOAT32') refuse(`${describe(op)} must quantize the float32 model input`);
    cur = tensor(op.outputs[0], describe(op)).index;
    k = 1;
  }
  const input = activationQuant(tensor(cur, 'input'), 'the quantized input');

  const layers: QDense[] = [];
  let inScale = input.scale;
  for (; k < ops.length && ops[k]!.builtin === BuiltinOperator.FULLY_CONNECTED; k++) {
    const op = ops[k]!;
    const at = describe(op);
    if (op.inputs[0] !== cur) refuse(`${at} does not take the previous layer's output (tensor ${cur}) as its input: not a simple chain`);
    if (op.outputs.length !== 1) refuse(`${at} has ${op.outputs.length} outputs`);

    const w = tensor(op.inputs[1], `${at} weights`);
    if (w.type !== 'INT8' || w.shape.length !== 2) refuse(`${at} weights "${w.name}" are ${w.type} [${w.shape.join(',')}]; need INT8 [out, in]`);
    const [outDim, inDim] = w.shape as [number, number];
    const wData = graph.tensorData(w.index);
    if (wData === undefined || wData.length !== outDim * inDim) refuse(`${at} weights "${w.name}" have ${wData?.length ?? 0} constant bytes, need ${outDim}·${inDim}`);
    const wq = w.quantization ?? refuse(`${at} weights "${w.name}" have no quantization`);
    if (wq.scale.length !== 1 && (wq.scale.length !== outDim || wq.quantizedDimension !== 0)) refuse(`${at} weights have ${wq.scale.length} scales on dimension ${wq.quantizedDimension}; need 1, or ${outDim} on dimension 0`);
    if (wq.zeroPoint.some((z) => z !== 0)) refuse(`${at} weights are not symmetric (non-zero zero point)`);
    const weightScales = Float32Array.from({ length: outDim }, (_, o) => wq.scale[wq.scale.length === 1 ? 0 : o]!);

    const bias = new Int32Array(outDim);
    const bIndex = op.inputs[2];
    if (bIndex !== undefined && bIndex >= 0) {
      const b = tensor(bIndex, `${at} bias`);
      const bData = graph.tensorData(b.index);
      if (b.type !== 'INT32' || bData === undefined || bData.length !== 4 * outDim) refuse(`${at} bias "${b.name}" must be constant INT32 [${outDim}]`);
      const dv = new DataView(bData!.buffer, bData!.byteOffset, bData!.byteLength);
      for (let o = 0; o < outDim; o++) bias[o] = dv.getInt32(4 * o, true);
      const bs = b.quantization?.scale;
      if (bs !== undefined) {
        weightScales.forEach((ws, o) => {
          const want = inScale * ws;
          const got = bs[bs.length === 1 ? 0 : o]!;
          if (Math.abs(got - want) > BIAS_SCALE_TOLERANCE * want) refuse(`${at} bias scale [${o}] ${got} is not input scale · weight scale = ${want}`);
        });
      }
    }

    const opts = graph.fullyConnectedOptions(op);
    if (opts.weightsFormat !== FC_WEIGHTS_DEFAULT) refuse(`${at} stores its weights shuffled (weights_format ${opts.weightsFormat})`);
    const activation: Activation | undefined = opts.fusedActivation === ActivationFunctionType.NONE ? 'none'
      : opts.fusedActivation === ActivationFunctionType.RELU ? 'relu' : undefined;
    if (activation === undefined) refuse(`${at} has fused activation ${opts.fusedActivation} (${Object.entries(ActivationFunctionType).find(([, v]) => v === opts.fusedActivation)?.[0] ?? '?'}); only NONE and RELU`);

    const x = tensor(cur, `${at} input`);
    if (x.shape[x.shape.length - 1] !== inDim) refuse(`${at} input "${x.name}" has shape [${x.shape.join(',')}], weights expect ${inDim} features`);
    const y = tensor(op.outputs[0], `${at} output`);
    const out = activationQuant(y, `${at} output`);
    if (y.shape[y.shape.length - 1] !== outDim) refuse(`${at} output "${y.name}" has shape [${y.shape.join(',')}], weights give ${outDim}`);

    layers.push({
      inDim, outDim, weights: new Int8Array(wData!.slice().buffer), weightScales, bias, activation: activation!,
      outScale: out.scale, outZeroPoint: out.zeroPoint,
    });
    cur = y.index;
    inScale = out.scale;
  }
  if (layers.length === 0) refuse('has no FULLY_CONNECTED layer');

  let outputName = tensor(cur, 'output').name;
  if (k < ops.length) {
    const op = ops[k]!; // DEQUANTIZE, by the operator check above
    const y = tensor(op.outputs[0], describe(op));
    if (op.inputs[0] !== cur || y.type !== 'FLOAT32') refuse(`${describe(op)} must dequantize the last layer's output to float32`);
    outputName = y.name;
    cur = y.index;
    k++;
  }
  if (cur !== meta.outputs[0]!.index) refuse(`the FULLY_CONNECTED chain ends at tensor ${cur}, but the model's output is tensor ${meta.outputs[0]!.index}`);

  const q: QMlp = {
    name,
    description: meta.description ?? '',
    inputName: inputName || 'input',
    outputName: outputName || 'output',
    inDim: layers[0]!.inDim,
    inScale: input.scale,
    inZeroPoint: input.zeroPoint,
    layers,
  };
  validateQMlp(q);
  return q;
}
