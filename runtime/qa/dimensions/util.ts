import type { ChildResult, Dimension, Severity } from '../types.js';

/** What every child is configured with; dimensions add their own parameters. */
export interface ChildParams {
  threshold: number;
  severity: Severity;
}

/**
 * The result of a child for a score: passes when score ≤ threshold; `code` is "<name>.ok" or
 * "<name>.<failCode>"; `reason` is asked for the outcome that happened.
 */
export function childResult(dim: Dimension, p: ChildParams, score: number, failCode: string, reason: (pass: boolean) => string): ChildResult {
  const pass = score <= p.threshold;
  return {
    score,
    threshold: p.threshold,
    pass,
    severity: p.severity,
    parent: dim.parent,
    code: pass ? `${dim.name}.ok` : `${dim.name}.${failCode}`,
    reason: reason(pass),
  };
}

/** Short number formatting for reasons: at most 4 significant digits, no exponent for common sizes. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

/** Median of a[0..n) (NaN-free), sorting that prefix of `a` in place. */
export function medianInPlace(a: Float64Array, n: number): number {
  if (n === 0) return NaN;
  const s = a.subarray(0, n).sort();
  const mid = n >> 1;
  return n & 1 ? s[mid]! : 0.5 * (s[mid - 1]! + s[mid]!);
}

/** Median of a[0..n) for small n, by insertion sort in place; allocates nothing. */
export function smallMedian(a: Float64Array, n: number): number {
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
  const mid = n >> 1;
  return n & 1 ? a[mid]! : 0.5 * (a[mid - 1]! + a[mid]!);
}

const MAD_TO_SIGMA = 1.4826;

/**
 * Robust noise scale of a series from its first differences: 1.4826 · MAD(x_{i+1} − x_i) / √2, over
 * the finite differences (a difference touching NaN or ±Infinity is left out). Differences are
 * taken as x/2 − y/2 so values near ±1e308 do not overflow (the result may still be +Infinity for
 * such extremes). NaN when fewer than `minDiffs` differences are finite. `scratch` needs
 * v.length − 1 slots; it is overwritten.
 */
export function diffScale(v: Float64Array, scratch: Float64Array, minDiffs = 5): number {
  let m = 0;
  for (let i = 1; i < v.length; i++) {
    const d = v[i]! / 2 - v[i - 1]! / 2;
    if (Number.isFinite(d)) scratch[m++] = d;
  }
  if (m < minDiffs) return NaN;
  const med = medianInPlace(scratch, m);
  for (let i = 0; i < m; i++) scratch[i] = Math.abs(scratch[i]! - med);
  // × 2 undoes the halving; / √2 turns the difference scale into the per-sample one.
  return (2 * MAD_TO_SIGMA * medianInPlace(scratch, m)) / Math.SQRT2;
}

/**
 * Mean, population standard deviation, minimum and maximum of the finite values of `v`, written to
 * out[0..3]; returns how many values were finite (0 → out is NaN). Computed on values scaled by
 * their largest magnitude, so values near ±1e308 give finite results.
 */
export function summarize(v: ArrayLike<number>, out: Float64Array): number {
  let n = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) continue;
    n++;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (n === 0) {
    out.fill(NaN, 0, 4);
    return 0;
  }
  const scale = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (Number.isFinite(x)) sum += x / scale;
  }
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (Number.isFinite(x)) {
      const d = x / scale - mean;
      ss += d * d;
    }
  }
  out[0] = mean * scale;
  out[1] = Math.sqrt(ss / n) * scale;
  out[2] = lo;
  out[3] = hi;
  return n;
}

/** Maps a non-negative statistic u to [0, 1) as u / (u + k): 0.5 exactly at u = k; 1 for u = +Infinity; 0 for NaN. */
export function saturate(u: number, k: number): number {
  if (Number.isNaN(u) || u <= 0) return 0;
  if (!Number.isFinite(u)) return 1;
  return u / (u + k);
}

/** A timestamp (ms since epoch) as ISO 8601 when it is a valid date, else as a number of ms. */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${fmt(ms)} ms`;
}

/** Bit-exact equality of two sample values, NaN equal to NaN (a re-sent missing value is still a repeat). */
const sameValue = (a: number, b: number) => a === b || (a !== a && b !== b);

/**
 * Marks re-sent samples: sample i is re-sent when an earlier sample j < i has the same timestamp
 * and the same value (bit-exact; NaN values equal, NaN times never). Writes flags[i] = 1 for
 * those, 0 otherwise, and returns how many there are. `idx` and `flags` need n slots (scratch).
 * O(n log n): indices sorted by (time, value, index).
 */
export function markResent(times: Float64Array, values: Float64Array, idx: Uint32Array, flags: Uint8Array): number {
  const n = times.length;
  for (let i = 0; i < n; i++) idx[i] = i;
  const order = idx.subarray(0, n);
  order.sort((a, b) => {
    const ta = times[a]!;
    const tb = times[b]!;
    if (ta !== tb) return ta < tb ? -1 : ta > tb ? 1 : Number.isNaN(ta) ? (Number.isNaN(tb) ? a - b : 1) : -1;
    const va = values[a]!;
    const vb = values[b]!;
    if (!sameValue(va, vb)) return Number.isNaN(va) ? 1 : Number.isNaN(vb) ? -1 : va < vb ? -1 : 1;
    return a - b;
  });
  flags.fill(0, 0, n);
  let count = 0;
  for (let k = 1; k < n; k++) {
    const i = order[k]!;
    const j = order[k - 1]!;
    if (times[i] === times[j] && sameValue(values[i]!, values[j]!)) {
      flags[i] = 1;
      count++;
    }
  }
  return count;
}
