/**
 * Provisional serial framing (walking skeleton; the firmware-bridge protocol replaces it).
 *
 * Frame layout, little-endian:
 *
 *   off  size  field
 *   0    2     sync 0xA5 0x5A
 *   2    1     version (PROVISIONAL_VERSION)
 *   3    1     message type (MessageType)
 *   4    2     payload length N (0..MAX_PAYLOAD)
 *   6    N     payload
 *   6+N  4     CRC-32C over bytes 2 .. 6+N-1 (version, type, length, payload)
 *
 * The decoder never throws on bytes (STYLE §3). It hands out frames or typed discards, keeps its
 * buffer bounded by the maximum frame size, and after any bad candidate restarts the search at the
 * byte right after that candidate's first sync byte, so one corrupt frame costs at most itself.
 */

import { crc32c } from './crc32c.js';

export const SYNC0 = 0xa5;
export const SYNC1 = 0x5a;
export const PROVISIONAL_VERSION = 1;
export const HEADER_BYTES = 6;
export const CRC_BYTES = 4;
export const MAX_PAYLOAD = 4096;
export const MAX_FRAME = HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES;

export const MessageType = {
  Hello: 1,
  Samples: 2,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export type DiscardKind = 'noise' | 'bad_version' | 'oversize' | 'bad_crc';

export interface FrameSink {
  /** A valid frame. `payload` is a view into the decoder's buffer: valid only during this call. */
  frame(type: number, payload: Uint8Array): void;
  /** Bytes that were skipped, and why. */
  discard(kind: DiscardKind, bytes: number): void;
}

export interface DecoderCounters {
  frames: number;
  discarded_bytes: number;
  bad_crc: number;
  oversize: number;
  bad_version: number;
}

export class FrameDecoder {
  private readonly buf = new Uint8Array(MAX_FRAME * 2);
  private len = 0;
  readonly counters: DecoderCounters = { frames: 0, discarded_bytes: 0, bad_crc: 0, oversize: 0, bad_version: 0 };

  constructor(private readonly sink: FrameSink) {}

  /** Bytes currently held while waiting for the rest of a frame; never more than MAX_FRAME * 2. */
  get buffered(): number {
    return this.len;
  }

  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.buf.length - this.len);
      this.buf.set(chunk.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      this.scan();
    }
  }

  private scan(): void {
    const b = this.buf;
    let pos = 0;
    for (;;) {
      // Find the next sync pair; everything before it is noise.
      let s = pos;
      while (s < this.len && !(b[s] === SYNC0 && (s + 1 >= this.len || b[s + 1] === SYNC1))) s++;
      if (s > pos) this.skip('noise', s - pos);
      pos = s;
      if (this.len - pos < HEADER_BYTES) break;
      const version = b[pos + 2]!;
      if (version !== PROVISIONAL_VERSION) {
        this.skip('bad_version', 1);
        pos += 1;
        continue;
      }
      const payloadLen = b[pos + 4]! | (b[pos + 5]! << 8);
      if (payloadLen > MAX_PAYLOAD) {
        this.skip('oversize', 1);
        pos += 1;
        continue;
      }
      const total = HEADER_BYTES + payloadLen + CRC_BYTES;
      if (this.len - pos < total) break;
      const crcAt = pos + HEADER_BYTES + payloadLen;
      const expected = (b[crcAt]! | (b[crcAt + 1]! << 8) | (b[crcAt + 2]! << 16) | (b[crcAt + 3]! << 24)) >>> 0;
      if (crc32c(b, pos + 2, crcAt) !== expected) {
        this.skip('bad_crc', 1);
        pos += 1;
        continue;
      }
      this.counters.frames++;
      this.sink.frame(b[pos + 3]!, b.subarray(pos + HEADER_BYTES, crcAt));
      pos += total;
    }
    if (pos > 0) {
      b.copyWithin(0, pos, this.len);
      this.len -= pos;
    }
  }

  private skip(kind: DiscardKind, bytes: number): void {
    this.counters.discarded_bytes += bytes;
    if (kind === 'bad_crc') this.counters.bad_crc++;
    else if (kind === 'oversize') this.counters.oversize++;
    else if (kind === 'bad_version') this.counters.bad_version++;
    this.sink.discard(kind, bytes);
  }
}

/**
 * Writes one frame into `out` at `offset` and returns the number of bytes written. `writePayload`
 * fills the payload region (it receives a view of exactly `payloadLen` bytes), so callers encode in
 * place without an intermediate buffer.
 */
export function encodeFrame(
  out: Uint8Array,
  offset: number,
  type: MessageType,
  payloadLen: number,
  writePayload: (payload: Uint8Array) => void,
): number {
  if (payloadLen > MAX_PAYLOAD) throw new RangeError(`payload of ${payloadLen} bytes exceeds MAX_PAYLOAD ${MAX_PAYLOAD}`);
  const total = HEADER_BYTES + payloadLen + CRC_BYTES;
  if (out.length - offset < total) throw new RangeError(`output buffer too small: need ${total} bytes`);
  out[offset] = SYNC0;
  out[offset + 1] = SYNC1;
  out[offset + 2] = PROVISIONAL_VERSION;
  out[offset + 3] = type;
  out[offset + 4] = payloadLen & 0xff;
  out[offset + 5] = payloadLen >>> 8;
  writePayload(out.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + payloadLen));
  const crcAt = offset + HEADER_BYTES + payloadLen;
  const crc = crc32c(out, offset + 2, crcAt);
  out[crcAt] = crc & 0xff;
  out[crcAt + 1] = (crc >>> 8) & 0xff;
  out[crcAt + 2] = (crc >>> 16) & 0xff;
  out[crcAt + 3] = crc >>> 24;
  return total;
}
