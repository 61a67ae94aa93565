/**
 * Action-based QA (paper §3.2, DESIGN §1, §4): the policy maps each verdict's parent triple to what
 * happens to the data and to whom it is reported.
 *
 * Per window (never debounced — data must not wait for an alarm):
 *   integrity fail            → quarantine   (the bytes themselves are suspect: keep, do not use)
 *   intrinsic fail            → clean        when every failing intrinsic child is repairable
 *                                             (completeness up to `clean_max_missing`, spike) —
 *                                             imputed/despiked values are recorded as such —
 *                               quarantine   otherwise
 *   intrinsic pass, contextual fail → divert (clean data, but outside what the model knows: route
 *                                             to the offline store for retraining, paper §3.2)
 *   all pass                  → forward
 * Per stream and parent, debounced (k of the last n windows) with hysteresis (cleared only after
 * `clear_after` consecutive passing windows), so one noisy window does not flap an alarm:
 *   alarm raised / cleared    → alert (with the child that failed most often in the window set)
 *   intrinsic alarm on a child with a device remedy → command (flatline → switch_to_backup,
 *                                             noise → recalibrate), when commands are enabled
 *   contextual alarm on drift/relevance → retrain (request off-device retraining)
 */

import type { Outcome, ParentName, Verdict } from '../qa/types.js';

export type Disposition = 'forward' | 'clean' | 'quarantine' | 'divert';
export type ActionKind = Disposition | 'alert' | 'command' | 'retrain' | 'adapt' | 'budget';

export interface PolicyConfig {
  /** An alarm is raised when at least k of the last n windows of a stream failed a parent. */
  debounce_k: number;
  debounce_n: number;
  /** … and cleared after this many consecutive passing windows. */
  clear_after: number;
  /** Send device commands for remedies (switch to backup sensor, recalibrate). */
  commands: boolean;
  /** Largest share of missing values that cleaning (interpolation) may repair. */
  clean_max_missing: number;
}

export interface Action {
  v: 1;
  device: string;
  stream: string;
  kind: ActionKind;
  /** For alert: raised or cleared. */
  state?: 'raised' | 'cleared';
  parent?: ParentName;
  /** The child dimension behind the action. */
  child?: string;
  /** For command: the device command's name. */
  command?: string;
  /** For adapt: promoted, rolled_back, change_detected (retrain requests are kind retrain); for budget: the new mode. */
  event?: string;
  /** For adapt and retrain from the adaptation layer: the active state's generation. */
  generation?: number;
  reason: string;
  /** The verdict that triggered the action. */
  verdict_seq: number;
  t0: number;
  t1: number;
}

interface ParentState {
  /** The last n windows, newest last: the children that failed this parent, or null when it passed. */
  history: (string[] | null)[];
  alarm: boolean;
  passStreak: number;
}

const REMEDY: Record<string, string> = { flatline: 'switch_to_backup', noise: 'recalibrate' };
const REPAIRABLE = new Set(['completeness', 'spike']);
const PARENTS: ParentName[] = ['integrity', 'intrinsic', 'contextual'];

export function disposition(v: Verdict, cfg: PolicyConfig): { kind: Disposition; reason: string; child?: string } {
  const failed = (p: ParentName): boolean => v.parents[p] === 'fail';
  const failing = (p: ParentName): string[] => v.failed.filter((c) => v.children[c]?.parent === p && v.children[c]?.severity === 'critical');
  if (failed('integrity')) {
    const c = failing('integrity');
    return { kind: 'quarantine', reason: `integrity failed: ${c.join(', ')}`, ...(c[0] ? { child: c[0] } : {}) };
  }
  if (failed('intrinsic')) {
    const c = failing('intrinsic');
    const missing = v.children.completeness?.score ?? 0;
    const repairable = c.length > 0 && c.every((x) => REPAIRABLE.has(x)) && missing <= cfg.clean_max_missing;
    return repairable
      ? { kind: 'clean', reason: `repairable: ${c.join(', ')}`, ...(c[0] ? { child: c[0] } : {}) }
      : { kind: 'quarantine', reason: `intrinsic failed: ${c.join(', ')}`, ...(c[0] ? { child: c[0] } : {}) };
  }
  if (failed('contextual')) {
    const c = failing('contextual');
    return { kind: 'divert', reason: `clean but out of context: ${c.join(', ')}`, ...(c[0] ? { child: c[0] } : {}) };
  }
  return { kind: 'forward', reason: 'all parents pass' };
}

export class Policy {
  private readonly state = new Map<string, Map<ParentName, ParentState>>();
  private readonly lastDisposition = new Map<string, Disposition>();

  constructor(private cfg: PolicyConfig) {
    if (!(cfg.debounce_k >= 1 && cfg.debounce_k <= cfg.debounce_n)) throw new RangeError('policy: need 1 ≤ debounce_k ≤ debounce_n');
  }

  /** New parameters (a `set_config` command); alarm states carry over. */
  reconfigure(cfg: PolicyConfig): void {
    this.cfg = cfg;
  }

  /** What happens to a stream's data since its last verdict (forward, clean, quarantine, divert). */
  dispositionOf(stream: string): Disposition | undefined {
    return this.lastDisposition.get(stream);
  }

  /** The alarm state of a stream's parent (for health reports and tests). */
  alarmed(stream: string, parent: ParentName): boolean {
    return this.state.get(stream)?.get(parent)?.alarm ?? false;
  }

  /**
   * Actions for one verdict: its disposition when it differs from the stream's previous one
   * (a change of what happens to the data), plus alarm transitions and their remedies.
   */
  onVerdict(v: Verdict): Action[] {
    const out: Action[] = [];
    const base = { v: 1 as const, device: v.device, stream: v.stream, verdict_seq: v.seq, t0: v.t0, t1: v.t1 };
    const d = disposition(v, this.cfg);
    if (this.lastDisposition.get(v.stream) !== d.kind) {
      this.lastDisposition.set(v.stream, d.kind);
      out.push({ ...base, kind: d.kind, reason: d.reason, ...(d.child ? { child: d.child } : {}) });
    }
    let streamState = this.state.get(v.stream);
    if (!streamState) this.state.set(v.stream, (streamState = new Map()));
    for (const p of PARENTS) {
      const outcome: Outcome | undefined = v.parents[p];
      if (outcome === undefined) continue;
      let s = streamState.get(p);
      if (!s) streamState.set(p, (s = { history: [], alarm: false, passStreak: 0 }));
      const failed = outcome === 'fail';
      s.history.push(failed ? v.failed.filter((c) => v.children[c]?.parent === p) : null);
      if (s.history.length > this.cfg.debounce_n) s.history.shift();
      s.passStreak = failed ? 0 : s.passStreak + 1;
      const fails = s.history.reduce((n, f) => n + (f ? 1 : 0), 0);
      if (!s.alarm && fails >= this.cfg.debounce_k) {
        s.alarm = true;
        const count = new Map<string, number>();
        for (const h of s.history) for (const c of h ?? []) count.set(c, (count.get(c) ?? 0) + 1);
        const child = [...count.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'unknown';
        const why = v.children[child]?.reason ?? '';
        out.push({ ...base, kind: 'alert', state: 'raised', parent: p, child, reason: `${p} failed in ${fails} of the last ${s.history.length} windows, mostly ${child}${why ? `: ${why}` : ''}` });
        const remedy = REMEDY[child];
        if (p === 'intrinsic' && remedy && this.cfg.commands) out.push({ ...base, kind: 'command', command: remedy, parent: p, child, reason: `${child} alarm: ask the device to ${remedy.replace(/_/g, ' ')}` });
        if (p === 'contextual' && (child === 'drift' || child === 'relevance')) out.push({ ...base, kind: 'retrain', parent: p, child, reason: `${child} persists: the model needs data from this regime` });
      } else if (s.alarm && s.passStreak >= this.cfg.clear_after) {
        s.alarm = false;
        out.push({ ...base, kind: 'alert', state: 'cleared', parent: p, reason: `${p} passed ${s.passStreak} windows in a row` });
      }
    }
    return out;
  }
}
