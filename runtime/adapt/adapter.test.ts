import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import type { StreamProfile } from '../qa/profile.js';
import type { ChildResult, Verdict } from '../qa/types.js';
import { Adapter, type AdaptEvent, type AdaptOptions, checkState, type JudgeParams } from './adapter.js';

const OPTIONS: AdaptOptions = {
  forgetting_windows: 80,
  envelope_z: 4,
  warmup_windows: 10,
  shadow_windows: 10,
  reservoir: 64,
  tolerance: 0.01,
  threshold_quantile: 0.99,
  threshold_margin: 1.5,
  threshold_floor: 0.5,
  retrain_after_windows: 100,
  retrain_fail_rate: 0.2,
  divert_windows: 5,
};
const JUDGE: JudgeParams = { relevance: { enabled: true, k: 0.5, threshold: 0.5 }, anomaly: { enabled: true, threshold: 0.5 } };

const child = (parent: ChildResult['parent'], score: number, threshold = 0.5): ChildResult => ({
  score,
  threshold,
  pass: score <= threshold,
  severity: 'critical',
  parent,
  code: 'x',
  reason: '',
});

let seq = 0;
/** A verdict as the graph makes it, from what the adapter reads: the children's outcomes. */
function verdict(o: { relevance?: number; anomaly?: number; flatline?: number; anomalyThreshold?: number }): Verdict {
  const children: Record<string, ChildResult> = {};
  children['flatline'] = child('intrinsic', o.flatline ?? 0);
  if (o.anomaly !== undefined) children['anomaly'] = child('intrinsic', o.anomaly, o.anomalyThreshold ?? 0.5);
  if (o.relevance !== undefined) children['relevance'] = child('contextual', o.relevance);
  const failed = Object.entries(children).filter(([, c]) => !c.pass).map(([k]) => k);
  const intrinsic = Object.values(children).some((c) => c.parent === 'intrinsic' && !c.pass) ? 'fail' : 'pass';
  const contextual = children['relevance'] ? (children['relevance'].pass ? 'pass' : 'fail') : undefined;
  seq++;
  return { v: 1, device: 'd', stream: 's', seq, t0: seq, t1: seq + 1, n: 10, unit: '', parents: { intrinsic, ...(contextual ? { contextual } : {}) }, children, failed, profile: null, model: null };
}

/** A window of `n` values around `level` with spread `sd`. */
function windowAt(rng: Rng, level: number, sd = 1, n = 30): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = level + sd * rng.gauss();
  return w;
}

/** What the relevance child would say of a window against the adapter's active envelope (the graph's job, done here). */
function relevanceScore(a: Adapter, w: Float64Array): number {
  const env = a.active('s')?.envelope;
  if (!env) return 0;
  let mean = 0;
  for (const x of w) mean += x;
  mean /= w.length;
  const r = env.mean!;
  const width = r.hi - r.lo;
  const d = mean < r.lo ? (r.lo - mean) / width : mean > r.hi ? (mean - r.hi) / width : 0;
  return d / (d + 0.5);
}

const SEED: StreamProfile = { mean: { lo: -1, hi: 1 }, std: { lo: 0.5, hi: 1.5 }, min: { lo: -5, hi: -0.5 }, max: { lo: 0.5, hi: 5 } };

describe('Adapter', () => {
  it('learns nothing from windows that fail intrinsic QA (never adapts to garbage)', () => {
    const events: AdaptEvent[] = [];
    const a = new Adapter(OPTIONS, JUDGE, () => SEED, (e) => events.push(e));
    a.hooks('s');
    const rng = new Rng(1);
    for (let i = 0; i < 200; i++) a.observe('s', windowAt(rng, 50), verdict({ flatline: 1, relevance: 1 }));
    expect(a.counters.adapt_windows_learned).toBe(0);
    expect(a.counters.adapt_windows_refused).toBe(200);
    expect(a.active('s')!.envelope).toEqual(SEED);
    expect(events.filter((e) => e.kind === 'promoted')).toEqual([]);
  });

  it('follows a benign level shift: a candidate is shadowed, then promoted, and the new level passes', () => {
    const events: AdaptEvent[] = [];
    const a = new Adapter(OPTIONS, JUDGE, () => SEED, (e) => events.push(e));
    a.hooks('s');
    const rng = new Rng(2);
    // The old regime, then a lasting shift of 3σ of the window mean's spread... and of the level: 0 → 2.
    for (let i = 0; i < 60; i++) {
      const w = windowAt(rng, 0.1 * rng.gauss());
      a.observe('s', w, verdict({ relevance: relevanceScore(a, w), anomaly: 0.1 }));
    }
    const failsAfter: boolean[] = [];
    for (let i = 0; i < 400; i++) {
      const w = windowAt(rng, 2 + 0.1 * rng.gauss());
      const r = relevanceScore(a, w);
      failsAfter.push(r > 0.5);
      a.observe('s', w, verdict({ relevance: r, anomaly: 0.1 }));
    }
    const early = failsAfter.slice(0, 10).filter(Boolean).length;
    const late = failsAfter.slice(-100).filter(Boolean).length;
    console.log(`level shift: ${early}/10 windows failed right after it, ${late}/100 at the end; ${a.counters.adapt_promotions} promotions, ${a.counters.adapt_rollbacks} rollbacks`);
    expect(early).toBeGreaterThanOrEqual(8);
    expect(late).toBe(0);
    expect(events.some((e) => e.kind === 'promoted')).toBe(true);
    expect(events.some((e) => e.kind === 'change_detected')).toBe(true);
    expect(a.active('s')!.envelope!.mean!.hi).toBeGreaterThan(2);
  });

  it('rolls a candidate back when it would fail known-good windows, and publishes the event', () => {
    const events: AdaptEvent[] = [];
    const seed: StreamProfile = { mean: { lo: -4, hi: 4 }, std: { lo: 0.1, hi: 0.4 }, min: { lo: -5, hi: 4 }, max: { lo: -4, hi: 5 } };
    const judge: JudgeParams = { relevance: JUDGE.relevance, anomaly: { enabled: false, threshold: 0.5 } };
    const a = new Adapter({ ...OPTIONS, forgetting_windows: 10, warmup_windows: 5 }, judge, () => seed, (e) => events.push(e));
    a.hooks('s');
    const rng = new Rng(3);
    // Known-good windows spread over the whole seed envelope…
    for (let i = 0; i < 40; i++) {
      const w = windowAt(rng, 3 * (2 * rng.next() - 1), 0.2);
      a.observe('s', w, verdict({ relevance: relevanceScore(a, w) }));
    }
    // …then a stretch at exactly one level: a short-memory candidate shrinks around it and would fail the rest.
    for (let i = 0; i < 30; i++) a.observe('s', windowAt(rng, 0, 0.2), verdict({ relevance: 0 }));
    const rollback = events.find((e) => e.kind === 'rolled_back');
    console.log(`rollback: ${rollback?.reason}`);
    expect(rollback).toBeDefined();
    expect(a.counters.adapt_rollbacks).toBeGreaterThan(0);
    expect(a.counters.adapt_promotions).toBe(0);
    expect(a.active('s')!.envelope).toEqual(seed);
  });

  it('tightens the anomaly threshold on a quiet stream, never loosens it past the configured one, and learns no flagged window', () => {
    const a = new Adapter(OPTIONS, JUDGE, () => SEED, () => {});
    a.hooks('s');
    const rng = new Rng(4);
    for (let i = 0; i < 300; i++) a.observe('s', windowAt(rng, 0), verdict({ relevance: 0, anomaly: 0.05 + 0.05 * rng.next() }));
    const t = a.active('s')!.threshold!;
    console.log(`quiet stream (scores 0.05–0.10): threshold 0.5 → ${t}`);
    expect(t).toBeLessThan(0.5);
    expect(t).toBeGreaterThanOrEqual(0.25);
    // A lasting fault the model flags (scores 0.9): refused, the threshold does not move up.
    for (let i = 0; i < 300; i++) a.observe('s', windowAt(rng, 0), verdict({ relevance: 0, anomaly: 0.9, anomalyThreshold: t }));
    expect(a.active('s')!.threshold!).toBeLessThanOrEqual(t);
  });

  it('requests retraining when the model keeps flagging windows no rule faults, once per horizon, and diverts the next windows', () => {
    const events: AdaptEvent[] = [];
    const a = new Adapter(OPTIONS, JUDGE, () => SEED, (e) => events.push(e));
    a.hooks('s');
    const rng = new Rng(5);
    for (let i = 0; i < 200; i++) a.observe('s', windowAt(rng, 0), verdict({ relevance: 0, anomaly: i % 2 ? 0.9 : 0.1 }));
    const requests = events.filter((e) => e.kind === 'retrain_requested');
    expect(requests.length).toBe(2);
    expect(requests[0]!.reason).toMatch(/model flagged/);
    expect(a.diverting('s')).toBe(true);
    for (let i = 0; i < OPTIONS.divert_windows; i++) a.observe('s', windowAt(rng, 0), verdict({ relevance: 0, anomaly: 0.1 }));
    expect(a.diverting('s')).toBe(false);
  });

  it('restores a snapshot to the same state, and refuses a damaged one', () => {
    const a = new Adapter(OPTIONS, JUDGE, () => SEED, () => {});
    a.hooks('s');
    const rng = new Rng(6);
    for (let i = 0; i < 200; i++) {
      const w = windowAt(rng, i < 50 ? 0 : 2);
      a.observe('s', w, verdict({ relevance: relevanceScore(a, w), anomaly: 0.1 }));
    }
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    expect(checkState(snap)).toBeUndefined();
    const b = new Adapter(OPTIONS, JUDGE, () => SEED, () => {});
    b.restore(snap);
    b.hooks('s');
    expect(b.active('s')).toEqual(a.active('s'));
    expect(JSON.parse(JSON.stringify(b.snapshot()))).toEqual(snap);
    expect(checkState({ version: 2, streams: {} })).toMatch(/version/);
    const bad = structuredClone(snap);
    bad.streams.s.active.mu = [1, 2];
    expect(checkState(bad)).toMatch(/active statistics/);
    const inverted = structuredClone(snap);
    inverted.streams.s.active.envelope = { mean: { lo: 2, hi: 1 } };
    expect(checkState(inverted)).toMatch(/envelope range/);
  });

  it('learns a first envelope from clean windows when there is no seed', () => {
    const events: AdaptEvent[] = [];
    const a = new Adapter(OPTIONS, JUDGE, () => undefined, (e) => events.push(e));
    const hooks = a.hooks('s');
    const rng = new Rng(7);
    for (let i = 0; i < OPTIONS.warmup_windows - 1; i++) a.observe('s', windowAt(rng, 5), verdict({ anomaly: 0.1 }));
    expect(hooks.envelope()).toBeUndefined();
    a.observe('s', windowAt(rng, 5), verdict({ anomaly: 0.1 }));
    const env = hooks.envelope()!;
    expect(env.mean!.lo).toBeLessThan(5);
    expect(env.mean!.hi).toBeGreaterThan(5);
    expect(events[0]!.reason).toMatch(/first envelope/);
  });
});
