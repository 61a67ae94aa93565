/**
 * The golden vectors (see README.md here): their definitions, the flat `.expect` dump shared with the
 * C tests, and the writer. Both implementations must decode every `.hex` to its `.expect`, and
 * re-encode valid ones to the same bytes.
 */

import { cobsEncode } from '../../runtime/framing/cobs.js';
import { MessageEncoder } from '../../runtime/framing/codec.js';
import { crc32c } from '../../runtime/framing/crc32c.js';
import { HEADER_BYTES, type FrameHeader } from '../../runtime/framing/frame.js';
import { encodeBody, TYPE_CODE, type Message } from '../../runtime/framing/messages.js';

export interface Vector {
  name: string;
  description: string;
  /** Wire bytes: COBS-encoded frame and its delimiter. */
  bytes: Uint8Array;
  valid: boolean;
  error?: string;
  header?: FrameHeader;
  message?: Message;
}

const f32hex = (x: number): string => {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x, false);
  return b.getUint32(0, false).toString(16).padStart(8, '0');
};

/** A number as C's `%.9g` prints it, for the values vectors use (integers and short binary fractions). */
function g9(x: number): string {
  const v = Math.fround(x);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const s = v.toPrecision(9).replace(/\.?0+$/, '');
  if (!/e/.test(s) && Number(s) === v) return s;
  throw new Error(`vector number ${x} may print differently in C and JavaScript; pick another`);
}

/** The flat text form of a decoded frame (README.md here). */
export function dumpExpect(h: FrameHeader, m: Message): string {
  const l = [`valid 1`, `version ${h.version}`, `incompat_flags ${h.incompat_flags}`, `compat_flags ${h.compat_flags}`, `type ${h.type}`, `seq ${h.seq}`, `time_ms ${h.time_ms}`];
  switch (m.type) {
    case 'hello':
      l.push(`fw ${m.fw}`, `device ${m.device}`, `channels ${m.channels.length}`);
      m.channels.forEach((c, i) => l.push(`channel ${i} ${c.name} ${c.unit} ${g9(c.min)} ${g9(c.max)}`));
      l.push(`rate_hz ${g9(m.rate_hz)}`, `batch ${m.batch}`, `heartbeat_ms ${m.heartbeat_ms}`, ['commands', ...m.commands].join(' '), `proto_min ${m.proto_min}`);
      break;
    case 'samples':
      l.push(`channels ${m.channels}`, `period_us ${m.period_us}`, `count ${m.values.length / m.channels}`);
      m.values.forEach((v, i) => l.push(`value ${i} ${f32hex(v)}`));
      if (m.t0_us !== undefined) l.push(`t0_us ${m.t0_us}`);
      break;
    case 'heartbeat':
      l.push(`uptime_ms ${m.uptime_ms}`, `dropped ${m.dropped}`);
      if (m.battery_mv !== undefined) l.push(`battery_mv ${m.battery_mv}`);
      if (m.temperature_c !== undefined) l.push(`temperature_c ${g9(m.temperature_c)}`);
      break;
    case 'time_sync':
      l.push(`nonce ${m.nonce}`, `host_ms ${m.host_ms}`);
      break;
    case 'time_sync_reply':
      l.push(`nonce ${m.nonce}`, `host_ms ${m.host_ms}`, `device_ms ${m.device_ms}`);
      break;
    case 'hello_request':
      break;
    case 'command':
      l.push(`id ${m.id}`, `code ${m.code}`);
      if (m.arg !== undefined) l.push(`arg ${g9(m.arg)}`);
      break;
    case 'ack':
      l.push(`id ${m.id}`, `status ${m.status}`);
      if (m.detail !== undefined) l.push(`detail ${m.detail}`);
      break;
    case 'log':
      l.push(`level ${m.level}`, `text ${m.text}`);
      break;
  }
  return l.join('\n') + '\n';
}

export function expectText(v: Vector): string {
  return v.valid ? dumpExpect(v.header!, v.message!) : `valid 0\nerror ${v.error}\n`;
}

/** A frame built by hand (for invalid vectors): decoded bytes → COBS → delimiter. */
function wire(decoded: Uint8Array): Uint8Array {
  const out = new Uint8Array(decoded.length + Math.ceil(decoded.length / 254) + 2);
  const n = cobsEncode(decoded, 0, decoded.length, out, 0);
  out[n] = 0;
  return out.slice(0, n + 1);
}

function decodedFrame(h: { version?: number; incompat?: number; type: number; seq: number; time_ms: number }, body: Uint8Array, corruptCrc = false): Uint8Array {
  const d = new Uint8Array(HEADER_BYTES + body.length + 4);
  d.set([h.version ?? 1, h.incompat ?? 0, 0, h.type, h.seq & 0xff, h.seq >> 8, h.time_ms & 0xff, (h.time_ms >>> 8) & 0xff, (h.time_ms >>> 16) & 0xff, h.time_ms >>> 24]);
  d.set(body, HEADER_BYTES);
  let crc = crc32c(d, 0, d.length - 4);
  if (corruptCrc) crc ^= 0x00010000;
  d.set([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24], d.length - 4);
  return d;
}

function valid(name: string, description: string, seq: number, time_ms: number, m: Message): Vector {
  const enc = new MessageEncoder();
  enc.seq = seq;
  const bytes = enc.frame(m, time_ms);
  return { name, description, bytes, valid: true, header: { version: 1, incompat_flags: 0, compat_flags: 0, type: TYPE_CODE[m.type], seq, time_ms }, message: m };
}

/** Float32 values whose four bytes are all non-zero, so a long run needs COBS 0xFF groups. */
function nonZeroFloats(n: number): Float32Array {
  const out = new Float32Array(n);
  const bytes = new Uint8Array(out.buffer);
  let x = 1.2345;
  for (let i = 0; i < n; i++) {
    do {
      out[i] = Math.fround(x);
      x += 0.0371;
    } while (bytes[4 * i] === 0 || bytes[4 * i + 1] === 0 || bytes[4 * i + 2] === 0 || bytes[4 * i + 3] === 0);
  }
  return out;
}

export function buildVectors(): Vector[] {
  const pumpHello: Message = {
    type: 'hello',
    fw: 'sim-pump/1.0.0',
    device: 'pump-01',
    channels: [
      { name: 'pressure', unit: 'bar', min: 0, max: 10 },
      { name: 'flow', unit: 'L/min', min: 0, max: 300 },
      { name: 'motor_temp', unit: '°C', min: -20, max: 120.5 },
    ],
    rate_hz: 100,
    batch: 10,
    heartbeat_ms: 1000,
    commands: [1, 2, 3, 4],
    proto_min: 1,
  };
  const samples: Message = { type: 'samples', channels: 3, period_us: 10_000, values: Float32Array.from([4.25, 120.5, 55, 4.5, NaN, 55.25, -1.5, 0, 1e6, 0.125, 300, -20]) };
  const vectors: Vector[] = [
    valid('hello_pump', 'HELLO of the 3-channel pump: UTF-8 unit, a float range bound, four commands', 0, 0, pumpHello),
    valid('hello_no_commands', 'HELLO of a 1-channel node that implements no commands', 1, 5, { type: 'hello', fw: 'x', device: 'n', channels: [{ name: 'a', unit: '', min: -1, max: 1 }], rate_hz: 0.5, batch: 1, heartbeat_ms: 60_000, commands: [], proto_min: 1 }),
    valid('samples_3ch', 'SAMPLES: 4 samples × 3 channels, a NaN (missing) value, header time is the first sample', 7, 123_456, samples),
    valid('samples_t0us', 'SAMPLES with the optional fine first-sample time t0_us', 8, 123_466, { type: 'samples', channels: 1, period_us: 1000, values: Float32Array.from([2.5]), t0_us: 123_466_789 }),
    valid('samples_long_run', 'SAMPLES whose 400 value bytes have no zero: COBS needs 0xFF groups', 9, 4_000_000_000, { type: 'samples', channels: 1, period_us: 250, values: nonZeroFloats(100) }),
    valid('heartbeat_min', 'HEARTBEAT with the required keys only', 65_535, 4_294_967_295, { type: 'heartbeat', uptime_ms: 4_294_967_295, dropped: 0 }),
    valid('heartbeat_full', 'HEARTBEAT with battery and temperature', 12, 1000, { type: 'heartbeat', uptime_ms: 1000, dropped: 17, battery_mv: 3700, temperature_c: 41.5 }),
    valid('time_sync', 'TIME_SYNC from the host: host_ms needs 64 bits', 0, 2_000_000_000, { type: 'time_sync', nonce: 4_294_967_295, host_ms: 1_800_000_000_000 }),
    valid('time_sync_reply', 'TIME_SYNC_REPLY from the device', 13, 2500, { type: 'time_sync_reply', nonce: 42, host_ms: 1_800_000_000_000, device_ms: 2499 }),
    valid('hello_request', 'HELLO_REQUEST from the host: an empty map', 4, 40, { type: 'hello_request' }),
    valid('command_set_rate', 'COMMAND SET_RATE 250 Hz', 1, 10, { type: 'command', id: 1, code: 1, arg: 250 }),
    valid('command_reboot', 'COMMAND REBOOT, no argument', 2, 20, { type: 'command', id: 70_000, code: 4 }),
    valid('command_float_arg', 'COMMAND with a non-integral argument: float32', 3, 30, { type: 'command', id: 3, code: 1, arg: 2.5 }),
    valid('ack_done', 'ACK, status done', 14, 3000, { type: 'ack', id: 1, status: 0 }),
    valid('ack_nack_detail', 'NACK with a reason', 15, 3001, { type: 'ack', id: 3, status: 2, detail: 'rate must be 1..10000 Hz' }),
    valid('log_info', 'LOG line at info level', 16, 3002, { type: 'log', level: 2, text: 'sensor b recalibrated' }),
  ];
  const s = new MessageEncoder();
  s.seq = 7;
  const samplesBody = encodeBody(samples);
  vectors.push(
    { name: 'bad_crc', description: 'samples_3ch with one CRC bit flipped', bytes: wire(decodedFrame({ type: 2, seq: 7, time_ms: 123_456 }, samplesBody, true)), valid: false, error: 'bad_crc' },
    { name: 'bad_version', description: 'a frame of protocol version 2 (correct CRC)', bytes: wire(decodedFrame({ version: 2, type: 3, seq: 1, time_ms: 1 }, encodeBody({ type: 'heartbeat', uptime_ms: 1, dropped: 0 }))), valid: false, error: 'bad_version' },
    { name: 'unknown_flags', description: 'an incompat flag bit this version does not know (correct CRC)', bytes: wire(decodedFrame({ incompat: 0x01, type: 3, seq: 1, time_ms: 1 }, encodeBody({ type: 'heartbeat', uptime_ms: 1, dropped: 0 }))), valid: false, error: 'unknown_flags' },
    { name: 'bad_body_not_map', description: 'body is the CBOR unsigned integer 1, not a map (correct CRC)', bytes: wire(decodedFrame({ type: 3, seq: 1, time_ms: 1 }, new Uint8Array([0x01]))), valid: false, error: 'bad_body' },
    { name: 'bad_body_trailing', description: 'body is a map followed by a stray byte (correct CRC)', bytes: wire(decodedFrame({ type: 3, seq: 1, time_ms: 1 }, new Uint8Array([0xa0, 0x00]))), valid: false, error: 'bad_body' },
    { name: 'runt', description: 'five bytes decoded: shorter than any frame', bytes: wire(new Uint8Array([1, 0, 0, 3, 0])), valid: false, error: 'runt' },
    { name: 'bad_cobs', description: 'a COBS code pointing past the end of the piece', bytes: new Uint8Array([0x05, 0x11, 0x22, 0x00]), valid: false, error: 'bad_cobs' },
  );
  return vectors;
}

export function toJson(v: Vector): string {
  const body = v.message
    ? JSON.parse(JSON.stringify(v.message, (_k, x) => (x instanceof Float32Array ? Array.from(x, (n) => (Number.isNaN(n) ? 'NaN' : n)) : x)))
    : undefined;
  return JSON.stringify({ name: v.name, description: v.description, valid: v.valid, ...(v.error ? { error: v.error } : {}), ...(v.header ? { header: v.header } : {}), ...(body ? { message: body } : {}), hex: Buffer.from(v.bytes).toString('hex') }, null, 2) + '\n';
}

export function files(v: Vector): Record<string, string> {
  const hex = Buffer.from(v.bytes).toString('hex').replace(/(.{64})/g, '$1\n').trimEnd() + '\n';
  return { [`${v.name}.hex`]: hex, [`${v.name}.json`]: toJson(v), [`${v.name}.expect`]: expectText(v) };
}


