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
