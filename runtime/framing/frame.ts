/**
 * Frames of the tinyqa serial protocol (PROTOCOL §2–§4, §7): COBS-encoded, 0x00-delimited, a 10-byte
 * little-endian header, one CBOR body, CRC-32C.
 *
 * `FrameReceiver` is the pure stream decoder: it never throws on bytes, keeps at most one maximal
 * encoded frame buffered, and hands out frames or typed discards. A piece between delimiters that is
 * not a valid frame is searched for a valid frame starting later inside it (PROTOCOL §2: a frame
 * whose delimiter was lost arrives glued to what came before it), so every intact frame is recovered.
 */

import { COBS_TOO_LONG, cobsChainFits, cobsDecode, cobsEncode, cobsMaxEncoded } from './cobs.js';
import { crc32c } from './crc32c.js';
import { decodeBody } from './messages.js';

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 10;
export const CRC_BYTES = 4;
/** PROTOCOL §2: largest decoded frame. */
export const MAX_FRAME = 2048;
export const MAX_ENCODED = cobsMaxEncoded(MAX_FRAME);
/** Header + the one-byte empty map + CRC (PROTOCOL §3). */
export const MIN_FRAME = HEADER_BYTES + 1 + CRC_BYTES;
/** Bytes of candidate frames one piece may decode while searching for a frame inside it. */
const RESYNC_BUDGET = 16 * cobsMaxEncoded(MAX_FRAME);
/** Incompatible-feature flag bits this implementation understands (none in version 1). */
export const KNOWN_INCOMPAT_FLAGS = 0;

export interface FrameHeader {
  version: number;
  incompat_flags: number;
  compat_flags: number;
  type: number;
  seq: number;
  time_ms: number;
}

export type FrameError = 'bad_cobs' | 'runt' | 'oversize' | 'bad_crc' | 'bad_version' | 'unknown_flags' | 'bad_body';

export interface ReceiverCounters {
  /** Valid frames handed out. */
  frames: number;
  /** Bytes that were not part of a valid frame or its delimiter. */
  discarded_bytes: number;
  bad_cobs: number;
  runt: number;
  oversize: number;
  bad_crc: number;
  bad_version: number;
  unknown_flags: number;
  bad_body: number;
  /** Valid frames found glued behind other bytes in one piece (PROTOCOL §2 resynchronisation). */
  resyncs: number;
  /** Pieces whose resynchronisation search was cut short by its work budget. */
  resync_budget_exhausted: number;
  /** Frames missing according to sequence numbers (PROTOCOL §7). */
  seq_gaps: number;
  /** Sequence jumps too large to be gaps: the sender restarted. */
  seq_resets: number;
}

export interface ReceiverSink {
  /** A valid frame; `body` is the decoded CBOR map (typed arrays in it may view a reused buffer). */
  frame(header: FrameHeader, body: unknown): void;
  /** Bytes dropped, and the reason of the piece they belonged to. */
  discard(reason: FrameError | 'delimiter', bytes: number): void;
}

export function newReceiverCounters(): ReceiverCounters {
  return { frames: 0, discarded_bytes: 0, bad_cobs: 0, runt: 0, oversize: 0, bad_crc: 0, bad_version: 0, unknown_flags: 0, bad_body: 0, resyncs: 0, resync_budget_exhausted: 0, seq_gaps: 0, seq_resets: 0 };
}

const readU16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const readU32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

export class FrameReceiver {
  readonly counters = newReceiverCounters();
  private readonly piece = new Uint8Array(MAX_ENCODED);
  private len = 0;
  private overflowed = false;
  private readonly decoded = new Uint8Array(MAX_FRAME);
  private expectedSeq = -1;
  private readonly header: FrameHeader = { version: 0, incompat_flags: 0, compat_flags: 0, type: 0, seq: 0, time_ms: 0 };
  private body: unknown;

  constructor(private readonly sink: ReceiverSink) {}

  /** Bytes held while waiting for a delimiter; never more than MAX_ENCODED. */
  get buffered(): number {
    return this.len;
  }

  /** Forget the sequence expectation (e.g. after the link was reopened). */
  resetSequence(): void {
    this.expectedSeq = -1;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const z = chunk.indexOf(0, at);
      const end = z < 0 ? chunk.length : z;
      this.append(chunk, at, end);
      if (z < 0) return;
      this.endPiece();
      at = z + 1;
    }
  }

  private append(src: Uint8Array, from: number, to: number): void {
    let n = to - from;
    if (n === 0) return;
    const cap = this.piece.length;
    if (this.len + n > cap) {
      // Longer than any frame can be: only the newest bytes may still end one (PROTOCOL §2).
      if (!this.overflowed) this.counters.oversize++;
      this.overflowed = true;
      if (n >= cap) {
        this.drop('oversize', this.len + (n - cap));
        from = to - cap;
        n = cap;
        this.len = 0;
      } else {
        const keep = cap - n;
        const drop = this.len - keep;
        this.drop('oversize', drop);
        this.piece.copyWithin(0, drop, this.len);
        this.len = keep;
      }
    }
    this.piece.set(src.subarray(from, to), this.len);
    this.len += n;
  }

  private drop(reason: FrameError | 'delimiter', bytes: number): void {
    if (bytes <= 0) return;
    this.counters.discarded_bytes += bytes;
    this.sink.discard(reason, bytes);
  }

  private endPiece(): void {
    const len = this.len;
    this.len = 0;
    const overflowed = this.overflowed;
    this.overflowed = false;
    if (len === 0) {
      this.drop('delimiter', 1);
      return;
    }
    const first = this.tryFrame(0, len);
    if (first === null) {
      this.accept();
      return;
    }
    // Search later start offsets. Cheap checks first: the COBS chain must land on the end and the
    // first decoded byte must be the version (code ≥ 2 and the next byte = 1). A work budget keeps a
    // hostile line (e.g. a long run crafted to pass both checks everywhere) linear in its length.
    let budget = RESYNC_BUDGET;
    const p = this.piece;
    for (let s = 1; s <= len - MIN_FRAME; s++) {
      if (p[s]! < 2 || p[s + 1] !== PROTOCOL_VERSION || !cobsChainFits(p, s, len)) continue;
      budget -= len - s;
      if (budget < 0) {
        this.counters.resync_budget_exhausted++;
        break;
      }
      if (this.tryFrame(s, len) === null) {
        this.counters.resyncs++;
        this.drop(first, s);
        this.accept();
        return;
      }
    }
    if (!overflowed) this.counters[first]++;
    this.drop(first, len + 1);
  }

  /** Validates piece[start, end) as one frame (PROTOCOL §3 order); null when valid, else why not. */
  private tryFrame(start: number, end: number): FrameError | null {
    const d = this.decoded;
    const n = cobsDecode(this.piece, start, end, d);
    if (n === COBS_TOO_LONG) return 'oversize';
    if (n < 0) return 'bad_cobs';
    if (n < MIN_FRAME) return 'runt';
    if (crc32c(d, 0, n - CRC_BYTES) !== readU32(d, n - CRC_BYTES)) return 'bad_crc';
    if (d[0] !== PROTOCOL_VERSION) return 'bad_version';
    if ((d[1]! & ~KNOWN_INCOMPAT_FLAGS) !== 0) return 'unknown_flags';
    const body = decodeBody(d.subarray(HEADER_BYTES, n - CRC_BYTES));
    if (body === undefined) return 'bad_body';
    const h = this.header;
    h.version = d[0]!;
    h.incompat_flags = d[1]!;
    h.compat_flags = d[2]!;
    h.type = d[3]!;
    h.seq = readU16(d, 4);
    h.time_ms = readU32(d, 6);
    this.body = body;
    return null;
  }

  private accept(): void {
    const h = this.header;
    const c = this.counters;
    c.frames++;
    if (this.expectedSeq >= 0 && h.seq !== this.expectedSeq) {
      const gap = (h.seq - this.expectedSeq) & 0xffff;
      if (gap < 0x8000) c.seq_gaps += gap;
      else c.seq_resets++;
    }
    this.expectedSeq = (h.seq + 1) & 0xffff;
    this.sink.frame(h, this.body);
  }
}

/**
 * Writes one frame — COBS(header ‖ body ‖ CRC) and its 0x00 delimiter — into `out` at `at` and returns
 * the bytes written. `scratch` (≥ MAX_FRAME bytes) holds the decoded frame while it is built.
 */
export function encodeFrame(
  out: Uint8Array,
  at: number,
  header: { type: number; seq: number; time_ms: number; incompat_flags?: number; compat_flags?: number },
  body: Uint8Array,
  scratch: Uint8Array,
): number {
  const n = HEADER_BYTES + body.length + CRC_BYTES;
  if (n > MAX_FRAME) throw new RangeError(`frame of ${n} bytes exceeds MAX_FRAME ${MAX_FRAME} (PROTOCOL §2)`);
  if (out.length - at < cobsMaxEncoded(n) + 1) throw new RangeError(`output buffer too small: need ${cobsMaxEncoded(n) + 1} bytes`);
  const d = scratch;
  d[0] = PROTOCOL_VERSION;
  d[1] = header.incompat_flags ?? 0;
  d[2] = header.compat_flags ?? 0;
  d[3] = header.type;
  d[4] = header.seq & 0xff;
  d[5] = (header.seq >>> 8) & 0xff;
  const t = header.time_ms >>> 0;
  d[6] = t & 0xff;
  d[7] = (t >>> 8) & 0xff;
  d[8] = (t >>> 16) & 0xff;
  d[9] = t >>> 24;
  d.set(body, HEADER_BYTES);
  const crc = crc32c(d, 0, n - CRC_BYTES);
  d[n - 4] = crc & 0xff;
  d[n - 3] = (crc >>> 8) & 0xff;
  d[n - 2] = (crc >>> 16) & 0xff;
  d[n - 1] = crc >>> 24;
  const w = cobsEncode(d, 0, n, out, at);
  out[at + w] = 0;
  return w + 1;
}
