import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode, cobsMaxEncoded } from './cobs.js';
import { MessageEncoder, MessageReceiver } from './codec.js';
import { crc32c } from './crc32c.js';
import { FrameReceiver, MAX_ENCODED, MAX_FRAME, encodeFrame, type FrameError, type FrameHeader, type ReceiverCounters } from './frame.js';
import { encodeBody, MessageType, TYPE_CODE, type Message } from './messages.js';

// CI raises this (e.g. TINYQA_PROPERTY_RUNS=200000) for a longer search.
const RUNS = Number(process.env.TINYQA_PROPERTY_RUNS ?? 10_000);

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A message or body as plain comparable text: typed arrays as their exact bytes (NaN payloads and −0 included). */
const snap = (x: unknown) =>
  JSON.stringify(x, (_k, v: unknown) => (v instanceof Float32Array ? `f32:${hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))}` : typeof v === 'bigint' ? `${v}n` : v));

/** Frames one message with the given sequence number. */
function frameOf(m: Message, seq = 0, time_ms = 0): Uint8Array {
  const enc = new MessageEncoder();
  enc.seq = seq;
  return enc.frame(m, time_ms);
}

/** Wire bytes of a hand-built decoded frame (header fields, raw body, CRC correct unless told), with its delimiter. */
function craft(h: { version?: number; incompat?: number; compat?: number; type?: number; seq?: number; time_ms?: number }, body: Uint8Array | number[], crcXor = 0): Uint8Array {
  const b = Uint8Array.from(body);
  const d = new Uint8Array(10 + b.length + 4);
  const seq = h.seq ?? 0;
  const t = h.time_ms ?? 0;
  d.set([h.version ?? 1, h.incompat ?? 0, h.compat ?? 0, h.type ?? MessageType.Log, seq & 0xff, seq >>> 8, t & 0xff, (t >>> 8) & 0xff, (t >>> 16) & 0xff, t >>> 24]);
  d.set(b, 10);
  const crc = (crc32c(d, 0, d.length - 4) ^ crcXor) >>> 0;
  d.set([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24], d.length - 4);
  return wireOf(d);
}

/** COBS of raw decoded bytes plus the 0x00 delimiter. */
function wireOf(decoded: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncoded(decoded.length) + 1);
  const n = cobsEncode(decoded, 0, decoded.length, out, 0);
  return out.slice(0, n + 1);
}

interface Got {
  frames: { header: FrameHeader; body: string }[];
  discards: { reason: string; bytes: number }[];
  rx: FrameReceiver;
}

/** A FrameReceiver that records copies of everything it hands out. */
function frameRx(): Got {
  const got: Got = {
    frames: [],
    discards: [],
    rx: new FrameReceiver({
      frame: (h, body) => got.frames.push({ header: { ...h }, body: snap(body) }),
      discard: (reason, bytes) => got.discards.push({ reason, bytes }),
    }),
  };
  return got;
}

function feed(chunks: Uint8Array[]): Got {
  const g = frameRx();
  for (const c of chunks) g.rx.push(c);
  return g;
}

interface MsgGot {
  messages: { header: FrameHeader; m: string }[];
  discards: { reason: string; bytes: number; detail?: string }[];
  rx: MessageReceiver;
}

/** A MessageReceiver that records copies (the values of SAMPLES may view a reused buffer). */
function messageRx(): MsgGot {
  const got: MsgGot = {
    messages: [],
    discards: [],
    rx: new MessageReceiver({
      message: (header, m) => got.messages.push({ header: { ...header }, m: snap(m) }),
      discard: (reason, bytes, detail) => got.discards.push(detail === undefined ? { reason, bytes } : { reason, bytes, detail }),
    }),
  };
  return got;
}

/** Decodes chunks as messages; returns comparable text of everything observable (messages and counters). */
function decodeText(chunks: Uint8Array[]): string {
  const g = messageRx();
  for (const c of chunks) g.rx.push(c);
  return JSON.stringify({ m: g.messages, c: g.rx.counters, b: g.rx.buffered });
}

const examples: Message[] = [
  {
    type: 'hello',
    fw: 'sim-pump/1.0.0',
    device: 'pump-01',
    channels: [
      { name: 'pressure', unit: 'bar', min: 0, max: 10 },
      { name: 'motor_temp', unit: '°C', min: -20, max: 120.5 },
    ],
    rate_hz: 100,
    batch: 10,
    heartbeat_ms: 1000,
    commands: [1, 2, 3, 4],
    proto_min: 1,
  },
  { type: 'samples', channels: 2, period_us: 10_000, values: Float32Array.from([4.25, NaN, -1.5, 0, 1e6, 0.125]), t0_us: 123_466_789 },
  { type: 'heartbeat', uptime_ms: 4_294_967_295, dropped: 17, battery_mv: 3700, temperature_c: 41.5 },
  { type: 'time_sync', nonce: 4_294_967_295, host_ms: 1_800_000_000_000 },
  { type: 'time_sync_reply', nonce: 42, host_ms: 1_800_000_000_000, device_ms: 2499 },
  { type: 'hello_request' },
  { type: 'command', id: 70_000, code: 1, arg: 2.5 },
  { type: 'ack', id: 3, status: 2, detail: 'rate must be 1..10000 Hz' },
  { type: 'log', level: 2, text: 'sensor b recalibrated' },
];
const log = (text: string): Message => ({ type: 'log', level: 2, text });

describe('MessageEncoder → MessageReceiver', () => {
  it.each(examples.map((m) => [m.type, m] as const))('round-trips a %s with its header', (_t, m) => {
    const g = messageRx();
    g.rx.push(frameOf(m, 0xbeef, 0xdeadbeef));
    expect(g.messages).toEqual([{ header: { version: 1, incompat_flags: 0, compat_flags: 0, type: TYPE_CODE[m.type], seq: 0xbeef, time_ms: 0xdeadbeef }, m: snap(m) }]);
    expect(g.rx.counters.frames).toBe(1);
    expect(g.rx.counters.discarded_bytes).toBe(0);
    expect(g.rx.buffered).toBe(0);
  });

  it('preserves NaN sample values bit for bit, payloads included', () => {
    const bits = Uint32Array.from([0x7fc00000, 0x7fc00001, 0xffc12345, 0x7f800001, 0x80000000, 0x3fc00000]);
    const values = new Float32Array(bits.buffer);
    const g = messageRx();
    g.rx.push(frameOf({ type: 'samples', channels: 3, period_us: 1, values }));
    expect(g.messages).toHaveLength(1);
    expect(g.messages[0]!.m).toBe(snap({ type: 'samples', channels: 3, period_us: 1, values }));
    expect(g.messages[0]!.m).toContain('f32:0000c07f0100c07f4523c1ff0100807f000000800000c03f');
  });

  it('hands out SAMPLES values that are correct when the sink reads them at once', () => {
    const seen: number[][] = [];
    const rx = new MessageReceiver({ message: (_h, m) => m.type === 'samples' && seen.push(Array.from(m.values)) });
    rx.push(concat(frameOf({ type: 'samples', channels: 1, period_us: 1, values: Float32Array.from([1, NaN]) }), frameOf({ type: 'samples', channels: 1, period_us: 1, values: Float32Array.from([3, 4]) }, 1)));
    expect(seen).toEqual([
      [1, NaN],
      [3, 4],
    ]);
  });

  it('writes time_ms modulo 2^32 (PROTOCOL §3)', () => {
    const g = frameRx();
    g.rx.push(frameOf(log('t'), 0, 2 ** 32 + 5));
    expect(g.frames[0]!.header.time_ms).toBe(5);
  });

  it('numbers frames from 0 and wraps 65535 → 0 (PROTOCOL §7)', () => {
    const enc = new MessageEncoder();
    const g = frameRx();
    g.rx.push(enc.frame(log('a'), 0));
    g.rx.push(enc.frame(log('b'), 0));
    enc.seq = 65_535;
    g.rx.push(enc.frame(log('c'), 0));
    g.rx.push(enc.frame(log('d'), 0));
    expect(g.frames.map((f) => f.header.seq)).toEqual([0, 1, 65_535, 0]);
    expect(enc.seq).toBe(1);
  });

  it('lays the frame out as PROTOCOL §3 says: header little-endian, body, CRC-32C little-endian', () => {
    const wire = frameOf({ type: 'log', level: 2, text: 'hi' }, 0x0102, 0x04030201);
    expect(wire[wire.length - 1]).toBe(0);
    const d = new Uint8Array(MAX_FRAME);
    const n = cobsDecode(wire, 0, wire.length - 1, d);
    const header = [0x01, 0x00, 0x00, 0x20, 0x02, 0x01, 0x01, 0x02, 0x03, 0x04];
    const body = [0xa2, 0x00, 0x02, 0x01, 0x62, 0x68, 0x69];
    const crc = crc32c(Uint8Array.from([...header, ...body]));
    expect(Array.from(d.subarray(0, n))).toEqual([...header, ...body, crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24]);
  });

  it('encodes and decodes a frame of exactly MAX_FRAME bytes', () => {
    // a4 {0: 1, 1: 100 (18 64), 2: d8 55 59 07e4 + 2020 bytes, 3: 5}: 2034 body bytes + 14 = 2048.
    const m: Message = { type: 'samples', channels: 1, period_us: 100, values: Float32Array.from({ length: 505 }, (_, i) => i + 0.5), t0_us: 5 };
    const wire = frameOf(m);
    expect(cobsDecode(wire, 0, wire.length - 1, new Uint8Array(4096))).toBe(MAX_FRAME);
    const g = messageRx();
    g.rx.push(wire);
    expect(g.messages.map((x) => x.m)).toEqual([snap(m)]);
  });

  it('refuses to encode a frame over MAX_FRAME, or into a buffer that is too small', () => {
    const big: Message = { type: 'samples', channels: 1, period_us: 100, values: new Float32Array(506), t0_us: 5 };
    expect(() => frameOf(big)).toThrow(RangeError);
    expect(() => frameOf(big)).toThrow(/MAX_FRAME/);
    const body = encodeBody(log('hi'));
    const need = cobsMaxEncoded(10 + body.length + 4) + 1;
    expect(() => encodeFrame(new Uint8Array(need - 1), 0, { type: 0x20, seq: 0, time_ms: 0 }, body, new Uint8Array(MAX_FRAME))).toThrow(RangeError);
    expect(encodeFrame(new Uint8Array(need), 0, { type: 0x20, seq: 0, time_ms: 0 }, body, new Uint8Array(MAX_FRAME))).toBeLessThanOrEqual(need);
  });

  it('writes the compat and incompat flags it is given into the header', () => {
    const body = encodeBody(log('f'));
    const out = new Uint8Array(100);
    const withCompat = out.slice(0, encodeFrame(out, 0, { type: 0x20, seq: 1, time_ms: 2, compat_flags: 0x05 }, body, new Uint8Array(MAX_FRAME)));
    const withIncompat = out.slice(0, encodeFrame(out, 0, { type: 0x20, seq: 1, time_ms: 2, incompat_flags: 0x02 }, body, new Uint8Array(MAX_FRAME)));
    const g = feed([withCompat, withIncompat]);
    expect(g.frames.map((f) => f.header)).toEqual([{ version: 1, incompat_flags: 0, compat_flags: 0x05, type: 0x20, seq: 1, time_ms: 2 }]);
    expect(g.rx.counters.unknown_flags).toBe(1);
  });

  it('writes a frame at an offset and returns its length including the delimiter', () => {
    const enc = new MessageEncoder();
    const out = new Uint8Array(200).fill(0xee);
    const n = enc.encode(out, 7, log('hi'), 0);
    expect(out[6]).toBe(0xee);
    expect(out.slice(7, 7 + n)).toEqual(frameOf(log('hi')));
    expect(out[7 + n]).toBe(0xee);
  });
});

// A stream with each kind of trouble between six valid frames: a lone boot delimiter, garbage that
// ends with a delimiter, a frame glued behind garbage, doubled delimiters, a corrupted frame.
const sixFrames = (['hello', 'samples', 'heartbeat', 'hello_request', 'ack', 'log'] as const).map((t) => examples.find((m) => m.type === t)!).map((m, i) => frameOf(m, i, 1000 * i));
const corrupted = frameOf(log('lost'), 9);
corrupted[5]! ^= 0x10;
const troubledStream = concat([0x00], [0x13, 0x37, 0x00, 0x42, 0x00], sixFrames[0]!, [0x99, 0x98, 0x97], sixFrames[1]!, [0x00, 0x00], sixFrames[2]!, corrupted, sixFrames[3]!, sixFrames[4]!, [0x05, 0x01], sixFrames[5]!);

describe('FrameReceiver decodes the same whatever the chunking (PROTOCOL §1)', () => {
  const whole = decodeText([troubledStream]);

  it('gets all six frames from the troubled stream in one push', () => {
    const g = messageRx();
    g.rx.push(troubledStream);
    expect(g.messages.map((x) => x.header.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(g.rx.counters.resyncs).toBe(2);
  });

  it('decodes every 2-chunk split identically', () => {
    for (let i = 0; i <= troubledStream.length; i++) {
      expect(decodeText([troubledStream.subarray(0, i), troubledStream.subarray(i)]), `split at ${i}`).toBe(whole);
    }
  });

  it('decodes every 3-chunk split of a three-frame stream identically', () => {
    const small = concat([0x21, 0x22], frameOf(log('a'), 0), [0x00], frameOf({ type: 'command', id: 1, code: 4 }, 1), frameOf({ type: 'ack', id: 1, status: 0 }, 2));
    const ref = decodeText([small]);
    expect(JSON.parse(ref).m).toHaveLength(3);
    let splits = 0;
    for (let i = 0; i <= small.length; i++) {
      for (let j = i; j <= small.length; j++) {
        const got = decodeText([small.subarray(0, i), small.subarray(i, j), small.subarray(j)]);
        if (got !== ref) expect(got, `split at ${i}, ${j}`).toBe(ref);
        splits++;
      }
    }
    expect(splits).toBe(((small.length + 1) * (small.length + 2)) / 2);
  });

  it('decodes byte by byte identically', () => {
    expect(decodeText(Array.from(troubledStream, (b) => Uint8Array.of(b)))).toBe(whole);
  });
});

describe('FrameReceiver resynchronises (PROTOCOL §2)', () => {
  const f1 = frameOf(log('one'), 0);
  const f2 = frameOf(log('two'), 1);
  const seqs = (g: Got) => g.frames.map((f) => f.header.seq);

  it('recovers frames after garbage that ends in a delimiter, counting every garbage byte', () => {
    const garbage = [0x11, 0x00, 0x00, 0x22, 0x33, 0xff, 0x00];
    const g = feed([concat(garbage, f1, f2)]);
    expect(seqs(g)).toEqual([0, 1]);
    expect(g.rx.counters.discarded_bytes).toBe(garbage.length);
    expect(g.rx.counters.resyncs).toBe(0);
  });

  it('recovers a frame glued behind garbage with no delimiter, and counts a resync', () => {
    const garbage = [0x11, 0x22, 0x33, 0x05, 0x07];
    const g = feed([concat(garbage, f1)]);
    expect(seqs(g)).toEqual([0]);
    expect(g.rx.counters.resyncs).toBe(1);
    expect(g.rx.counters.discarded_bytes).toBe(garbage.length);
    expect(g.discards.reduce((s, d) => s + d.bytes, 0)).toBe(garbage.length);
  });

  it('recovers a frame glued behind garbage that looks like a COBS chain', () => {
    // 02 41 02 42 is a valid COBS chain on its own; only the real frame after it has a valid CRC.
    const g = feed([concat([0x02, 0x41, 0x02, 0x42], f1, [0x03, 0x01], f2)]);
    expect(seqs(g)).toEqual([0, 1]);
    expect(g.rx.counters.resyncs).toBe(2);
    expect(g.rx.counters.discarded_bytes).toBe(6);
  });

  it('ignores doubled delimiters, counting each extra 0x00 as one discarded byte', () => {
    const g = feed([concat([0x00], f1, [0x00, 0x00, 0x00], f2, [0x00])]);
    expect(seqs(g)).toEqual([0, 1]);
    expect(g.rx.counters.discarded_bytes).toBe(5);
    expect(g.discards).toEqual(Array.from({ length: 5 }, () => ({ reason: 'delimiter', bytes: 1 })));
    expect(g.rx.counters.frames).toBe(2);
  });

  it('rejects a frame with any single bit flipped and recovers the next frame', () => {
    for (let bit = 0; bit < (f1.length - 1) * 8; bit++) {
      const bad = f1.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const g = feed([concat(bad, f2)]);
      expect(seqs(g), `bit ${bit}`).toEqual([1]);
      expect(g.rx.counters.discarded_bytes, `bit ${bit}`).toBe(f1.length);
    }
  });

  it('does not lose the next frame to a truncated frame whose tail and delimiter were cut', () => {
    for (let keep = 1; keep < f1.length - 1; keep++) {
      const g = feed([concat(f1.subarray(0, keep), f2)]);
      expect(seqs(g), `kept ${keep}`).toEqual([1]);
      expect(g.rx.counters.discarded_bytes, `kept ${keep}`).toBe(keep);
    }
  });

  it('counts a piece longer than MAX_ENCODED once as oversize, stays bounded, and recovers the frame after it', () => {
    const g = frameRx();
    const junk = Uint8Array.from({ length: 5000 }, (_, i) => (i % 251) + 1);
    for (let i = 0; i < junk.length; i += 97) {
      g.rx.push(junk.subarray(i, i + 97));
      expect(g.rx.buffered).toBeLessThanOrEqual(MAX_ENCODED);
    }
    expect(g.rx.buffered).toBe(MAX_ENCODED);
    g.rx.push(concat([0x00], f1));
    expect(seqs(g)).toEqual([0]);
    expect(g.rx.counters.oversize).toBe(1);
    expect(g.rx.counters.discarded_bytes).toBe(junk.length + 1);
    expect(g.rx.buffered).toBe(0);
  });

  it('recovers a frame glued to the end of an oversize piece', () => {
    const junk = Uint8Array.from({ length: 3000 }, (_, i) => (i % 253) + 1);
    const g = feed([junk, f1]);
    expect(seqs(g)).toEqual([0]);
    expect(g.rx.counters.oversize).toBe(1);
    expect(g.rx.counters.resyncs).toBe(1);
    expect(g.rx.counters.discarded_bytes).toBe(junk.length);
  });

  it('counts an oversize piece pushed in one chunk once', () => {
    const g = feed([concat(new Uint8Array(10_000).fill(0x42), [0x00], f1)]);
    expect(seqs(g)).toEqual([0]);
    expect(g.rx.counters.oversize).toBe(1);
    expect(g.rx.counters.discarded_bytes).toBe(10_001);
  });
});

describe('FrameReceiver checks a frame in PROTOCOL §3 order', () => {
  const heartbeat = encodeBody({ type: 'heartbeat', uptime_ms: 1, dropped: 0 });
  const errors: FrameError[] = ['bad_cobs', 'runt', 'oversize', 'bad_crc', 'bad_version', 'unknown_flags', 'bad_body'];

  /** Feeds one wire frame, then a valid one to show the receiver carried on. */
  function check(wire: Uint8Array, error: FrameError) {
    const g = feed([concat(wire, frameOf(log('after'), 1))]);
    expect(g.frames.map((f) => f.header.seq)).toEqual([1]);
    const c: Partial<ReceiverCounters> = {};
    for (const e of errors) c[e] = g.rx.counters[e];
    expect(c).toEqual({ ...Object.fromEntries(errors.map((e) => [e, 0])), [error]: 1 });
    expect(g.rx.counters.discarded_bytes).toBe(wire.length);
    expect(g.discards).toEqual([{ reason: error, bytes: wire.length }]);
  }

  it('accepts the crafted frame when nothing is wrong with it', () => {
    const g = feed([craft({ type: MessageType.Heartbeat, seq: 3, time_ms: 7 }, heartbeat)]);
    expect(g.frames).toHaveLength(1);
    expect(g.frames[0]!.header).toEqual({ version: 1, incompat_flags: 0, compat_flags: 0, type: 3, seq: 3, time_ms: 7 });
  });

  it('calls a piece whose COBS code points past its end bad_cobs', () => {
    check(Uint8Array.from([0x05, 0x11, 0x22, 0x00]), 'bad_cobs');
  });

  it('calls a frame under 15 bytes a runt, even with a correct CRC', () => {
    check(wireOf(Uint8Array.from([1, 0, 0, 3, 0])), 'runt');
    // Header and CRC only (14 bytes): the CRC is right but there is no room for a body.
    check(craft({}, []), 'runt');
  });

  it('calls a frame with a wrong CRC bad_crc, before looking at its version', () => {
    check(craft({ type: MessageType.Heartbeat }, heartbeat, 0x00010000), 'bad_crc');
    check(craft({ version: 2, type: MessageType.Heartbeat }, heartbeat, 1), 'bad_crc');
  });

  it('calls a version-2 frame with a correct CRC bad_version, before looking at its flags', () => {
    check(craft({ version: 2, type: MessageType.Heartbeat }, heartbeat), 'bad_version');
    check(craft({ version: 0, type: MessageType.Heartbeat }, heartbeat), 'bad_version');
    check(craft({ version: 2, incompat: 1, type: MessageType.Heartbeat }, heartbeat), 'bad_version');
  });

  it('calls a frame with an unknown incompat flag unknown_flags, before looking at its body', () => {
    check(craft({ incompat: 0x01, type: MessageType.Heartbeat }, heartbeat), 'unknown_flags');
    check(craft({ incompat: 0x80, type: MessageType.Heartbeat }, heartbeat), 'unknown_flags');
    check(craft({ incompat: 0x01, type: MessageType.Heartbeat }, [0x01]), 'unknown_flags');
  });

  it('calls a frame whose body is not one CBOR map filling it bad_body', () => {
    check(craft({ type: MessageType.Heartbeat }, [0x01]), 'bad_body');
    check(craft({ type: MessageType.Heartbeat }, [0x80]), 'bad_body');
    check(craft({ type: MessageType.Heartbeat }, [0xa0, 0x00]), 'bad_body');
    check(craft({ type: MessageType.Heartbeat }, [...heartbeat, 0x01]), 'bad_body');
    check(craft({ type: MessageType.Heartbeat }, [0xa1, 0x00]), 'bad_body');
  });

  it('ignores compat_flags bits', () => {
    const g = messageRx();
    g.rx.push(craft({ compat: 0xff, type: MessageType.Heartbeat, seq: 4 }, heartbeat));
    expect(g.messages).toEqual([{ header: { version: 1, incompat_flags: 0, compat_flags: 0xff, type: 3, seq: 4, time_ms: 0 }, m: snap({ type: 'heartbeat', uptime_ms: 1, dropped: 0 }) }]);
  });

  it('refuses a frame that decodes to more than MAX_FRAME bytes, even with a correct CRC', () => {
    // Mostly zeros, so its encoding (2050 bytes) is under MAX_ENCODED while it decodes to 2049 bytes.
    const body = concat([0xa1, 0x00, 0x59, 0x07, 0xee], new Uint8Array(MAX_FRAME + 1 - 14 - 5));
    const wire = craft({ type: MessageType.Heartbeat }, body);
    expect(wire.length - 1).toBeLessThanOrEqual(MAX_ENCODED);
    const g = feed([concat(wire, frameOf(log('after'), 1))]);
    expect(g.frames.map((f) => f.header.seq)).toEqual([1]);
    expect(g.rx.counters.discarded_bytes).toBe(wire.length);
  });

  it('counts a valid frame of an unknown message type as unknown_type and carries on (PROTOCOL §8)', () => {
    const g = messageRx();
    g.rx.push(concat(craft({ type: 0x7f, seq: 0 }, [0xa1, 0x00, 0x01]), frameOf(log('after'), 1)));
    expect(g.messages.map((x) => x.header.seq)).toEqual([1]);
    expect(g.rx.counters.unknown_type).toBe(1);
    expect(g.rx.counters.bad_message).toBe(0);
    expect(g.rx.counters.frames).toBe(2);
    expect(g.rx.counters.discarded_bytes).toBe(0);
    expect(g.discards).toEqual([{ reason: 'unknown_type', bytes: 0, detail: 'unknown message type 0x7f' }]);
  });

  it('counts a valid frame whose body is not its message as bad_message, naming the problem', () => {
    const g = messageRx();
    g.rx.push(craft({ type: MessageType.Log }, [0xa0]));
    expect(g.messages).toEqual([]);
    expect(g.rx.counters.bad_message).toBe(1);
    expect(g.rx.counters.unknown_type).toBe(0);
    expect(g.discards).toEqual([{ reason: 'bad_message', bytes: 0, detail: expect.stringMatching(/^log: /) }]);
  });
});

describe('FrameReceiver counts sequence gaps (PROTOCOL §7)', () => {
  const run = (seqs: number[], between?: (rx: FrameReceiver, i: number) => void) => {
    const g = frameRx();
    seqs.forEach((s, i) => {
      between?.(g.rx, i);
      g.rx.push(frameOf(log(`#${i}`), s));
    });
    expect(g.frames.map((f) => f.header.seq)).toEqual(seqs);
    return { seq_gaps: g.rx.counters.seq_gaps, seq_resets: g.rx.counters.seq_resets };
  };

  it('counts frames 0, 1, 2, 5 as two missing frames', () => {
    expect(run([0, 1, 2, 5])).toEqual({ seq_gaps: 2, seq_resets: 0 });
  });

  it('does not count the wrap 65535 → 0 as a gap', () => {
    expect(run([65_534, 65_535, 0, 1])).toEqual({ seq_gaps: 0, seq_resets: 0 });
  });

  it('counts a gap across the wrap', () => {
    expect(run([65_534, 2])).toEqual({ seq_gaps: 3, seq_resets: 0 });
  });

  it('counts a jump back (the sender rebooted) as a reset and follows the new numbering', () => {
    expect(run([100, 101, 0, 1, 2])).toEqual({ seq_gaps: 0, seq_resets: 1 });
  });

  it('counts a jump of 32767 as gaps and one of 32768 as a reset', () => {
    expect(run([0, 32_768])).toEqual({ seq_gaps: 32_767, seq_resets: 0 });
    expect(run([0, 32_769])).toEqual({ seq_gaps: 0, seq_resets: 1 });
  });

  it('counts nothing for the first frame, whatever its number', () => {
    expect(run([40_000, 40_001])).toEqual({ seq_gaps: 0, seq_resets: 0 });
  });

  it('forgets the expected number after resetSequence', () => {
    expect(run([5, 6, 300, 301], (rx, i) => i === 2 && rx.resetSequence())).toEqual({ seq_gaps: 0, seq_resets: 0 });
  });

  it('numbers frames of every type, unknown ones included', () => {
    const g = messageRx();
    g.rx.push(concat(frameOf(log('a'), 0), craft({ type: 0x7f, seq: 1 }, [0xa0]), frameOf(log('b'), 2)));
    expect(g.rx.counters.seq_gaps).toBe(0);
    expect(g.rx.counters.unknown_type).toBe(1);
  });

  it('counts a frame lost to corruption as one gap', () => {
    const bad = frameOf(log('b'), 1);
    bad[3]! ^= 0x04;
    const g = feed([concat(frameOf(log('a'), 0), bad, frameOf(log('c'), 2))]);
    expect(g.frames.map((f) => f.header.seq)).toEqual([0, 2]);
    expect(g.rx.counters.seq_gaps).toBe(1);
  });
});

// ---- properties -------------------------------------------------------------------------------

const NAME_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-'];
// −0 becomes 0: PROTOCOL §5 writes integral values as CBOR integers, which have no negative zero.
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x));
const ascii = (maxLength: number) => fc.string({ unit: 'grapheme-ascii', maxLength });
const u8 = fc.integer({ min: 0, max: 255 });
const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const u53 = fc.maxSafeNat();
const name = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 16 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Drops keys whose value is undefined: messages never carry them (PROTOCOL §5). */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const channelArb = fc.record({ name, unit: ascii(16), a: f32, b: f32 }).filter((c) => c.a !== c.b).map((c) => ({ name: c.name, unit: c.unit, min: Math.min(c.a, c.b), max: Math.max(c.a, c.b) }));
const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    type: fc.constant('hello' as const),
    fw: ascii(200),
    device: fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 64 }),
    channels: fc.uniqueArray(channelArb, { selector: (c) => c.name, minLength: 1, maxLength: 8 }),
    rate_hz: fc.float({ min: 0, minExcluded: true, max: 1e6, noNaN: true }),
    batch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    heartbeat_ms: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    commands: fc.array(u8, { maxLength: 16 }),
    proto_min: u8,
  }),
  fc
    .record({
      channels: fc.integer({ min: 1, max: 32 }),
      count: fc.integer({ min: 0, max: 4 }),
      bits: fc.array(u32, { minLength: 128, maxLength: 128 }),
      period_us: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      t0_us: opt(u53),
    })
    .map(({ channels, count, bits, period_us, t0_us }) =>
      defined({ type: 'samples' as const, channels, period_us, values: new Float32Array(Uint32Array.from(bits.slice(0, channels * count)).buffer), t0_us }),
    ),
  fc.record({ type: fc.constant('heartbeat' as const), uptime_ms: u53, dropped: u53, battery_mv: opt(u53), temperature_c: opt(f32) }).map(defined),
  fc.record({ type: fc.constant('time_sync' as const), nonce: u32, host_ms: u53 }),
  fc.record({ type: fc.constant('time_sync_reply' as const), nonce: u32, host_ms: u53, device_ms: u32 }),
  fc.constant({ type: 'hello_request' as const }),
  fc.record({ type: fc.constant('command' as const), id: u32, code: u8, arg: opt(f32) }).map(defined),
  fc.record({ type: fc.constant('ack' as const), id: u32, status: u8, detail: opt(ascii(200)) }).map(defined),
  fc.record({ type: fc.constant('log' as const), level: u8, text: ascii(200) }),
);

/** A fixed set of frames for the stream properties, one per type plus a long run; frame i has seq i. */
const POOL_MESSAGES: Message[] = [...examples, { type: 'samples', channels: 1, period_us: 250, values: Float32Array.from({ length: 100 }, (_, i) => 1.2345 + 0.0371 * i) }];
const POOL = POOL_MESSAGES.map((m, i) => frameOf(m, i, i));

type Segment =
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'frame'; i: number }
  | { kind: 'cut'; i: number; keep: number }
  | { kind: 'flip'; i: number; bit: number }
  | { kind: 'long'; n: number };

const poolIndex = fc.integer({ min: 0, max: POOL.length - 1 });
const segmentArb: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 24 }).map((bytes) => ({ kind: 'garbage' as const, bytes })) },
  { weight: 4, arbitrary: fc.uint8Array({ min: 0, max: 3, maxLength: 6 }).map((bytes) => ({ kind: 'garbage' as const, bytes })) },
  { weight: 10, arbitrary: poolIndex.map((i) => ({ kind: 'frame' as const, i })) },
  { weight: 4, arbitrary: fc.record({ i: poolIndex, keep: fc.nat() }).map(({ i, keep }) => ({ kind: 'cut' as const, i, keep: 1 + (keep % (POOL[i]!.length - 2)) })) },
  { weight: 4, arbitrary: fc.record({ i: poolIndex, bit: fc.nat() }).map(({ i, bit }) => ({ kind: 'flip' as const, i, bit: bit % ((POOL[i]!.length - 1) * 8) })) },
  // Rare, and slow for the decoder's resync search: a run without zeros long enough to be oversize.
  { weight: 1, arbitrary: fc.integer({ min: 1900, max: 2300 }).map((n) => ({ kind: 'long' as const, n })) },
);

function segmentBytes(s: Segment): Uint8Array {
  switch (s.kind) {
    case 'garbage':
      return s.bytes;
    case 'frame':
      return POOL[s.i]!;
    case 'cut':
      return POOL[s.i]!.subarray(0, s.keep);
    case 'flip': {
      const b = POOL[s.i]!.slice();
      b[s.bit >> 3]! ^= 1 << (s.bit & 7);
      return b;
    }
    case 'long':
      return Uint8Array.from({ length: s.n }, (_, k) => (k * 7) % 255 + 1);
  }
}

/** Cuts `stream` into chunks of the given sizes, cycling through them. */
function chunk(stream: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, k = 0; at < stream.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(stream.subarray(at, at + n));
    at += n;
  }
  return out;
}
const chunkSizes = fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 12 });

describe('FrameReceiver properties', () => {
  it('(a) round-trips any valid message of any type with its header', () => {
    fc.assert(
      fc.property(messageArb, fc.integer({ min: 0, max: 0xffff }), u32, (m, seq, time_ms) => {
        const g = messageRx();
        g.rx.push(frameOf(m, seq, time_ms));
        expect(g.messages).toEqual([{ header: { version: 1, incompat_flags: 0, compat_flags: 0, type: TYPE_CODE[m.type], seq, time_ms }, m: snap(m) }]);
      }),
      { numRuns: RUNS },
    );
  });

  it('(b) never throws on any bytes in any chunking, stays bounded, and accounts for every byte', () => {
    const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ max: 3, maxLength: 200 }), fc.array(fc.constantFrom(0x00, 0x01, 0x02, 0x0f, 0xfe, 0xff), { maxLength: 300 }).map((a) => Uint8Array.from(a)));
    fc.assert(
      fc.property(bytesArb, chunkSizes, (stream, sizes) => {
        const g = frameRx();
        let pushed = 0;
        for (const c of chunk(stream, sizes)) {
          g.rx.push(c);
          pushed += c.length;
          // No random byte string here carries a valid CRC-32C frame, so every byte is discarded or held.
          // (expect() only on a violation: calling it per push would dominate the run time.)
          const { frames, discarded_bytes } = g.rx.counters;
          if (g.rx.buffered > MAX_ENCODED || frames !== 0 || discarded_bytes + g.rx.buffered !== pushed) {
            expect({ buffered: g.rx.buffered, frames, accounted: discarded_bytes + g.rx.buffered }).toEqual({ buffered: expect.any(Number), frames: 0, accounted: pushed });
            expect(g.rx.buffered).toBeLessThanOrEqual(MAX_ENCODED);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('(b) recovers every intact frame from any mix of frames and faults, and accounts for every byte', () => {
    fc.assert(
      fc.property(fc.array(segmentArb, { maxLength: 12 }), chunkSizes, (segments, sizes) => {
        const stream = concat(...segments.map(segmentBytes));
        const g = frameRx();
        let pushed = 0;
        let inFrames = 0;
        for (const c of chunk(stream, sizes)) {
          const before = g.frames.length;
          g.rx.push(c);
          pushed += c.length;
          for (let k = before; k < g.frames.length; k++) inFrames += POOL[g.frames[k]!.header.seq]!.length;
          if (g.rx.buffered > MAX_ENCODED || inFrames + g.rx.counters.discarded_bytes + g.rx.buffered !== pushed) {
            expect(g.rx.buffered).toBeLessThanOrEqual(MAX_ENCODED);
            expect(inFrames + g.rx.counters.discarded_bytes + g.rx.buffered).toBe(pushed);
          }
        }
        expect(g.frames.map((f) => f.header.seq)).toEqual(segments.flatMap((s) => (s.kind === 'frame' ? [s.i] : [])));
      }),
      { numRuns: RUNS },
    );
  });

  it('(c) decodes any split of a stream of frames identically to the whole stream', () => {
    const streamArb = fc.array(fc.oneof({ weight: 6, arbitrary: poolIndex.map((i) => ({ kind: 'frame' as const, i })) }, { weight: 1, arbitrary: segmentArb }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(streamArb, fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 16 }), (segments, sizes) => {
        const stream = concat(...segments.map(segmentBytes));
        expect(decodeText(chunk(stream, sizes))).toBe(decodeText([stream]));
      }),
      { numRuns: RUNS },
    );
  });
});
