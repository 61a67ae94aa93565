import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody, parseMessage, MessageType, TYPE_CODE, type Message } from './messages.js';

const RUNS = Number(process.env.TINYQA_PROPERTY_RUNS ?? 10_000);

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const ALL_TYPES = Object.values(MessageType);

/** The body a receiver would hand to parseMessage for `m`: encoded, then decoded. */
function wireBody(m: Message): Record<string, unknown> {
  const b = decodeBody(encodeBody(m));
  if (b === undefined) throw new Error(`encodeBody(${m.type}) did not decode as a map`);
  return b;
}

const hello: Message = {
  type: 'hello',
  fw: 'fw-1.2',
  device: 'pump-01',
  channels: [
    { name: 'pressure', unit: 'bar', min: 0, max: 10 },
    { name: 'flow', unit: 'L/min', min: -1.5, max: 300 },
  ],
  rate_hz: 100,
  batch: 10,
  heartbeat_ms: 1000,
  commands: [1, 2, 4],
  proto_min: 1,
};
const samples: Message = { type: 'samples', channels: 2, period_us: 10_000, values: Float32Array.from([1, 2, 3, NaN]) };

describe('encodeBody writes the PROTOCOL §5 encoding', () => {
  // Each expectation is worked out from RFC 8949 by hand: a map head A0+n, small uints as one byte,
  // 0x18/0x19/0x1A/0x1B for 1/2/4/8-byte uints, 0x20+n for -1-n, 0x60+n text heads, 0xFA float32.
  it('encodes LOG {0: 2, 1: "hi"} as a2 00 02 01 62 68 69', () => {
    expect(hex(encodeBody({ type: 'log', level: 2, text: 'hi' }))).toBe('a2000201626869');
  });

  it('encodes a non-integral COMMAND argument 2.5 as the float32 fa 40 20 00 00', () => {
    expect(hex(encodeBody({ type: 'command', id: 1, code: 1, arg: 2.5 }))).toBe('a3' + '0001' + '0101' + '02' + 'fa40200000');
  });

  it('encodes integral numbers as integers of the shortest width', () => {
    // arg 250 → 18 fa; id 70000 = 0x11170 → 1a 00 01 11 70.
    expect(hex(encodeBody({ type: 'command', id: 70_000, code: 1, arg: 250 }))).toBe('a3' + '001a00011170' + '0101' + '0218fa');
    // uptime 1000 = 0x3e8 → 19 03 e8; 17 → 11; 3700 = 0xe74 → 19 0e 74; −20 → 0x20 + 19 = 33.
    expect(hex(encodeBody({ type: 'heartbeat', uptime_ms: 1000, dropped: 17, battery_mv: 3700, temperature_c: -20 }))).toBe('a4' + '001903e8' + '0111' + '02190e74' + '0333');
  });

  it('encodes integral values up to |v| < 2^32 as integers, positive and negative', () => {
    expect(hex(encodeBody({ type: 'ack', id: 4_294_967_295, status: 0 }))).toBe('a2' + '001affffffff' + '0100');
    // −4294967295 is −1 − 4294967294 = −1 − 0xfffffffe → 3a ff ff ff fe.
    expect(hex(encodeBody({ type: 'heartbeat', uptime_ms: 0, dropped: 0, temperature_c: -4_294_967_295 }))).toBe('a3' + '0000' + '0100' + '033afffffffe');
  });

  it('rounds non-integral numbers to float32: 0.1 → fa 3d cc cc cd, −1.5 → fa bf c0 00 00, 41.5 → fa 42 26 00 00', () => {
    const temp = (t: number) => hex(encodeBody({ type: 'heartbeat', uptime_ms: 0, dropped: 0, temperature_c: t }));
    expect(temp(0.1)).toBe('a3' + '0000' + '0100' + '03fa3dcccccd');
    expect(temp(-1.5)).toBe('a3' + '0000' + '0100' + '03fabfc00000');
    expect(temp(41.5)).toBe('a3' + '0000' + '0100' + '03fa42260000');
  });

  it('encodes host_ms 1800000000000 as 1b and eight big-endian bytes', () => {
    // 1.8e12 = 0x1A3_185C_5000 = 419 · 2^32 + 408702976.
    expect(hex(encodeBody({ type: 'time_sync', nonce: 4_294_967_295, host_ms: 1_800_000_000_000 }))).toBe('a2' + '001affffffff' + '011b000001a3185c5000');
    expect(hex(encodeBody({ type: 'time_sync_reply', nonce: 42, host_ms: 1_800_000_000_000, device_ms: 2499 }))).toBe('a3' + '00182a' + '011b000001a3185c5000' + '021909c3');
  });

  it('encodes a Float32Array as tag 85 (d8 55) around a byte string of little-endian float32s', () => {
    // 1.5 = 0x3fc00000 → 00 00 c0 3f; the default NaN 0x7fc00000 → 00 00 c0 7f; 8 bytes → bstr head 48.
    const body = encodeBody({ type: 'samples', channels: 1, period_us: 1000, values: Float32Array.from([1.5, NaN]) });
    expect(hex(body)).toBe('a3' + '0001' + '011903e8' + '02d855480000c03f0000c07f');
  });

  it('encodes an empty Float32Array as d8 55 40 and t0_us as an unsigned integer', () => {
    // 123466789 = 0x75bf425 → 1a 07 5b f4 25.
    const body = encodeBody({ type: 'samples', channels: 1, period_us: 1, values: new Float32Array(0), t0_us: 123_466_789 });
    expect(hex(body)).toBe('a4' + '0001' + '0101' + '02d85540' + '031a075bf425');
  });

  it('encodes a HELLO with nested channel maps, an empty command list and a float rate', () => {
    const body = encodeBody({ type: 'hello', fw: 'x', device: 'n', channels: [{ name: 'a', unit: '', min: -1, max: 1 }], rate_hz: 0.5, batch: 1, heartbeat_ms: 60_000, commands: [], proto_min: 1 });
    // 8 keys → a8; channel map a4 {0:"a",1:"",2:-1,3:1}; 0.5 = 0x3f000000; 60000 = 0xea60; [] → 80.
    expect(hex(body)).toBe('a8' + '006178' + '01616e' + '0281a4' + '006161' + '0160' + '0220' + '0301' + '03fa3f000000' + '0401' + '0519ea60' + '0680' + '0701');
  });

  it('encodes a HELLO_REQUEST as the empty map a0', () => {
    expect(hex(encodeBody({ type: 'hello_request' }))).toBe('a0');
  });

  it('writes no key for an absent optional field', () => {
    expect(hex(encodeBody({ type: 'heartbeat', uptime_ms: 1, dropped: 2 }))).toBe('a2' + '0001' + '0102');
    expect(hex(encodeBody({ type: 'command', id: 9, code: 4 }))).toBe('a2' + '0009' + '0104');
    expect(hex(encodeBody({ type: 'ack', id: 3, status: 2, detail: 'no' }))).toBe('a3' + '0003' + '0102' + '02626e6f');
  });
});

describe('decodeBody', () => {
  it('returns the map with its integer keys', () => {
    const b = decodeBody(fromHex('a2000201626869'));
    expect(b?.[0]).toBe(2);
    expect(b?.[1]).toBe('hi');
  });

  it.each([
    ['empty input', ''],
    ['an unsigned integer', '01'],
    ['an array', '80'],
    ['a text string', '6161'],
    ['a map followed by a stray byte', 'a000'],
    ['a map missing its value', 'a100'],
    ['a map cut inside a text', 'a10163686'],
  ])('refuses %s', (_name, h) => {
    expect(decodeBody(fromHex(h))).toBeUndefined();
  });

  it('never throws, whatever the bytes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0xa0, max: 0xbf }), fc.uint8Array({ maxLength: 40 }), (head, rest) => {
        const b = decodeBody(Uint8Array.from([head, ...rest]));
        expect(b === undefined || (typeof b === 'object' && b !== null)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('parseMessage reads what encodeBody writes', () => {
  const messages: Message[] = [
    hello,
    { type: 'samples', channels: 1, period_us: 1000, values: Float32Array.from([2.5]), t0_us: 123_466_789 },
    { type: 'heartbeat', uptime_ms: 4_294_967_295, dropped: 17, battery_mv: 3700, temperature_c: 41.5 },
    { type: 'time_sync', nonce: 4_294_967_295, host_ms: 1_800_000_000_000 },
    { type: 'time_sync_reply', nonce: 42, host_ms: 1_800_000_000_000, device_ms: 2499 },
    { type: 'hello_request' },
    { type: 'command', id: 3, code: 1, arg: 2.5 },
    { type: 'ack', id: 3, status: 2, detail: 'rate must be 1..10000 Hz' },
    { type: 'log', level: 2, text: 'sensor b recalibrated' },
  ];
  it.each(messages.map((m) => [m.type, m] as const))('round-trips a %s', (_t, m) => {
    expect(parseMessage(TYPE_CODE[m.type], wireBody(m))).toEqual(m);
  });

  it('keeps a NaN sample value (a missing reading) in SAMPLES', () => {
    const m = parseMessage(MessageType.Samples, wireBody(samples));
    expect(typeof m).toBe('object');
    expect(Array.from((m as Extract<Message, { type: 'samples' }>).values)).toEqual([1, 2, 3, NaN]);
  });

  it('gives proto_min 1 and no commands when a HELLO omits them', () => {
    const b = wireBody(hello);
    delete b[6];
    delete b[7];
    expect(parseMessage(MessageType.Hello, b)).toEqual({ ...hello, commands: [], proto_min: 1 });
  });

  it('leaves optional fields out of the message when they are absent', () => {
    const m = parseMessage(MessageType.Samples, wireBody(samples));
    expect(m).not.toHaveProperty('t0_us');
    expect(parseMessage(MessageType.Command, wireBody({ type: 'command', id: 1, code: 4 }))).not.toHaveProperty('arg');
    expect(parseMessage(MessageType.Heartbeat, wireBody({ type: 'heartbeat', uptime_ms: 1, dropped: 0 }))).toEqual({ type: 'heartbeat', uptime_ms: 1, dropped: 0 });
  });

  it('ignores map keys it does not know (PROTOCOL §8)', () => {
    // LOG {0: 2, 1: "hi", 9: true, 100: "new"}: keys 9 and 100 are from a newer firmware.
    const b = decodeBody(fromHex('a4' + '0002' + '01626869' + '09f5' + '1864636e6577'));
    expect(b).toBeDefined();
    expect(parseMessage(MessageType.Log, b!)).toEqual({ type: 'log', level: 2, text: 'hi' });
    const h = wireBody(hello);
    h[8] = 'future';
    h[42] = [1, 2, 3];
    expect(parseMessage(MessageType.Hello, h)).toEqual(hello);
  });

  it('accepts numbers as half, single or double floats wherever a number is expected (PROTOCOL §5)', () => {
    // COMMAND {0: 1, 1: 1, 2: 1.5} with the arg as f9 3e00 (half), fa 3fc00000 (single), fb 3ff8… (double).
    for (const arg of ['f93e00', 'fa3fc00000', 'fb3ff8000000000000']) {
      expect(parseMessage(MessageType.Command, decodeBody(fromHex('a3' + '0001' + '0101' + '02' + arg))!), arg).toEqual({ type: 'command', id: 1, code: 1, arg: 1.5 });
    }
    // An unsigned field written as the double 7.0 still reads as 7.
    expect(parseMessage(MessageType.Log, decodeBody(fromHex('a2' + '00fb401c000000000000' + '016178'))!)).toEqual({ type: 'log', level: 7, text: 'x' });
  });

  it('reads a 64-bit host_ms given as a bigint', () => {
    expect(parseMessage(MessageType.TimeSync, { 0: 1, 1: 1_800_000_000_000n })).toEqual({ type: 'time_sync', nonce: 1, host_ms: 1_800_000_000_000 });
  });

  it('measures text limits in UTF-8 bytes, not characters', () => {
    expect(parseMessage(MessageType.Log, { 0: 1, 1: 'é'.repeat(100) })).toEqual({ type: 'log', level: 1, text: 'é'.repeat(100) });
    expect(parseMessage(MessageType.Log, { 0: 1, 1: 'é'.repeat(101) })).toMatch(/text \(1\) ≤ 200 bytes/);
    expect(parseMessage(MessageType.Log, { 0: 1, 1: 'x'.repeat(201) })).toMatch(/text \(1\)/);
  });
});

describe('parseMessage refuses bad bodies with a string naming the key', () => {
  const helloWith = (patch: (b: Record<string, unknown>) => void) => {
    const b = wireBody(hello);
    patch(b);
    return parseMessage(MessageType.Hello, b);
  };
  const samplesWith = (patch: (b: Record<string, unknown>) => void) => {
    const b = wireBody(samples);
    patch(b);
    return parseMessage(MessageType.Samples, b);
  };
  const channel = (name: string, min = 0, max = 1) => ({ 0: name, 1: 'u', 2: min, 3: max });

  it.each<[string, (b: Record<string, unknown>) => void, RegExp]>([
    ['without fw', (b) => delete b[0], /fw \(key 0\)/],
    ['with a 201-byte fw', (b) => (b[0] = 'v'.repeat(201)), /fw \(key 0\)/],
    ['without device', (b) => delete b[1], /device id \(key 1\)/],
    ['with an empty device id', (b) => (b[1] = ''), /device id \(key 1\)/],
    ['with a space in the device id', (b) => (b[1] = 'pump 01'), /device id \(key 1\)/],
    ['with a 65-character device id', (b) => (b[1] = 'd'.repeat(65)), /device id \(key 1\)/],
    ['without channels', (b) => delete b[2], /channels \(key 2\)/],
    ['with no channel', (b) => (b[2] = []), /channels \(key 2\)/],
    ['with 33 channels', (b) => (b[2] = Array.from({ length: 33 }, (_, i) => channel(`c${i}`))), /channels \(key 2\) must list 1\.\.32/],
    ['with a channel that is not a map', (b) => (b[2] = [7]), /each channel must be a map/],
    ['with a channel name that breaks the pattern', (b) => (b[2] = [channel('a/b')]), /channel name/],
    ['with a channel without a name', (b) => (b[2] = [{ 1: 'u', 2: 0, 3: 1 }]), /channel name/],
    ['with duplicate channel names', (b) => (b[2] = [channel('t'), channel('t')]), /channel names must be unique/],
    ['with min equal to max', (b) => (b[2] = [channel('t', 5, 5)]), /channel t: min < max/],
    ['with min above max', (b) => (b[2] = [channel('t', 6, 5)]), /channel t: min < max/],
    ['with a missing max', (b) => (b[2] = [{ 0: 't', 1: 'u', 2: 0 }]), /channel t: min < max/],
    ['without rate_hz', (b) => delete b[3], /rate_hz \(key 3\)/],
    ['with rate_hz 0', (b) => (b[3] = 0), /rate_hz \(key 3\)/],
    ['with a negative rate_hz', (b) => (b[3] = -1), /rate_hz \(key 3\)/],
    ['with batch 0', (b) => (b[4] = 0), /batch \(key 4\)/],
    ['with a fractional batch', (b) => (b[4] = 1.5), /batch \(key 4\)/],
    ['with heartbeat_ms 0', (b) => (b[5] = 0), /heartbeat_ms \(key 5\)/],
    ['with heartbeat_ms as text', (b) => (b[5] = '1000'), /heartbeat_ms \(key 5\)/],
  ])('refuses a HELLO %s', (_name, patch, why) => {
    expect(helloWith(patch)).toMatch(why);
  });

  it.each<[string, (b: Record<string, unknown>) => void, RegExp]>([
    ['without channels', (b) => delete b[0], /channels \(key 0\)/],
    ['with 0 channels', (b) => (b[0] = 0), /channels \(key 0\)/],
    ['with 33 channels', (b) => (b[0] = 33), /channels \(key 0\)/],
    ['with period_us 0', (b) => (b[1] = 0), /period_us \(key 1\)/],
    ['with period_us ≥ 2^32', (b) => (b[1] = 2 ** 32), /period_us \(key 1\)/],
    ['without values', (b) => delete b[2], /values \(key 2\) must be a tag-85 float32 array/],
    ['with values as a plain array', (b) => (b[2] = [1, 2, 3, 4]), /values \(key 2\) must be a tag-85 float32 array/],
    ['with values as an untagged byte string', (b) => (b[2] = new Uint8Array(8)), /values \(key 2\) must be a tag-85 float32 array/],
    ['with values as float64s', (b) => (b[2] = new Float64Array(4)), /values \(key 2\) must be a tag-85 float32 array/],
    ['with 3 values for 2 channels', (b) => (b[2] = new Float32Array(3)), /3 values are not a multiple of 2 channels/],
  ])('refuses a SAMPLES %s', (_name, patch, why) => {
    expect(samplesWith(patch)).toMatch(why);
  });

  it.each<[string, number, Record<string, unknown>, RegExp]>([
    ['a HEARTBEAT without uptime_ms', MessageType.Heartbeat, { 1: 0 }, /uptime_ms \(0\)/],
    ['a HEARTBEAT with a negative dropped', MessageType.Heartbeat, { 0: 1, 1: -1 }, /dropped \(1\)/],
    ['a TIME_SYNC with a nonce of 2^32', MessageType.TimeSync, { 0: 2 ** 32, 1: 1 }, /nonce \(0\)/],
    ['a TIME_SYNC without host_ms', MessageType.TimeSync, { 0: 1 }, /host_ms \(1\)/],
    ['a TIME_SYNC_REPLY without device_ms', MessageType.TimeSyncReply, { 0: 1, 1: 2 }, /device_ms \(2\)/],
    ['a COMMAND without id', MessageType.Command, { 1: 4 }, /id \(0\)/],
    ['a COMMAND with code 256', MessageType.Command, { 0: 1, 1: 256 }, /code \(1\)/],
    ['an ACK without status', MessageType.Ack, { 0: 1 }, /status \(1\)/],
    ['a LOG without text', MessageType.Log, { 0: 1 }, /text \(1\)/],
    ['a LOG with a fractional level', MessageType.Log, { 0: 0.5, 1: 'x' }, /level \(0\)/],
  ])('refuses %s', (_name, type, body, why) => {
    expect(parseMessage(type, body)).toMatch(why);
  });

  it('names an unknown message type in hex', () => {
    expect(parseMessage(0x7f, {})).toBe('unknown message type 0x7f');
    expect(parseMessage(0x06, {})).toBe('unknown message type 0x06');
  });
});

describe('parseMessage on arbitrary input (properties)', () => {
  const anyValue = fc.anything({ maxDepth: 3, withBigInt: true, withTypedArray: true, withMap: true, withSet: true, withDate: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true });
  const anyBody = fc.dictionary(fc.nat({ max: 9 }).map(String), anyValue, { maxKeys: 10 });
  const anyType = fc.oneof(fc.constantFrom(...ALL_TYPES), fc.integer({ min: 0, max: 255 }));

  const isResult = (r: unknown) => typeof r === 'string' || (typeof r === 'object' && r !== null && typeof (r as { type: unknown }).type === 'string');

  it('never throws on any object with numeric keys, and returns a message or a reason', () => {
    fc.assert(
      fc.property(anyType, anyBody, (type, body) => {
        expect(isResult(parseMessage(type, body))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on a valid body with one key replaced by anything', () => {
    const bodies = [hello, samples, { type: 'log', level: 1, text: 'x' } as Message].map((m, i) => ({ type: [MessageType.Hello, MessageType.Samples, MessageType.Log][i]!, m }));
    fc.assert(
      fc.property(fc.constantFrom(...bodies), fc.nat({ max: 7 }), anyValue, ({ type, m }, key, v) => {
        const b = wireBody(m);
        b[key] = v;
        expect(isResult(parseMessage(type, b))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on whatever decodeBody makes of random bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0xa0, max: 0xb7 }), fc.uint8Array({ maxLength: 48 }), (head, rest) => {
        const b = decodeBody(Uint8Array.from([head, ...rest]));
        if (b === undefined) return;
        for (const type of ALL_TYPES) expect(isResult(parseMessage(type, b))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
