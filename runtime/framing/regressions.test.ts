/** Regressions found by review: each case once broke, or departed from PROTOCOL.md. */
import { describe, expect, it } from 'vitest';
import { cobsEncode, cobsMaxEncoded } from './cobs.js';
import { MessageReceiver } from './codec.js';
import { crc32c } from './crc32c.js';
import { encodeBody, parseMessage, MessageType, decodeBody } from './messages.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
function craft(type: number, body: number[]): Uint8Array {
  const d = new Uint8Array(10 + body.length + 4);
  d.set([1, 0, 0, type, 0, 0, 0, 0, 0, 0]);
  d.set(body, 10);
  const crc = crc32c(d, 0, d.length - 4);
  d.set([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24], d.length - 4);
  const out = new Uint8Array(cobsMaxEncoded(d.length) + 1);
  const n = cobsEncode(d, 0, d.length, out, 0);
  return out.slice(0, n + 1);
}
function receive(wire: Uint8Array) {
  const got: unknown[] = [];
  const rx = new MessageReceiver({ message: (_h, m) => got.push(m.type === 'samples' ? { ...m, values: Array.from(m.values) } : m) });
  rx.push(wire);
  return { got, bad_body: rx.counters.bad_body, bad_message: rx.counters.bad_message };
}

describe('a SAMPLES values byte string that is not whole float32 values (PROTOCOL §5)', () => {
  // a3 {0: 1, 1: period, 2: d8 55 45 <5 bytes>}
  const values = [0xd8, 0x55, 0x45, 0x00, 0x00, 0xc0, 0x3f, 0x7a];
  it('is refused whatever its alignment (bytes at decoded offset 19)', () => {
    expect(receive(craft(2, [0xa3, 0x00, 0x01, 0x01, 0x0a, 0x02, ...values]))).toEqual({ got: [], bad_body: 0, bad_message: 1 });
  });
  it('is refused whatever its alignment (bytes at decoded offset 20, 4-aligned)', () => {
    expect(receive(craft(2, [0xa3, 0x00, 0x01, 0x01, 0x18, 0x64, 0x02, ...values]))).toEqual({ got: [], bad_body: 0, bad_message: 1 });
  });
  it('tag 85 around an empty array (not a byte string) is refused', () => {
    expect(receive(craft(2, [0xa3, 0x00, 0x01, 0x01, 0x0a, 0x02, 0xd8, 0x55, 0x80])).got).toEqual([]);
  });
  it('tag 85 around a text string is refused', () => {
    expect(receive(craft(2, [0xa3, 0x00, 0x01, 0x01, 0x0a, 0x02, 0xd8, 0x55, 0x64, 0x61, 0x62, 0x63, 0x64])).got).toEqual([]);
  });
});

describe('numbers of 2^32 and above (PROTOCOL §5)', () => {
  it('writes a HEARTBEAT uptime_ms of 2^32 + 5 as 1b + 8 bytes', () => {
    expect(hex(encodeBody({ type: 'heartbeat', uptime_ms: 2 ** 32 + 5, dropped: 0 }))).toBe('a2' + '001b0000000100000005' + '0100');
  });
  it('writes a COMMAND arg of 1e10, a number too large for an integer head, as float32 fa 50 15 02 f9', () => {
    expect(hex(encodeBody({ type: 'command', id: 1, code: 1, arg: 1e10 }))).toBe('a3' + '0001' + '0101' + '02fa501502f9');
  });
});

describe('a HELLO channel unit of 65..200 bytes (PROTOCOL §10: text ≤ 200)', () => {
  it('keeps a 100-byte unit', () => {
    const unit = 'u'.repeat(100);
    const m = parseMessage(MessageType.Hello, decodeBody(encodeBody({ type: 'hello', fw: 'f', device: 'd', channels: [{ name: 'a', unit, min: 0, max: 1 }], rate_hz: 1, batch: 1, heartbeat_ms: 1, commands: [], proto_min: 1 }))!);
    expect(m).toMatchObject({ channels: [{ unit }] });
  });
});
