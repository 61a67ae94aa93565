/**
 * Message bodies of the tinyqa serial protocol (PROTOCOL §5, §6): typed messages to and from CBOR
 * maps with integer keys. The serial side's only importer of `cbor-x` (the uplink's is
 * publish/encoding.ts; scripts/layers.test.ts holds the list).
 */

import { Decoder, addExtension } from 'cbor-x';

export const MessageType = {
  Hello: 0x01,
  Samples: 0x02,
  Heartbeat: 0x03,
  TimeSync: 0x04,
  TimeSyncReply: 0x05,
  HelloRequest: 0x07,
  Command: 0x10,
  Ack: 0x11,
  Log: 0x20,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const CommandCode = { SetRate: 1, Recalibrate: 2, SwitchToBackup: 3, Reboot: 4 } as const;
export type CommandCode = (typeof CommandCode)[keyof typeof CommandCode];
export const COMMAND_NAMES: Record<number, string> = { 1: 'set_rate', 2: 'recalibrate', 3: 'switch_to_backup', 4: 'reboot' };

export const AckStatus = { Done: 0, Unsupported: 1, BadArgument: 2, Failed: 3 } as const;

export interface ChannelInfo {
  name: string;
  unit: string;
  /** Physical range of the sensor; values outside it are invalid. */
  min: number;
  max: number;
}

export interface Hello {
  type: 'hello';
  fw: string;
  device: string;
  channels: ChannelInfo[];
  rate_hz: number;
  batch: number;
  heartbeat_ms: number;
  commands: number[];
  proto_min: number;
}

export interface Samples {
  type: 'samples';
  channels: number;
  period_us: number;
  /** Sample-major float32 values. After decoding it may view the receiver's buffer: use it at once. */
  values: Float32Array;
  t0_us?: number;
}

export interface Heartbeat {
  type: 'heartbeat';
  uptime_ms: number;
  dropped: number;
  battery_mv?: number;
  temperature_c?: number;
}

export interface TimeSync {
  type: 'time_sync';
  nonce: number;
  host_ms: number;
}

export interface TimeSyncReply {
  type: 'time_sync_reply';
  nonce: number;
  host_ms: number;
  device_ms: number;
}

export interface HelloRequest {
  type: 'hello_request';
}

export interface Command {
  type: 'command';
  id: number;
  code: number;
  arg?: number;
}

export interface Ack {
  type: 'ack';
  id: number;
  status: number;
  detail?: string;
}

export interface Log {
  type: 'log';
  level: number;
  text: string;
}

export type Message = Hello | Samples | Heartbeat | TimeSync | TimeSyncReply | HelloRequest | Command | Ack | Log;

export const TYPE_CODE: Record<Message['type'], MessageType> = {
  hello: MessageType.Hello,
  samples: MessageType.Samples,
  heartbeat: MessageType.Heartbeat,
  time_sync: MessageType.TimeSync,
  time_sync_reply: MessageType.TimeSyncReply,
  hello_request: MessageType.HelloRequest,
  command: MessageType.Command,
  ack: MessageType.Ack,
  log: MessageType.Log,
};

/** A tag-85 item that is not a byte string of whole float32 values (refused as a bad message). */
class MalformedTypedArray {
  constructor(readonly why: string) {}
}

// PROTOCOL §5: tag 85 is a float32 little-endian typed array around a byte string. Decode it into a
// fresh, aligned Float32Array (never a view of the receive buffer, which the next frame overwrites),
// and mark anything else as malformed instead of letting it pass or throw depending on alignment.
// Decode-only extension: cbor-x's types ask for an encoder too, which we do not use (see BodyWriter).
addExtension({
  tag: 85,
  decode(data: unknown): Float32Array | MalformedTypedArray {
    if (!(data instanceof Uint8Array)) return new MalformedTypedArray('tag 85 must wrap a byte string');
    if (data.length % 4 !== 0) return new MalformedTypedArray(`tag 85 byte string of ${data.length} bytes is not whole float32 values`);
    const out = new Float32Array(data.length / 4);
    new Uint8Array(out.buffer).set(data);
    return out;
  },
} as unknown as Parameters<typeof addExtension>[0]);
const decoder = new Decoder({ mapsAsObjects: true, useRecords: false });

/** Decodes a body: exactly one CBOR map filling `bytes`; undefined when it is anything else. */
export function decodeBody(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.length === 0 || (bytes[0]! & 0xe0) !== 0xa0) return undefined;
  try {
    const v: unknown = decoder.decode(bytes);
    return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_TEXT_BYTES = 200;
export const MAX_CHANNELS = 32;

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}
function uint(v: unknown, max = 2 ** 53): number | undefined {
  const n = num(v);
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= max ? n : undefined;
}
function text(v: unknown, maxBytes = MAX_TEXT_BYTES): string | undefined {
  return typeof v === 'string' && Buffer.byteLength(v) <= maxBytes ? v : undefined;
}

/** Interprets a decoded body by message type (PROTOCOL §6). Returns a message, or a string naming the problem. */
export function parseMessage(type: number, b: Record<string, unknown>): Message | string {
  switch (type) {
    case MessageType.Hello: {
      const fw = text(b[0]);
      const device = text(b[1], 64);
      const rate_hz = num(b[3]);
      const batch = uint(b[4]);
      const heartbeat_ms = uint(b[5]);
      const proto_min = uint(b[7], 255);
      if (fw === undefined) return 'hello: fw (key 0) must be text ≤ 200 bytes';
      if (device === undefined || !NAME_RE.test(device)) return 'hello: device id (key 1) must match [A-Za-z0-9_.-]{1,64}';
      if (!Array.isArray(b[2]) || b[2].length < 1 || b[2].length > MAX_CHANNELS) return `hello: channels (key 2) must list 1..${MAX_CHANNELS} channels`;
      const channels: ChannelInfo[] = [];
      for (const c of b[2] as unknown[]) {
        if (typeof c !== 'object' || c === null) return 'hello: each channel must be a map';
        const ch = c as Record<string, unknown>;
        const name = text(ch[0], 64);
        const unit = text(ch[1]) ?? '';
        const min = num(ch[2]);
        const max = num(ch[3]);
        if (name === undefined || !NAME_RE.test(name)) return 'hello: channel name must match [A-Za-z0-9_.-]{1,64}';
        if (min === undefined || max === undefined || !(min < max)) return `hello: channel ${name}: min < max required`;
        channels.push({ name, unit, min, max });
      }
      if (new Set(channels.map((c) => c.name)).size !== channels.length) return 'hello: channel names must be unique';
      if (rate_hz === undefined || !(rate_hz > 0 && rate_hz <= 1_000_000)) return 'hello: rate_hz (key 3) must be in (0, 1e6]';
      if (batch === undefined || batch < 1) return 'hello: batch (key 4) must be an integer ≥ 1';
      if (heartbeat_ms === undefined || heartbeat_ms < 1) return 'hello: heartbeat_ms (key 5) must be an integer ≥ 1';
      const commands = Array.isArray(b[6]) ? (b[6] as unknown[]).map((x) => uint(x, 255)).filter((x): x is number => x !== undefined) : [];
      return { type: 'hello', fw, device, channels, rate_hz, batch, heartbeat_ms, commands, proto_min: proto_min ?? 1 };
    }
    case MessageType.Samples: {
      const channels = uint(b[0], MAX_CHANNELS);
      const period_us = uint(b[1], 2 ** 32 - 1);
      const values = b[2];
      if (channels === undefined || channels < 1) return `samples: channels (key 0) must be 1..${MAX_CHANNELS}`;
      if (period_us === undefined || period_us < 1) return 'samples: period_us (key 1) must be a positive integer';
      if (values instanceof MalformedTypedArray) return `samples: values (key 2): ${values.why}`;
      if (!(values instanceof Float32Array)) return 'samples: values (key 2) must be a tag-85 float32 array';
      if (values.length % channels !== 0) return `samples: ${values.length} values are not a multiple of ${channels} channels`;
      const t0 = uint(b[3]);
      return t0 === undefined ? { type: 'samples', channels, period_us, values } : { type: 'samples', channels, period_us, values, t0_us: t0 };
    }
    case MessageType.Heartbeat: {
      const uptime_ms = uint(b[0]);
      const dropped = uint(b[1]);
      if (uptime_ms === undefined || dropped === undefined) return 'heartbeat: uptime_ms (0) and dropped (1) must be unsigned integers';
      const m: Heartbeat = { type: 'heartbeat', uptime_ms, dropped };
      const mv = uint(b[2]);
      const tc = num(b[3]);
      if (mv !== undefined) m.battery_mv = mv;
      if (tc !== undefined) m.temperature_c = tc;
      return m;
    }
    case MessageType.TimeSync: {
      const nonce = uint(b[0], 2 ** 32 - 1);
      const host_ms = uint(b[1]);
      if (nonce === undefined || host_ms === undefined) return 'time_sync: nonce (0) and host_ms (1) required';
      return { type: 'time_sync', nonce, host_ms };
    }
    case MessageType.TimeSyncReply: {
      const nonce = uint(b[0], 2 ** 32 - 1);
      const host_ms = uint(b[1]);
      const device_ms = uint(b[2], 2 ** 32 - 1);
      if (nonce === undefined || host_ms === undefined || device_ms === undefined) return 'time_sync_reply: nonce (0), host_ms (1), device_ms (2) required';
      return { type: 'time_sync_reply', nonce, host_ms, device_ms };
    }
    case MessageType.HelloRequest:
      return { type: 'hello_request' };
    case MessageType.Command: {
      const id = uint(b[0], 2 ** 32 - 1);
      const code = uint(b[1], 255);
      if (id === undefined || code === undefined) return 'command: id (0) and code (1) required';
      const arg = num(b[2]);
      return arg === undefined ? { type: 'command', id, code } : { type: 'command', id, code, arg };
    }
    case MessageType.Ack: {
      const id = uint(b[0], 2 ** 32 - 1);
      const status = uint(b[1], 255);
      if (id === undefined || status === undefined) return 'ack: id (0) and status (1) required';
      const detail = text(b[2]);
      return detail === undefined ? { type: 'ack', id, status } : { type: 'ack', id, status, detail };
    }
    case MessageType.Log: {
      const level = uint(b[0], 255);
      const t = text(b[1]);
      if (level === undefined || t === undefined) return 'log: level (0) and text (1) ≤ 200 bytes required';
      return { type: 'log', level, text: t };
    }
    default:
      return `unknown message type 0x${type.toString(16).padStart(2, '0')}`;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The body writer: PROTOCOL §5's deterministic subset, byte for byte what the C implementation writes
 * (cbor-x's encoder cannot force float32 for large integral numbers nor 64-bit heads for uints, so
 * encoding is done here; decoding, which must accept any well-formed CBOR, stays with cbor-x).
 */
class BodyWriter {
  private buf = new Uint8Array(256);
  private n = 0;
  private readonly dv8 = new DataView(new ArrayBuffer(8));

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    bigger.set(this.buf.subarray(0, this.n));
    this.buf = bigger;
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }

  /** A head: major type and argument in shortest form (RFC 8949 §4.2.1). */
  head(major: number, arg: number): void {
    const m = major << 5;
    if (arg < 24) this.byte(m | arg);
    else if (arg < 0x100) {
      this.byte(m | 24);
      this.byte(arg);
    } else if (arg < 0x10000) {
      this.byte(m | 25);
      this.byte(arg >>> 8);
      this.byte(arg & 0xff);
    } else if (arg < 0x100000000) {
      this.byte(m | 26);
      for (let s = 24; s >= 0; s -= 8) this.byte((arg >>> s) & 0xff);
    } else {
      this.byte(m | 27);
      const hi = Math.floor(arg / 0x100000000);
      const lo = arg >>> 0;
      for (let s = 24; s >= 0; s -= 8) this.byte((hi >>> s) & 0xff);
      for (let s = 24; s >= 0; s -= 8) this.byte((lo >>> s) & 0xff);
    }
  }

  /** An unsigned integer field, any width (PROTOCOL §5: 64-bit values such as host_ms). */
  uint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) throw new RangeError(`not an unsigned integer: ${v}`);
    this.head(0, v);
  }

  /** A number field: an integer when integral and |v| < 2³², otherwise float32 (PROTOCOL §5). */
  number(v: number): void {
    if (Number.isInteger(v) && Math.abs(v) < 0x100000000) {
      if (v >= 0) this.head(0, v);
      else this.head(1, -1 - v);
      return;
    }
    this.dv8.setFloat32(0, v, false);
    this.byte(0xfa);
    for (let i = 0; i < 4; i++) this.byte(this.dv8.getUint8(i));
  }

  text(t: string): void {
    const b = textEncoder.encode(t);
    this.head(3, b.length);
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  /** Tag 85 around the float32 little-endian bytes (RFC 8746). */
  float32s(values: Float32Array): void {
    this.byte(0xd8);
    this.byte(0x55);
    const bytes = values.length * 4;
    this.head(2, bytes);
    this.room(bytes);
    if (LITTLE_ENDIAN) {
      // Copy the bits as they are: NaN payloads survive (reading a NaN into a JS number would not).
      this.buf.set(new Uint8Array(values.buffer, values.byteOffset, bytes), this.n);
    } else {
      const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.n, bytes);
      for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i]!, true);
    }
    this.n += bytes;
  }

  done(): Uint8Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

const textEncoder = new TextEncoder();
const w = new BodyWriter();

/** The CBOR body of a message (PROTOCOL §5, §6): a map with ascending integer keys. */
export function encodeBody(m: Message): Uint8Array {
  switch (m.type) {
    case 'hello':
      w.head(5, 8);
      w.uint(0), w.text(m.fw);
      w.uint(1), w.text(m.device);
      w.uint(2), w.head(4, m.channels.length);
      for (const c of m.channels) {
        w.head(5, 4);
        w.uint(0), w.text(c.name);
        w.uint(1), w.text(c.unit);
        w.uint(2), w.number(c.min);
        w.uint(3), w.number(c.max);
      }
      w.uint(3), w.number(m.rate_hz);
      w.uint(4), w.uint(m.batch);
      w.uint(5), w.uint(m.heartbeat_ms);
      w.uint(6), w.head(4, m.commands.length);
      for (const c of m.commands) w.uint(c);
      w.uint(7), w.uint(m.proto_min);
      break;
    case 'samples':
      w.head(5, m.t0_us === undefined ? 3 : 4);
      w.uint(0), w.uint(m.channels);
      w.uint(1), w.uint(m.period_us);
      w.uint(2), w.float32s(m.values);
      if (m.t0_us !== undefined) w.uint(3), w.uint(m.t0_us);
      break;
    case 'heartbeat':
      w.head(5, 2 + (m.battery_mv === undefined ? 0 : 1) + (m.temperature_c === undefined ? 0 : 1));
      w.uint(0), w.uint(m.uptime_ms);
      w.uint(1), w.uint(m.dropped);
      if (m.battery_mv !== undefined) w.uint(2), w.uint(m.battery_mv);
      if (m.temperature_c !== undefined) w.uint(3), w.number(m.temperature_c);
      break;
    case 'time_sync':
      w.head(5, 2);
      w.uint(0), w.uint(m.nonce);
      w.uint(1), w.uint(m.host_ms);
      break;
    case 'time_sync_reply':
      w.head(5, 3);
      w.uint(0), w.uint(m.nonce);
      w.uint(1), w.uint(m.host_ms);
      w.uint(2), w.uint(m.device_ms);
      break;
    case 'hello_request':
      w.head(5, 0);
      break;
    case 'command':
      w.head(5, m.arg === undefined ? 2 : 3);
      w.uint(0), w.uint(m.id);
      w.uint(1), w.uint(m.code);
      if (m.arg !== undefined) w.uint(2), w.number(m.arg);
      break;
    case 'ack':
      w.head(5, m.detail === undefined ? 2 : 3);
      w.uint(0), w.uint(m.id);
      w.uint(1), w.uint(m.status);
      if (m.detail !== undefined) w.uint(2), w.text(m.detail);
      break;
    case 'log':
      w.head(5, 2);
      w.uint(0), w.uint(m.level);
      w.uint(1), w.text(m.text);
      break;
  }
  return w.done();
}
