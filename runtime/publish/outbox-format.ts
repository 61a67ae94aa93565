/**
 * The outbox journal's record format and recovery scan (outbox.ts). Pure: no `node:*` import, no
 * throw on bytes (STYLE §3, §12) — a damaged region is skipped and counted, never fatal.
 *
 * One record, little-endian, 24 bytes of framing around the topic and payload:
 *
 *   off  size  field
 *     0     4  magic "TQR1" (format version 1)
 *     4     4  body length = topic bytes + payload bytes
 *     8     8  seq (u64; < 2^53), the outbox's durable sequence number
 *    16     1  kind: 0 verdict, 1 action, 2 other
 *    17     1  reserved, 0
 *    18     2  topic length in bytes (UTF-8)
 *    20     n  topic, then payload
 *  20+n     4  CRC-32C (Castagnoli, framing/crc32c.ts) over bytes [0, 20+n)
 *
 * The CRC covers the header too, so a torn or bit-flipped length cannot make a valid record out of
 * garbage; the magic lets the scan resynchronise after a damaged record (it restarts the search one
 * byte after the bad record's start, like the frame decoder).
 */

import { crc32c } from '../framing/crc32c.js';

export const KINDS = ['verdict', 'action', 'other'] as const;
export type OutboxKind = (typeof KINDS)[number];
export const KIND_CODE: Readonly<Record<OutboxKind, number>> = { verdict: 0, action: 1, other: 2 };

/** "TQR1" read as a little-endian u32. */
export const RECORD_MAGIC = 0x31525154;
export const HEADER_BYTES = 20;
export const TRAILER_BYTES = 4;
export const FRAMING_BYTES = HEADER_BYTES + TRAILER_BYTES;

export interface OutboxRecord {
  seq: number;
  kind: OutboxKind;
  topic: string;
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

function getU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Bytes `encodeRecord` may need at most (UTF-8 takes up to 3 bytes per UTF-16 unit). */
export function maxEncodedSize(topic: string, payloadBytes: number): number {
  return FRAMING_BYTES + topic.length * 3 + payloadBytes;
}

/**
 * Writes one record into `out` from offset 0 (which must hold `maxEncodedSize` bytes) and returns its
 * length, or -1 if the topic is longer than 65 535 bytes. Allocates nothing.
 */
export function encodeRecord(out: Uint8Array, seq: number, kind: OutboxKind, topic: string, payload: Uint8Array): number {
  const topicLen = encoder.encodeInto(topic, out.subarray(HEADER_BYTES)).written;
  if (topicLen > 0xffff) return -1;
  const body = topicLen + payload.length;
  putU32(out, 0, RECORD_MAGIC);
  putU32(out, 4, body);
  putU32(out, 8, seq >>> 0);
  putU32(out, 12, Math.floor(seq / 0x1_0000_0000));
  out[16] = KIND_CODE[kind];
  out[17] = 0;
  out[18] = topicLen & 0xff;
  out[19] = topicLen >>> 8;
  out.set(payload, HEADER_BYTES + topicLen);
  const end = HEADER_BYTES + body;
  putU32(out, end, crc32c(out, 0, end));
  return end + TRAILER_BYTES;
}

export interface RecordHead {
  seq: number;
  kind: OutboxKind;
  /** Whole record length, framing included. */
  length: number;
}

/**
 * The record starting at `pos` if it is whole and intact (magic, sane lengths, CRC), else undefined.
 * Never throws: this is what recovery runs over torn and damaged files.
 */
export function parseRecordAt(b: Uint8Array, pos: number, end: number, maxRecordBytes: number): RecordHead | undefined {
  if (end - pos < FRAMING_BYTES || getU32(b, pos) !== RECORD_MAGIC) return undefined;
  const body = getU32(b, pos + 4);
  const length = body + FRAMING_BYTES;
  if (length > maxRecordBytes || length > end - pos) return undefined;
  const topicLen = b[pos + 18]! | (b[pos + 19]! << 8);
  const kindCode = b[pos + 16]!;
  const hi = getU32(b, pos + 12);
  if (topicLen > body || kindCode > 2 || b[pos + 17] !== 0 || hi >= 0x20_0000) return undefined;
  if (crc32c(b, pos, pos + HEADER_BYTES + body) !== getU32(b, pos + HEADER_BYTES + body)) return undefined;
  return { seq: hi * 0x1_0000_0000 + getU32(b, pos + 8), kind: KINDS[kindCode]!, length };
}

/** Decodes an intact record (checked by `parseRecordAt`); the payload is a copy. */
export function decodeRecord(b: Uint8Array, pos: number, head: RecordHead): OutboxRecord {
  const topicLen = b[pos + 18]! | (b[pos + 19]! << 8);
  const topicStart = pos + HEADER_BYTES;
  const topic = decoder.decode(b.subarray(topicStart, topicStart + topicLen));
  const payload = b.slice(topicStart + topicLen, pos + head.length - TRAILER_BYTES);
  return { seq: head.seq, kind: head.kind, topic, payload };
}

export interface SegmentScan {
  /** Offset just after the last intact record: the file's valid length. */
  validEnd: number;
  /** Seq of the last intact record, or `minSeq - 1` if none. */
  lastSeq: number;
  /** Damaged bytes between intact records (skipped, not cut). */
  corruptBytes: number;
  /** Seqs missing between intact records (records lost to the damage). */
  corruptRecords: number;
  /** Bytes after the last intact record (a torn tail; the caller cuts them). */
  tailBytes: number;
}

/**
 * Walks a segment's bytes and reports each intact record, in order, with a seq ≥ `minSeq` and above
 * the previous one. After a damaged record the search restarts one byte later; a record found
 * further on resumes the walk (the damage is counted), and if none is found the rest is a torn tail.
 * Bytes of a payload that happen to hold a whole valid record could be taken for one only inside a
 * damaged region, and only if its seq fits the order — accepted as a negligible risk.
 */
export function scanSegment(
  b: Uint8Array,
  minSeq: number,
  maxRecordBytes: number,
  onRecord: (seq: number, offset: number, length: number, kind: OutboxKind) => void,
): SegmentScan {
  const end = b.length;
  let pos = 0;
  let expected = minSeq;
  let corruptBytes = 0;
  let corruptRecords = 0;
  while (pos < end) {
    const head = parseRecordAt(b, pos, end, maxRecordBytes);
    if (head && head.seq >= expected) {
      onRecord(head.seq, pos, head.length, head.kind);
      if (head.seq > expected) corruptRecords += head.seq - expected;
      expected = head.seq + 1;
      pos += head.length;
      continue;
    }
    let next = -1;
    for (let p = pos + 1; p + FRAMING_BYTES <= end; p++) {
      if (b[p] !== 0x54 || b[p + 1] !== 0x51) continue; // "TQ": cheap prefilter before the full parse
      const h = parseRecordAt(b, p, end, maxRecordBytes);
      if (h && h.seq >= expected) {
        next = p;
        break;
      }
    }
    if (next < 0) break;
    corruptBytes += next - pos;
    pos = next;
  }
  return { validEnd: pos, lastSeq: expected - 1, corruptBytes, corruptRecords, tailBytes: end - pos };
}
