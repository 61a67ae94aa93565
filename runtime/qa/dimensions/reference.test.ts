import { describe, expect, it } from 'vitest';
import { Rng } from '../../../sim/random.js';
import { ErrorCode, TinyqaError } from '../../core/errors.js';
import type { ChannelInfo } from '../../framing/messages.js';
import { parseProfile, ProfileBuilder } from '../profile.js';
import type { WindowInput } from '../types.js';
import { CrossSensor, type CrossLink } from './cross-sensor.js';
import { Relevance } from './relevance.js';

const PRESSURE: ChannelInfo = { name: 'pressure', unit: 'bar', min: 0, max: 100 };
const FLOW: ChannelInfo = { name: 'flow', unit: 'L/min', min: 0, max: 1000 };
const critical = 'critical' as const;

function win(values: ArrayLike<number>, channel: ChannelInfo = PRESSURE): WindowInput {
  const times = Float64Array.from(values, (_, i) => 1000 + 10 * i);
  return { values: Float64Array.from(values), times, t0: times[0]!, t1: times[times.length - 1]!, channel, periodMs: 10 };
}

function noise(seed: number, n = 100, mean = 0, sigma = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => mean + sigma * rng.gauss());
}

/** An error thrown by `fn`, which must be a TinyqaError. */
function thrown(fn: () => unknown): TinyqaError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TinyqaError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('relevance', () => {
  const params = { threshold: 0.5, severity: critical, k: 0.5 };
  const dim = new Relevance(params, { mean: { lo: 0, hi: 10 } });

  it('scores a window inside the envelope 0', () => {
    expect(dim.evaluate(win([2, 4, 6]))).toMatchObject({ score: 0, pass: true, code: 'relevance.ok' });
  });

  it('scores the distance outside in envelope widths, D/(D + k): a mean 5 above [0, 10] is D = 0.5 → 0.5', () => {
    expect(dim.evaluate(win([14, 15, 16]))).toMatchObject({ score: 0.5, pass: true });
    const r = dim.evaluate(win([15, 16, 17]));
    expect(r.score).toBeCloseTo(0.6 / 1.1, 12);
    expect(r).toMatchObject({ pass: false, code: 'relevance.outside_envelope', parent: 'contextual' });
    expect(r.reason).toBe('window mean 16 bar is 0.6 envelope widths outside [0, 10] bar (> 0.5)');
    expect(dim.evaluate(win([-5, -6, -7])).score).toBeCloseTo(0.6 / 1.1, 12);
  });

  it('judges every feature the profile gives and reports the worst', () => {
    const d = new Relevance(params, { mean: { lo: 0, hi: 10 }, std: { lo: 0.5, hi: 1.5 }, min: { lo: -5, hi: 5 }, max: { lo: 5, hi: 15 } });
    // mean 5, std 5 (values 0 and 10): std is 3.5 widths above [0.5, 1.5]
    const r = d.evaluate(win([0, 10, 0, 10]));
    expect(r.score).toBeCloseTo(3.5 / 4, 12);
    expect(r.reason).toMatch(/^window std 5 bar is 3\.5 envelope widths outside \[0\.5, 1\.5\] bar/);
  });

  it('keeps a degenerate envelope (lo = hi) usable', () => {
    const d = new Relevance(params, { mean: { lo: 4, hi: 4 } });
    expect(d.evaluate(win([4, 4])).score).toBe(0);
    expect(d.evaluate(win([4.001, 4.001])).score).toBeGreaterThan(0.99);
  });

  it('does not judge a window that failed intrinsic QA, nor one without finite values', () => {
    expect(dim.evaluate(win([50, 50]), { intrinsic: 'fail' })).toMatchObject({ score: 0, pass: true, reason: 'not judged: the window failed intrinsic QA' });
    expect(dim.evaluate(win([NaN, NaN]))).toMatchObject({ score: 0, reason: 'not judged: no finite values' });
  });

  it('stays finite and in [0, 1] on ±1e308, and ignores ±Infinity (validity reports those)', () => {
    const d = new Relevance(params, { mean: { lo: -1e308, hi: 1e308 }, max: { lo: 0, hi: 1 } });
    const r = d.evaluate(win([1e308, -1e308, 1e308]));
    expect(r.score).toBeGreaterThan(0.99);
    expect(r.score).toBeLessThanOrEqual(1);
    expect(dim.evaluate(win([5, Infinity, -Infinity])).score).toBe(0);
  });
});

describe('reference profile', () => {
  it('accepts the documented shape', () => {
    const p = parseProfile({ version: 1, window: 100, source: 'x', streams: { pressure: { mean: { lo: 1, hi: 2 } } } });
    expect(p).toEqual({ version: 1, window: 100, source: 'x', streams: { pressure: { mean: { lo: 1, hi: 2 } } } });
  });

  it('lists every problem at once, each naming its key', () => {
    const e = thrown(() =>
      parseProfile(
        { version: 2, extra: 1, streams: { pressure: { mean: { lo: 3, hi: 2 }, median: {}, std: { lo: -1, hi: 1 }, max: { lo: 'a', hi: 1, mid: 2 } }, 'bad name': {}, flow: 5 } },
        'profile.json',
      ),
    );
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    for (const key of [
      'version: must be 1',
      'extra: is not a known key',
      'streams.pressure.mean: lo (3) must be ≤ hi (2)',
      'streams.pressure.median: is not a known feature',
      'streams.pressure.std.lo: a standard deviation is ≥ 0',
      'streams.pressure.max.lo: must be a finite number; got "a"',
      'streams.pressure.max.mid: is not a known key',
      'streams.bad name: a channel name is',
      'streams.bad name: names no feature',
      'streams.flow: must be an object',
    ])
      expect(e.message).toContain(key);
    expect(e.message).toMatch(/^E1001 profile\.json is invalid \(10 problems\):/);
  });

  it('refuses a non-object and missing streams', () => {
    expect(thrown(() => parseProfile([])).message).toContain('(top level): must be an object');
    expect(thrown(() => parseProfile({ version: 1 })).message).toContain('streams: must be an object');
  });

  it('builds envelopes with P² that hold the training windows\' summaries', () => {
    const b = new ProfileBuilder(0.005, 0.995);
    for (let k = 0; k < 2000; k++) b.add('pressure', noise(k, 100, 4, 0.1));
    b.add('pressure', new Array(100).fill(NaN));
    const p = parseProfile(JSON.parse(JSON.stringify(b.build(100, 'test'))));
    const mean = p.streams.pressure!.mean!;
    // Window means of N(4, 0.1²)·100 have σ 0.01: the 0.5–99.5 % envelope is ≈ 4 ± 0.026.
    expect(mean.lo).toBeGreaterThan(3.96);
    expect(mean.lo).toBeLessThan(3.985);
    expect(mean.hi).toBeGreaterThan(4.015);
    expect(mean.hi).toBeLessThan(4.04);
    const d = new Relevance({ threshold: 0.5, severity: critical, k: 0.5 }, p.streams.pressure!);
    let failed = 0;
    for (let k = 5000; k < 6000; k++) if (!d.evaluate(win(noise(k, 100, 4, 0.1))).pass) failed++;
    console.log(`relevance: ${failed}/1000 fresh windows from the training distribution fail against its P² profile`);
    expect(failed).toBeLessThanOrEqual(2);
    expect(d.evaluate(win(noise(7, 100, 4.2, 0.1))).pass).toBe(false);
  });
});

describe('cross_sensor', () => {
  const params = { threshold: 0.4, severity: critical, min_excitation: 3 };
  const link = (peer: number[], sign: 1 | -1, channel = FLOW): CrossLink => {
    const values = Float64Array.from(peer);
    return { peer: channel.name, sign, min: channel.min, max: channel.max, window: () => ({ values, t0: 1000, t1: 1000 + 10 * (peer.length - 1) }) };
  };
  const up = Array.from({ length: 20 }, (_, i) => i + 1);
  const down = up.map((x) => 21 - x);

  it('scores a perfectly opposite pair 0 under a negative relation and 1 under a positive one', () => {
    const ok = new CrossSensor(params, [link(down, -1)]).evaluate(win(up));
    expect(ok).toMatchObject({ pass: true, code: 'cross_sensor.ok' });
    expect(ok.score).toBeCloseTo(0, 12);
    const r = new CrossSensor(params, [link(down, 1)]).evaluate(win(up));
    expect(r).toMatchObject({ pass: false, code: 'cross_sensor.inconsistent' });
    expect(r.score).toBeCloseTo(1, 12);
    expect(r.reason).toBe('pressure contradicts its partner: correlation with flow -1 (expected positive), score 1 > 0.4');
  });

  it('scores (1 − s·r)/2 for a partial correlation', () => {
    // A common slow component of variance 50 plus independent noise of variance 50 on each: r ≈ 0.5.
    const common = Array.from({ length: 4000 }, (_, i) => 10 * Math.sin((2 * Math.PI * i) / 400));
    const na = noise(1, 4000, 0, Math.sqrt(50));
    const nb = noise(2, 4000, 0, Math.sqrt(50));
    const a = common.map((c, i) => 50 + c + na[i]!);
    const b = common.map((c, i) => 500 + c + nb[i]!);
    const r = new CrossSensor({ ...params, min_excitation: 1 }, [link(b, 1)]).evaluate(win(a));
    expect(r.score).toBeGreaterThan((1 - 0.55) / 2);
    expect(r.score).toBeLessThan((1 - 0.45) / 2);
  });

  it('does not judge a still process: two channels of pure noise', () => {
    const r = new CrossSensor(params, [link(noise(3, 100, 500), -1)]).evaluate(win(noise(4, 100, 50)));
    expect(r).toMatchObject({ score: 0, pass: true });
    expect(r.reason).toBe('flow: not judged (neither channel moved beyond 3× its noise)');
  });

  it('fails an unrelated partner while the process moves: a sine on one channel, noise on the other', () => {
    const a = Array.from({ length: 100 }, (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 50));
    const r = new CrossSensor(params, [link(noise(5, 100, 500), -1)]).evaluate(win(a));
    expect(r.pass).toBe(false);
    expect(r.score).toBeGreaterThan(0.4);
  });

  it('does not judge beside a constant channel: a stuck sensor is flatline\'s, and must not fail its healthy partner', () => {
    const a = Array.from({ length: 100 }, (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 50));
    const r = new CrossSensor(params, [link(new Array(100).fill(300), -1)]).evaluate(win(a));
    expect(r).toMatchObject({ score: 0, pass: true, reason: 'flow: not judged (flow is constant)' });
    expect(new CrossSensor(params, [link(a, -1)]).evaluate(win(new Array(100).fill(3))).reason).toBe('flow: not judged (pressure is constant)');
  });

  it('leaves out missing, non-finite and out-of-range values, so a faulty partner does not fail this stream', () => {
    const a = Array.from({ length: 100 }, (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 50));
    const overRange = new Array(100).fill(1500);
    expect(new CrossSensor(params, [link(overRange, -1)]).evaluate(win(a)).reason).toBe('flow: not judged (0 valid sample pairs)');
    const b = a.map((x) => 1000 - 10 * x);
    b[3] = NaN;
    b[4] = Infinity;
    b[5] = -5;
    expect(new CrossSensor(params, [link(b, -1)]).evaluate(win(a)).score).toBeCloseTo(0, 9);
  });

  it('scores a stream in several pairs by its worst pair', () => {
    const r = new CrossSensor(params, [link(down, -1), link(down, 1, { ...FLOW, name: 'speed' })]).evaluate(win(up));
    expect(r.score).toBeCloseTo(1, 12);
    expect(r.reason).toContain('correlation with speed -1 (expected positive)');
  });

  it('does not judge when the partner\'s window covers other samples, or has none', () => {
    const other: CrossLink = { peer: 'flow', sign: -1, min: 0, max: 1000, window: () => ({ values: Float64Array.from(down), t0: 0, t1: 190 }) };
    expect(new CrossSensor(params, [other]).evaluate(win(up)).reason).toBe('flow: not judged (its window does not cover the same samples)');
    const none: CrossLink = { ...other, window: () => undefined };
    expect(new CrossSensor(params, [none]).evaluate(win(up)).score).toBe(0);
  });

  it('stays finite on ±1e308 values and all-missing windows', () => {
    const a = up.map((x) => x * 1e306 * (x % 2 ? 1 : -1));
    const wide: ChannelInfo = { name: 'x', unit: '', min: -1e308, max: 1e308 };
    const r = new CrossSensor(params, [link(a.map((x) => -x), -1, { ...wide, name: 'y' })]).evaluate(win(a, wide));
    expect(r.score).toBeCloseTo(0, 9);
    expect(new CrossSensor(params, [link(down, -1)]).evaluate(win(new Array(20).fill(NaN))).score).toBe(0);
  });
});
