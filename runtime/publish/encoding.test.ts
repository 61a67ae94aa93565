import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import type { Verdict } from '../qa/types.js';
import { decodeBody, encodeBody, sniffEncoding } from './encoding.js';
import { sampleVerdict } from './publisher.contract.js';

/** A verdict as a gateway sends it: epoch-ms window, four children, one failed, a weighted parent. */
function realisticVerdict(): Verdict {
  // seq 1 767 225 600 → t0 = 1 767 225 600 000 ms (2026-01-01), beyond 32 bits like every real timestamp.
  const base = sampleVerdict('gw-01', 1_767_225_600, 'pressure');
  return {
    ...base,
    parents: { integrity: 'pass', intrinsic: 'fail', contextual: 'pass' },
    parent_scores: { intrinsic: { p: 0.8133, threshold: 0.5 } },
    children: {
      frame_integrity: { score: 0, threshold: 0.01, pass: true, severity: 'critical', parent: 'integrity', code: 'frame_integrity.ok', reason: '0 bad frames of 100' },
      completeness: { score: 0.03, threshold: 0.02, pass: false, severity: 'critical', parent: 'intrinsic', code: 'completeness.missing', reason: '3/100 missing' },
      flatline: { score: 0.125, threshold: 0.5, pass: true, severity: 'warning', parent: 'intrinsic', code: 'flatline.ok', reason: 'longest run 12 of 100 samples' },
      drift: { score: 0.2, threshold: 0.6, pass: true, severity: 'info', parent: 'contextual', code: 'drift.ok', reason: 'Page-Hinkley 1.2 < 6' },
    },
    failed: ['completeness'],
    profile: 'a1b2c3d4',
  };
}

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('uplink payload encodings (JSON, CBOR)', () => {
  it('round-trips a verdict through JSON with its content type', () => {
    const v = realisticVerdict();
    const { bytes, contentType } = encodeBody(v, 'json');
    expect(contentType).toBe('application/json');
    expect(bytes.toString('utf8')).toBe(JSON.stringify(v));
    expect(decodeBody(bytes, contentType)).toEqual(v);
  });

  it('round-trips a verdict through CBOR with its content type', () => {
    const v = realisticVerdict();
    const { bytes, contentType } = encodeBody(v, 'cbor');
    expect(contentType).toBe('application/cbor');
    expect(decodeBody(bytes, contentType)).toEqual(v);
  });

  it('tells the encoding from the first byte when no content type came along', () => {
    const v = realisticVerdict();
    const json = encodeBody(v, 'json').bytes;
    const cbor = encodeBody(v, 'cbor').bytes;
    expect(sniffEncoding(json)).toBe('json');
    expect(sniffEncoding(cbor)).toBe('cbor');
    expect(decodeBody(json)).toEqual(v);
    expect(decodeBody(cbor)).toEqual(v);
    expect(decodeBody(Buffer.from(' \r\n\t{"a":1}'))).toEqual({ a: 1 });
    expect(decodeBody(Buffer.from('\ufeff{"a":1}'))).toEqual({ a: 1 });
    expect(decodeBody(Buffer.from('[1,2]'))).toEqual([1, 2]);
  });

  it('reads content types with parameters and in any case', () => {
    expect(decodeBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8')).toEqual({ a: 1 });
    expect(decodeBody(encodeBody({ a: 1 }, 'cbor').bytes, 'Application/CBOR')).toEqual({ a: 1 });
  });

  it('writes CBOR smaller than JSON for a verdict', () => {
    // Measured for realisticVerdict(): JSON 937 bytes, CBOR 776 bytes (−17 %). The keys are
    // repeated text in both; CBOR saves the quotes, colons and commas and writes numbers in binary.
    const v = realisticVerdict();
    expect(encodeBody(v, 'cbor').bytes.length).toBeLessThan(encodeBody(v, 'json').bytes.length);
  });

  it('writes standard CBOR: a shortest map head, no cbor-x records or tags', () => {
    // {"a": 1, "b": [true, null]}: a2 (map of 2) 61 61 ("a") 01 61 62 ("b") 82 (array of 2) f5 (true) f6 (null)
    expect(encodeBody({ a: 1, b: [true, null] }, 'cbor').bytes.toString('hex')).toBe('a2616101616282f5f6');
    const bytes = encodeBody(realisticVerdict(), 'cbor').bytes;
    expect(bytes[0]).toBe(0xa0 + Object.keys(realisticVerdict()).length); // map head, ≤ 23 keys in one byte
    expect(bytes.includes(Buffer.from([0xd8, 0x69]))).toBe(false); // tag 105, cbor-x records
    expect(bytes.includes(Buffer.from([0xd9, 0x01, 0x03]))).toBe(false); // tag 259, explicit maps
  });

  it('writes whole numbers beyond 32 bits as CBOR integers, not floats', () => {
    // 1 767 225 600 000 = 0x0000_019B_76DA_A800: major type 0 with an 8-byte argument (head 0x1b).
    // (−n−1 = 0x19B_76DA_A7FF for the negative one, head 0x3b.) cbor-x alone writes fb 42 79 b7 6d aa 80 00 00 (float64).
    const bytes = encodeBody({ t: 1_767_225_600_000, n: -1_767_225_600_000 }, 'cbor').bytes;
    expect(bytes.toString('hex')).toBe('a2' + '6174' + '1b0000019b76daa800' + '616e' + '3b0000019b76daa7ff');
    expect(decodeBody(bytes, 'application/cbor')).toEqual({ t: 1_767_225_600_000, n: -1_767_225_600_000 });
  });

  it('turns NaN and ±Infinity into null in JSON and keeps them in CBOR', () => {
    const odd = { nan: NaN, inf: Infinity, ninf: -Infinity };
    expect(decodeBody(encodeBody(odd, 'json').bytes)).toEqual({ nan: null, inf: null, ninf: null });
    const back = decodeBody(encodeBody(odd, 'cbor').bytes) as typeof odd;
    expect(back.nan).toBeNaN();
    expect(back.inf).toBe(Infinity);
    expect(back.ninf).toBe(-Infinity);
  });

  it('refuses bad payloads with E5009 saying what was wrong', () => {
    const cases: [Uint8Array, string | undefined, RegExp][] = [
      [Buffer.alloc(0), undefined, /payload is empty/],
      [Buffer.from('{"a":'), undefined, /JSON payload of 5 bytes does not parse/],
      [Buffer.from([0x7b, 0xff, 0x7d]), 'application/json', /not valid UTF-8/],
      [encodeBody({ a: 1 }, 'cbor').bytes.subarray(0, 3), undefined, /CBOR payload of 3 bytes \(first byte 0xa1\) is not well-formed/],
      [Buffer.concat([encodeBody({ a: 1 }, 'cbor').bytes, Buffer.from([0x00])]), 'application/cbor', /CBOR payload of 5 bytes .* not well-formed/],
      [Buffer.from([0xff]), undefined, /CBOR payload of 1 bytes \(first byte 0xff\)/],
      [Buffer.from('{}'), 'text/plain', /content type "text\/plain", which tinyqa does not decode/],
    ];
    for (const [bytes, ct, message] of cases) {
      const e = errorOf(() => decodeBody(bytes, ct));
      expect(isTinyqaError(e, ErrorCode.PayloadInvalid), String(e)).toBe(true);
      expect((e as Error).message).toMatch(/^E5009 /);
      expect((e as Error).message).toMatch(message);
    }
  });

  it('refuses to encode what has no form (a cycle) as an internal error', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(isTinyqaError(errorOf(() => encodeBody(cyclic, 'json')), ErrorCode.Internal)).toBe(true);
    expect(isTinyqaError(errorOf(() => encodeBody(undefined, 'json')), ErrorCode.Internal)).toBe(true);
  });

  it('round-trips any JSON value through CBOR as JSON would', () => {
    // cbor-x renames a "__proto__" key to "__proto_" on decode (prototype-pollution guard): not ours to test.
    const value = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));
    fc.assert(
      fc.property(value, (v) => {
        expect(decodeBody(encodeBody(v, 'cbor').bytes, 'application/cbor')).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it('never throws anything but E5009 on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(undefined, 'application/json', 'application/cbor'), (bytes, ct) => {
        try {
          decodeBody(bytes, ct);
        } catch (e) {
          expect(isTinyqaError(e, ErrorCode.PayloadInvalid), String(e)).toBe(true);
        }
      }),
    );
  });
});
