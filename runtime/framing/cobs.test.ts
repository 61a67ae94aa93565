import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cobsChainFits, cobsDecode, cobsEncode, cobsMaxEncoded, COBS_TOO_LONG } from './cobs.js';

const RUNS = Number(process.env.TINYQA_PROPERTY_RUNS ?? 10_000);

const bytes = (...b: number[]) => Uint8Array.from(b);
/** `n` non-zero bytes 01 02 … FF 01 02 …, so every run length gives a different, recognisable pattern. */
const nonZeroRun = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i % 255) + 1);
const concat = (...parts: (Uint8Array | number[])[]) => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
/** Hex text: a fast comparison for property runs that still prints a readable difference. */
const hex = (b: Uint8Array | null) => (b === null ? 'rejected' : Buffer.from(b).toString('hex'));

function encode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncoded(src.length));
  const n = cobsEncode(src, 0, src.length, out, 0);
  return out.slice(0, n);
}

/** Decodes into a buffer of `room` bytes (default: plenty); null when the decoder refuses. */
function decode(enc: Uint8Array, room = enc.length + 16): Uint8Array | null {
  const out = new Uint8Array(room);
  const n = cobsDecode(enc, 0, enc.length, out);
  return n < 0 ? null : out.slice(0, n);
}

/** Data biased towards what stresses COBS: long non-zero runs (group boundaries at 254) and zero clusters. */
const cobsData = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.uint8Array({ min: 1, maxLength: 800 }),
  fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 255 })), { maxLength: 300 }).map((a) => Uint8Array.from(a)),
  fc.array(fc.record({ run: fc.integer({ min: 0, max: 520 }), zeros: fc.integer({ min: 0, max: 3 }) }), { maxLength: 4 }).map((parts) =>
    concat(...parts.flatMap((p) => [nonZeroRun(p.run), new Array<number>(p.zeros).fill(0)])),
  ),
);

describe('cobsEncode produces the StuffData output of PROTOCOL §2', () => {
  // Worked by hand: the data is split at each zero; each piece becomes (length + 1) then its bytes; a
  // group also closes after 254 data bytes with code FF, and the last group is always closed.
  it.each([
    ['empty input', [], [0x01]],
    ['a single zero', [0x00], [0x01, 0x01]],
    ['two zeros', [0x00, 0x00], [0x01, 0x01, 0x01]],
    ['a zero between two bytes', [0x00, 0x11, 0x00], [0x01, 0x02, 0x11, 0x01]],
    ['11 22 00 33', [0x11, 0x22, 0x00, 0x33], [0x03, 0x11, 0x22, 0x02, 0x33]],
    ['11 22 33 44', [0x11, 0x22, 0x33, 0x44], [0x05, 0x11, 0x22, 0x33, 0x44]],
    ['11 00 00 00', [0x11, 0x00, 0x00, 0x00], [0x02, 0x11, 0x01, 0x01, 0x01]],
  ])('encodes %s exactly', (_name, data, expected) => {
    expect(Array.from(encode(Uint8Array.from(data)))).toEqual(expected);
  });

  it('encodes 253 non-zero bytes as one group with code FE', () => {
    expect(encode(nonZeroRun(253))).toEqual(concat([0xfe], nonZeroRun(253)));
  });

  it('encodes 254 non-zero bytes as FF, the bytes, then a closing 01 group', () => {
    expect(encode(nonZeroRun(254))).toEqual(concat([0xff], nonZeroRun(254), [0x01]));
  });

  it('encodes 255 non-zero bytes as a full group and a one-byte group 02 FF', () => {
    expect(encode(nonZeroRun(255))).toEqual(concat([0xff], nonZeroRun(254), [0x02, 0xff]));
  });

  it('encodes 256 non-zero bytes as a full group and a two-byte group 03 FF 01', () => {
    expect(encode(nonZeroRun(256))).toEqual(concat([0xff], nonZeroRun(254), [0x03, 0xff, 0x01]));
  });

  it('encodes 508 non-zero bytes as two full groups then 01', () => {
    const data = nonZeroRun(508);
    expect(encode(data)).toEqual(concat([0xff], data.subarray(0, 254), [0xff], data.subarray(254), [0x01]));
  });

  it('encodes 509 non-zero bytes as two full groups then 02 and the last byte', () => {
    const data = nonZeroRun(509);
    expect(encode(data)).toEqual(concat([0xff], data.subarray(0, 254), [0xff], data.subarray(254, 508), [0x02, data[508]!]));
  });

  it('closes a full group before a zero that follows it: 254 bytes then 00 gives FF … 01 01', () => {
    expect(encode(concat(nonZeroRun(254), [0]))).toEqual(concat([0xff], nonZeroRun(254), [0x01, 0x01]));
  });

  it('starts with 01 when the data starts with a zero before a full group', () => {
    expect(encode(concat([0], nonZeroRun(254)))).toEqual(concat([0x01, 0xff], nonZeroRun(254), [0x01]));
  });

  it('encodes src[start, end) into out at the given offset and leaves the bytes around it alone', () => {
    const src = bytes(0xaa, 0x11, 0x22, 0x00, 0x33, 0xbb);
    const out = new Uint8Array(10).fill(0xee);
    const n = cobsEncode(src, 1, 5, out, 3);
    expect(n).toBe(5);
    expect(Array.from(out)).toEqual([0xee, 0xee, 0xee, 0x03, 0x11, 0x22, 0x02, 0x33, 0xee, 0xee]);
  });
});

describe('cobsDecode', () => {
  it.each([
    ['empty input', [], [0x01]],
    ['a single zero', [0x00], [0x01, 0x01]],
    ['11 22 00 33', [0x11, 0x22, 0x00, 0x33], [0x03, 0x11, 0x22, 0x02, 0x33]],
    ['11 00 00 00', [0x11, 0x00, 0x00, 0x00], [0x02, 0x11, 0x01, 0x01, 0x01]],
  ])('decodes the encoding of %s back to it', (_name, data, enc) => {
    expect(decode(Uint8Array.from(enc))).toEqual(Uint8Array.from(data));
  });

  it('decodes an empty piece to zero bytes', () => {
    expect(cobsDecode(new Uint8Array(0), 0, 0, new Uint8Array(4))).toBe(0);
  });

  it('accepts a full last group with the trailing 01 code', () => {
    expect(decode(concat([0xff], nonZeroRun(254), [0x01]))).toEqual(nonZeroRun(254));
  });

  it('accepts a full last group without the trailing 01 code (PROTOCOL §2)', () => {
    expect(decode(concat([0xff], nonZeroRun(254)))).toEqual(nonZeroRun(254));
  });

  it('accepts two full groups with and without the trailing 01 code', () => {
    const data = nonZeroRun(508);
    const enc = concat([0xff], data.subarray(0, 254), [0xff], data.subarray(254));
    expect(decode(enc)).toEqual(data);
    expect(decode(concat(enc, [0x01]))).toEqual(data);
  });

  it('adds no zero after a full group in the middle', () => {
    expect(decode(concat([0xff], nonZeroRun(254), [0x02, 0xff]))).toEqual(nonZeroRun(255));
  });

  it('rejects a zero code byte', () => {
    expect(decode(bytes(0x00))).toBeNull();
    expect(decode(bytes(0x02, 0x11, 0x00, 0x11))).toBeNull();
  });

  it('rejects a zero inside a group', () => {
    expect(decode(bytes(0x03, 0x11, 0x00))).toBeNull();
    expect(decode(bytes(0x04, 0x11, 0x00, 0x22))).toBeNull();
  });

  it('rejects a code pointing past the end', () => {
    expect(decode(bytes(0x05, 0x11, 0x22))).toBeNull();
    expect(decode(bytes(0x02, 0x11, 0x03, 0x22))).toBeNull();
    expect(decode(concat([0xff], nonZeroRun(253)))).toBeNull();
  });

  it('rejects data that does not fit the output buffer, and fills it exactly when it does', () => {
    const enc = bytes(0x03, 0x11, 0x22);
    expect(decode(enc, 1)).toBeNull();
    expect(decode(enc, 2)).toEqual(bytes(0x11, 0x22));
  });

  it('rejects data whose implied zero does not fit the output buffer', () => {
    // 02 11 01 decodes to 11 00: the zero is the byte that overflows a 1-byte buffer.
    expect(decode(bytes(0x02, 0x11, 0x01), 1)).toBeNull();
    expect(decode(bytes(0x02, 0x11, 0x01), 2)).toEqual(bytes(0x11, 0x00));
    expect(decode(bytes(0x02, 0x11, 0x02, 0x22), 2)).toBeNull();
  });

  it('rejects a full group that does not fit the output buffer', () => {
    const enc = concat([0xff], nonZeroRun(254));
    expect(decode(enc, 253)).toBeNull();
    expect(decode(enc, 254)).toEqual(nonZeroRun(254));
  });

  it('decodes only src[start, end)', () => {
    const src = bytes(0xee, 0x03, 0x11, 0x22, 0x02, 0x33, 0xee);
    const out = new Uint8Array(8);
    const n = cobsDecode(src, 1, 6, out);
    expect(Array.from(out.subarray(0, n))).toEqual([0x11, 0x22, 0x00, 0x33]);
  });
});

describe('cobsChainFits', () => {
  it('is true when the codes land exactly on the end', () => {
    const enc = bytes(0x03, 0x11, 0x22, 0x02, 0x33);
    expect(cobsChainFits(enc, 0, enc.length)).toBe(true);
    expect(cobsChainFits(enc, 3, enc.length)).toBe(true);
  });

  it('is false when a code points past the end or at a zero', () => {
    expect(cobsChainFits(bytes(0x03, 0x11, 0x22, 0x03, 0x33), 0, 5)).toBe(false);
    expect(cobsChainFits(bytes(0x02, 0x11, 0x00, 0x33), 0, 4)).toBe(false);
    expect(cobsChainFits(bytes(0x03, 0x11, 0x22, 0x02, 0x33), 1, 5)).toBe(false);
  });
});

describe('cobsMaxEncoded', () => {
  it('is reached exactly by runs of non-zero bytes: 0, 253, 254, 255, 508, 509 bytes', () => {
    for (const n of [0, 1, 253, 254, 255, 256, 508, 509, 2048]) expect(encode(nonZeroRun(n)).length, `${n} bytes`).toBe(cobsMaxEncoded(n));
    expect([0, 253, 254, 255, 508, 509].map(cobsMaxEncoded)).toEqual([1, 254, 256, 257, 511, 512]);
  });

  it('bounds the encoding of any data (property)', () => {
    fc.assert(
      fc.property(cobsData, (data) => {
        expect(encode(data).length).toBeLessThanOrEqual(cobsMaxEncoded(data.length));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('COBS round trip (properties)', () => {
  it.each([0, 1, 253, 254, 255, 256, 508, 509, 2048])('round-trips %i non-zero bytes', (n) => {
    const data = nonZeroRun(n);
    expect(decode(encode(data))).toEqual(data);
  });

  it.each([1, 2, 254, 255, 600])('round-trips %i zero bytes', (n) => {
    const data = new Uint8Array(n);
    expect(encode(data).length).toBe(n + 1);
    expect(decode(encode(data))).toEqual(data);
  });

  it('decodes every encoding back to the data, into a buffer of exactly the data length', () => {
    fc.assert(
      fc.property(cobsData, (data) => {
        expect(hex(decode(encode(data), data.length))).toBe(hex(data));
      }),
      { numRuns: RUNS },
    );
  });

  it('never puts a 0x00 in the encoded output', () => {
    fc.assert(
      fc.property(cobsData, (data) => {
        expect(encode(data).includes(0)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('has a code chain that lands exactly on the end of every encoding', () => {
    fc.assert(
      fc.property(cobsData, (data) => {
        const enc = encode(data);
        expect(cobsChainFits(enc, 0, enc.length)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('never reports more bytes than the output holds, whatever the input bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 300 }), (junk, room) => {
        const out = new Uint8Array(room);
        const n = cobsDecode(junk, 0, junk.length, out);
        expect(n === -1 || n === COBS_TOO_LONG || (n >= 0 && n <= room)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
