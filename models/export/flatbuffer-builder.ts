/**
 * A small flatbuffer writer, enough for TFLite models (no flatbuffers package). Pure.
 *
 * Wire rules (flatbuffers "Internals" doc; the reader in runtime/inference/tflite/flatbuffer.ts
 * checks the same ones), little-endian throughout:
 * - the file starts with a uoffset (u32) to the root table, then the optional 4-byte identifier;
 * - a uoffset is unsigned and relative to its own position, so whatever it refers to lies at a
 *   higher address. The buffer is therefore built back to front: children first, parents after, and
 *   each object's position is known as its distance from the END of the buffer ("offset" below);
 * - a table is [soffset (i32) to its vtable, field values...]; the vtable is
 *   [u16 vtable bytes, u16 table bytes, u16 per field id: field position − table start, 0 = absent]
 *   and sits at table − soffset (we write it just below the table, so soffset > 0);
 * - a vector is [u32 count, elements...]; a string is [u32 byte length, UTF-8, 0];
 * - every scalar is aligned to its size, the count of a vector to 4 and its elements to their size
 *   (or a schema's force_align); the whole buffer's length is a multiple of the largest alignment
 *   used, so an alignment measured from the end holds from the start too.
 */

/** A table field's value; `offset` is a reference returned by this builder (table, vector or string). */
export type FbField =
  | { kind: 'bool' | 'u8' | 'i8'; value: number | boolean }
  | { kind: 'i16' | 'u16'; value: number }
  | { kind: 'i32' | 'u32' | 'f32'; value: number }
  | { kind: 'i64'; value: bigint }
  | { kind: 'offset'; value: FbRef };

/** Position of a written object, as its distance from the end of the buffer. */
export type FbRef = { readonly at: number };

const SIZES: Record<FbField['kind'], number> = { bool: 1, u8: 1, i8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, i64: 8, offset: 4 };

export class FlatBufferBuilder {
  private bytes: Uint8Array;
  private view: DataView;
  /** Index in `bytes` where the written data starts; data grows downward to index 0. */
  private head: number;
  private maxAlign = 4;

  constructor(initialSize = 1024) {
    this.bytes = new Uint8Array(initialSize);
    this.view = new DataView(this.bytes.buffer);
    this.head = initialSize;
  }

  /** Bytes written so far (= offset of the lowest written byte from the end). */
  get size(): number {
    return this.bytes.length - this.head;
  }

  private reserve(n: number): void {
    if (this.head >= n) return;
    let len = this.bytes.length;
    while (len - this.size < n) len *= 2;
    const next = new Uint8Array(len);
    next.set(this.bytes.subarray(this.head), len - this.size);
    this.head = len - this.size;
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  /**
   * Zero padding so that, once `then` more bytes are written, the total is a multiple of `align`:
   * the object whose first byte is written last then starts on an `align` boundary.
   */
  private pad(align: number, then: number): void {
    this.maxAlign = Math.max(this.maxAlign, align);
    const n = (align - ((this.size + then) % align)) % align;
    this.reserve(n);
    for (let i = 0; i < n; i++) this.bytes[--this.head] = 0;
  }

  /** Prepends one scalar (already aligned by the caller). */
  private put(kind: Exclude<FbField['kind'], 'offset'>, value: number | bigint | boolean): void {
    const n = SIZES[kind];
    this.reserve(n);
    this.head -= n;
    const p = this.head;
    switch (kind) {
      case 'bool': this.view.setUint8(p, value ? 1 : 0); break;
      case 'u8': this.view.setUint8(p, Number(value)); break;
      case 'i8': this.view.setInt8(p, Number(value)); break;
      case 'i16': this.view.setInt16(p, Number(value), true); break;
      case 'u16': this.view.setUint16(p, Number(value), true); break;
      case 'i32': this.view.setInt32(p, Number(value), true); break;
      case 'u32': this.view.setUint32(p, Number(value), true); break;
      case 'f32': this.view.setFloat32(p, Number(value), true); break;
      case 'i64': this.view.setBigInt64(p, BigInt(value), true); break;
    }
  }

  /** Prepends a uoffset to `ref`: the stored value is (ref's address) − (this field's address). */
  private putOffset(ref: FbRef): void {
    this.pad(4, 4);
    const fieldAt = this.size + 4;
    if (ref.at > this.size) throw new Error('flatbuffer builder: offset to an object not yet written');
    this.put('u32', fieldAt - ref.at);
  }

  /** A string: [u32 length][UTF-8][0]. */
  string(s: string): FbRef {
    const utf8 = new TextEncoder().encode(s);
    this.pad(4, utf8.length + 1 + 4);
    this.put('u8', 0);
    this.raw(utf8);
    this.put('u32', utf8.length);
    return { at: this.size };
  }

  private raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.head -= data.length;
    this.bytes.set(data, this.head);
  }

  /**
   * A vector of scalars given as little-endian bytes (`elemSize` each). `align` is the elements'
   * alignment (their size, or a schema force_align such as TFLite's Buffer.data: 16).
   */
  bytesVector(data: Uint8Array, elemSize: number, align = elemSize): FbRef {
    if (data.length % elemSize !== 0) throw new Error('flatbuffer builder: vector bytes are not whole elements');
    // The elements must start on `align`, and the u32 count just below them on 4.
    this.pad(Math.max(align, 4), data.length);
    this.raw(data);
    this.put('u32', data.length / elemSize);
    return { at: this.size };
  }

  int32Vector(values: ArrayLike<number>): FbRef {
    const b = new Uint8Array(values.length * 4);
    const v = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) v.setInt32(4 * i, values[i]!, true);
    return this.bytesVector(b, 4);
  }

  float32Vector(values: ArrayLike<number>): FbRef {
    const b = new Uint8Array(values.length * 4);
    const v = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) v.setFloat32(4 * i, values[i]!, true);
    return this.bytesVector(b, 4);
  }

  int64Vector(values: ArrayLike<number>): FbRef {
    const b = new Uint8Array(values.length * 8);
    const v = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) v.setBigInt64(8 * i, BigInt(values[i]!), true);
    return this.bytesVector(b, 8);
  }

  /** A vector of tables or strings: u32 count, then one uoffset per element. */
  refVector(refs: readonly FbRef[]): FbRef {
    this.pad(4, 4 * refs.length);
    for (let i = refs.length - 1; i >= 0; i--) this.putOffset(refs[i]!);
    this.put('u32', refs.length);
    return { at: this.size };
  }

  /**
   * A table; `fields[id]` is the value of schema field `id` (undefined = absent, the schema default
   * applies). A union takes two ids: its type (u8) at id, its value (offset) at id + 1.
   */
  table(fields: ReadonlyArray<FbField | undefined>): FbRef {
    const tableEnd = this.size;
    const slots: number[] = new Array<number>(fields.length).fill(0);
    // Largest first (they land at the highest addresses), so smaller ones pack below them without gaps.
    const order = fields.map((f, id) => ({ f, id })).filter((e): e is { f: FbField; id: number } => e.f !== undefined)
      .sort((a, b) => SIZES[b.f.kind] - SIZES[a.f.kind]);
    // Written back to front: the last written lies at the lowest address, next to the soffset.
    const written: { id: number; at: number }[] = [];
    for (const { f, id } of order) {
      if (f.kind === 'offset') this.putOffset(f.value);
      else {
        this.pad(SIZES[f.kind], SIZES[f.kind]);
        this.put(f.kind, f.value);
      }
      written.push({ id, at: this.size });
    }
    this.pad(4, 4);
    this.put('i32', 0); // soffset, patched once the vtable's position is known
    const tableAt = this.size;
    for (const w of written) slots[w.id] = tableAt - w.at;
    // Trailing absent fields need no slot: a reader treats slots past the vtable's end as absent.
    let n = slots.length;
    while (n > 0 && slots[n - 1] === 0) n--;
    const tableBytes = tableAt - tableEnd;
    if (tableBytes > 0xffff) throw new Error('flatbuffer builder: table larger than 64 KiB');
    // vtable: u16s, lands 2-aligned below the 4-aligned table.
    for (let i = n - 1; i >= 0; i--) this.put('u16', slots[i]!);
    this.put('u16', tableBytes);
    this.put('u16', 4 + 2 * n);
    const vtableAt = this.size;
    // soffset = table address − vtable address = vtableAt − tableAt (vtable is below the table).
    this.view.setInt32(this.bytes.length - tableAt, vtableAt - tableAt, true);
    return { at: tableAt };
  }

  /** Finishes with `root` and a 4-character file identifier; returns the bytes (a copy). */
  finish(root: FbRef, identifier: string): Uint8Array {
    if (identifier.length !== 4) throw new Error('flatbuffer builder: the file identifier has 4 characters');
    this.pad(this.maxAlign, 8);
    this.raw(new TextEncoder().encode(identifier));
    this.putOffset(root);
    return this.bytes.slice(this.head);
  }
}

/** Field constructors, so schema code reads as `{ 0: u32(3), 2: ref(x) }`. */
export const fb = {
  bool: (value: boolean): FbField => ({ kind: 'bool', value }),
  u8: (value: number): FbField => ({ kind: 'u8', value }),
  i8: (value: number): FbField => ({ kind: 'i8', value }),
  i32: (value: number): FbField => ({ kind: 'i32', value }),
  u32: (value: number): FbField => ({ kind: 'u32', value }),
  f32: (value: number): FbField => ({ kind: 'f32', value }),
  ref: (value: FbRef): FbField => ({ kind: 'offset', value }),
};
