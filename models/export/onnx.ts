/**
 * QMlp → ONNX ModelProto in QDQ form (the "QuantizeLinear/DequantizeLinear around float ops" layout
 * onnxruntime's quantizer writes and its QDQ transformer fuses back into integer kernels):
 *
 *   x (float [N, inDim]) → QuantizeLinear → DequantizeLinear ─┐
 *   per layer:  MatMul(·, DQ(W)) → Add(·, DQ(B)) → [Relu] → QuantizeLinear → DequantizeLinear
 *   the last DequantizeLinear's output is y (float [N, outDim])
 *
 * W is stored int8 transposed to [in, out] (MatMul computes x·W) with per-axis scales on axis 1, the
 * output unit (one scalar scale when every unit shares it); zero points are int8 zeros (symmetric).
 * B is int32 [out] with scale inScale·wScale[o] on axis 0 and no zero point (DequantizeLinear-13:
 * "in the case of dequantizing int32, there's no zero point"). Activations are int8, per tensor.
 * Per-axis DequantizeLinear needs opset 13, so opsets 13…21 are accepted.
 *
 * Field numbers are those of onnx/onnx.proto (named in the F table below); TensorProto data goes in
 * raw_data, little-endian, as onnx.proto requires for that field.
 */
import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import { VERSION } from '../../runtime/version.js';
import type { QMlp } from '../ir.js';
import { ProtoWriter } from './protobuf-writer.js';
import { hasUniformScales, outDimOf, validateQMlp } from './validate.js';

/** onnx.proto field numbers, by message. */
const F = {
  ModelProto: { ir_version: 1, producer_name: 2, producer_version: 3, doc_string: 6, graph: 7, opset_import: 8 },
  OperatorSetIdProto: { domain: 1, version: 2 },
  GraphProto: { node: 1, name: 2, initializer: 5, doc_string: 10, input: 11, output: 12 },
  NodeProto: { input: 1, output: 2, name: 3, op_type: 4, attribute: 5 },
  AttributeProto: { name: 1, i: 3, type: 20 },
  TensorProto: { dims: 1, data_type: 2, name: 8, raw_data: 9 },
  ValueInfoProto: { name: 1, type: 2 },
  TypeProto: { tensor_type: 1 },
  TypeProtoTensor: { elem_type: 1, shape: 2 },
  TensorShapeProto: { dim: 1 },
  Dimension: { dim_value: 1, dim_param: 2 },
} as const;

/** TensorProto.DataType. */
const DataType = { FLOAT: 1, INT8: 3, INT32: 6 } as const;
/** AttributeProto.AttributeType. */
const ATTR_INT = 2;

export const DEFAULT_OPSET = 13;
/** Opsets accepted: per-axis DequantizeLinear arrived in 13; 21 is the newest checked against onnxruntime-web. */
const OPSETS = { min: 13, max: 21 } as const;

/** IR version released with each opset (onnx docs/Versioning.md table): the lowest that can carry it. */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export interface OnnxExportOptions {
  /** ai.onnx opset, 13 (default) … 21. */
  opset?: number;
  /** Name of the symbolic batch dimension of the input and output; default "N". */
  batchDim?: string;
}

type Data = { type: number; dims: number[]; raw: Uint8Array };

const f32 = (values: ArrayLike<number>, dims: number[]): Data => {
  const raw = new Uint8Array(values.length * 4);
  const v = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) v.setFloat32(4 * i, values[i]!, true);
  return { type: DataType.FLOAT, dims, raw };
};
const i8 = (values: ArrayLike<number>, dims: number[]): Data => ({ type: DataType.INT8, dims, raw: Uint8Array.from(values, (x) => x & 0xff) });
const i32 = (values: ArrayLike<number>, dims: number[]): Data => {
  const raw = new Uint8Array(values.length * 4);
  const v = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) v.setInt32(4 * i, values[i]!, true);
  return { type: DataType.INT32, dims, raw };
};

/** Writes `q` as an ONNX model. Throws TinyqaError: ModelInvalid for a bad QMlp, ModelUnsupported for an opset outside 13…21. */
export function toOnnx(q: QMlp, opts: OnnxExportOptions = {}): Uint8Array {
  validateQMlp(q);
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < OPSETS.min || opset > OPSETS.max) {
    throw new TinyqaError(ErrorCode.ModelUnsupported, `ONNX export of ${q.name}: opset ${opset} is not supported`, {
      hint: `use an opset from ${OPSETS.min} (per-axis DequantizeLinear) to ${OPSETS.max}`,
    });
  }
  const batch = opts.batchDim ?? 'N';
  const graph = new ProtoWriter();
  const nodes: ProtoWriter[] = [];
  const inits: ProtoWriter[] = [];

  const init = (name: string, d: Data): string => {
    const t = new ProtoWriter().packedInts(F.TensorProto.dims, d.dims).int(F.TensorProto.data_type, d.type)
      .string(F.TensorProto.name, name).bytes(F.TensorProto.raw_data, d.raw);
    inits.push(t);
    return name;
  };
  const node = (opType: string, name: string, inputs: string[], output: string, axis?: number): string => {
    const n = new ProtoWriter();
    for (const i of inputs) n.string(F.NodeProto.input, i);
    n.string(F.NodeProto.output, output).string(F.NodeProto.name, name).string(F.NodeProto.op_type, opType);
    if (axis !== undefined) {
      n.message(F.NodeProto.attribute, new ProtoWriter().string(F.AttributeProto.name, 'axis').int(F.AttributeProto.i, axis).int(F.AttributeProto.type, ATTR_INT));
    }
    nodes.push(n);
    return output;
  };
  /** QuantizeLinear then DequantizeLinear of an activation, per tensor (scalar scale and zero point). */
  const qdq = (x: string, prefix: string, scale: number, zeroPoint: number, out: string): string => {
    const s = init(`${prefix}_scale`, f32([scale], []));
    const z = init(`${prefix}_zero_point`, i8([zeroPoint], []));
    const xq = node('QuantizeLinear', `${prefix}_QuantizeLinear`, [x, s, z], `${prefix}_quantized`);
    return node('DequantizeLinear', `${prefix}_DequantizeLinear`, [xq, s, z], out);
  };

  let x = qdq(q.inputName, q.inputName, q.inScale, q.inZeroPoint, `${q.inputName}_dequantized`);
  let inScale = Math.fround(q.inScale);
  q.layers.forEach((l, li) => {
    const p = `dense_${li}`;
    const uniform = hasUniformScales(l.weightScales);
    const scales = uniform ? [l.weightScales[0]!] : Array.from(l.weightScales);
    const scaleDims = uniform ? [] : [l.outDim];
    // W [out][in] → [in][out] for MatMul(x [N, in], W [in, out]).
    const wt = new Int8Array(l.inDim * l.outDim);
    for (let o = 0; o < l.outDim; o++) for (let i = 0; i < l.inDim; i++) wt[i * l.outDim + o] = l.weights[o * l.inDim + i]!;
    const wq = init(`${p}/W_quantized`, i8(wt, [l.inDim, l.outDim]));
    const ws = init(`${p}/W_scale`, f32(scales, scaleDims));
    const wz = init(`${p}/W_zero_point`, i8(scales.map(() => 0), scaleDims));
    const w = node('DequantizeLinear', `${p}/W_DequantizeLinear`, [wq, ws, wz], `${p}/W`, uniform ? undefined : 1);
    const bq = init(`${p}/B_quantized`, i32(l.bias, [l.outDim]));
    const bs = init(`${p}/B_scale`, f32(scales.map((s) => inScale * Math.fround(s)), scaleDims));
    const b = node('DequantizeLinear', `${p}/B_DequantizeLinear`, [bq, bs], `${p}/B`, uniform ? undefined : 0);
    let y = node('MatMul', `${p}/MatMul`, [x, w], `${p}/matmul`);
    y = node('Add', `${p}/Add`, [y, b], `${p}/add`);
    if (l.activation === 'relu') y = node('Relu', `${p}/Relu`, [y], `${p}/relu`);
    const last = li === q.layers.length - 1;
    x = qdq(y, `${p}/output`, l.outScale, l.outZeroPoint, last ? q.outputName : `${p}/output`);
    inScale = Math.fround(l.outScale);
  });

  for (const n of nodes) graph.message(F.GraphProto.node, n);
  graph.string(F.GraphProto.name, q.name);
  for (const t of inits) graph.message(F.GraphProto.initializer, t);
  if (q.description) graph.string(F.GraphProto.doc_string, q.description);
  graph.message(F.GraphProto.input, floatValueInfo(q.inputName, batch, q.inDim));
  graph.message(F.GraphProto.output, floatValueInfo(q.outputName, batch, outDimOf(q)));

  return new ProtoWriter()
    .int(F.ModelProto.ir_version, irVersionFor(opset))
    .string(F.ModelProto.producer_name, 'tinyqa')
    .string(F.ModelProto.producer_version, VERSION)
    .string(F.ModelProto.doc_string, q.description)
    .message(F.ModelProto.graph, graph)
    // The default domain ("" = ai.onnx) is written by leaving OperatorSetIdProto.domain out.
    .message(F.ModelProto.opset_import, new ProtoWriter().int(F.OperatorSetIdProto.version, opset))
    .finish();
}

/** ValueInfoProto of a float tensor [batch (symbolic), width]. */
function floatValueInfo(name: string, batch: string, width: number): ProtoWriter {
  const shape = new ProtoWriter()
    .message(F.TensorShapeProto.dim, new ProtoWriter().string(F.Dimension.dim_param, batch))
    .message(F.TensorShapeProto.dim, new ProtoWriter().int(F.Dimension.dim_value, width));
  const tensor = new ProtoWriter().int(F.TypeProtoTensor.elem_type, DataType.FLOAT).message(F.TypeProtoTensor.shape, shape);
  return new ProtoWriter().string(F.ValueInfoProto.name, name).message(F.ValueInfoProto.type, new ProtoWriter().message(F.TypeProto.tensor_type, tensor));
}
