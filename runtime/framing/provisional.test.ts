import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import {
  emptyBatch,
  encodeHello,
  encodeSamples,
  type Hello,
  parseHello,
  parseSamples,
  SAMPLES_HEADER,
  type SampleBatch,
} from './messages.js';
import {
  CRC_BYTES,
  type DiscardKind,
  encodeFrame,
  FrameDecoder,
  HEADER_BYTES,
  MAX_FRAME,
  MAX_PAYLOAD,
  MessageType,
  PROVISIONAL_VERSION,
  SYNC0,
  SYNC1,
} from './provisional.js';

interface Frame {
  type: number;
  payload: Uint8Array;
}

/** A decoder whose sink copies every frame (the payload view is only valid during the call). */
function collector() {
  const frames: Frame[] = [];
  const discards: { kind: DiscardKind; bytes: number }[] = [];
  const decoder = new FrameDecoder({
    frame: (type, payload) => frames.push({ type, payload: payload.slice() }),
    discard: (kind, bytes) => discards.push({ kind, bytes }),
  });
  return { decoder, frames, discards };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function frameOf(type: MessageType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length + CRC_BYTES);
  encodeFrame(out, 0, type, payload.length, (p) => p.set(payload));
  return out;
}

function samplesFrame(seq: number, t0: number, periodUs: number, channels: number, count: number, values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + SAMPLES_HEADER + 4 * channels * count + CRC_BYTES);
  const n = encodeSamples(out, 0, seq, t0, periodUs, channels, count, values);
  expect(n).toBe(out.length);
  return out;
}

function helloFrame(hello: Hello): Uint8Array {
  const out = new Uint8Array(MAX_FRAME);
  return out.slice(0, encodeHello(out, 0, hello));
}

function decodeAll(...chunks: Uint8Array[]) {
  const c = collector();
  for (const chunk of chunks) c.decoder.push(chunk);
  return c;
}

const HELLO: Hello = {
  fw: 'pump-fw 0.3.1',
  device: 'pump-7',
  rate_hz: 100,
  channels: [
    { name: 'pressure', unit: 'bar', min: 0, max: 16 },
    { name: 'temp.motor', unit: '°C', min: -40, max: 150 },
  ],
};

/** Three frames of different types and lengths, none of whose bytes after the first is 0xA5. */
function threeFrames(): { bytes: Uint8Array; payloads: Uint8Array[] } {
  const payloads = [new TextEncoder().encode('{"a":1}'), Uint8Array.from({ length: 40 }, (_, i) => i), new Uint8Array(0)];
  const frames = [frameOf(MessageType.Hello, payloads[0]!), frameOf(MessageType.Samples, payloads[1]!), frameOf(MessageType.Samples, payloads[2]!)];
  return { bytes: concat(...frames), payloads };
}

describe('frame layout', () => {
  it('writes sync, version, type, little-endian length, payload and a CRC-32C over bytes 2..6+N-1', () => {
    const f = frameOf(MessageType.Samples, Uint8Array.of(1, 2, 3));
    expect([...f.subarray(0, 6)]).toEqual([SYNC0, SYNC1, PROVISIONAL_VERSION, MessageType.Samples, 3, 0]);
    expect([...f.subarray(6, 9)]).toEqual([1, 2, 3]);
    const crc = new DataView(f.buffer).getUint32(9, true);
    expect(crc).toBe(crc32c(f, 2, 9));
  });

  it('refuses a payload larger than MAX_PAYLOAD and an output buffer that is too small', () => {
    expect(() => encodeFrame(new Uint8Array(MAX_FRAME + 10), 0, MessageType.Samples, MAX_PAYLOAD + 1, () => {})).toThrow(RangeError);
    expect(() => encodeFrame(new Uint8Array(12), 0, MessageType.Samples, 3, () => {})).toThrow(RangeError);
  });
});

describe('hello and samples round trip through the decoder', () => {
  it('decodes an encoded hello into the same hello', () => {
    const { frames } = decodeAll(helloFrame(HELLO));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.type).toBe(MessageType.Hello);
    expect(parseHello(frames[0]!.payload)).toEqual(HELLO);
  });

  it('decodes a sample batch with header fields intact, values rounded to float32 and NaN kept as NaN', () => {
    const values = [0.1, NaN, -3.75, 1e6 + 0.3, NaN, 123.456];
    const { frames } = decodeAll(samplesFrame(42, 1_700_000_000_123.5, 10_000, 2, 3, values));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.type).toBe(MessageType.Samples);
    const batch = parseSamples(frames[0]!.payload, emptyBatch());
    if (typeof batch === 'string') throw new Error(batch);
    expect(batch).toMatchObject({ seq: 42, t0: 1_700_000_000_123.5, periodUs: 10_000, channels: 2, count: 3 });
    const got = [...batch.values.subarray(0, 6)];
    expect(got[1]).toBeNaN();
    expect(got[4]).toBeNaN();
    expect(got[0]).toBe(Math.fround(0.1));
    expect(got[0]).not.toBe(0.1);
    expect(got[2]).toBe(-3.75);
    expect(got[3]).toBe(Math.fround(1e6 + 0.3));
    expect(got[5]).toBe(Math.fround(123.456));
  });

  it('wraps the batch sequence number at 2^32', () => {
    const { frames } = decodeAll(samplesFrame(2 ** 32 + 5, 0, 1, 1, 1, [1]));
    const batch = parseSamples(frames[0]!.payload, emptyBatch()) as SampleBatch;
    expect(batch.seq).toBe(5);
  });

  it('grows the reused values array when a batch does not fit, and reuses it when it does', () => {
    const into = emptyBatch();
    into.values = new Float64Array(2);
    const big = decodeAll(samplesFrame(1, 0, 1, 1, 5, [1, 2, 3, 4, 5])).frames[0]!.payload;
    const b1 = parseSamples(big, into) as SampleBatch;
    expect([...b1.values.subarray(0, 5)]).toEqual([1, 2, 3, 4, 5]);
    const grown = into.values;
    const small = decodeAll(samplesFrame(2, 0, 1, 1, 2, [7, 8])).frames[0]!.payload;
    const b2 = parseSamples(small, into) as SampleBatch;
    expect(b2.values).toBe(grown);
    expect(b2.count).toBe(2);
    expect([...b2.values.subarray(0, 2)]).toEqual([7, 8]);
  });
});

describe('chunking', () => {
  it('gives the same frames for every split of a multi-frame stream into two chunks', () => {
    const { bytes, payloads } = threeFrames();
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { frames, decoder } = decodeAll(bytes.subarray(0, cut), bytes.subarray(cut));
      expect(frames.map((f) => [...f.payload]), `cut at ${cut}`).toEqual(payloads.map((p) => [...p]));
      expect(decoder.counters.discarded_bytes).toBe(0);
      expect(decoder.buffered).toBe(0);
    }
  });

  it('gives the same frames for three-chunk splits that cut inside the sync, header, payload and CRC', () => {
    const { bytes, payloads } = threeFrames();
    const first = HEADER_BYTES + payloads[0]!.length + CRC_BYTES;
    const cuts = [1, 3, 5, 6, first - 2, first, first + 1, first + 4, first + 30, bytes.length - 3];
    for (const a of cuts)
      for (const b of cuts) {
        if (b <= a) continue;
        const { frames } = decodeAll(bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b));
        expect(frames.map((f) => [...f.payload]), `cuts at ${a}, ${b}`).toEqual(payloads.map((p) => [...p]));
      }
  });

  it('gives the same frames when the stream arrives one byte at a time', () => {
    const { bytes, payloads } = threeFrames();
    const { frames } = decodeAll(...Array.from(bytes, (b) => Uint8Array.of(b)));
    expect(frames.map((f) => [...f.payload])).toEqual(payloads.map((p) => [...p]));
  });

  it('decodes a stream longer than its internal buffer pushed as one chunk', () => {
    const payload = new Uint8Array(MAX_PAYLOAD).fill(7);
    const one = frameOf(MessageType.Samples, payload);
    const stream = concat(one, one, one, one, one);
    const { frames, decoder } = decodeAll(stream);
    expect(frames).toHaveLength(5);
    expect(frames.every((f) => f.payload.length === MAX_PAYLOAD)).toBe(true);
    expect(decoder.buffered).toBe(0);
  });
});

describe('resynchronisation', () => {
  it('discards garbage before and between frames, counting every garbage byte, and recovers the frames', () => {
    const { bytes, payloads } = threeFrames();
    const first = HEADER_BYTES + payloads[0]!.length + CRC_BYTES;
    const garbageA = Uint8Array.of(0x00, 0x5a, 0xff, 0x13);
    const garbageB = Uint8Array.of(0x5a, 0x5a, 0x01, 0x02, 0x07);
    const stream = concat(garbageA, bytes.subarray(0, first), garbageB, bytes.subarray(first));
    const { frames, decoder, discards } = decodeAll(stream);
    expect(frames.map((f) => [...f.payload])).toEqual(payloads.map((p) => [...p]));
    expect(decoder.counters.discarded_bytes).toBe(garbageA.length + garbageB.length);
    expect(decoder.counters.frames).toBe(3);
    expect(discards.every((d) => d.kind === 'noise')).toBe(true);
  });

  it('holds a trailing 0xA5 as a possible frame start instead of discarding it', () => {
    const { decoder } = decodeAll(Uint8Array.of(1, 2, SYNC0));
    expect(decoder.counters.discarded_bytes).toBe(2);
    expect(decoder.buffered).toBe(1);
  });

  it('rejects a frame with one flipped payload bit as bad_crc and still recovers the next frame', () => {
    const good1 = frameOf(MessageType.Samples, Uint8Array.of(10, 11, 12, 13));
    const bad = frameOf(MessageType.Samples, Uint8Array.of(20, 21, 22, 23));
    bad[HEADER_BYTES + 1]! ^= 0x04; // 21 → 17: still no 0xA5 byte in the frame body
    const good2 = frameOf(MessageType.Samples, Uint8Array.of(30, 31, 32, 33));
    const body = [...bad.subarray(1), ...good1.subarray(1), ...good2.subarray(1)];
    expect(body).not.toContain(SYNC0);
    const { frames, decoder, discards } = decodeAll(concat(good1, bad, good2));
    expect(frames.map((f) => [...f.payload])).toEqual([
      [10, 11, 12, 13],
      [30, 31, 32, 33],
    ]);
    expect(decoder.counters.bad_crc).toBe(1);
    // The bad candidate's first byte, then the rest of it as noise: exactly the bad frame.
    expect(decoder.counters.discarded_bytes).toBe(bad.length);
    expect(discards[0]).toEqual({ kind: 'bad_crc', bytes: 1 });
  });

  it('finds a real frame that starts inside a corrupt candidate', () => {
    // A truncated frame (header claims 20 bytes of payload) whose payload region holds a whole valid frame.
    const inner = frameOf(MessageType.Samples, Uint8Array.of(1, 2, 3));
    const truncatedHeader = Uint8Array.of(SYNC0, SYNC1, PROVISIONAL_VERSION, MessageType.Samples, 20, 0);
    const tail = new Uint8Array(30); // zeros: enough bytes for the bogus candidate's CRC to be checked
    const { frames, decoder } = decodeAll(concat(truncatedHeader, inner, tail));
    expect(frames.map((f) => [...f.payload])).toEqual([[1, 2, 3]]);
    expect(decoder.counters.bad_crc).toBe(1);
  });

  it('counts an oversize length field as oversize and goes on to decode the next frame', () => {
    const oversize = Uint8Array.of(SYNC0, SYNC1, PROVISIONAL_VERSION, MessageType.Samples, 0xff, 0xff);
    const good = frameOf(MessageType.Samples, Uint8Array.of(9, 8, 7));
    const { frames, decoder } = decodeAll(concat(oversize, good));
    expect(frames.map((f) => [...f.payload])).toEqual([[9, 8, 7]]);
    expect(decoder.counters.oversize).toBe(1);
    expect(decoder.counters.discarded_bytes).toBe(oversize.length);
    expect(decoder.buffered).toBe(0);
  });

  it('decides on an oversize length as soon as the header is complete, without waiting for more bytes', () => {
    const { decoder } = decodeAll(Uint8Array.of(SYNC0, SYNC1, PROVISIONAL_VERSION, MessageType.Samples, 0x01, 0x10));
    expect(decoder.counters.oversize).toBe(1);
    expect(decoder.buffered).toBe(0);
  });

  it('counts a wrong version as bad_version and recovers the next frame', () => {
    const wrong = frameOf(MessageType.Samples, Uint8Array.of(1));
    wrong[2] = PROVISIONAL_VERSION + 1;
    const good = frameOf(MessageType.Samples, Uint8Array.of(2));
    const { frames, decoder } = decodeAll(concat(wrong, good));
    expect(frames.map((f) => [...f.payload])).toEqual([[2]]);
    expect(decoder.counters.bad_version).toBe(1);
    expect(decoder.counters.discarded_bytes).toBe(wrong.length);
  });
});

describe('decoder properties', () => {
  const header = fc
    .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 0xffff }))
    .map(([version, len]) => Uint8Array.of(SYNC0, SYNC1, version, MessageType.Samples, len & 0xff, len >>> 8));
  const validFrame = fc.uint8Array({ maxLength: 64 }).map((p) => frameOf(MessageType.Samples, p));
  // Random bytes, plus pieces that look like frame starts so the decoder's header paths are exercised.
  const piece = fc.oneof(fc.uint8Array({ maxLength: 200 }), header, validFrame, fc.constant(Uint8Array.of(SYNC0)));
  const cutPoints = fc.array(fc.nat(), { maxLength: 8 });

  function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
    const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let prev = 0;
    for (const c of [...at, bytes.length]) {
      out.push(bytes.subarray(prev, c));
      prev = c;
    }
    return out;
  }

  it('never throws on any bytes in any chunking, stays bounded, and accounts for every byte', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), cutPoints, (pieces, cuts) => {
        const bytes = concat(...pieces);
        let framed = 0;
        const decoder = new FrameDecoder({ frame: (_t, p) => (framed += HEADER_BYTES + p.length + CRC_BYTES), discard: () => {} });
        for (const chunk of chunked(bytes, cuts)) {
          decoder.push(chunk);
          expect(decoder.buffered).toBeLessThanOrEqual(MAX_FRAME * 2);
          // Anything held is an incomplete frame candidate, never a whole frame's worth of stale bytes.
          expect(decoder.buffered).toBeLessThan(MAX_FRAME);
        }
        expect(framed + decoder.counters.discarded_bytes + decoder.buffered).toBe(bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('recovers every valid frame in order from garbage that contains no 0xA5, and discards exactly the garbage', () => {
    const garbage = fc.uint8Array({ maxLength: 40 }).map((g) => g.map((b) => (b === SYNC0 ? 0 : b)));
    fc.assert(
      fc.property(fc.array(fc.tuple(garbage, fc.uint8Array({ maxLength: 80 })), { minLength: 1, maxLength: 10 }), garbage, cutPoints, (pairs, trailing, cuts) => {
        const parts: Uint8Array[] = [];
        let garbageBytes = trailing.length;
        for (const [g, p] of pairs) {
          parts.push(g, frameOf(MessageType.Samples, p));
          garbageBytes += g.length;
        }
        parts.push(trailing);
        const { frames, decoder } = decodeAll(...chunked(concat(...parts), cuts));
        expect(frames.map((f) => [...f.payload])).toEqual(pairs.map(([, p]) => [...p]));
        expect(decoder.counters.discarded_bytes).toBe(garbageBytes);
        expect(decoder.counters.bad_crc).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips random sample batches bit-exactly for float32 values, NaN and -0 included', () => {
    const batch = fc
      .record({
        channels: fc.integer({ min: 1, max: 8 }),
        count: fc.integer({ min: 1, max: 50 }),
        seq: fc.nat({ max: 0xffffffff }),
        t0: fc.double(),
        periodUs: fc.nat({ max: 0xffffffff }),
      })
      .chain((h) => fc.record({ h: fc.constant(h), values: fc.array(fc.float({ noNaN: false }), { minLength: h.channels * h.count, maxLength: h.channels * h.count }) }));
    const into = emptyBatch();
    fc.assert(
      fc.property(batch, ({ h, values }) => {
        const { frames } = decodeAll(samplesFrame(h.seq, h.t0, h.periodUs, h.channels, h.count, values));
        expect(frames).toHaveLength(1);
        const b = parseSamples(frames[0]!.payload, into);
        if (typeof b === 'string') throw new Error(b);
        expect(b.seq).toBe(h.seq);
        expect(Object.is(b.t0, h.t0)).toBe(true);
        expect(b.periodUs).toBe(h.periodUs);
        expect(b.channels).toBe(h.channels);
        expect(b.count).toBe(h.count);
        // fc.float yields float32 values, so the round trip is exact: Object.is treats NaN as NaN and keeps -0.
        const wrong = values.flatMap((x, i) => (Object.is(b.values[i], Math.fround(x)) ? [] : [`value ${i}: ${x} → ${b.values[i]}`]));
        expect(wrong).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseHello', () => {
  const enc = (x: unknown) => new TextEncoder().encode(typeof x === 'string' ? x : JSON.stringify(x));
  const withChannels = (channels: unknown) => enc({ ...HELLO, channels });

  it.each([
    ['non-JSON', new TextEncoder().encode('{"fw": ')],
    ['invalid UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d)],
    ['a JSON array', enc([1, 2])],
    ['JSON null', enc('null')],
    ['a missing device', enc({ ...HELLO, device: undefined })],
    ['a device with a space', enc({ ...HELLO, device: 'pump 7' })],
    ['a missing fw', enc({ ...HELLO, fw: undefined })],
    ['a zero rate', enc({ ...HELLO, rate_hz: 0 })],
    ['no channels', withChannels([])],
    ['a channel name with a slash', withChannels([{ name: 'a/b', unit: '', min: 0, max: 1 }])],
    ['an empty channel name', withChannels([{ name: '', unit: '', min: 0, max: 1 }])],
    ['a null channel', withChannels([null])],
    ['min equal to max', withChannels([{ name: 'a', unit: '', min: 1, max: 1 }])],
    ['min above max', withChannels([{ name: 'a', unit: '', min: 2, max: 1 }])],
    ['a non-numeric min', withChannels([{ name: 'a', unit: '', min: '0', max: 1 }])],
    ['duplicate channel names', withChannels([{ name: 'a', unit: '', min: 0, max: 1 }, { name: 'a', unit: '', min: 0, max: 2 }])],
  ])('returns a problem string, without throwing, for %s', (_what, payload) => {
    expect(typeof parseHello(payload)).toBe('string');
  });

  it('names the channel whose range is empty', () => {
    expect(parseHello(withChannels([{ name: 'flow', unit: '', min: 3, max: 3 }]))).toContain('flow');
  });

  it('defaults a missing unit to the empty string', () => {
    const h = parseHello(withChannels([{ name: 'a', min: 0, max: 1 }]));
    if (typeof h === 'string') throw new Error(h);
    expect(h.channels[0]!.unit).toBe('');
  });
});

describe('parseSamples', () => {
  const body = (channels: number, count: number, valueBytes: number) => {
    const p = new Uint8Array(SAMPLES_HEADER + valueBytes);
    const dv = new DataView(p.buffer);
    dv.setUint8(16, channels);
    dv.setUint16(17, count, true);
    return p;
  };

  it('returns a problem string when the body length does not match channels × count', () => {
    expect(typeof parseSamples(body(2, 3, 4 * 5), emptyBatch())).toBe('string');
    expect(typeof parseSamples(body(2, 3, 4 * 7), emptyBatch())).toBe('string');
    expect(parseSamples(body(2, 3, 4 * 6), emptyBatch())).toMatchObject({ channels: 2, count: 3 });
  });

  it('returns a problem string for a body shorter than its header and for zero channels', () => {
    expect(typeof parseSamples(new Uint8Array(SAMPLES_HEADER - 1), emptyBatch())).toBe('string');
    expect(typeof parseSamples(body(0, 0, 0), emptyBatch())).toBe('string');
  });

  it('reads a body that is a view at an odd offset into a larger buffer', () => {
    const frame = samplesFrame(3, 5, 7, 1, 2, [1.5, -2.5]);
    const { frames } = decodeAll(concat(Uint8Array.of(1), frame));
    const b = parseSamples(frames[0]!.payload, emptyBatch()) as SampleBatch;
    expect([b.seq, b.t0, b.periodUs, ...b.values.subarray(0, 2)]).toEqual([3, 5, 7, 1.5, -2.5]);
  });
});
