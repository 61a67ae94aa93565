/**
 * QMlp → TFLite flatbuffer (schema version 3, "TFL3"), full integer: int8 input [1, inDim], one
 * FULLY_CONNECTED per layer (fused RELU where the layer has it), int8 output [1, outDim] — the same
 * layout the TFLite converter gives a Keras Dense stack with TFLITE_BUILTINS_INT8 and int8 I/O (e.g.
 * the MLPerf Tiny AD01 model), so anything that runs those runs this. With `io: 'float'` the model
 * takes and gives float32 instead, through a QUANTIZE first and a DEQUANTIZE last (the converter's
 * layout when inference_input_type/inference_output_type stay float); the layers are the same.
 *
 * Tensors per layer: weights int8 [out, in] (symmetric: zero points 0), bias int32 [out] with scale
 * inScale·wScale[o] and zero point 0, output int8 [1, out]. Weight scales are written per tensor
 * when every unit shares one scale, otherwise per axis (quantized_dimension 0, the output unit).
 * The engine shipped with tfjs-tflite (0.0.1-alpha.10) runs per-axis int8 FULLY_CONNECTED weights
 * with each unit's own scale (tflite.test.ts shows it against the reference).
 *
 * Buffers: 0 is the empty sentinel the schema requires ("the 0th entry of this array must be an
 * empty buffer"); activations use it; each constant tensor has its own buffer.
 */
import type { QMlp } from '../ir.js';
import { fb, FlatBufferBuilder, type FbField, type FbRef } from './flatbuffer-builder.js';
import {
  ActivationFunctionType, BuiltinOperator, BuiltinOptions, FC_INT8_VERSION, FC_WEIGHTS_DEFAULT, T,
  TensorType, TFLITE_IDENTIFIER, TFLITE_SCHEMA_VERSION,
} from './tflite-schema.js';
import { hasUniformScales, outDimOf, validateQMlp } from './validate.js';

/** schema.fbs: `Buffer.data:[ubyte] (force_align: 16)`. */
const BUFFER_ALIGN = 16;

interface TensorSpec {
  name: string;
  shape: number[];
  type: number;
  buffer: number;
  scale: number[];
  zeroPoint: number[];
  /** Only for per-axis tensors. */
  quantizedDimension?: number;
}

export interface TfliteExportOptions {
  /** Element type of the model's input and output: 'int8' (default) or 'float' (QUANTIZE/DEQUANTIZE inside). */
  io?: 'int8' | 'float';
}

type OpSpec = { code: 'fc'; inputs: number[]; outputs: number[]; relu: boolean } | { code: 'quantize' | 'dequantize'; inputs: number[]; outputs: number[] };

/** Operator codes table, in opcode_index order, with the version each needs (op_version.cc). */
const OPCODES = {
  fc: { index: 0, builtin: BuiltinOperator.FULLY_CONNECTED, version: FC_INT8_VERSION },
  // QUANTIZE float32 → int8 per tensor: version 1; DEQUANTIZE int8 → float32: version 2.
  quantize: { index: 1, builtin: BuiltinOperator.QUANTIZE, version: 1 },
  dequantize: { index: 2, builtin: BuiltinOperator.DEQUANTIZE, version: 2 },
} as const;

/** Writes `q` as a .tflite model. Throws TinyqaError(ModelInvalid) when the QMlp is inconsistent. */
export function toTflite(q: QMlp, opts: TfliteExportOptions = {}): Uint8Array {
  validateQMlp(q);
  const floatIo = opts.io === 'float';
  const tensors: TensorSpec[] = [];
  const buffers: Uint8Array[] = [new Uint8Array(0)];
  const operators: OpSpec[] = [];
  const constant = (data: Uint8Array): number => buffers.push(data) - 1;

  const inputQuant = { shape: [1, q.inDim], type: TensorType.INT8, buffer: 0, scale: [q.inScale], zeroPoint: [q.inZeroPoint] };
  let input: number;
  if (floatIo) {
    tensors.push({ name: q.inputName, shape: [1, q.inDim], type: TensorType.FLOAT32, buffer: 0, scale: [], zeroPoint: [] });
    input = tensors.push({ name: `${q.inputName}_int8`, ...inputQuant }) - 1;
    operators.push({ code: 'quantize', inputs: [0], outputs: [input] });
  } else {
    input = tensors.push({ name: q.inputName, ...inputQuant }) - 1;
  }
  let inScale = q.inScale;
  q.layers.forEach((l, i) => {
    const prefix = `${q.name}/dense_${i}`;
    const uniform = hasUniformScales(l.weightScales);
    const wScales = uniform ? [l.weightScales[0]!] : Array.from(l.weightScales);
    const w = tensors.push({
      name: `${prefix}/weights`, shape: [l.outDim, l.inDim], type: TensorType.INT8,
      buffer: constant(new Uint8Array(l.weights.buffer, l.weights.byteOffset, l.weights.byteLength).slice()),
      scale: wScales, zeroPoint: wScales.map(() => 0), ...(uniform ? {} : { quantizedDimension: 0 }),
    }) - 1;
    // Bias scale = input scale · weight scale, formed in double from the float32 values as TFLite's
    // Prepare does (it accepts a bias scale within 1e-6 relative of that product).
    const inS = Math.fround(inScale);
    const bScales = wScales.map((s) => inS * Math.fround(s));
    const b = tensors.push({
      name: `${prefix}/bias`, shape: [l.outDim], type: TensorType.INT32, buffer: constant(int32Bytes(l.bias)),
      scale: bScales, zeroPoint: bScales.map(() => 0), ...(uniform ? {} : { quantizedDimension: 0 }),
    }) - 1;
    const last = i === q.layers.length - 1;
    const out = tensors.push({
      name: !last ? `${prefix}/output` : floatIo ? `${q.outputName}_int8` : q.outputName, shape: [1, l.outDim], type: TensorType.INT8, buffer: 0,
      scale: [l.outScale], zeroPoint: [l.outZeroPoint],
    }) - 1;
    operators.push({ code: 'fc', inputs: [input, w, b], outputs: [out], relu: l.activation === 'relu' });
    input = out;
    inScale = l.outScale;
  });
  if (floatIo) {
    const out = tensors.push({ name: q.outputName, shape: [1, outDimOf(q)], type: TensorType.FLOAT32, buffer: 0, scale: [], zeroPoint: [] }) - 1;
    operators.push({ code: 'dequantize', inputs: [input], outputs: [out] });
    input = out;
  }

  const fbb = new FlatBufferBuilder(1024 + buffers.reduce((a, d) => a + d.length + 32, 0));

  const bufferRefs = buffers.map((data) =>
    data.length === 0 ? fbb.table([]) : fbb.table(fields({ [T.Buffer.data]: fb.ref(fbb.bytesVector(data, 1, BUFFER_ALIGN)) })));
  const tensorRefs = tensors.map((t) => writeTensor(fbb, t));
  const operatorRefs = operators.map((op) => {
    if (op.code !== 'fc') {
      // QUANTIZE/DEQUANTIZE have empty options tables; leaving builtin_options out (NONE) is allowed.
      return fbb.table(fields({
        [T.Operator.opcode_index]: fb.u32(OPCODES[op.code].index),
        [T.Operator.inputs]: fb.ref(fbb.int32Vector(op.inputs)),
        [T.Operator.outputs]: fb.ref(fbb.int32Vector(op.outputs)),
      }));
    }
    const options = fbb.table(fields({
      [T.FullyConnectedOptions.fused_activation_function]: fb.i8(op.relu ? ActivationFunctionType.RELU : ActivationFunctionType.NONE),
      [T.FullyConnectedOptions.weights_format]: fb.i8(FC_WEIGHTS_DEFAULT),
      [T.FullyConnectedOptions.keep_num_dims]: fb.bool(false),
    }));
    return fbb.table(fields({
      [T.Operator.opcode_index]: fb.u32(OPCODES.fc.index),
      [T.Operator.inputs]: fb.ref(fbb.int32Vector(op.inputs)),
      [T.Operator.outputs]: fb.ref(fbb.int32Vector(op.outputs)),
      [T.Operator.builtin_options_type]: fb.u8(BuiltinOptions.FullyConnectedOptions),
      [T.Operator.builtin_options]: fb.ref(options),
    }));
  });
  const subgraph = fbb.table(fields({
    [T.SubGraph.tensors]: fb.ref(fbb.refVector(tensorRefs)),
    [T.SubGraph.inputs]: fb.ref(fbb.int32Vector([0])), // the model input is always tensor 0
    [T.SubGraph.outputs]: fb.ref(fbb.int32Vector([input])),
    [T.SubGraph.operators]: fb.ref(fbb.refVector(operatorRefs)),
    [T.SubGraph.name]: fb.ref(fbb.string('main')),
  }));
  // Since the builtin-code extension, readers take max(deprecated_builtin_code, builtin_code); the
  // byte field must still hold codes below 127 for older readers, so both carry the code.
  const used = floatIo ? [OPCODES.fc, OPCODES.quantize, OPCODES.dequantize] : [OPCODES.fc];
  const opcodes = used.map((c) => fbb.table(fields({
    [T.OperatorCode.deprecated_builtin_code]: fb.i8(Math.min(c.builtin, 127)),
    [T.OperatorCode.version]: fb.i32(c.version),
    [T.OperatorCode.builtin_code]: fb.i32(c.builtin),
  })));
  const model = fbb.table(fields({
    [T.Model.version]: fb.u32(TFLITE_SCHEMA_VERSION),
    [T.Model.operator_codes]: fb.ref(fbb.refVector(opcodes)),
    [T.Model.subgraphs]: fb.ref(fbb.refVector([subgraph])),
    [T.Model.description]: fb.ref(fbb.string(q.description)),
    [T.Model.buffers]: fb.ref(fbb.refVector(bufferRefs)),
  }));
  return fbb.finish(model, TFLITE_IDENTIFIER);
}

function writeTensor(fbb: FlatBufferBuilder, t: TensorSpec): FbRef {
  const quant = t.scale.length === 0 ? undefined : fbb.table(fields({
    [T.QuantizationParameters.scale]: fb.ref(fbb.float32Vector(t.scale)),
    // schema.fbs: zero_point:[long]; one per scale (XNNPACK refuses mismatched counts).
    [T.QuantizationParameters.zero_point]: fb.ref(fbb.int64Vector(t.zeroPoint)),
    [T.QuantizationParameters.quantized_dimension]: t.quantizedDimension === undefined ? undefined : fb.i32(t.quantizedDimension),
  }));
  return fbb.table(fields({
    [T.Tensor.shape]: fb.ref(fbb.int32Vector(t.shape)),
    [T.Tensor.type]: fb.i8(t.type),
    [T.Tensor.buffer]: fb.u32(t.buffer),
    [T.Tensor.name]: fb.ref(fbb.string(t.name)),
    [T.Tensor.quantization]: quant === undefined ? undefined : fb.ref(quant),
  }));
}

/** { id: field } → the dense, id-indexed array FlatBufferBuilder.table takes. */
function fields(byId: Record<number, FbField | undefined>): (FbField | undefined)[] {
  const ids = Object.keys(byId).map(Number);
  const out: (FbField | undefined)[] = new Array(ids.length === 0 ? 0 : Math.max(...ids) + 1).fill(undefined);
  for (const id of ids) out[id] = byId[id];
  return out;
}

function int32Bytes(values: Int32Array): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setInt32(4 * i, x, true));
  return b;
}
