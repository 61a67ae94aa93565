/**
 * Payload encodings of the plain MQTT uplink (DESIGN §6): JSON by default, CBOR (RFC 8949) on
 * request, announced with the MQTT 5 content type (MQTT 5.0 §3.3.2.3.9). Pure: no I/O.
 *
 * CBOR is written so that any standard decoder reads it (cbor2, fxamacker/cbor, tinycbor): no cbor-x
 * record or packing extensions, maps as plain CBOR maps with the shortest length head, byte arrays
 * untagged, and whole numbers as CBOR integers (see `integersForCbor`).
 *
 * The two encodings differ on non-finite numbers: JSON has no NaN or ±Infinity, and `JSON.stringify`
 * writes them as `null`; CBOR keeps them as float64 NaN/±Infinity. A subscriber that needs to tell
 * "missing" from "not a number" should ask for CBOR.
 */

import { Decoder, Encoder, type Options } from 'cbor-x';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';

export type Encoding = 'json' | 'cbor';
export type ContentType = 'application/json' | 'application/cbor';

export const CONTENT_TYPES: Readonly<Record<Encoding, ContentType>> = { json: 'application/json', cbor: 'application/cbor' };

// `useTag259ForMaps` and `int64AsNumber` are read by cbor-x 1.6.9 (encode.js, decode.js) but missing
// from its index.d.ts, hence the widened option types.
const encoderOptions: Options & { useTag259ForMaps: boolean } = {
  // Records (tag 105 + structure ids) are a cbor-x extension other decoders do not understand.
  useRecords: false,
  // Without it cbor-x writes every object with a 16-bit map length (0xb9 nn nn): valid, but not the
  // preferred serialization of RFC 8949 §4.1 and 2 bytes longer per object.
  variableMapSize: true,
  // Typed arrays would otherwise get RFC 8746 tags (64 for Uint8Array); a plain byte string is what
  // every decoder maps to its bytes type.
  tagUint8Array: false,
  // Tag 259 marks JS Maps apart from objects; we send objects only, and other decoders need no tag.
  useTag259ForMaps: false,
  pack: false,
  structuredClone: false,
  bundleStrings: false,
};
const encoder = new Encoder(encoderOptions);

const decoderOptions: Options & { int64AsNumber: boolean } = {
  useRecords: false,
  mapsAsObjects: true,
  // 64-bit integers (epoch milliseconds) as numbers, like JSON.parse, not BigInt.
  int64AsNumber: true,
};
const decoder = new Decoder(decoderOptions);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * cbor-x writes any number outside the 32-bit range as a float64, so epoch milliseconds (t0, t1,
 * ~1.7e12) would reach a subscriber as 1.7e12 (a float) rather than an integer, and a typed decoder
 * (Go's int64 field, Rust's u64) refuses it. A BigInt is written as a CBOR integer (major type 0/1
 * with an 8-byte argument, the shortest head for values ≥ 2^32), so such whole numbers are turned
 * into BigInts on a copy. Only plain objects and arrays are walked; the copy is as deep as the
 * object, which for a verdict is a few dozen small objects per window, not per sample.
 */
function integersForCbor(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0xffff_ffff || value < -0x1_0000_0000) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map(integersForCbor);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // An own "__proto__" key (JSON.parse makes them) must stay a key, not become the copy's prototype.
      if (k === '__proto__') Object.defineProperty(out, k, { value: integersForCbor(v), enumerable: true, writable: true, configurable: true });
      else out[k] = integersForCbor(v);
    }
    return out;
  }
  return value;
}

/**
 * The bytes of `obj` in the requested encoding and the MQTT 5 content type that names it. Throws
 * E9001 for what cannot be encoded (a cycle, a BigInt in JSON): the caller built a bad object.
 */
export function encodeBody(obj: unknown, enc: Encoding): { bytes: Buffer; contentType: ContentType } {
  try {
    if (enc === 'cbor') return { bytes: encoder.encode(integersForCbor(obj)), contentType: CONTENT_TYPES.cbor };
    const text = JSON.stringify(obj);
    if (text === undefined) throw new Error(`${typeof obj} has no JSON form`);
    return { bytes: Buffer.from(text, 'utf8'), contentType: CONTENT_TYPES.json };
  } catch (e) {
    throw new TinyqaError(ErrorCode.Internal, `cannot encode the payload as ${enc}: ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * Which encoding `bytes` are in when no content type came with them (MQTT 3.1.1 has no properties,
 * and a retained message from an older publisher may lack one). We only ever send a map (a JSON
 * object, a CBOR map), so the first byte decides:
 *  - `{` (0x7b) or `[` (0x5b), possibly after JSON whitespace (0x20 0x09 0x0a 0x0d) or a UTF-8 BOM
 *    (0xef), means JSON;
 *  - anything else is taken as CBOR.
 * As a CBOR initial byte (RFC 8949 §3), 0x7b is a text string and 0x5b a byte string whose length
 * follows in 8 bytes — a string of 4 GiB or more, which no MQTT packet (256 MiB at most) can hold,
 * and which is never a payload of ours, since they start with a map head (0xa0–0xbf). The whitespace
 * bytes are the one-byte integers −1, 9, 10 and 13, and 0xef an unassigned simple value: a payload
 * that starts with one of them and goes on is not a single well-formed CBOR item.
 */
export function sniffEncoding(bytes: Uint8Array): Encoding {
  const b = bytes[0];
  return b === 0x7b || b === 0x5b || b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0xef ? 'json' : 'cbor';
}

/** `application/cbor; foo=bar` → 'cbor'; undefined for a type we do not speak. */
function encodingOf(contentType: string): Encoding | undefined {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (type === CONTENT_TYPES.json) return 'json';
  if (type === CONTENT_TYPES.cbor) return 'cbor';
  return undefined;
}

/**
 * Decodes a payload of ours. Uses `contentType` when given (parameters such as `; charset=utf-8` are
 * ignored), otherwise sniffs it (see `sniffEncoding`). Throws E5009 naming the encoding and what was
 * wrong: empty payload, unknown content type, not UTF-8, not JSON, not well-formed CBOR (truncated,
 * or bytes left over after the item).
 */
export function decodeBody(bytes: Uint8Array, contentType?: string): unknown {
  let enc: Encoding;
  if (contentType !== undefined && contentType !== '') {
    const known = encodingOf(contentType);
    if (!known) {
      throw new TinyqaError(ErrorCode.PayloadInvalid, `payload has content type "${contentType}", which tinyqa does not decode`, {
        hint: `expected ${CONTENT_TYPES.json} or ${CONTENT_TYPES.cbor}`,
      });
    }
    enc = known;
  } else {
    enc = sniffEncoding(bytes);
  }
  if (bytes.length === 0) throw new TinyqaError(ErrorCode.PayloadInvalid, `${enc} payload is empty (0 bytes)`);
  if (enc === 'json') {
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch (e) {
      throw new TinyqaError(ErrorCode.PayloadInvalid, `JSON payload of ${bytes.length} bytes is not valid UTF-8`, { cause: e });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new TinyqaError(ErrorCode.PayloadInvalid, `JSON payload of ${bytes.length} bytes does not parse: ${errorMessage(e)}`, { cause: e });
    }
  }
  try {
    // decode() refuses bytes left after the first item ("end of buffer not reached").
    return decoder.decode(bytes) as unknown;
  } catch (e) {
    throw new TinyqaError(ErrorCode.PayloadInvalid, `CBOR payload of ${bytes.length} bytes (first byte 0x${bytes[0]!.toString(16).padStart(2, '0')}) is not well-formed: ${errorMessage(e)}`, {
      cause: e,
      hint: contentType ? undefined : 'no content type came with it, so the encoding was guessed from the first byte',
    });
  }
}
