import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { type QaConfig, validateConfig } from '../config/schema.js';
import type { ChannelInfo } from '../framing/messages.js';
import { KNOWN_CHILDREN, StreamJudge } from './graph.js';
import { ScriptedDimension } from './mock.js';
import type { Dimension, ParentName, WindowInput } from './types.js';

const DEFAULT_QA: Readonly<QaConfig> = validateConfig({ device: 'd', serial: { path: '/dev/null' } }).qa;
/** The children that run by default; the others are opt-in (and relevance/cross_sensor need their input). */
const DEFAULT_CHILDREN = ['completeness', 'validity', 'flatline', 'spike'];
const CHANNEL: ChannelInfo = { name: 'pressure', unit: 'bar', min: 0, max: 50 };

/** A modified copy of the default QA config (the validated one is frozen). */
function qaWith(edit: (qa: QaConfig) => void): QaConfig {
  const qa = structuredClone(DEFAULT_QA) as QaConfig;
  edit(qa);
  return qa;
}

function win(values: number[]): WindowInput {
  return { values: Float64Array.from(values), times: Float64Array.from(values, (_, i) => 10 * i), t0: 0, t1: 990, channel: CHANNEL, periodMs: 10 };
}

function noise(seed: number, mean: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: 100 }, () => mean + rng.gauss());
}

/** Clean noise in the middle of the range: every child passes. */
const clean = () => win(noise(1, 25));
/** Noise around the top of the range: about half the values are invalid; nothing else is wrong. */
const outOfRange = () => win(noise(2, 50));
/** Clean noise with 10 % missing values: only completeness fails. */
const gappy = () => win(noise(3, 25).map((x, i) => (i % 10 === 5 ? NaN : x)));
/** Out of range and gappy at once: validity and completeness fail. */
const both = () => win(noise(4, 50).map((x, i) => (i % 10 === 5 ? NaN : x)));

describe('StreamJudge', () => {
  it('passes the parent and lists no failure when every child passes', () => {
    const j = new StreamJudge(DEFAULT_QA).judge(clean());
    expect(j.parents).toEqual({ intrinsic: 'pass' });
    expect(j.failed).toEqual([]);
    expect(Object.keys(j.children).sort()).toEqual([...DEFAULT_CHILDREN].sort());
  });

  it('fails the parent when a critical child fails', () => {
    const j = new StreamJudge(DEFAULT_QA).judge(outOfRange());
    expect(j.failed).toEqual(['validity']);
    expect(j.children.validity).toMatchObject({ pass: false, severity: 'critical' });
    expect(j.parents.intrinsic).toBe('fail');
  });

  it('lists a failing warning child in failed but keeps its parent passing', () => {
    const j = new StreamJudge(qaWith((qa) => (qa.validity.severity = 'warning'))).judge(outOfRange());
    expect(j.failed).toEqual(['validity']);
    expect(j.children.validity).toMatchObject({ pass: false, severity: 'warning' });
    expect(j.parents.intrinsic).toBe('pass');
  });

  it('does not let an info child fail its parent either', () => {
    const j = new StreamJudge(qaWith((qa) => (qa.completeness.severity = 'info'))).judge(gappy());
    expect(j.failed).toEqual(['completeness']);
    expect(j.parents.intrinsic).toBe('pass');
  });

  it('fails the parent when one of several failing children is critical, and lists critical failures first', () => {
    // completeness is evaluated before validity, but as a warning it is listed after it.
    const j = new StreamJudge(qaWith((qa) => (qa.completeness.severity = 'warning'))).judge(both());
    expect(j.failed).toEqual(['validity', 'completeness']);
    expect(j.parents.intrinsic).toBe('fail');
  });

  it('leaves disabled children out of the graph and the judgement', () => {
    const judge = new StreamJudge(qaWith((qa) => (qa.validity.enabled = false)));
    expect(judge.childNames).not.toContain('validity');
    expect(judge.childNames).toHaveLength(DEFAULT_CHILDREN.length - 1);
    const j = judge.judge(outOfRange());
    expect(j.children).not.toHaveProperty('validity');
    expect(j.failed).toEqual([]);
    expect(j.parents.intrinsic).toBe('pass');
  });

  it('reports no parent at all when every child is disabled', () => {
    const judge = new StreamJudge(
      qaWith((qa) => {
        for (const name of KNOWN_CHILDREN) qa[name].enabled = false;
      }),
    );
    expect(judge.childNames).toEqual([]);
    expect(judge.judge(both())).toEqual({ parents: {}, parentScores: {}, children: {}, failed: [] });
  });

  it('passes each child its own thresholds from the config', () => {
    const j = new StreamJudge(qaWith((qa) => (qa.completeness.threshold = 0.2))).judge(gappy());
    expect(j.children.completeness).toMatchObject({ score: 0.1, threshold: 0.2, pass: true });
    expect(j.failed).toEqual([]);
  });

  it('keeps per-stream dimension state in each judge', () => {
    // The spike child learns a reference noise scale from passing windows; a judge that has seen clean
    // windows keeps it, a fresh judge has none, so a 70 % stuck window only fails on the fresh one.
    const stuckThenNoise = win(noise(5, 25).map((x, i) => (i < 70 ? 25 : x)));
    const seasoned = new StreamJudge(DEFAULT_QA);
    for (let seed = 10; seed < 15; seed++) seasoned.judge(win(noise(seed, 25)));
    const fresh = new StreamJudge(DEFAULT_QA);
    expect(seasoned.judge(stuckThenNoise).failed).not.toContain('spike');
    expect(fresh.judge(stuckThenNoise).failed).toContain('spike');
  });
});

describe('StreamJudge as a graph of data', () => {
  /** Every child on. */
  const allOn = () =>
    qaWith((qa) => {
      for (const name of KNOWN_CHILDREN) qa[name].enabled = true;
    });
  const counters = { frames: 0, discarded_bytes: 0, bad_cobs: 0, runt: 0, oversize: 0, bad_crc: 0, bad_version: 0, unknown_flags: 0, bad_body: 0, resyncs: 0, seq_gaps: 0, seq_resets: 0 };

  it('builds a child only when enabled and when its input exists: integrity counters, a profile, a partner', () => {
    expect(new StreamJudge(allOn()).childNames).toEqual(['clock_sanity', 'completeness', 'validity', 'timeliness', 'uniqueness', 'flatline', 'spike', 'noise', 'anomaly', 'drift']);
    const full = new StreamJudge(allOn(), {
      integrity: () => counters,
      profile: { mean: { lo: 0, hi: 50 } },
      cross: [{ peer: 'flow', sign: -1, min: 0, max: 1, window: () => undefined }],
    });
    expect(full.childNames).toEqual([...KNOWN_CHILDREN]);
  });

  it('reports each parent once it has an active child, in the order integrity, intrinsic, contextual', () => {
    const j = new StreamJudge(allOn(), { integrity: () => counters }).judge(clean());
    expect(Object.keys(j.parents)).toEqual(['integrity', 'intrinsic', 'contextual']);
    const only = new StreamJudge(
      qaWith((qa) => {
        for (const name of KNOWN_CHILDREN) qa[name].enabled = false;
        qa.drift.enabled = true;
      }),
    ).judge(clean());
    expect(only.parents).toEqual({ contextual: 'pass' });
  });

  it('judges contextual children after intrinsic ones and tells them the intrinsic outcome; settles every child with it', () => {
    const seen: unknown[] = [];
    const settled: unknown[] = [];
    const spy = (name: string, parent: ParentName): Dimension => ({
      name,
      parent,
      evaluate(_w, ctx) {
        seen.push([name, ctx?.intrinsic]);
        return { score: name === 'bad' ? 1 : 0, threshold: 0.5, pass: name !== 'bad', severity: 'critical', parent, code: `${name}.x`, reason: 'r' };
      },
      settle(outcome) {
        settled.push([name, outcome]);
      },
    });
    const j = StreamJudge.of([spy('ctx', 'contextual'), spy('bad', 'intrinsic'), spy('link', 'integrity')]).judge(clean());
    expect(seen).toEqual([
      ['link', undefined],
      ['bad', undefined],
      ['ctx', 'fail'],
    ]);
    expect(settled).toEqual([
      ['ctx', 'fail'],
      ['bad', 'fail'],
      ['link', 'fail'],
    ]);
    expect(j.parents).toEqual({ integrity: 'pass', intrinsic: 'fail', contextual: 'pass' });
  });

  it('decides a weighted parent by p = σ(bias + Σ w·score) against its threshold, whatever the severities', () => {
    const decisions = {
      integrity: { decision: 'rule' as const, weights: {}, bias: 0, threshold: 0.5 },
      intrinsic: { decision: 'weighted' as const, weights: { a: 4, b: 2 }, bias: -3, threshold: 0.6 },
      contextual: { decision: 'rule' as const, weights: {}, bias: 0, threshold: 0.5 },
    };
    const judge = (sa: number, sb: number, sc: number) =>
      StreamJudge.of(
        [
          new ScriptedDimension('a', 'intrinsic', 'info', 0.5, () => sa),
          new ScriptedDimension('b', 'intrinsic', 'info', 0.5, () => sb),
          new ScriptedDimension('c', 'intrinsic', 'critical', 0.5, () => sc),
        ],
        decisions,
      ).judge(clean());
    // z = −3 + 4·0.5 + 2·0.5 = 0 → p = 0.5 ≤ 0.6: pass, though c (critical, weight 0) fails
    const even = judge(0.5, 0.5, 0.9);
    expect(even.parents.intrinsic).toBe('pass');
    expect(even.parentScores.intrinsic).toEqual({ p: 0.5, threshold: 0.6 });
    expect(even.failed).toEqual(['c']);
    // z = −3 + 4·0.75 + 2·0.5 = 1 → p = σ(1) = 0.731 > 0.6: fail, though no critical child fails
    const bad = judge(0.75, 0.5, 0);
    expect(bad.parents.intrinsic).toBe('fail');
    expect(bad.parentScores.intrinsic!.p).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(bad.failed).toEqual(['a']);
  });

  it('decides by weights from the validated config', () => {
    const qa = qaWith((q) => {
      q.parents.intrinsic = { decision: 'weighted', weights: { validity: 10 }, bias: -2, threshold: 0.5 };
    });
    const j = new StreamJudge(qa).judge(outOfRange());
    // validity ≈ 0.5 of the values out of range: z = −2 + 10 · 0.5 > 0
    expect(j.parents.intrinsic).toBe('fail');
    expect(j.parentScores.intrinsic!.p).toBeGreaterThan(0.9);
    expect(new StreamJudge(qa).judge(clean()).parents.intrinsic).toBe('pass');
  });
});
