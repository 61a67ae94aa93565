/**
 * How a QA model sees a window and what its output means (DESIGN §5): the one definition that the
 * toolchain (models/, which sets thresholds from it) and the runtime (which scores windows with it)
 * share, so a threshold fitted offline means the same thing on the device.
 *
 * Layout: channel-major. For channels c = 0..C−1 (the manifest's order) and window samples t:
 *   z[c][t] = (x[c][t] − mean_c) / std_c            normalisation from the manifest
 * A missing or non-finite sample becomes z = 0 (the training mean): completeness and validity judge
 * the gap itself; the model judges what is left.
 *
 * - autoencoder:  input  = z[0..C−1][0..W−1]   (C·W values)
 *                 output = its reconstruction ẑ (same layout)
 *                 e_c    = mean_t (z[c][t] − ẑ[c][t])²            one error per channel
 * - forecaster:   a virtual sensor: it predicts how the target moves from what drives it, so a
 *                 change in the process itself (a leak draining pressure) shows as a residual. The
 *                 target's own history is NOT an input — a model that sees it learns to extrapolate
 *                 the target's slope, and a slow fault then looks normal to it.
 *                 input  = z[c][0..K−1] for every channel c ≠ target (the first K = context samples),
 *                          then a_K = z_target[K−1] (the anchor: where the target stands)
 *                 output = d̂[h] ≈ z_target[K+h] − a_K, h = 0..H−1 (the next H = horizon samples, as
 *                          moves from the anchor)
 *                 e_target = mean_h (z_target[K+h] − a_K − d̂[h])²     one error, on the target channel
 * The score the anomaly child gets for channel c is  r_c = e_c / threshold_c  (1 = at the threshold).
 */

import { ErrorCode, TinyqaError } from '../core/errors.js';

export interface WindowModelLayout {
  kind: 'autoencoder' | 'forecaster';
  /** Input channels in model order (names as the firmware's HELLO gives them). */
  channels: string[];
  /** Samples per window; must equal the runtime's window.size. */
  window: number;
  /** forecaster: samples of context fed to the model. */
  context?: number;
  /** forecaster: samples predicted after the context (context + horizon = window). */
  horizon?: number;
  /** forecaster: the predicted channel. */
  target?: string;
  normalization: { mean: number[]; std: number[] };
  /** Per scored channel: the error e_c that counts as an anomaly (r_c = 1). */
  thresholds: Record<string, number>;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Validates a manifest's `layout` object; every problem names its key. */
export function parseLayout(x: unknown, where: string): WindowModelLayout {
  const problems: string[] = [];
  const l = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
  if (l.kind !== 'autoencoder' && l.kind !== 'forecaster') problems.push('layout.kind: must be "autoencoder" or "forecaster"');
  const channels = Array.isArray(l.channels) && l.channels.every((c) => typeof c === 'string') ? (l.channels as string[]) : (problems.push('layout.channels: must be a list of channel names'), []);
  if (!(Number.isInteger(l.window) && (l.window as number) >= 2)) problems.push('layout.window: must be an integer ≥ 2');
  const n = l.normalization as Record<string, unknown> | undefined;
  if (!n || !Array.isArray(n.mean) || !Array.isArray(n.std) || n.mean.length !== channels.length || n.std.length !== channels.length || !n.mean.every(isNum) || !(n.std as unknown[]).every((s) => isNum(s) && s > 0)) {
    problems.push(`layout.normalization: must be {"mean": [${channels.length} numbers], "std": [${channels.length} numbers > 0]}`);
  }
  if (l.kind === 'forecaster') {
    if (!(Number.isInteger(l.context) && (l.context as number) >= 1)) problems.push('layout.context: must be an integer ≥ 1');
    if (!(Number.isInteger(l.horizon) && (l.horizon as number) >= 1)) problems.push('layout.horizon: must be an integer ≥ 1');
    if ((l.context as number) + (l.horizon as number) !== l.window) problems.push('layout.context + layout.horizon: must equal layout.window');
    if (typeof l.target !== 'string' || !channels.includes(l.target)) problems.push('layout.target: must be one of layout.channels');
  }
  const th = l.thresholds as Record<string, unknown> | undefined;
  if (!th || typeof th !== 'object' || Object.keys(th).length === 0 || !Object.entries(th).every(([k, v]) => channels.includes(k) && isNum(v) && v > 0)) {
    problems.push('layout.thresholds: must map scored channel names (from layout.channels) to numbers > 0');
  }
  if (problems.length) throw new TinyqaError(ErrorCode.ModelInvalid, `${where}: the model's layout is invalid:\n  ${problems.join('\n  ')}`, { hint: 'rebuild the package with the toolchain (npm run models)' });
  return l as unknown as WindowModelLayout;
}

/** Values the model takes per window, and values of truth kept to score its output. */
export function layoutSizes(l: WindowModelLayout): { input: number; output: number; truth: number } {
  const C = l.channels.length;
  if (l.kind === 'autoencoder') return { input: C * l.window, output: C * l.window, truth: C * l.window };
  return { input: (C - 1) * l.context! + 1, output: l.horizon!, truth: l.horizon! };
}

/**
 * Writes one window's model input and truth at `offset` (in windows) into batch buffers.
 * `windows[c]` is channel c's window (the layout's channel order), each `l.window` long.
 */
export function prepareWindow(l: WindowModelLayout, windows: ArrayLike<ArrayLike<number>>, input: Float32Array, truth: Float32Array, offset = 0): void {
  const { mean, std } = l.normalization;
  const C = l.channels.length;
  const W = l.window;
  const z = (c: number, t: number) => {
    const x = windows[c]![t]!;
    return Number.isFinite(x) ? (x - mean[c]!) / std[c]! : 0;
  };
  if (l.kind === 'autoencoder') {
    const base = offset * C * W;
    for (let c = 0; c < C; c++) for (let t = 0; t < W; t++) input[base + c * W + t] = truth[base + c * W + t] = z(c, t);
    return;
  }
  const K = l.context!;
  const H = l.horizon!;
  const tc = l.channels.indexOf(l.target!);
  const base = offset * ((C - 1) * K + 1);
  let i = base;
  for (let c = 0; c < C; c++) {
    if (c === tc) continue;
    for (let t = 0; t < K; t++) input[i++] = z(c, t);
  }
  const anchor = z(tc, K - 1);
  input[i] = anchor;
  for (let h = 0; h < H; h++) truth[offset * H + h] = z(tc, K + h) - anchor;
}

/** Per scored channel, the error e_c of one window (offset in windows) — see the file comment. */
export function windowErrors(l: WindowModelLayout, truth: ArrayLike<number>, output: ArrayLike<number>, offset = 0): Record<string, number> {
  if (l.kind === 'autoencoder') {
    const W = l.window;
    const C = l.channels.length;
    const out: Record<string, number> = {};
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let t = 0; t < W; t++) {
        const i = offset * C * W + c * W + t;
        const d = truth[i]! - output[i]!;
        s += d * d;
      }
      out[l.channels[c]!] = s / W;
    }
    return out;
  }
  const H = l.horizon!;
  let s = 0;
  for (let h = 0; h < H; h++) {
    const d = truth[offset * H + h]! - output[offset * H + h]!;
    s += d * d;
  }
  return { [l.target!]: s / H };
}
