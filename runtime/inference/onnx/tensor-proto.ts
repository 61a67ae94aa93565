/**
 * Reader for ONNX `TensorProto` messages — the `input_N.pb` / `output_N.pb` files of ONNX's backend
 * conformance tests (onnx/backend/test/data/node/<test>/test_data_set_N/).
 *
 * Pure: no Node built-in, no protobuf library. It implements only the part of the protobuf wire
 * format (https://protobuf.dev/programming-guides/encoding/) a TensorProto needs: varints, 64/32-bit
 * fixed fields, length-delimited fields, and packed repeated scalars. Field numbers are those of
 * `message TensorProto` in onnx/onnx.proto (IR v10); data types are `TensorProto.DataType`.
 *
 * Decoders never throw on bytes (STYLE §3): `decodeTensorProto` returns a refusal naming the byte
 * offset and what was wrong; every read is bounds-checked before it happens.
 */

import { ErrorCode, TinyqaError } from '../../core/errors.js';

/** `TensorProto.DataType` values this reader turns into typed arrays (the engine's feed types). */
export const OnnxDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type OnnxDataType = (typeof OnnxDataType)[keyof typeof OnnxDataType];

export type TensorElementType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64';
export type TensorData = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;

export interface DecodedTensor {
  /** TensorProto.name (field 8); '' when absent. */
  name: string;
  dims: number[];
  type: TensorElementType;
  data: TensorData;
}

export type TensorProtoResult = { ok: true; tensor: DecodedTensor } | { ok: false; reason: string };

/** Field numbers of `message TensorProto` (onnx.proto). */
const F = { dims: 1, dataType: 2, segment: 3, floatData: 4, int32Data: 5, stringData: 6, int64Data: 7, name: 8, rawData: 9, doubleData: 10, uint64Data: 11, dataLocation: 14 } as const;

/** Protobuf wire types (encoding guide, "Message Structure"). */
const W = { varint: 0, i64: 1, len: 2, sgroup: 3, egroup: 4, i32: 5 } as const;

const TYPE_NAMES: Record<number, string> = { 0: 'UNDEFINED', 4: 'UINT16', 5: 'INT16', 8: 'STRING', 9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16' };
const ELEMENT: Record<OnnxDataType, { type: TensorElementType; size: number }> = {
  1: { type: 'float32', size: 4 },
  2: { type: 'uint8', size: 1 },
  3: { type: 'int8', size: 1 },
  6: { type: 'int32', size: 4 },
  7: { type: 'int64', size: 8 },
};

class Refusal {
  constructor(readonly reason: string) {}
}

/** Cursor over a byte range; every method checks bounds and returns a Refusal instead of reading past the end. */
class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** Base-128 varint, at most 10 bytes (a 64-bit value), as an unsigned 64-bit bigint. */
  varint(): bigint | Refusal {
    const at = this.pos;
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) return new Refusal(`varint at byte ${at} runs past the end`);
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    return new Refusal(`varint at byte ${at} is longer than 10 bytes`);
  }

  /** Advances over `n` bytes and returns where they start. */
  take(n: number, what: string): number | Refusal {
    if (n > this.end - this.pos) return new Refusal(`${what} at byte ${this.pos} needs ${n} bytes, only ${this.end - this.pos} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
}

function isRefusal(x: unknown): x is Refusal {
  return x instanceof Refusal;
}

/** Accumulates one repeated scalar field, whether packed (wire type 2) or one element per tag. */
type Scalars = { kind: 'varint'; values: bigint[] } | { kind: 'f32'; values: number[] };

function readScalars(r: Reader, wire: number, field: number, into: Scalars): Refusal | undefined {
  const one = (rr: Reader): Refusal | undefined => {
    if (into.kind === 'varint') {
      const v = rr.varint();
      if (isRefusal(v)) return v;
      into.values.push(v);
    } else {
      const at = rr.take(4, `float of field ${field}`);
      if (isRefusal(at)) return at;
      into.values.push(new DataView(rr.bytes.buffer, rr.bytes.byteOffset + at, 4).getFloat32(0, true));
    }
    return undefined;
  };
  const single = into.kind === 'varint' ? W.varint : W.i32;
  if (wire === single) return one(r);
  if (wire !== W.len) return new Refusal(`field ${field} has wire type ${wire}, expected ${single} or packed (2)`);
  const len = lengthPrefix(r, field);
  if (isRefusal(len)) return len;
  const inner = new Reader(r.bytes, r.pos, r.pos + len);
  r.pos += len;
  while (inner.pos < inner.end) {
    const e = one(inner);
    if (e) return new Refusal(`packed field ${field}: ${e.reason}`);
  }
  return undefined;
}

function lengthPrefix(r: Reader, field: number): number | Refusal {
  const len = r.varint();
  if (isRefusal(len)) return len;
  if (len > BigInt(r.end - r.pos)) return new Refusal(`field ${field} at byte ${r.pos} claims ${len} bytes, only ${r.end - r.pos} left`);
  return Number(len);
}

function skip(r: Reader, wire: number, field: number): Refusal | undefined {
  switch (wire) {
    case W.varint: {
      const v = r.varint();
      return isRefusal(v) ? v : undefined;
    }
    case W.i64: {
      const at = r.take(8, `fixed64 field ${field}`);
      return isRefusal(at) ? at : undefined;
    }
    case W.i32: {
      const at = r.take(4, `fixed32 field ${field}`);
      return isRefusal(at) ? at : undefined;
    }
    case W.len: {
      const len = lengthPrefix(r, field);
      if (isRefusal(len)) return len;
      r.pos += len;
      return undefined;
    }
    default:
      // Groups (3, 4) are deprecated and never appear in onnx.proto; 6 and 7 are not wire types.
      return new Refusal(`field ${field} has unsupported wire type ${wire}`);
  }
}

/** Decodes one TensorProto; never throws. */
export function decodeTensorProto(bytes: Uint8Array): TensorProtoResult {
  try {
    const out = decode(bytes);
    return isRefusal(out) ? { ok: false, reason: out.reason } : { ok: true, tensor: out };
  } catch (e) {
    // Unreachable by construction (all reads are bounds-checked); kept so the contract "never throws" holds.
    return { ok: false, reason: `internal decoder error: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Decodes one TensorProto or throws a coded TinyqaError naming `source` (a file path, for the message). */
export function readTensorProto(bytes: Uint8Array, source: string): DecodedTensor {
  const res = decodeTensorProto(bytes);
  if (res.ok) return res.tensor;
  throw new TinyqaError(ErrorCode.ModelInvalid, `${source} is not a readable ONNX TensorProto: ${res.reason}`, {
    hint: 'the file is truncated, corrupted or not a TensorProto (test data must be input_N.pb / output_N.pb of an ONNX test)',
  });
}

function decode(bytes: Uint8Array): DecodedTensor | Refusal {
  const r = new Reader(bytes, 0, bytes.length);
  const dims: bigint[] = [];
  let dataType: bigint | undefined;
  let name = '';
  let raw: { at: number; len: number } | undefined;
  const floats: Scalars = { kind: 'f32', values: [] };
  const int32s: Scalars = { kind: 'varint', values: [] };
  const int64s: Scalars = { kind: 'varint', values: [] };
  const dimsAcc: Scalars = { kind: 'varint', values: dims };

  while (r.pos < r.end) {
    const tag = r.varint();
    if (isRefusal(tag)) return tag;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) return new Refusal(`field number 0 at byte ${r.pos} (not a protobuf message)`);
    let err: Refusal | undefined;
    switch (field) {
      case F.dims:
        err = readScalars(r, wire, field, dimsAcc);
        break;
      case F.dataType: {
        if (wire !== W.varint) return new Refusal(`data_type has wire type ${wire}, expected 0`);
        const v = r.varint();
        if (isRefusal(v)) return v;
        dataType = v;
        break;
      }
      case F.floatData:
        err = readScalars(r, wire, field, floats);
        break;
      case F.int32Data:
        err = readScalars(r, wire, field, int32s);
        break;
      case F.int64Data:
        err = readScalars(r, wire, field, int64s);
        break;
      case F.name: {
        if (wire !== W.len) return new Refusal(`name has wire type ${wire}, expected 2`);
        const len = lengthPrefix(r, field);
        if (isRefusal(len)) return len;
        name = new TextDecoder('utf-8').decode(bytes.subarray(r.pos, r.pos + len));
        r.pos += len;
        break;
      }
      case F.rawData: {
        if (wire !== W.len) return new Refusal(`raw_data has wire type ${wire}, expected 2`);
        const len = lengthPrefix(r, field);
        if (isRefusal(len)) return len;
        raw = { at: r.pos, len };
        r.pos += len;
        break;
      }
      case F.segment:
        return new Refusal('segmented tensors (field 3) are not supported');
      case F.stringData:
      case F.doubleData:
      case F.uint64Data:
        // Only meaningful for STRING / DOUBLE / UINT64 tensors, which are refused below by data_type.
        err = skip(r, wire, field);
        break;
      case F.dataLocation: {
        const v = r.varint();
        if (isRefusal(v)) return v;
        if (v !== 0n) return new Refusal('data_location is EXTERNAL; tensors stored outside the file are not supported');
        break;
      }
      default:
        // Unknown or irrelevant fields (doc_string, external_data, metadata_props, …) are skipped, as protobuf requires.
        err = skip(r, wire, field);
    }
    if (err) return err;
  }

  if (dataType === undefined) return new Refusal('data_type (field 2) is missing');
  const elem = ELEMENT[Number(dataType) as OnnxDataType] as (typeof ELEMENT)[OnnxDataType] | undefined;
  if (dataType > 255n || !elem) return new Refusal(`data_type ${dataType} (${TYPE_NAMES[Number(dataType)] ?? 'unknown'}) is not supported; supported: FLOAT, UINT8, INT8, INT32, INT64`);

  const shape: number[] = [];
  let count = 1;
  for (const d of dims) {
    const v = BigInt.asIntN(64, d);
    if (v < 0n) return new Refusal(`dimension ${v} is negative`);
    if (v > BigInt(bytes.length * 8)) return new Refusal(`dimension ${v} is larger than the file could hold`);
    shape.push(Number(v));
    count *= Number(v);
  }
  // An element takes at least one bit-ish byte in any encoding; a larger count cannot be backed by this file.
  if (count > bytes.length * 8) return new Refusal(`dims ${JSON.stringify(shape)} make ${count} elements, more than the file could hold`);

  const typed = raw
    ? fromRaw(bytes, raw, elem, count)
    : fromFields(elem.type, elem.type === 'float32' ? floats.values as number[] : elem.type === 'int64' ? int64s.values as bigint[] : int32s.values as bigint[], count);
  if (isRefusal(typed)) return typed;
  return { name, dims: shape, type: elem.type, data: typed };
}

/** raw_data: little-endian packed elements (onnx.proto, "raw_data" comment). Copied, so the result is aligned. */
function fromRaw(bytes: Uint8Array, raw: { at: number; len: number }, elem: { type: TensorElementType; size: number }, count: number): TensorData | Refusal {
  if (raw.len !== count * elem.size) return new Refusal(`raw_data has ${raw.len} bytes, dims need ${count} × ${elem.size} = ${count * elem.size}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + raw.at, raw.len);
  switch (elem.type) {
    case 'float32': {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getFloat32(i * 4, true);
      return a;
    }
    case 'int32': {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getInt32(i * 4, true);
      return a;
    }
    case 'int64': {
      const a = new BigInt64Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getBigInt64(i * 8, true);
      return a;
    }
    case 'uint8':
      return bytes.slice(raw.at, raw.at + raw.len);
    case 'int8':
      return new Int8Array(bytes.slice(raw.at, raw.at + raw.len).buffer);
  }
}

/**
 * Typed fields: FLOAT in float_data, INT64 in int64_data, and INT32/INT8/UINT8 in int32_data (onnx.proto:
 * "For INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 and BFLOAT16 tensors"), each value a varint int32.
 */
function fromFields(type: TensorElementType, values: number[] | bigint[], count: number): TensorData | Refusal {
  if (values.length !== count) return new Refusal(`the data field has ${values.length} elements, dims need ${count}`);
  switch (type) {
    case 'float32':
      return Float32Array.from(values as number[]);
    case 'int64':
      return BigInt64Array.from(values as bigint[], (v) => BigInt.asIntN(64, v));
    case 'int32':
    case 'int8':
    case 'uint8': {
      const [lo, hi] = type === 'int8' ? [-128, 127] : type === 'uint8' ? [0, 255] : [-(2 ** 31), 2 ** 31 - 1];
      const a = type === 'int8' ? new Int8Array(count) : type === 'uint8' ? new Uint8Array(count) : new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = Number(BigInt.asIntN(32, (values as bigint[])[i]!));
        if (v < lo || v > hi) return new Refusal(`int32_data[${i}] = ${v} is out of range for ${type}`);
        a[i] = v;
      }
      return a;
    }
  }
}
