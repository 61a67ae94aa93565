import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('crc32c', () => {
  it('gives the Castagnoli check value 0xE3069283 for "123456789"', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
  });

  it('gives 0 for empty input', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  // RFC 3720 appendix B.4 test vectors (iSCSI uses CRC-32C).
  it('matches the RFC 3720 vectors for 32 zero bytes, 32 0xFF bytes and an ascending 0..31 run', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  });

  it('covers only bytes[start, end) when a range is given', () => {
    const framed = ascii('xx123456789yyy');
    expect(crc32c(framed, 2, 11)).toBe(0xe3069283);
    expect(crc32c(framed, 2, 11)).not.toBe(crc32c(framed, 2, 12));
  });

  it('runs to the end of the array when only start is given', () => {
    expect(crc32c(ascii('__123456789'), 2)).toBe(0xe3069283);
  });

  it('treats an empty range like empty input', () => {
    expect(crc32c(ascii('123456789'), 4, 4)).toBe(0);
  });

  it('returns an unsigned 32-bit value', () => {
    const crc = crc32c(ascii('123456789'));
    expect(crc).toBeGreaterThan(0x7fffffff);
    expect(Number.isInteger(crc)).toBe(true);
  });

  it('changes when any single bit of the input flips', () => {
    const data = ascii('the quick brown fox');
    const base = crc32c(data);
    for (let i = 0; i < data.length * 8; i++) {
      const flipped = data.slice();
      flipped[i >> 3]! ^= 1 << (i & 7);
      expect(crc32c(flipped)).not.toBe(base);
    }
  });
});
