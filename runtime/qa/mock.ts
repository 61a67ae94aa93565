import type { ChildResult, Dimension, ParentName, Severity, WindowInput } from './types.js';

/**
 * A dimension whose score is whatever the test says: the mock implementation of `Dimension`, for
 * testing the graph, the policy and anything that consumes verdicts without crafting sensor data.
 */
export class ScriptedDimension implements Dimension {
  readonly seen: { t0: number; t1: number; n: number }[] = [];

  constructor(
    readonly name: string,
    readonly parent: ParentName,
    private readonly severity: Severity,
    private readonly threshold: number,
    private readonly score: (w: WindowInput, call: number) => number,
  ) {}

  evaluate(w: WindowInput): ChildResult {
    const s = this.score(w, this.seen.length);
    this.seen.push({ t0: w.t0, t1: w.t1, n: w.values.length });
    const pass = s <= this.threshold;
    return {
      score: s,
      threshold: this.threshold,
      pass,
      severity: this.severity,
      parent: this.parent,
      code: pass ? `${this.name}.ok` : `${this.name}.scripted`,
      reason: `scripted score ${s}`,
    };
  }
}
