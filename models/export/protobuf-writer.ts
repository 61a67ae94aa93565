/**
 * A minimal protobuf encoder, enough for ONNX models (no protobuf package). Pure.
 *
 * Wire format (https://protobuf.dev/programming-guides/encoding/): every field is a tag
 * varint(field_number << 3 | wire_type) then its value; wire type 0 = varint (int32/int64/enum,
 * negative values as their 64-bit two's complement, 10 bytes), 2 = length-delimited (string, bytes,
 * embedded message, packed repeated scalars: varint length then payload), 5 = 32-bit little-endian
 * (float). Fields are written in the order given; a reader accepts any order.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  private varintBytes(v: bigint): Uint8Array {
    let u = BigInt.asUintN(64, v);
    const out: number[] = [];
    do {
      const low = Number(u & 0x7fn);
      u >>= 7n;
      out.push(u === 0n ? low : low | 0x80);
    } while (u !== 0n);
    return Uint8Array.from(out);
  }

  private tag(field: number, wire: number): void {
    this.push(this.varintBytes(BigInt((field << 3) | wire)));
  }

  /** int32/int64/enum/bool field (wire type 0). */
  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(this.varintBytes(BigInt(value)));
    return this;
  }

  /** float field (wire type 5). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.push(this.varintBytes(BigInt(value.length)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** Embedded message (wire type 2). */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** Packed repeated int32/int64 (wire type 2, payload = concatenated varints). */
  packedInts(field: number, values: ReadonlyArray<number | bigint>): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.push(inner.varintBytes(BigInt(v)));
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
