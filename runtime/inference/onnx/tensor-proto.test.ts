import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../../core/errors.js';
import { decodeTensorProto, readTensorProto, type TensorData } from './tensor-proto.js';

/** Elements as plain numbers, for comparisons (int64 values here are small). */
const values = (d: TensorData): number[] => Array.from(d as ArrayLike<number | bigint>, (v) => Number(v));

const MODELS = fileURLToPath(new URL('../../../../shared/fixtures/models/', import.meta.url));
const present = existsSync(join(MODELS, 'onnx_backend_node_quant'));
if (!present) console.warn(`TensorProto fixture tests skipped: fixtures not found at ${MODELS}`);

// --- a minimal protobuf writer, to build TensorProtos in the encodings the fixtures do not use ---
function varint(v: bigint | number): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x ? b | 0x80 : b);
  } while (x);
  return out;
}
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const len = (field: number, body: number[]) => [...tag(field, 2), ...varint(body.length), ...body];
const f32 = (x: number) => [...new Uint8Array(new Float32Array([x]).buffer)];
const bytes = (...parts: number[][]) => new Uint8Array(parts.flat());

function decoded(b: Uint8Array) {
  const r = decodeTensorProto(b);
  if (!r.ok) throw new Error(`expected a tensor, got refusal: ${r.reason}`);
  return r.tensor;
}

function fixture(...path: string[]): Uint8Array {
  return new Uint8Array(readFileSync(join(MODELS, ...path)));
}

describe.skipIf(!present)('TensorProto reader on the conformance fixtures', () => {
  it('reads raw_data float and uint8 tensors with their names and dims (test_quantizelinear)', () => {
    const x = readTensorProto(fixture('onnx_backend_node_quant', 'test_quantizelinear', 'test_data_set_0', 'input_0.pb'), 'input_0.pb');
    expect(x).toMatchObject({ name: 'x', type: 'float32', dims: [6] });
    expect(values(x.data)).toEqual([0, 2, 3, 1000, -254, -1000]);
    const y = readTensorProto(fixture('onnx_backend_node_quant', 'test_quantizelinear', 'test_data_set_0', 'output_0.pb'), 'output_0.pb');
    expect(y).toMatchObject({ name: 'y', type: 'uint8', dims: [6] });
    expect(values(y.data)).toEqual([128, 129, 130, 255, 1, 0]);
  });

  it('reads scalars (no dims) as one element', () => {
    const s = readTensorProto(fixture('onnx_backend_node_quant', 'test_quantizelinear', 'test_data_set_0', 'input_1.pb'), 'input_1.pb');
    expect(s).toMatchObject({ name: 'y_scale', type: 'float32', dims: [] });
    expect(values(s.data)).toEqual([2]);
  });

  it('reads int8 and int32 tensors as documented in SOURCE.md', () => {
    const y8 = readTensorProto(fixture('onnx_backend_node_quant', 'test_qlinearmatmul_2D_int8_float32', 'test_data_set_0', 'output_0.pb'), 'y');
    expect(y8.type).toBe('int8');
    expect(values(y8.data)).toEqual([41, -12, -9, 1, -75, -128]);
    const y32 = readTensorProto(fixture('onnx_backend_node_quant', 'test_matmulinteger', 'test_data_set_0', 'output_0.pb'), 'Y');
    expect(y32).toMatchObject({ type: 'int32', dims: [4, 2] });
    expect(values(y32.data)).toEqual([-38, -83, -44, -98, -50, -113, -56, -128]);
  });

  it('refuses every truncation of a real file without throwing', () => {
    const full = fixture('onnx_backend_node_float', 'test_gemm_default_matrix_bias', 'test_data_set_0', 'output_0.pb');
    for (let n = 0; n < full.length; n++) {
      const r = decodeTensorProto(full.subarray(0, n));
      expect(r.ok, `prefix of ${n} bytes`).toBe(false);
    }
    expect(decodeTensorProto(full).ok).toBe(true);
  });
});

describe('TensorProto reader on the typed (non-raw) encodings', () => {
  it('reads packed float_data', () => {
    const t = decoded(bytes(tag(1, 0), varint(2), tag(2, 0), varint(1), len(8, [...new TextEncoder().encode('v')]), len(4, [...f32(1.5), ...f32(-2)])));
    expect(t).toMatchObject({ name: 'v', dims: [2], type: 'float32' });
    expect(values(t.data)).toEqual([1.5, -2]);
  });

  it('reads unpacked float_data (one fixed32 per tag), as protobuf parsers must accept', () => {
    const t = decoded(bytes(tag(1, 0), varint(2), tag(2, 0), varint(1), tag(4, 5), f32(0.25), tag(4, 5), f32(4)));
    expect(values(t.data)).toEqual([0.25, 4]);
  });

  it('reads INT8 and UINT8 from int32_data, sign-extended negatives included', () => {
    const i8 = decoded(bytes(len(1, varint(3)), tag(2, 0), varint(3), len(5, [...varint(-128), ...varint(0), ...varint(127)])));
    expect(i8.type).toBe('int8');
    expect(values(i8.data)).toEqual([-128, 0, 127]);
    const u8 = decoded(bytes(tag(1, 0), varint(2), tag(2, 0), varint(2), tag(5, 0), varint(255), tag(5, 0), varint(7)));
    expect(u8.data).toBeInstanceOf(Uint8Array);
    expect(values(u8.data)).toEqual([255, 7]);
  });

  it('reads INT64 from packed int64_data as bigints', () => {
    const t = decoded(bytes(tag(1, 0), varint(2), tag(2, 0), varint(7), len(7, [...varint(-(2n ** 63n)), ...varint(2n ** 40n)])));
    expect(t.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(t.data as BigInt64Array)).toEqual([-(2n ** 63n), 2n ** 40n]);
  });

  it('skips fields it does not need (doc_string) and unknown ones', () => {
    const t = decoded(bytes(len(12, [104, 105]), tag(2, 0), varint(6), tag(5, 0), varint(-5), tag(99, 1), [1, 2, 3, 4, 5, 6, 7, 8], tag(98, 5), [0, 0, 0, 0]));
    expect(t).toMatchObject({ dims: [], type: 'int32' });
    expect(values(t.data)).toEqual([-5]);
  });
});

describe('TensorProto reader refusals', () => {
  const refusal = (b: Uint8Array) => {
    const r = decodeTensorProto(b);
    expect(r.ok).toBe(false);
    return r.ok ? '' : r.reason;
  };

  it('refuses a missing data_type', () => expect(refusal(bytes(tag(1, 0), varint(1)))).toMatch(/data_type/));
  it('refuses unsupported data types by name', () => expect(refusal(bytes(tag(2, 0), varint(8)))).toMatch(/STRING/));
  it('refuses raw_data whose size does not match dims', () => expect(refusal(bytes(tag(1, 0), varint(3), tag(2, 0), varint(1), len(9, [0, 0, 0, 0])))).toMatch(/raw_data has 4 bytes/));
  it('refuses an element count that does not match dims', () => expect(refusal(bytes(tag(1, 0), varint(3), tag(2, 0), varint(6), tag(5, 0), varint(1)))).toMatch(/1 elements, dims need 3/));
  it('refuses int32_data values out of range for INT8', () => expect(refusal(bytes(tag(2, 0), varint(3), tag(5, 0), varint(200)))).toMatch(/out of range/));
  it('refuses negative dims', () => expect(refusal(bytes(tag(1, 0), varint(-1), tag(2, 0), varint(1)))).toMatch(/negative/));
  it('refuses a length prefix beyond the end', () => expect(refusal(bytes(tag(9, 2), varint(1000), [1, 2]))).toMatch(/claims 1000 bytes/));
  it('refuses a varint longer than 10 bytes', () => expect(refusal(bytes(tag(2, 0), new Array<number>(11).fill(0xff)))).toMatch(/longer than 10 bytes/));
  it('refuses external data', () => expect(refusal(bytes(tag(2, 0), varint(1), tag(14, 0), varint(1)))).toMatch(/EXTERNAL/));
  it('refuses huge dims that the file cannot back, without allocating them', () => expect(refusal(bytes(tag(1, 0), varint(2n ** 40n), tag(2, 0), varint(1)))).toMatch(/larger than the file/));

  it('throws a coded TinyqaError naming the source from readTensorProto', () => {
    let caught: unknown;
    try {
      readTensorProto(bytes(tag(1, 0)), 'input_0.pb');
    } catch (e) {
      caught = e;
    }
    expect(isTinyqaError(caught, ErrorCode.ModelInvalid)).toBe(true);
    expect((caught as Error).message).toMatch(/^E7001 input_0\.pb is not a readable ONNX TensorProto: /);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const r = decodeTensorProto(b);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutations of a valid tensor', () => {
    const valid = [...bytes(tag(1, 0), varint(2), tag(2, 0), varint(1), len(8, [120]), len(9, [...f32(1), ...f32(2)]))];
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.nat(255), fc.nat(valid.length), (at, value, cut) => {
        const b = valid.slice();
        b[at] = value;
        const r = decodeTensorProto(new Uint8Array(b.slice(0, cut)));
        if (r.ok) expect(r.tensor.data.length).toBe(r.tensor.dims.reduce((a, d) => a * d, 1));
      }),
      { numRuns: 2000 },
    );
  });
});
