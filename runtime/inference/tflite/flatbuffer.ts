/**
 * Minimal reader of TFLite model flatbuffers: the model version, subgraph 0's input/output tensor
 * indices, and each tensor's name, shape, type and quantization. Pure (no dependencies, no node:*).
 *
 * Flatbuffer wire rules implemented here (flatbuffers "Internals" doc, little-endian throughout):
 * - the buffer starts with a uoffset (u32) to the root table, then the 4-byte file identifier;
 * - a table starts with an soffset (i32); its vtable is at `table - soffset`;
 * - a vtable is [u16 vtable bytes, u16 table bytes, u16 field offsets...]; a field whose slot is
 *   past the vtable end or is 0 is absent (its schema default applies);
 * - table/vector/string fields hold a uoffset relative to the field's own position;
 * - a vector is [u32 count, elements...]; a vector of tables/strings holds uoffsets per element;
 * - a string is [u32 byte length, UTF-8 bytes, 0].
 * Field numbers follow tensorflow/lite/schema/schema.fbs (schema version 3).
 *
 * Every read is bounds-checked; malformed bytes raise TinyqaError(ModelInvalid), never a RangeError.
 */
import { TinyqaError } from '../../core/errors.js';
import { TfliteErrorCode } from './codes.js';

/** schema.fbs `enum TensorType : byte`. */
export const TENSOR_TYPE_NAMES = [
  'FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16', 'COMPLEX64', 'INT8',
  'FLOAT64', 'COMPLEX128', 'UINT64', 'RESOURCE', 'VARIANT', 'UINT32', 'UINT16', 'INT4', 'BFLOAT16',
] as const;
export type TensorTypeName = (typeof TENSOR_TYPE_NAMES)[number] | `UNKNOWN(${number})`;

export interface TfliteQuantization {
  /** One entry per tensor (per-tensor) or per channel along `quantizedDimension`. */
  readonly scale: readonly number[];
  readonly zeroPoint: readonly number[];
  readonly quantizedDimension: number;
}

export interface TfliteTensorMeta {
  readonly index: number;
  readonly name: string;
  readonly shape: readonly number[];
  /** Declared shape with -1 for dynamic dimensions, when the converter wrote one. */
  readonly shapeSignature: readonly number[] | undefined;
  readonly type: TensorTypeName;
  /** Undefined when the tensor has no quantization table or an empty scale vector. */
  readonly quantization: TfliteQuantization | undefined;
}

export interface TfliteModelMeta {
  readonly version: number;
  readonly description: string | undefined;
  readonly tensors: readonly TfliteTensorMeta[];
  readonly inputs: readonly TfliteTensorMeta[];
  readonly outputs: readonly TfliteTensorMeta[];
}

/** schema.fbs field ids (vtable slot numbers). */
const F = {
  Model: { version: 0, subgraphs: 2, description: 3 },
  SubGraph: { tensors: 0, inputs: 1, outputs: 2 },
  Tensor: { shape: 0, type: 1, name: 3, quantization: 4, shapeSignature: 7 },
  Quant: { scale: 2, zeroPoint: 3, quantizedDimension: 6 },
} as const;

export const TFLITE_FILE_IDENTIFIER = 'TFL3';

class Reader {
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(what: string): never {
    throw new TinyqaError(TfliteErrorCode.ModelInvalid, `TFLite flatbuffer is malformed: ${what}`, {
      hint: 'the file is truncated or not a .tflite model; re-export or re-copy it',
    });
  }

  private need(pos: number, size: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || pos + size > this.bytes.length) {
      this.fail(`${what} at byte ${pos} (+${size}) is outside the ${this.bytes.length}-byte buffer`);
    }
  }

  u8(pos: number, what: string): number {
    this.need(pos, 1, what);
    return this.view.getUint8(pos);
  }
  u16(pos: number, what: string): number {
    this.need(pos, 2, what);
    return this.view.getUint16(pos, true);
  }
  i32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.view.getInt32(pos, true);
  }
  u32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.view.getUint32(pos, true);
  }
  f32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.view.getFloat32(pos, true);
  }
  i64(pos: number, what: string): number {
    this.need(pos, 8, what);
    return Number(this.view.getBigInt64(pos, true));
  }

  /** Position of the field's value inside `table`, or undefined when the field is absent. */
  field(table: number, id: number, what: string): number | undefined {
    const vtable = table - this.i32(table, `${what} soffset`);
    const vtableSize = this.u16(vtable, `${what} vtable`);
    if (vtableSize < 4 || vtableSize % 2 !== 0) this.fail(`${what} vtable size ${vtableSize}`);
    const slot = 4 + 2 * id;
    if (slot + 2 > vtableSize) return undefined;
    const off = this.u16(vtable + slot, `${what} vtable slot ${id}`);
    return off === 0 ? undefined : table + off;
  }

  /** Follows the uoffset stored at `pos`. */
  deref(pos: number, what: string): number {
    const target = pos + this.u32(pos, what);
    this.need(target, 4, what);
    return target;
  }

  table(table: number, id: number, what: string): number | undefined {
    const p = this.field(table, id, what);
    return p === undefined ? undefined : this.deref(p, what);
  }

  /** [start of elements, count], checked so that count × elemSize fits in the buffer. */
  vector(table: number, id: number, elemSize: number, what: string): [number, number] | undefined {
    const p = this.field(table, id, what);
    if (p === undefined) return undefined;
    const v = this.deref(p, what);
    const n = this.u32(v, `${what} length`);
    this.need(v + 4, n * elemSize, `${what} (${n} elements)`);
    return [v + 4, n];
  }

  string(table: number, id: number, what: string): string | undefined {
    const v = this.vector(table, id, 1, what);
    if (v === undefined) return undefined;
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes.subarray(v[0], v[0] + v[1]));
  }

  ints(table: number, id: number, what: string): number[] | undefined {
    const v = this.vector(table, id, 4, what);
    if (v === undefined) return undefined;
    return Array.from({ length: v[1] }, (_, i) => this.i32(v[0] + 4 * i, what));
  }
}

function readQuantization(r: Reader, tensor: number, what: string): TfliteQuantization | undefined {
  const q = r.table(tensor, F.Tensor.quantization, `${what}.quantization`);
  if (q === undefined) return undefined;
  const sv = r.vector(q, F.Quant.scale, 4, `${what}.quantization.scale`);
  if (sv === undefined || sv[1] === 0) return undefined;
  const scale = Array.from({ length: sv[1] }, (_, i) => r.f32(sv[0] + 4 * i, `${what}.scale`));
  const zv = r.vector(q, F.Quant.zeroPoint, 8, `${what}.quantization.zero_point`);
  // schema.fbs: zero_point is [long]; a missing vector means zero points of 0.
  const zeroPoint = zv === undefined ? scale.map(() => 0)
    : Array.from({ length: zv[1] }, (_, i) => r.i64(zv[0] + 8 * i, `${what}.zero_point`));
  const qd = r.field(q, F.Quant.quantizedDimension, `${what}.quantization`);
  return { scale, zeroPoint, quantizedDimension: qd === undefined ? 0 : r.i32(qd, `${what}.quantized_dimension`) };
}

function readTensor(r: Reader, pos: number, index: number): TfliteTensorMeta {
  const what = `tensor ${index}`;
  const typeAt = r.field(pos, F.Tensor.type, what);
  const code = typeAt === undefined ? 0 : r.u8(typeAt, `${what}.type`); // default FLOAT32
  return {
    index,
    name: r.string(pos, F.Tensor.name, `${what}.name`) ?? '',
    shape: r.ints(pos, F.Tensor.shape, `${what}.shape`) ?? [],
    shapeSignature: r.ints(pos, F.Tensor.shapeSignature, `${what}.shape_signature`),
    type: TENSOR_TYPE_NAMES[code] ?? `UNKNOWN(${code})`,
    quantization: readQuantization(r, pos, what),
  };
}

/** Reads the metadata of a .tflite model. Throws TinyqaError(7001 ModelInvalid) on bad bytes. */
export function readTfliteModel(bytes: Uint8Array): TfliteModelMeta {
  const r: Reader = new Reader(bytes);
  if (bytes.length < 8) r.fail(`only ${bytes.length} bytes`);
  const ident = String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!);
  if (ident !== TFLITE_FILE_IDENTIFIER) {
    r.fail(`file identifier is ${JSON.stringify(ident)}, expected "${TFLITE_FILE_IDENTIFIER}"`);
  }
  const model = r.deref(0, 'root table offset');
  const versionAt = r.field(model, F.Model.version, 'Model');
  const version = versionAt === undefined ? 0 : r.u32(versionAt, 'Model.version');
  const description = r.string(model, F.Model.description, 'Model.description');

  const subgraphs = r.vector(model, F.Model.subgraphs, 4, 'Model.subgraphs');
  if (subgraphs === undefined || subgraphs[1] === 0) r.fail('the model has no subgraph');
  const sg = r.deref(subgraphs[0], 'subgraph 0');

  const tv = r.vector(sg, F.SubGraph.tensors, 4, 'SubGraph.tensors');
  const tensors = tv === undefined ? []
    : Array.from({ length: tv[1] }, (_, i) => readTensor(r, r.deref(tv[0] + 4 * i, `tensor ${i}`), i));
  const pick = (ids: number[] | undefined, what: string): TfliteTensorMeta[] =>
    (ids ?? []).map((id) => tensors[id] ?? r.fail(`${what} refers to tensor ${id} of ${tensors.length}`));

  return {
    version,
    description,
    tensors,
    inputs: pick(r.ints(sg, F.SubGraph.inputs, 'SubGraph.inputs'), 'SubGraph.inputs'),
    outputs: pick(r.ints(sg, F.SubGraph.outputs, 'SubGraph.outputs'), 'SubGraph.outputs'),
  };
}
