/**
 * Provisional message bodies carried by the provisional framing (see provisional.ts).
 *
 * Hello (type 1): UTF-8 JSON `{ "fw": string, "device": string, "rate_hz": number,
 *   "channels": [{ "name", "unit", "min", "max" }] }`.
 * Samples (type 2), little-endian:
 *   off 0  u32  batch sequence number (wraps at 2^32)
 *   off 4  f64  device time of the first sample, ms since the Unix epoch
 *   off 12 u32  sample period, microseconds
 *   off 16 u8   channel count C
 *   off 17 u16  sample count N
 *   off 19 f32 × N·C  values, sample-major (s0c0 s0c1 … s1c0 …); NaN marks a missing value
 *
 * Decoding never throws: a malformed body is reported as a typed problem.
 */

import { encodeFrame, MessageType, MAX_PAYLOAD } from './provisional.js';

export interface ChannelInfo {
  name: string;
  unit: string;
  /** Physical range of the sensor; values outside it are invalid. */
  min: number;
  max: number;
}

export interface Hello {
  fw: string;
  device: string;
  rate_hz: number;
  channels: ChannelInfo[];
}

/** A decoded sample batch. `values` is a reused scratch array: copy what you keep. */
export interface SampleBatch {
  seq: number;
  t0: number;
  periodUs: number;
  channels: number;
  count: number;
  values: Float64Array;
}

export const SAMPLES_HEADER = 19;
export const MAX_VALUES_PER_BATCH = Math.floor((MAX_PAYLOAD - SAMPLES_HEADER) / 4);

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseHello(payload: Uint8Array): Hello | string {
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return 'hello body is not UTF-8 JSON';
  }
  if (typeof obj !== 'object' || obj === null) return 'hello body is not an object';
  const o = obj as Record<string, unknown>;
  if (typeof o.device !== 'string' || !NAME_RE.test(o.device)) return 'hello.device must match [A-Za-z0-9_.-]{1,64}';
  if (typeof o.fw !== 'string') return 'hello.fw must be a string';
  if (typeof o.rate_hz !== 'number' || !(o.rate_hz > 0 && o.rate_hz <= 100_000)) return 'hello.rate_hz must be in (0, 100000]';
  if (!Array.isArray(o.channels) || o.channels.length < 1 || o.channels.length > 64) return 'hello.channels must list 1..64 channels';
  const channels: ChannelInfo[] = [];
  for (const c of o.channels as unknown[]) {
    const ch = c as Record<string, unknown>;
    if (typeof ch !== 'object' || ch === null || typeof ch.name !== 'string' || !NAME_RE.test(ch.name)) return 'hello channel name must match [A-Za-z0-9_.-]{1,64}';
    if (typeof ch.min !== 'number' || typeof ch.max !== 'number' || !(ch.min < ch.max)) return `hello channel ${ch.name}: min < max required`;
    channels.push({ name: ch.name, unit: typeof ch.unit === 'string' ? ch.unit : '', min: ch.min, max: ch.max });
  }
  if (new Set(channels.map((c) => c.name)).size !== channels.length) return 'hello channel names must be unique';
  return { fw: o.fw, device: o.device, rate_hz: o.rate_hz, channels };
}

/**
 * Decodes a samples body into `into` (reusing its `values` array when large enough).
 * Returns the batch, or a string naming what is wrong.
 */
export function parseSamples(payload: Uint8Array, into: SampleBatch): SampleBatch | string {
  if (payload.length < SAMPLES_HEADER) return 'samples body shorter than its header';
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const channels = dv.getUint8(16);
  const count = dv.getUint16(17, true);
  if (channels === 0) return 'samples body has zero channels';
  const n = channels * count;
  if (payload.length !== SAMPLES_HEADER + 4 * n) return `samples body length ${payload.length} does not match ${count}×${channels} values`;
  into.seq = dv.getUint32(0, true);
  into.t0 = dv.getFloat64(4, true);
  into.periodUs = dv.getUint32(12, true);
  into.channels = channels;
  into.count = count;
  if (into.values.length < n) into.values = new Float64Array(Math.max(n, into.values.length * 2));
  const v = into.values;
  for (let i = 0; i < n; i++) v[i] = dv.getFloat32(SAMPLES_HEADER + 4 * i, true);
  return into;
}

export function emptyBatch(): SampleBatch {
  return { seq: 0, t0: 0, periodUs: 0, channels: 0, count: 0, values: new Float64Array(256) };
}

const textEncoder = new TextEncoder();

export function encodeHello(out: Uint8Array, offset: number, hello: Hello): number {
  const body = textEncoder.encode(JSON.stringify(hello));
  return encodeFrame(out, offset, MessageType.Hello, body.length, (p) => p.set(body));
}

/** Encodes `count` samples of `channels` values each from `values` (sample-major). */
export function encodeSamples(
  out: Uint8Array,
  offset: number,
  seq: number,
  t0: number,
  periodUs: number,
  channels: number,
  count: number,
  values: ArrayLike<number>,
): number {
  const n = channels * count;
  return encodeFrame(out, offset, MessageType.Samples, SAMPLES_HEADER + 4 * n, (p) => {
    const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    dv.setUint32(0, seq >>> 0, true);
    dv.setFloat64(4, t0, true);
    dv.setUint32(12, periodUs, true);
    dv.setUint8(16, channels);
    dv.setUint16(17, count, true);
    for (let i = 0; i < n; i++) dv.setFloat32(SAMPLES_HEADER + 4 * i, values[i]!, true);
  });
}
