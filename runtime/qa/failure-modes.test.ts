/**
 * Every child, built the way the pipeline builds it (all enabled, with integrity counters, a
 * reference profile and a cross-sensor partner), against the failure modes of real sensor data:
 * an all-missing window, a constant signal, values near ±1e308, ±Infinity, and arbitrary float32
 * values with arbitrary timestamps. Scores stay in [0, 1] (never NaN) and pass ⇔ score ≤ threshold.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../config/schema.js';
import type { ChannelInfo } from '../framing/messages.js';
import { KNOWN_CHILDREN } from './catalog.js';
import { StreamJudge } from './graph.js';
import type { IntegrityCounters, QaConfig, WindowInput } from './types.js';

const CHANNEL: ChannelInfo = { name: 'pressure', unit: 'bar', min: 0, max: 10 };

const ALL_ON: QaConfig = (() => {
  const qa = structuredClone(validateConfig({ device: 'd', serial: { path: '/dev/null' } }).qa) as QaConfig;
  for (const name of KNOWN_CHILDREN) qa[name].enabled = true;
  qa.noise.warmup = 1;
  qa.anomaly.warmup = 2;
  qa.drift.warmup = 2;
  return qa;
})();

const COUNTERS: IntegrityCounters = { frames: 10, discarded_bytes: 0, bad_cobs: 0, runt: 0, oversize: 0, bad_crc: 0, bad_version: 0, unknown_flags: 0, bad_body: 0, resyncs: 0, seq_gaps: 0, seq_resets: 0 };

/** A judge with every child active; its cross-sensor partner's window is `partner`. */
function judge(partner: () => Float64Array) {
  let t0 = 0;
  let t1 = 0;
  const j = new StreamJudge(ALL_ON, {
    channel: CHANNEL,
    integrity: () => COUNTERS,
    profile: { mean: { lo: 1, hi: 9 }, std: { lo: 0, hi: 2 }, min: { lo: 0, hi: 5 }, max: { lo: 5, hi: 10 } },
    cross: [{ peer: 'flow', sign: -1, min: 0, max: 10, window: () => ({ values: partner(), t0, t1 }) }],
  });
  return {
    names: j.childNames,
    judge(w: WindowInput) {
      t0 = w.t0;
      t1 = w.t1;
      return j.judge(w);
    },
  };
}

function win(values: ArrayLike<number>, times?: ArrayLike<number>, start = 0): WindowInput {
  const t = times ? Float64Array.from(times) : Float64Array.from(values, (_, i) => start + 10 * i);
  return { values: Float64Array.from(values), times: t, t0: t[0]!, t1: t[t.length - 1]!, channel: CHANNEL, periodMs: 10, clockOffsetMs: 0 };
}

function check(j: ReturnType<typeof judge>, w: WindowInput, label: string) {
  const r = j.judge(w);
  expect(Object.keys(r.children).sort(), label).toEqual([...KNOWN_CHILDREN].sort());
  for (const [name, c] of Object.entries(r.children)) {
    expect(Number.isNaN(c.score), `${name} on ${label}`).toBe(false);
    expect(c.score, `${name} on ${label}`).toBeGreaterThanOrEqual(0);
    expect(c.score, `${name} on ${label}`).toBeLessThanOrEqual(1);
    expect(c.pass, `${name} on ${label}`).toBe(c.score <= c.threshold);
    expect(c.reason.length, `${name} on ${label}`).toBeGreaterThan(0);
    expect(c.reason, `${name} on ${label}`).not.toMatch(/NaN %|undefined/);
  }
  return r;
}

const ramp = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('every child on the failure modes of sensor data', () => {
  const modes: [string, number[]][] = [
    ['an all-missing window', ramp(64, () => NaN)],
    ['a constant signal', ramp(64, () => 4.25)],
    ['values near ±1e308', ramp(64, (i) => (i % 3 === 0 ? 1.7e308 : i % 3 === 1 ? -1.7e308 : 1e308))],
    ['±Infinity among normal values', ramp(64, (i) => (i === 10 ? Infinity : i === 20 ? -Infinity : 5 + Math.sin(i)))],
    ['only ±Infinity', ramp(64, (i) => (i % 2 ? Infinity : -Infinity))],
  ];

  it.each(modes)('keeps every score in [0, 1] on %s, after clean windows and on a fresh judge', (label, values) => {
    const partner = Float64Array.from(ramp(64, (i) => 5 - Math.sin(i / 5)));
    const seasoned = judge(() => partner);
    for (let k = 0; k < 5; k++) check(seasoned, win(ramp(64, (i) => 5 + Math.sin((i + 64 * k) / 5) + 0.01 * Math.cos(i * 7)), undefined, k * 640), 'a clean window');
    check(seasoned, win(values, undefined, 5 * 640), label);
    check(judge(() => Float64Array.from(values)), win(values), `${label} (fresh, partner alike)`);
  });

  it('keeps every score in [0, 1] for arbitrary float32 values, timestamps and partners', () => {
    const value = fc.oneof(fc.float({ noDefaultInfinity: false, noNaN: false }), fc.float({ min: -2, max: 12, noNaN: true }), fc.constant(4));
    const time = fc.oneof(fc.double({ noNaN: false }), fc.integer({ min: 0, max: 100 }).map((x) => x * 10));
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 40 }), fc.array(fc.tuple(value, time, value), { minLength: 40, maxLength: 40 }), fc.integer({ min: 1, max: 3 }), (n, samples, windows) => {
        let partner = new Float64Array(n);
        const j = judge(() => partner);
        for (let k = 0; k < windows; k++) {
          const s = samples.slice(0, n);
          partner = Float64Array.from(s, (x) => x[2]);
          check(j, win(s.map((x) => x[0]), s.map((x) => x[1])), `window ${k}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
