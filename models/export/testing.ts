/**
 * Test helpers for the exporter suites: run exported bytes on a real engine through the registry
 * (the only way to reach the engines, STYLE §10), compare with the integer reference in quantization
 * steps, and read the AD01 fixture the way its SOURCE.md describes.
 */
import { loadAny } from '../../runtime/inference/registry.js';
import { fixtureBytes } from '../../runtime/inference/tflite/fixtures.js';

export const AD01 = { folder: 'mlperf_tiny_ad01_int8', model: 'ad01_int8.tflite', sample: 'normal_id_01_00000000_hist_librosa.bin' } as const;

/**
 * Loads `bytes` with the registry, runs `batch` rows of `x` (row-major) as one batch — one engine
 * call on ONNX's symbolic batch dimension, one invoke per row inside the adapter on TFLite's fixed
 * shapes — and returns the named output, rows back to back. Always disposes the model.
 */
export async function runRows(bytes: Uint8Array, fileName: string, input: string, output: string, x: Float32Array, batch: number): Promise<Float64Array> {
  const m = await loadAny(bytes, fileName);
  try {
    const res = await m.run({ [input]: x }, batch);
    const y = res[output];
    if (y === undefined) throw new Error(`${fileName}: no output "${output}" (outputs: ${Object.keys(res).join(', ')})`);
    return Float64Array.from(y);
  } finally {
    await m.dispose();
  }
}

/** Largest |a − b| in quantization steps of `scale`, and how many elements differ by at least half a step. */
export function stepsOff(a: ArrayLike<number>, b: ArrayLike<number>, scale: number): { max: number; differing: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / scale;
    max = Math.max(max, d);
    if (d >= 0.5) differing++;
  }
  return { max, differing };
}

/** SOURCE.md: 200 frames × 128 log-mel values, float32 little-endian. */
export function ad01Frames(): Float32Array {
  const raw = fixtureBytes(AD01.folder, AD01.sample);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float32Array.from({ length: raw.length / 4 }, (_, i) => dv.getFloat32(4 * i, true));
}

/** SOURCE.md: window i = floats [128·i, 128·i + 640), i = 0 … frames − 5; rows back to back. */
export function ad01Windows(frames: Float32Array): { x: Float32Array; windows: number } {
  const windows = frames.length / 128 - 4;
  const x = new Float32Array(windows * 640);
  for (let w = 0; w < windows; w++) x.set(frames.subarray(128 * w, 128 * w + 640), 640 * w);
  return { x, windows };
}

/** SOURCE.md anomaly score: mean over windows of MSE(x, AE(x)). */
export function anomalyScore(x: ArrayLike<number>, y: ArrayLike<number>, windows: number, width = 640): number {
  let sum = 0;
  for (let w = 0; w < windows; w++) {
    let se = 0;
    for (let i = 0; i < width; i++) se += (x[w * width + i]! - y[w * width + i]!) ** 2;
    sum += se / width;
  }
  return sum / windows;
}
