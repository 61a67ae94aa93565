/**
 * `tinyqa bench framing`: the decode path (bytes → COBS → CRC → CBOR → typed messages) on one core,
 * against the DESIGN §8 targets, with the C reference encoder/decoder's throughput on this machine as
 * the peer when it can be built.
 */

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageEncoder, MessageReceiver } from '../../runtime/framing/codec.js';

export interface FramingReport {
  samples_per_s_batch32: number;
  frames_per_s_single: number;
  targets: { samples_per_s_batch32: number; frames_per_s_single: number };
  meets_targets: boolean;
  runs: number;
  bytes_per_frame_batch32: number;
  bytes_per_frame_single: number;
  decode_mb_per_s_batch32: number;
  c: { encode_bytes_per_s: number; decode_bytes_per_s: number; ts_decode_vs_c: number } | { unavailable: string };
}

function stream(frames: number, samplesPerFrame: number): Uint8Array {
  const enc = new MessageEncoder();
  const values = new Float32Array(samplesPerFrame);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < frames; i++) {
    for (let s = 0; s < samplesPerFrame; s++) values[s] = Math.sin(i * samplesPerFrame + s) * 3 + 1;
    const f = enc.frame({ type: 'samples', channels: 1, period_us: 1000, values }, i * samplesPerFrame);
    parts.push(f);
    total += f.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes `bytes` in 4 KB reads (what a serial port hands over); returns samples seen and seconds. */
function decodeOnce(bytes: Uint8Array): { samples: number; frames: number; s: number } {
  let samples = 0;
  let frames = 0;
  let sink = 0;
  const rx = new MessageReceiver({
    message: (_h, m) => {
      frames++;
      if (m.type === 'samples') {
        samples += m.values.length;
        sink += m.values[0]!;
      }
    },
  });
  const t0 = performance.now();
  for (let at = 0; at < bytes.length; at += 4096) rx.push(bytes.subarray(at, at + 4096));
  const s = (performance.now() - t0) / 1000;
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return { samples, frames, s };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function cPeer(): FramingReport['c'] {
  const dir = fileURLToPath(new URL('../../firmware-bridge/c/', import.meta.url));
  if (!existsSync(dir + 'Makefile')) return { unavailable: 'firmware-bridge/c not found beside this build' };
  try {
    execFileSync('make', ['-s', '-C', dir, 'bench'], { stdio: 'pipe' });
    const out = execFileSync(dir + 'build/bench', { encoding: 'utf8' });
    const enc = /encode_bytes_per_s (\d+(?:\.\d+)?)/.exec(out);
    const dec = /decode_bytes_per_s (\d+(?:\.\d+)?)/.exec(out);
    if (!enc || !dec) return { unavailable: `unexpected output from the C bench: ${out.slice(0, 200)}` };
    return { encode_bytes_per_s: Number(enc[1]), decode_bytes_per_s: Number(dec[1]), ts_decode_vs_c: NaN };
  } catch (e) {
    return { unavailable: `cannot build or run the C bench (needs gcc and make): ${String((e as Error).message).split('\n')[0]}` };
  }
}

export function benchFraming(o: { runs: number; progress?: (msg: string) => void }): FramingReport {
  const batch = stream(20_000, 32);
  const single = stream(100_000, 1);
  // Warm up the JIT on both shapes before measuring.
  decodeOnce(batch.subarray(0, batch.length >> 3));
  decodeOnce(single.subarray(0, single.length >> 3));
  const sps: number[] = [];
  const fps: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const a = decodeOnce(batch);
    const b = decodeOnce(single);
    if (a.frames !== 20_000 || b.frames !== 100_000) throw new Error(`decoded ${a.frames}/${b.frames} frames; the stream is broken`);
    sps.push(a.samples / a.s);
    fps.push(b.frames / b.s);
    o.progress?.(`run ${r + 1}/${o.runs}: ${(a.samples / a.s / 1e6).toFixed(2)} M samples/s (32-sample frames), ${(b.frames / b.s / 1e3).toFixed(0)} k frames/s (1-sample)`);
  }
  const targets = { samples_per_s_batch32: 2_000_000, frames_per_s_single: 300_000 };
  const samples_per_s_batch32 = Math.round(median(sps));
  const frames_per_s_single = Math.round(median(fps));
  const bytesPerFrame = batch.length / 20_000;
  const c = cPeer();
  const decodeBps = (samples_per_s_batch32 / 32) * bytesPerFrame;
  if ('decode_bytes_per_s' in c) c.ts_decode_vs_c = Number((decodeBps / c.decode_bytes_per_s).toFixed(3));
  return {
    samples_per_s_batch32,
    frames_per_s_single,
    targets,
    meets_targets: samples_per_s_batch32 >= targets.samples_per_s_batch32 && frames_per_s_single >= targets.frames_per_s_single,
    runs: o.runs,
    bytes_per_frame_batch32: Number(bytesPerFrame.toFixed(1)),
    bytes_per_frame_single: Number((single.length / 100_000).toFixed(1)),
    decode_mb_per_s_batch32: Number((decodeBps / 1e6).toFixed(1)),
    c,
  };
}
