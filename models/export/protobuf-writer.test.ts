import { describe, expect, it } from 'vitest';
import { ProtoWriter } from './protobuf-writer.js';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

describe('protobuf writer', () => {
  it('encodes varints as the encoding guide shows (150 → 96 01) and negative int64 as ten bytes', () => {
    expect(hex(new ProtoWriter().int(1, 150).finish())).toBe('08 96 01');
    expect(hex(new ProtoWriter().int(1, 0).finish())).toBe('08 00');
    expect(hex(new ProtoWriter().int(2, -1).finish())).toBe('10 ff ff ff ff ff ff ff ff ff 01');
    expect(hex(new ProtoWriter().int(20, 2n ** 63n - 1n).finish())).toBe('a0 01 ff ff ff ff ff ff ff ff 7f');
  });

  it('length-prefixes strings, bytes, embedded messages and packed repeated ints', () => {
    expect(hex(new ProtoWriter().string(2, 'testing').finish())).toBe('12 07 74 65 73 74 69 6e 67');
    expect(hex(new ProtoWriter().message(3, new ProtoWriter().int(1, 150)).finish())).toBe('1a 03 08 96 01');
    expect(hex(new ProtoWriter().packedInts(4, [3, 270, 86942]).finish())).toBe('22 06 03 8e 02 9e a7 05');
    expect(hex(new ProtoWriter().float(5, 1).finish())).toBe('2d 00 00 80 3f');
  });
});
