import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { type QaConfig, validateConfig } from '../config/schema.js';
import type { ChannelInfo } from '../framing/messages.js';
import { KNOWN_CHILDREN, StreamJudge } from './graph.js';
import type { WindowInput } from './types.js';

const DEFAULT_QA: Readonly<QaConfig> = validateConfig({ device: 'd', serial: { path: '/dev/null' } }).qa;
const CHANNEL: ChannelInfo = { name: 'pressure', unit: 'bar', min: 0, max: 50 };

/** A modified copy of the default QA config (the validated one is frozen). */
function qaWith(edit: (qa: QaConfig) => void): QaConfig {
  const qa = structuredClone(DEFAULT_QA) as QaConfig;
  edit(qa);
  return qa;
}

function win(values: number[]): WindowInput {
  return { values: Float64Array.from(values), t0: 0, t1: 990, channel: CHANNEL };
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
    expect(Object.keys(j.children).sort()).toEqual([...KNOWN_CHILDREN].sort());
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
    expect(judge.childNames).toHaveLength(KNOWN_CHILDREN.length - 1);
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
    expect(judge.judge(both())).toEqual({ parents: {}, children: {}, failed: [] });
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
