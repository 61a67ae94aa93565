import { describe, expect, it } from 'vitest';
import type { ChildResult, ParentName, Verdict } from '../qa/types.js';
import { Policy, disposition, type PolicyConfig } from './policy.js';

const cfg: PolicyConfig = { debounce_k: 3, debounce_n: 5, clear_after: 4, commands: true, clean_max_missing: 0.2 };

function child(parent: ParentName, pass: boolean, score = pass ? 0 : 1): ChildResult {
  return { score, threshold: 0.5, pass, severity: 'critical', parent, code: pass ? 'x.ok' : 'x.bad', reason: pass ? 'ok' : 'bad' };
}

let seq = 0;
function verdict(failing: Partial<Record<string, ParentName>>, extra: Record<string, ChildResult> = {}): Verdict {
  const children: Record<string, ChildResult> = { completeness: child('intrinsic', true), flatline: child('intrinsic', true), ...extra };
  for (const [name, parent] of Object.entries(failing)) children[name] = child(parent!, false);
  const parents: Verdict['parents'] = { intrinsic: 'pass' };
  for (const c of Object.values(children)) {
    parents[c.parent] ??= 'pass';
    if (!c.pass && c.severity === 'critical') parents[c.parent] = 'fail';
  }
  seq++;
  return { v: 1, device: 'd', stream: 's', seq, t0: seq * 1000, t1: seq * 1000 + 990, n: 100, unit: '', parents, children, failed: Object.keys(children).filter((k) => !children[k]!.pass), profile: null, model: null };
}

describe('disposition of one window', () => {
  it('forwards a window that passes every parent', () => {
    expect(disposition(verdict({}), cfg).kind).toBe('forward');
  });
  it('quarantines a window whose integrity failed, whatever else', () => {
    expect(disposition(verdict({ frame_integrity: 'integrity', spike: 'intrinsic' }), cfg)).toMatchObject({ kind: 'quarantine', child: 'frame_integrity' });
  });
  it('cleans a window whose only intrinsic failures are repairable, within the missing-value limit', () => {
    expect(disposition(verdict({ spike: 'intrinsic' }), cfg).kind).toBe('clean');
    const fewMissing = verdict({}, { completeness: { ...child('intrinsic', false), score: 0.1 } });
    expect(disposition(fewMissing, cfg).kind).toBe('clean');
    const tooMany = verdict({}, { completeness: { ...child('intrinsic', false), score: 0.5 } });
    expect(disposition(tooMany, cfg).kind).toBe('quarantine');
  });
  it('quarantines a window with an unrepairable intrinsic failure such as a stuck sensor', () => {
    expect(disposition(verdict({ flatline: 'intrinsic', spike: 'intrinsic' }), cfg)).toMatchObject({ kind: 'quarantine' });
  });
  it('diverts clean data that is out of context (intrinsic pass, contextual fail)', () => {
    expect(disposition(verdict({ relevance: 'contextual' }), cfg)).toMatchObject({ kind: 'divert', child: 'relevance' });
  });
  it('ignores failing children of severity warning', () => {
    const v = verdict({}, { noise: { ...child('intrinsic', false), severity: 'warning' } });
    expect(v.parents.intrinsic).toBe('pass');
    expect(disposition(v, cfg).kind).toBe('forward');
  });
});

describe('Policy over a stream', () => {
  it('reports a disposition only when it changes', () => {
    const p = new Policy(cfg);
    expect(p.onVerdict(verdict({})).map((a) => a.kind)).toEqual(['forward']);
    expect(p.onVerdict(verdict({}))).toEqual([]);
    expect(p.onVerdict(verdict({ relevance: 'contextual' })).map((a) => a.kind)).toEqual(['divert']);
  });

  it('does not raise an alarm for isolated failures (k of n debouncing)', () => {
    const p = new Policy(cfg);
    const kinds: string[] = [];
    for (const f of [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0]) kinds.push(...p.onVerdict(verdict(f ? { flatline: 'intrinsic' } : {})).map((a) => a.kind));
    expect(kinds).not.toContain('alert');
    expect(p.alarmed('s', 'intrinsic')).toBe(false);
  });

  it('raises once on k of n failures naming the child, commands the remedy, and clears only after a run of passes', () => {
    const p = new Policy(cfg);
    const actions = [];
    for (const f of [1, 0, 1, 1]) actions.push(...p.onVerdict(verdict(f ? { flatline: 'intrinsic' } : {})));
    const alert = actions.find((a) => a.kind === 'alert')!;
    expect(alert).toMatchObject({ state: 'raised', parent: 'intrinsic', child: 'flatline' });
    expect(alert.reason).toMatch(/intrinsic failed in 3 of the last 4 windows, mostly flatline/);
    expect(actions.find((a) => a.kind === 'command')).toMatchObject({ command: 'switch_to_backup', child: 'flatline' });
    // More failures and a flapping pass do not raise again.
    const later = [];
    for (const f of [1, 0, 1, 0, 0, 0]) later.push(...p.onVerdict(verdict(f ? { flatline: 'intrinsic' } : {})));
    expect(later.filter((a) => a.kind === 'alert')).toEqual([]);
    expect(p.alarmed('s', 'intrinsic')).toBe(true);
    const cleared = p.onVerdict(verdict({}));
    expect(cleared.find((a) => a.kind === 'alert')).toMatchObject({ state: 'cleared', parent: 'intrinsic' });
    expect(p.alarmed('s', 'intrinsic')).toBe(false);
  });

  it('sends no device command when commands are disabled', () => {
    const p = new Policy({ ...cfg, commands: false });
    const kinds = [];
    for (let i = 0; i < 3; i++) kinds.push(...p.onVerdict(verdict({ flatline: 'intrinsic' })).map((a) => a.kind));
    expect(kinds).toContain('alert');
    expect(kinds).not.toContain('command');
  });

  it('requests retraining when drift persists on the contextual parent', () => {
    const p = new Policy(cfg);
    const kinds = [];
    for (let i = 0; i < 3; i++) kinds.push(...p.onVerdict(verdict({ drift: 'contextual' })).map((a) => a.kind));
    expect(kinds).toEqual(['divert', 'alert', 'retrain']);
  });

  it('refuses k > n', () => {
    expect(() => new Policy({ ...cfg, debounce_k: 6, debounce_n: 5 })).toThrow(/debounce_k/);
  });
});
