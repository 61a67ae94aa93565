/**
 * COBS — Consistent Overhead Byte Stuffing (Cheshire & Baker 1999), PROTOCOL §2.
 * Encoded data contains no 0x00, so 0x00 can delimit frames; overhead ≤ 1 byte per 254.
 */

/** Largest encoded size of `n` data bytes (without the delimiter). */
export function cobsMaxEncoded(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/**
 * Encodes src[start, end) into out at `at`; returns the number of bytes written. Produces exactly the
 * paper's StuffData output: a group closes at each zero, at 254 data bytes, and at the end — so a
 * full last group is followed by a 0x01 code (PROTOCOL §2).
 */
export function cobsEncode(src: Uint8Array, start: number, end: number, out: Uint8Array, at: number): number {
  const begin = at;
  let codeAt = at++;
  let code = 1;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b === 0) {
      out[codeAt] = code;
      codeAt = at++;
      code = 1;
    } else {
      out[at++] = b;
      if (++code === 0xff) {
        out[codeAt] = code;
        codeAt = at++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return at - begin;
}

/** cobsDecode's result when the decoded bytes would not fit in the output. */
export const COBS_TOO_LONG = -2;

/**
 * Decodes src[start, end) (one frame's bytes, no delimiter) into out; returns the decoded length,
 * -1 when the bytes are not valid COBS (a zero byte, or a code pointing past the end), or
 * COBS_TOO_LONG when the result would not fit in `out`.
 */
export function cobsDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let n = 0;
  let p = start;
  while (p < end) {
    const code = src[p++]!;
    if (code === 0) return -1;
    const stop = p + code - 1;
    if (stop > end) return -1;
    if (n + code - 1 > out.length) return COBS_TOO_LONG;
    for (; p < stop; p++) {
      const b = src[p]!;
      if (b === 0) return -1;
      out[n++] = b;
    }
    if (code !== 0xff && p < end) {
      if (n >= out.length) return COBS_TOO_LONG;
      out[n++] = 0;
    }
  }
  return n;
}

/** True when the COBS code chain starting at `start` lands exactly on `end`: a cheap pre-check. */
export function cobsChainFits(src: Uint8Array, start: number, end: number): boolean {
  let p = start;
  while (p < end) {
    const code = src[p]!;
    if (code === 0) return false;
    p += code;
  }
  return p === end;
}
