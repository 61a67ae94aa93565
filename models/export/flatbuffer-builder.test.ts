import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fb, FlatBufferBuilder, type FbField } from './flatbuffer-builder.js';

// DEVELOPERS.md: property tests read TINYQA_PROPERTY_RUNS (default 10 000).
const RUNS = Number(process.env.TINYQA_PROPERTY_RUNS ?? 10_000);

/** Test-side reader: follows the wire rules independently of the builder, and checks alignment as it goes. */
function reader(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const aligned = (p: number, n: number) => {
    if (p % n !== 0) throw new Error(`${n}-byte value at ${p} is not aligned`);
    return p;
  };
  const field = (table: number, id: number): number | undefined => {
    const vt = table - v.getInt32(aligned(table, 4), true);
    const slot = 4 + 2 * id;
    if (slot + 2 > v.getUint16(aligned(vt, 2), true)) return undefined;
    const off = v.getUint16(vt + slot, true);
    return off === 0 ? undefined : table + off;
  };
  const deref = (p: number) => p + v.getUint32(aligned(p, 4), true);
  return { v, aligned, field, deref, root: deref(0) };
}

const SCALAR = {
  bool: { size: 1, arb: fc.boolean() },
  u8: { size: 1, arb: fc.integer({ min: 0, max: 255 }) },
  i8: { size: 1, arb: fc.integer({ min: -128, max: 127 }) },
  i16: { size: 2, arb: fc.integer({ min: -32768, max: 32767 }) },
  u16: { size: 2, arb: fc.integer({ min: 0, max: 65535 }) },
  i32: { size: 4, arb: fc.integer() },
  u32: { size: 4, arb: fc.nat() },
  f32: { size: 4, arb: fc.float({ noNaN: true }) },
  i64: { size: 8, arb: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
} as const;
type Kind = keyof typeof SCALAR;

const read = (v: DataView, kind: Kind, p: number): number | bigint | boolean => {
  switch (kind) {
    case 'bool': return v.getUint8(p) !== 0;
    case 'u8': return v.getUint8(p);
    case 'i8': return v.getInt8(p);
    case 'i16': return v.getInt16(p, true);
    case 'u16': return v.getUint16(p, true);
    case 'i32': return v.getInt32(p, true);
    case 'u32': return v.getUint32(p, true);
    case 'f32': return v.getFloat32(p, true);
    case 'i64': return v.getBigInt64(p, true);
  }
};

const scalarField = fc.oneof(...(Object.keys(SCALAR) as Kind[]).map((kind) =>
  (SCALAR[kind].arb as fc.Arbitrary<number | bigint | boolean>).map((value) => ({ kind, value }))));

describe('flatbuffer builder', () => {
  it('writes the root offset, the identifier, and a table whose absent fields read as absent', () => {
    const b = new FlatBufferBuilder(8); // tiny start: forces the buffer to grow
    const s = b.string('héllo');
    const root = b.table([fb.u32(3), undefined, fb.ref(s)]);
    const bytes = b.finish(root, 'TFL3');
    const r = reader(bytes);
    expect(new TextDecoder().decode(bytes.subarray(4, 8))).toBe('TFL3');
    expect(r.v.getUint32(r.field(r.root, 0)!, true)).toBe(3);
    expect(r.field(r.root, 1)).toBeUndefined();
    expect(r.field(r.root, 7)).toBeUndefined();
    const str = r.deref(r.field(r.root, 2)!);
    const n = r.v.getUint32(str, true);
    expect(new TextDecoder().decode(bytes.subarray(str + 4, str + 4 + n))).toBe('héllo');
    expect(bytes[str + 4 + n]).toBe(0);
  });

  it('round-trips any table of scalars and vectors, every value aligned to its size (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.option(scalarField, { nil: undefined }), { maxLength: 12 }),
      fc.array(fc.integer({ min: -128, max: 127 }), { maxLength: 40 }),
      fc.array(fc.integer(), { maxLength: 10 }),
      fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 6 }),
      fc.uint8Array({ maxLength: 50 }),
      (scalars, i8s, i32s, i64s, data) => {
        const b = new FlatBufferBuilder(16);
        const raw = b.bytesVector(data, 1, 16);
        const ints = b.int32Vector(i32s);
        const longs = b.int64Vector(i64s);
        const bytes8 = b.bytesVector(Uint8Array.from(i8s, (x) => x & 0xff), 1);
        const inner = b.table(scalars as (FbField | undefined)[]);
        const root = b.table([fb.ref(raw), fb.ref(ints), fb.ref(longs), fb.ref(bytes8), fb.ref(b.refVector([inner, inner]))]);
        const out = b.finish(root, 'TEST');
        const r = reader(out);
        const vec = (id: number, elem: number, align = elem) => {
          const at = r.deref(r.field(r.root, id)!);
          return { n: r.v.getUint32(at, true), start: r.aligned(at + 4, align) };
        };
        const d = vec(0, 1, 16);
        expect(Array.from(out.subarray(d.start, d.start + d.n))).toEqual(Array.from(data));
        const i = vec(1, 4);
        expect(Array.from({ length: i.n }, (_, k) => r.v.getInt32(i.start + 4 * k, true))).toEqual(i32s);
        const l = vec(2, 8);
        expect(Array.from({ length: l.n }, (_, k) => Number(r.v.getBigInt64(l.start + 8 * k, true)))).toEqual(i64s);
        const s = vec(3, 1);
        expect(Array.from(out.subarray(s.start, s.start + s.n), (x) => (x << 24) >> 24)).toEqual(i8s);
        const t = vec(4, 4);
        expect(t.n).toBe(2);
        for (let e = 0; e < 2; e++) {
          const table = r.deref(t.start + 4 * e);
          scalars.forEach((f, id) => {
            const p = r.field(table, id);
            if (f === undefined) return expect(p).toBeUndefined();
            const kind = f.kind as Kind;
            const got = read(r.v, kind, r.aligned(p!, SCALAR[kind].size));
            expect(got).toEqual(kind === 'f32' ? Math.fround(f.value as number) : f.value);
          });
        }
        expect(out.length % 16).toBe(0);
      },
    ), { numRuns: RUNS });
  });
});
