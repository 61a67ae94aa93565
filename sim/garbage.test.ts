/**
 * DESIGN §8 reliability test of the serial decoder, in-process: 100 000 valid SAMPLES frames with a
 * million bytes of line noise between them and faults injected into known frames, fed in random
 * chunk sizes. Every intact frame must come out exactly once, in order; no corrupted one may; and the
 * receiver's counters must equal what was injected.
 */
import { describe, expect, it } from 'vitest';
import { MessageEncoder, MessageReceiver } from '../runtime/framing/codec.js';
import { MAX_ENCODED } from '../runtime/framing/frame.js';
import { Rng } from './random.js';

const FRAMES = 100_000;
const GARBAGE_BYTES = 1_000_000;
const BURSTS = 20_000;
/** Of the bursts, this many are runs with no zero byte, each longer than MAX_ENCODED. */
const LONG_BURSTS = 40;
const FLIPS = 1_000;
const TRUNCATIONS = 500;
const DOUBLED = 500;
const SEED = 0x7e57_0008;

const Fault = { None: 0, Flip: 1, Truncate: 2, Double: 3 } as const;
type Fault = (typeof Fault)[keyof typeof Fault];

/** Sample k of frame i is i + k/4: exact in float32 for i < 2^21, so a value names its frame. */
const sampleValue = (i: number, k: number) => i + k / 4;

interface Scenario {
  stream: Uint8Array;
  fault: Uint8Array;
  samplesPerFrame: Uint8Array;
  garbage: number;
  /** Encoded bytes of the flipped and truncated frames, delimiters not included. */
  corruptedBytes: number;
  doubled: number;
  /** Untouched frames whose preceding stream byte is not a delimiter: each must be found by resynchronising. */
  gluedFrames: number;
  /** Pieces between delimiters longer than MAX_ENCODED. */
  oversizePieces: number;
}

function build(rng: Rng): Scenario {
  // Faults go to distinct frames, never the first or last, so every lost frame shows as a seq gap.
  const fault = new Uint8Array(FRAMES);
  const pick = (kind: Fault, n: number) => {
    for (let placed = 0; placed < n; ) {
      const i = 1 + rng.int(FRAMES - 2);
      if (fault[i] !== Fault.None) continue;
      fault[i] = kind;
      placed++;
    }
  };
  pick(Fault.Flip, FLIPS);
  pick(Fault.Truncate, TRUNCATIONS);
  pick(Fault.Double, DOUBLED);

  // Garbage: BURSTS bursts of random size summing to GARBAGE_BYTES, each before a random frame. A few
  // are long runs without a zero (a stuck or noisy line), longer than any frame: PROTOCOL §2 oversize.
  const burstBefore = new Int32Array(FRAMES);
  const longBefore = new Int32Array(FRAMES);
  let longBytes = 0;
  for (let b = 0; b < LONG_BURSTS; b++) {
    const n = MAX_ENCODED + 1 + rng.int(4000);
    longBefore[1 + rng.int(FRAMES - 1)]! += n;
    longBytes += n;
  }
  const shortBytes = GARBAGE_BYTES - longBytes;
  const cuts = Array.from({ length: BURSTS - LONG_BURSTS - 1 }, () => rng.int(shortBytes + 1)).sort((a, b) => a - b);
  let prev = 0;
  for (let b = 0; b <= cuts.length; b++) {
    const end = b < cuts.length ? cuts[b]! : shortBytes;
    burstBefore[rng.int(FRAMES)]! += end - prev;
    prev = end;
  }

  const enc = new MessageEncoder();
  const frame = new Uint8Array(64);
  const samplesPerFrame = new Uint8Array(FRAMES);
  const stream = new Uint8Array(FRAMES * 48 + GARBAGE_BYTES + DOUBLED);
  let at = 0;
  let corruptedBytes = 0;
  let doubled = 0;
  let gluedFrames = 0;
  for (let i = 0; i < FRAMES; i++) {
    for (let g = burstBefore[i]!; g > 0; g--) stream[at++] = rng.int(256);
    for (let g = longBefore[i]!; g > 0; g--) stream[at++] = 1 + rng.int(255);
    const count = 1 + rng.int(4);
    samplesPerFrame[i] = count;
    const values = Float32Array.from({ length: count }, (_, k) => sampleValue(i, k));
    // MessageEncoder numbers the frames 0, 1, … and wraps at 65536 (PROTOCOL §7).
    const n = enc.encode(frame, 0, { type: 'samples', channels: 1, period_us: 1000, values }, i * 4);
    switch (fault[i]) {
      case Fault.Flip: {
        const bytes = frame.slice(0, n);
        const pos = rng.int(n - 1);
        bytes[pos]! ^= 1 << rng.int(8);
        stream.set(bytes, at);
        at += n;
        corruptedBytes += n - 1;
        break;
      }
      case Fault.Truncate: {
        // Cut short and the delimiter lost: the remains glue onto whatever follows.
        const keep = 1 + rng.int(n - 2);
        stream.set(frame.subarray(0, keep), at);
        at += keep;
        corruptedBytes += keep;
        break;
      }
      default:
        if (at > 0 && stream[at - 1] !== 0) gluedFrames++;
        stream.set(frame.subarray(0, n), at);
        at += n;
        if (fault[i] === Fault.Double) {
          stream[at++] = 0;
          doubled++;
        }
    }
  }
  const out = stream.slice(0, at);
  let oversizePieces = 0;
  for (let start = 0; start < out.length; ) {
    let z = out.indexOf(0, start);
    if (z < 0) z = out.length;
    if (z - start > MAX_ENCODED) oversizePieces++;
    start = z + 1;
  }
  return { stream: out, fault, samplesPerFrame, garbage: GARBAGE_BYTES, corruptedBytes, doubled, gluedFrames, oversizePieces };
}

describe('the serial decoder under line noise (DESIGN §8)', () => {
  it('recovers every intact frame once and in order, accepts no corrupted frame, and counts exactly what was injected', () => {
    const started = performance.now();
    const rng = new Rng(SEED);
    const s = build(rng);
    const built = performance.now();

    // What came out, in order: the frame each message names by its sample values, and its seq.
    const gotFrame = new Int32Array(FRAMES);
    const gotSeq = new Int32Array(FRAMES);
    let got = 0;
    let badValues = 0;
    let firstBad = '';
    const rx = new MessageReceiver({
      message: (h, m) => {
        if (m.type !== 'samples' || m.values.length === 0) {
          badValues++;
          return;
        }
        const id = m.values[0]!;
        const ok = Number.isInteger(id) && id >= 0 && id < FRAMES && m.values.length === s.samplesPerFrame[id] && m.values.every((v, k) => v === sampleValue(id, k));
        if (!ok) {
          badValues++;
          firstBad ||= `seq ${h.seq}: ${Array.from(m.values).join(', ')}`;
          return;
        }
        if (got < FRAMES) {
          gotFrame[got] = id;
          gotSeq[got] = h.seq;
        }
        got++;
      },
    });

    let maxBuffered = 0;
    let pushes = 0;
    for (let at = 0; at < s.stream.length; pushes++) {
      const n = 1 + rng.int(4096);
      rx.push(s.stream.subarray(at, at + n));
      at += n;
      if (rx.buffered > maxBuffered) maxBuffered = rx.buffered;
    }
    const decodeMs = performance.now() - built;
    const buildMs = built - started;

    const corrupted = FLIPS + TRUNCATIONS;
    const untouched = FRAMES - corrupted;
    console.log(
      `garbage test: ${FRAMES} frames sent, ${got} recovered, ${s.garbage} garbage bytes in ${BURSTS} bursts (${LONG_BURSTS} without zeros), faults: ${FLIPS} bit flips, ${TRUNCATIONS} truncations, ${DOUBLED} doubled delimiters; ` +
        `${s.stream.length} bytes in ${pushes} chunks; resyncs ${rx.counters.resyncs}, oversize ${rx.counters.oversize}, max buffered ${maxBuffered}; ` +
        `build ${buildMs.toFixed(0)} ms, decode ${decodeMs.toFixed(0)} ms (${(s.stream.length / 1024 / (decodeMs / 1000)).toFixed(0)} KiB/s)`,
    );

    expect(firstBad, 'a message whose values name no frame sent').toBe('');
    expect(badValues).toBe(0);

    // Every untouched frame, exactly once, in order, with its own seq; no corrupted frame.
    const expected: number[] = [];
    for (let i = 0; i < FRAMES; i++) if (s.fault[i] !== Fault.Flip && s.fault[i] !== Fault.Truncate) expected.push(i);
    expect(expected).toHaveLength(untouched);
    expect(got).toBe(untouched);
    const received = Array.from(gotFrame.subarray(0, Math.min(got, FRAMES)));
    const firstDifference = expected.findIndex((id, k) => received[k] !== id);
    expect(firstDifference, `first difference at message ${firstDifference}: sent frame ${expected[firstDifference]}, got ${received[firstDifference]}`).toBe(-1);
    for (let k = 0; k < got; k++) if (gotSeq[k] !== (gotFrame[k]! & 0xffff)) expect(gotSeq[k], `seq of frame ${gotFrame[k]}`).toBe(gotFrame[k]! & 0xffff);

    // Resync within one frame: the frame right after every fault, when it is untouched itself, came out.
    const receivedSet = new Set(received);
    const accepted = received.filter((id) => s.fault[id] === Fault.Flip || s.fault[id] === Fault.Truncate);
    expect(accepted, 'corrupted frames accepted').toEqual([]);
    let followers = 0;
    const missedFollowers: number[] = [];
    for (let i = 0; i < FRAMES - 1; i++) {
      if (s.fault[i] === Fault.None || s.fault[i + 1] === Fault.Flip || s.fault[i + 1] === Fault.Truncate) continue;
      followers++;
      if (!receivedSet.has(i + 1)) missedFollowers.push(i + 1);
    }
    expect(followers).toBeGreaterThan(1900);
    expect(missedFollowers).toEqual([]);

    expect(maxBuffered).toBeLessThanOrEqual(MAX_ENCODED);
    expect(s.oversizePieces).toBeGreaterThanOrEqual(LONG_BURSTS / 2);
    expect(rx.buffered).toBe(0);

    const c = rx.counters;
    expect({
      frames: c.frames,
      discarded_bytes: c.discarded_bytes,
      seq_gaps: c.seq_gaps,
      seq_resets: c.seq_resets,
      resyncs: c.resyncs,
      oversize: c.oversize,
      unknown_type: c.unknown_type,
      bad_message: c.bad_message,
    }).toEqual({
      frames: untouched,
      // Garbage, every byte of the corrupted frames (a flipped one's delimiter included), every extra delimiter.
      discarded_bytes: s.garbage + s.corruptedBytes + FLIPS + s.doubled,
      seq_gaps: corrupted,
      seq_resets: 0,
      resyncs: s.gluedFrames,
      oversize: s.oversizePieces,
      unknown_type: 0,
      bad_message: 0,
    });
  });
});
