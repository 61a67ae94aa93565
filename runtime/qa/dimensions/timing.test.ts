import { describe, expect, it } from 'vitest';
import type { ChannelInfo } from '../../framing/messages.js';
import type { IntegrityCounters, WindowInput } from '../types.js';
import { ClockSanity, FrameIntegrity, SequenceContinuity } from './integrity.js';
import { Timeliness } from './timeliness.js';
import { Uniqueness } from './uniqueness.js';

const CHANNEL: ChannelInfo = { name: 'pressure', unit: 'bar', min: 0, max: 10 };
const critical = 'critical' as const;

/** A window of n samples (value 1) at the given times; nominal period 10 ms unless told. */
function at(times: number[], o: { periodMs?: number; clockOffsetMs?: number; values?: number[] } = {}): WindowInput {
  const t = Float64Array.from(times);
  return {
    values: Float64Array.from(o.values ?? times.map(() => 1)),
    times: t,
    t0: t[0]!,
    t1: t[t.length - 1]!,
    channel: CHANNEL,
    periodMs: o.periodMs ?? 10,
    ...(o.clockOffsetMs !== undefined ? { clockOffsetMs: o.clockOffsetMs } : {}),
  };
}

/** Times 1000, 1010, … for n samples. */
const regular = (n = 100, start = 1000, step = 10) => Array.from({ length: n }, (_, i) => start + step * i);

describe('timeliness', () => {
  const dim = new Timeliness({ threshold: 0.05, severity: critical });

  it('scores perfectly spaced samples 0', () => {
    expect(dim.evaluate(at(regular()))).toMatchObject({ score: 0, pass: true, code: 'timeliness.ok' });
  });

  it('scores a gap that lost 3 samples as 3 periods of error over 99 intervals: 3/102', () => {
    // One interval of 40 ms instead of 10: |40 − 10|/10 = 3 periods; E/(E + m) = 3/(3 + 99).
    const t = regular().map((x, i) => (i >= 50 ? x + 30 : x));
    const r = dim.evaluate(at(t));
    expect(r.score).toBeCloseTo(3 / 102, 12);
    expect(r.pass).toBe(true);
    expect(r.reason).toContain('1 gap (3 samples lost, longest 40 ms)');
  });

  it('fails a lost 10-sample frame: 10/109', () => {
    const t = regular().map((x, i) => (i >= 50 ? x + 100 : x));
    const r = dim.evaluate(at(t));
    expect(r.score).toBeCloseTo(10 / 109, 12);
    expect(r).toMatchObject({ pass: false, code: 'timeliness.gaps' });
    expect(r.reason).toMatch(/^timing error 9\.174 % of sample slots > 5 %: 1 gap \(10 samples lost/);
  });

  it('scores intervals alternating 12 and 8 ms as 20 % jitter: 19.8/118.8', () => {
    const t = [1000];
    for (let i = 1; i < 100; i++) t.push(t[i - 1]! + (i % 2 ? 12 : 8));
    const r = dim.evaluate(at(t));
    expect(r.score).toBeCloseTo(19.8 / 118.8, 12);
    expect(r).toMatchObject({ pass: false, code: 'timeliness.jitter' });
    expect(r.reason).toContain('mean jitter 20 %');
  });

  it('judges against the HELLO rate, so a device sampling at 95 Hz while declaring 100 Hz is late on every interval', () => {
    const r = dim.evaluate(at(regular(100, 0, 1000 / 95), { periodMs: 10 }));
    // every interval is 10.526 ms: e = 0.0526 each → score = 0.0526/1.0526 ≈ 0.05 → just fails
    expect(r.score).toBeCloseTo(0.0526315 / 1.0526315, 5);
  });

  it('leaves repeated and backward times to the uniqueness and clock_sanity children', () => {
    const t = regular();
    t[40] = t[39]!; // repeat
    t[60] = t[59]! - 5; // backward
    const r = dim.evaluate(at(t));
    // Interval 40→41 is 20 ms (one gap of 1 sample), 60→61 is 25 ms: error 1 + 1.5 over 97 positive intervals.
    expect(r.score).toBeCloseTo(2.5 / (2.5 + 97), 12);
  });

  it('does not judge without a nominal period, and scores ±Infinity times 1 rather than NaN', () => {
    expect(dim.evaluate(at(regular(), { periodMs: NaN }))).toMatchObject({ score: 0, pass: true });
    expect(dim.evaluate(at(regular(), { periodMs: 0 })).reason).toMatch(/not judged/);
    const t = regular();
    t[50] = Infinity;
    expect(dim.evaluate(at(t))).toMatchObject({ score: 1, pass: false });
    const huge = regular().map((_, i) => (i % 2 ? 1e308 : -1e308));
    const h = dim.evaluate(at(huge));
    expect(h.score).toBeGreaterThanOrEqual(0);
    expect(h.score).toBeLessThanOrEqual(1);
  });

  it('does not look at the values: an all-missing window with regular times scores 0', () => {
    expect(dim.evaluate(at(regular(), { values: new Array(100).fill(NaN) })).score).toBe(0);
  });
});

describe('uniqueness', () => {
  const dim = new Uniqueness({ threshold: 0, severity: critical });

  it('scores strictly increasing times 0', () => {
    expect(dim.evaluate(at(regular()))).toMatchObject({ score: 0, pass: true, code: 'uniqueness.ok' });
  });

  it('counts a frame sent twice: 5 samples repeated in a window of 10 score 0.5', () => {
    const frame = [1000, 1010, 1020, 1030, 1040];
    const r = dim.evaluate(at([...frame, ...frame], { values: [1, 2, 3, NaN, 5, 1, 2, 3, NaN, 5] }));
    expect(r).toMatchObject({ score: 0.5, pass: false, code: 'uniqueness.duplicates' });
    expect(r.reason).toMatch(/^5\/10 samples repeat an earlier sample's time and value \(first at 1970-01-01T00:00:01\.000Z\)/);
  });

  it('does not call the same time with another value a duplicate (that is a clock fault)', () => {
    expect(dim.evaluate(at([1000, 1010, 1010, 1020], { values: [1, 2, 3, 4] })).score).toBe(0);
  });

  it('counts one repeated timestamp as 1/n wherever it is', () => {
    const t = regular();
    t[70] = t[20]!;
    expect(dim.evaluate(at(t)).score).toBe(0.01);
  });

  it('never calls NaN timestamps duplicates, and allocates its scratch once', () => {
    const t = regular();
    t[10] = NaN;
    t[11] = NaN;
    expect(dim.evaluate(at(t)).score).toBe(0);
    expect(dim.evaluate(at([1e308, 1e308, -Infinity, -Infinity])).score).toBe(0.5);
    expect(dim.evaluate(at([5, 5, 5, 5], { values: [1e308, 1e308, -1e308, Infinity] })).score).toBe(0.25);
  });
});

/** Mutable link counters, as `DeviceLink.counters` is. */
function counters(): { -readonly [K in keyof IntegrityCounters]: number } {
  return { frames: 0, discarded_bytes: 0, bad_cobs: 0, runt: 0, oversize: 0, bad_crc: 0, bad_version: 0, unknown_flags: 0, bad_body: 0, resyncs: 0, seq_gaps: 0, seq_resets: 0 };
}

describe('frame_integrity', () => {
  it('differences the counters from the judge\'s construction, so bytes discarded before the first window do not count', () => {
    const c = counters();
    c.discarded_bytes = 1; // the device's boot delimiter
    c.frames = 3;
    const dim = new FrameIntegrity({ threshold: 0.01, severity: 'warning' }, () => c);
    c.frames += 10;
    expect(dim.evaluate(at(regular()))).toMatchObject({ score: 0, pass: true, code: 'frame_integrity.ok' });
  });

  it('scores (rejected + resyncs) / (rejected + frames) since the previous window: 3/101', () => {
    const c = counters();
    const dim = new FrameIntegrity({ threshold: 0.01, severity: 'warning' }, () => c);
    c.frames = 100;
    c.bad_crc = 1;
    c.resyncs = 2;
    c.discarded_bytes = 57;
    const r = dim.evaluate(at(regular()));
    expect(r.score).toBeCloseTo(3 / 101, 12);
    expect(r).toMatchObject({ pass: false, code: 'frame_integrity.corrupt', severity: 'warning', parent: 'integrity' });
    expect(r.reason).toContain('3/101 pieces not a clean frame (1 bad CRC, 0 other rejects, 2 resyncs), 57 bytes discarded');
    // Next window: only what changed since.
    c.frames = 150;
    expect(dim.evaluate(at(regular())).score).toBe(0);
  });

  it('scores a window with no frames at all 0 rather than NaN', () => {
    const c = counters();
    expect(new FrameIntegrity({ threshold: 0, severity: critical }, () => c).evaluate(at(regular())).score).toBe(0);
  });
});

describe('sequence_continuity', () => {
  it('scores (gaps + resets) / (gaps + resets + frames): 2 lost of 100 expected is 0.02', () => {
    const c = counters();
    const dim = new SequenceContinuity({ threshold: 0, severity: critical }, () => c);
    c.frames = 98;
    c.seq_gaps = 2;
    const r = dim.evaluate(at(regular()));
    expect(r).toMatchObject({ score: 0.02, pass: false, code: 'sequence_continuity.gap' });
    expect(r.reason).toMatch(/^2 frames lost, 0 sequence resets, 98 frames received/);
    c.frames = 198;
    expect(dim.evaluate(at(regular()))).toMatchObject({ score: 0, pass: true });
    c.frames = 207;
    c.seq_resets = 1;
    expect(dim.evaluate(at(regular()))).toMatchObject({ score: 0.1, code: 'sequence_continuity.reset' });
  });
});

describe('clock_sanity', () => {
  const params = { threshold: 0.05, severity: critical, step_tolerance_ms: 250 };

  it('scores regular times and a steady time map 0', () => {
    const dim = new ClockSanity(params);
    expect(dim.evaluate(at(regular(), { clockOffsetMs: 5e11 }))).toMatchObject({ score: 0, pass: true });
    expect(dim.evaluate(at(regular(100, 2000), { clockOffsetMs: 5e11 + 100 }))).toMatchObject({ score: 0, pass: true });
  });

  it('scores a clock stepping back 30 ms as 30 ms off (1490 ms → 1470 instead of 1500) over the 990 ms span', () => {
    // The new times coincide with earlier ones, but the values differ: a clock fault, not a re-send.
    const t = regular().map((x, i) => (i >= 50 ? x - 30 : x));
    const values = t.map((_, i) => i);
    const r = new ClockSanity(params).evaluate(at(t, { values }));
    expect(r.score).toBeCloseTo(30 / 990, 12);
    expect(r.reason).toMatch(/^1 sample not after its predecessor \(30 ms off\)/);
    expect(new Uniqueness({ threshold: 0, severity: critical }).evaluate(at(t, { values })).score).toBe(0);
  });

  it('counts a sample at the same time as its predecessor but with another value as one period off', () => {
    const t = regular();
    t[30] = t[29]!;
    const values = t.map((_, i) => i);
    expect(new ClockSanity(params).evaluate(at(t, { values })).score).toBeCloseTo(10 / 990, 12);
  });

  it('leaves a step back onto a re-sent sample (same time and value) to uniqueness', () => {
    const frame = regular(5);
    const values = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5];
    expect(new ClockSanity(params).evaluate(at([...frame, ...frame], { values })).score).toBe(0);
    expect(new Uniqueness({ threshold: 0, severity: critical }).evaluate(at([...frame, ...frame], { values })).score).toBe(0.5);
  });

  it('fails a device clock reset: time running back by the uptime', () => {
    const t = regular().map((x, i) => (i >= 50 ? x - 60_000 : x));
    expect(new ClockSanity(params).evaluate(at(t))).toMatchObject({ score: 1, pass: false, code: 'clock_sanity.backwards' });
  });

  it('scores a time-map jump beyond the tolerance: 1250 ms − 250 ms over 990 ms, capped at 1', () => {
    const dim = new ClockSanity(params);
    dim.evaluate(at(regular(), { clockOffsetMs: 1000 }));
    expect(dim.evaluate(at(regular(), { clockOffsetMs: 1100 })).score).toBe(0); // 100 ms: re-sync jitter
    const r = dim.evaluate(at(regular(), { clockOffsetMs: 1100 + 500 }));
    expect(r.score).toBeCloseTo(250 / 990, 12);
    expect(r).toMatchObject({ pass: false, code: 'clock_sanity.jump' });
    expect(dim.evaluate(at(regular(), { clockOffsetMs: 1600 + 5000 })).score).toBe(1);
  });

  it('does not count twice a backward step that a re-synchronisation of the time map within tolerance explains', () => {
    const dim = new ClockSanity(params);
    dim.evaluate(at(regular(), { clockOffsetMs: 1000 }));
    // TIME_SYNC moved the map 33 ms back mid-window: samples after it are re-timed 33 ms earlier.
    const t = regular(100, 2000).map((x, i) => (i >= 50 ? x - 33 : x));
    const values = t.map((_, i) => i);
    expect(dim.evaluate(at(t, { clockOffsetMs: 967, values })).score).toBe(0);
    // Without that re-sync the same step is a clock fault.
    expect(new ClockSanity(params).evaluate(at(t, { values })).score).toBeCloseTo(33 / 990, 12);
  });

  it('differences the time map from the stream\'s start, so a re-sync within the first window is judged too', () => {
    const t = regular().map((x, i) => (i >= 50 ? x - 41 : x));
    const values = t.map((_, i) => i);
    expect(new ClockSanity(params, 5000).evaluate(at(t, { clockOffsetMs: 4959, values })).score).toBe(0);
    expect(new ClockSanity(params).evaluate(at(t, { clockOffsetMs: 4959, values })).score).toBeCloseTo(41 / 990, 12);
  });

  it('scores a non-finite timestamp 1, and falls back to the window\'s own span without a period', () => {
    const t = regular();
    t[3] = NaN;
    expect(new ClockSanity(params).evaluate(at(t)).score).toBe(1);
    const back = regular().map((x, i) => (i >= 50 ? x - 30 : x));
    const values = back.map((_, i) => i);
    // Without a period the expected position is the predecessor itself: 20 ms off over the 960 ms span.
    expect(new ClockSanity(params).evaluate(at(back, { periodMs: NaN, values })).score).toBeCloseTo(20 / (1960 - 1000), 12);
  });
});
