/**
 * Message bodies of the tinyqa serial protocol (PROTOCOL §5, §6): typed messages to and from CBOR
 * maps with integer keys. The only file that imports `cbor-x`.
 */

import { Decoder, Encoder, FLOAT32_OPTIONS } from 'cbor-x';

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

// PROTOCOL §5: integral numbers as integers, others as float32; maps keep insertion (ascending) order.
const encoder = new Encoder({ useFloat32: FLOAT32_OPTIONS.ALWAYS, useRecords: false, mapsAsObjects: false, variableMapSize: true, tagUint8Array: false });
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
        const unit = text(ch[1], 64) ?? '';
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

/** Numbers that need more than 32 bits (host Unix ms) go out as 64-bit unsigned integers (PROTOCOL §5). */
const wide = (n: number): number | bigint => (Number.isInteger(n) && n >= 2 ** 32 ? BigInt(n) : n);

/** The CBOR body of a message (PROTOCOL §5, §6). */
export function encodeBody(m: Message): Uint8Array {
  const map = new Map<number, unknown>();
  switch (m.type) {
    case 'hello':
      map.set(0, m.fw).set(1, m.device);
      map.set(2, m.channels.map((c) => new Map<number, unknown>([[0, c.name], [1, c.unit], [2, c.min], [3, c.max]])));
      map.set(3, m.rate_hz).set(4, m.batch).set(5, m.heartbeat_ms).set(6, m.commands).set(7, m.proto_min);
      break;
    case 'samples':
      map.set(0, m.channels).set(1, m.period_us).set(2, m.values);
      if (m.t0_us !== undefined) map.set(3, wide(m.t0_us));
      break;
    case 'heartbeat':
      map.set(0, m.uptime_ms).set(1, m.dropped);
      if (m.battery_mv !== undefined) map.set(2, m.battery_mv);
      if (m.temperature_c !== undefined) map.set(3, m.temperature_c);
      break;
    case 'time_sync':
      map.set(0, m.nonce).set(1, wide(m.host_ms));
      break;
    case 'time_sync_reply':
      map.set(0, m.nonce).set(1, wide(m.host_ms)).set(2, m.device_ms);
      break;
    case 'hello_request':
      break;
    case 'command':
      map.set(0, m.id).set(1, m.code);
      if (m.arg !== undefined) map.set(2, m.arg);
      break;
    case 'ack':
      map.set(0, m.id).set(1, m.status);
      if (m.detail !== undefined) map.set(2, m.detail);
      break;
    case 'log':
      map.set(0, m.level).set(1, m.text);
      break;
  }
  return encoder.encode(map);
}
