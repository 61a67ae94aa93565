import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random.js';
import { validateConfig } from '../config/schema.js';
import { silentLogger } from '../core/log.js';
import type { FrameHeader } from '../framing/frame.js';
import type { Hello } from '../framing/messages.js';
import { KNOWN_CHILDREN } from '../qa/catalog.js';
import type { AnomalyScorer, IntegrityCounters, QaConfig, Verdict } from '../qa/types.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';

const HELLO: Hello = {
  type: 'hello',
  fw: 'test/1',
  device: 'dev',
  channels: [
    { name: 'pressure', unit: 'bar', min: 0, max: 10 },
    { name: 'flow', unit: 'L/min', min: 0, max: 300 },
  ],
  rate_hz: 100,
  batch: 10,
  heartbeat_ms: 1000,
  commands: [],
  proto_min: 1,
};

function qa(edit: (q: QaConfig) => void = () => {}): QaConfig {
  const q = structuredClone(validateConfig({ device: 'd', serial: { path: '/dev/null' } }).qa) as QaConfig;
  edit(q);
  return q;
}

function counters(): { -readonly [K in keyof IntegrityCounters]: number } {
  return { frames: 0, discarded_bytes: 0, bad_cobs: 0, runt: 0, oversize: 0, bad_crc: 0, bad_version: 0, unknown_flags: 0, bad_body: 0, resyncs: 0, seq_gaps: 0, seq_resets: 0 };
}

/** A pipeline fed like the link feeds it; `send` pushes one batch of `n` samples starting at device ms `t`. */
function rig(o: Partial<PipelineOptions> = {}) {
  const verdicts: Verdict[] = [];
  const p = new Pipeline({ device: 'dev', window: { size: 100, hop: 100 }, qa: qa(), profileHash: null, toWallMs: (ms) => ms, ...o }, (v) => verdicts.push(structuredClone(v)), silentLogger);
  const rng = new Rng(1);
  const h: FrameHeader = { version: 1, incompat_flags: 0, compat_flags: 0, type: 1, seq: 0, time_ms: 0 };
  p.handle(h, HELLO);
  let k = 0;
  return {
    verdicts,
    /** One batch: pressure moves with a slow sine, flow against it. */
    send(t: number, n = 10, periodUs = 10_000, value?: (i: number) => [number, number]) {
      const values = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const s = Math.sin((2 * Math.PI * (k + i)) / 100);
        const [a, b] = value ? value(k + i) : [4 + 0.5 * s + 0.01 * rng.gauss(), 120 - 10 * s + 0.1 * rng.gauss()];
        values[2 * i] = a;
        values[2 * i + 1] = b;
      }
      k += n;
      h.time_ms = t;
      p.handle(h, { type: 'samples', channels: 2, period_us: periodUs, values });
    },
  };
}

const allOn = (edit: (q: QaConfig) => void = () => {}) =>
  qa((q) => {
    for (const name of KNOWN_CHILDREN) q[name].enabled = true;
    edit(q);
  });

describe('Pipeline and the QA graph', () => {
  it('judges the default graph only, as before', () => {
    const r = rig();
    for (let t = 0; t < 1000; t += 100) r.send(t);
    expect(r.verdicts).toHaveLength(2);
    expect(Object.keys(r.verdicts[0]!.children)).toEqual(['completeness', 'validity', 'flatline', 'spike']);
    expect(r.verdicts[0]!.parents).toEqual({ intrinsic: 'pass' });
    expect(r.verdicts[0]).not.toHaveProperty('parent_scores');
  });

  it('attaches the integrity children, from the injected counters, to every stream with the same values', () => {
    const c = counters();
    const r = rig({ qa: allOn(), integrity: () => c });
    for (let t = 0; t < 1000; t += 100) {
      c.frames++;
      r.send(t);
    }
    c.frames += 9;
    c.seq_gaps += 1;
    for (let t = 1000; t < 2000; t += 100) r.send(t);
    const [p1, f1, p2, f2] = r.verdicts;
    expect(p1!.children.sequence_continuity).toMatchObject({ score: 0, pass: true });
    expect(p2!.children.sequence_continuity).toMatchObject({ score: 0.1, pass: false, parent: 'integrity' });
    expect(f2!.children.sequence_continuity).toEqual(p2!.children.sequence_continuity);
    expect(f1!.children.frame_integrity).toEqual(p1!.children.frame_integrity);
    expect(p2!.parents.integrity).toBe('fail');
  });

  it('leaves the integrity and relevance children out without their inputs, even when enabled', () => {
    const r = rig({ qa: allOn() });
    for (let t = 0; t < 1000; t += 100) r.send(t);
    const names = Object.keys(r.verdicts[0]!.children);
    expect(names).not.toContain('frame_integrity');
    expect(names).not.toContain('relevance');
    expect(names).not.toContain('cross_sensor');
    expect(names).toContain('clock_sanity');
  });

  it('judges relevance on the streams the profile covers', () => {
    const r = rig({ qa: allOn(), profile: { version: 1, streams: { flow: { mean: { lo: 200, hi: 250 } } } } });
    for (let t = 0; t < 1000; t += 100) r.send(t);
    const [pressure, flow] = r.verdicts;
    expect(pressure!.children).not.toHaveProperty('relevance');
    expect(flow!.children.relevance).toMatchObject({ pass: false, code: 'relevance.outside_envelope' });
    expect(flow!.parents.contextual).toBe('fail');
  });

  it('gives a cross-sensor pair the partner\'s window over the same samples', () => {
    const pairs = (relation: 'positive' | 'negative') => allOn((q) => (q.cross_sensor.pairs = [{ a: 'pressure', b: 'flow', relation }]));
    const good = rig({ qa: pairs('negative') });
    const bad = rig({ qa: pairs('positive') });
    for (let t = 0; t < 1000; t += 100) {
      good.send(t);
      bad.send(t);
    }
    expect(good.verdicts[0]!.children.cross_sensor!.score).toBeLessThan(0.05);
    expect(good.verdicts[1]!.children.cross_sensor!.score).toBeLessThan(0.05);
    expect(bad.verdicts[0]!.children.cross_sensor).toMatchObject({ pass: false });
    expect(bad.verdicts[1]!.children.cross_sensor!.reason).toContain('correlation with pressure');
  });

  it('passes the nominal period from the HELLO rate, so samples 5 % slower than declared are late', () => {
    const r = rig({ qa: allOn() });
    for (let t = 0, i = 0; i < 10; i++, t += 105) r.send(t, 10, 10_500);
    expect(r.verdicts[0]!.children.timeliness!.score).toBeCloseTo(0.05 / 1.05, 6);
  });

  it('judges a device clock that steps back 50 ms as a clock fault, not as duplicates', () => {
    const clock = rig({ qa: allOn() });
    for (let t = 0; t < 500; t += 100) clock.send(t);
    for (let t = 450; t < 950; t += 100) clock.send(t);
    expect(clock.verdicts[0]!.children.clock_sanity).toMatchObject({ pass: false, code: 'clock_sanity.backwards' });
    expect(clock.verdicts[0]!.children.uniqueness).toMatchObject({ score: 0 });
  });

  it('judges a re-sent frame (same times and values) as duplicates', () => {
    const r = rig({ qa: allOn() });
    const wave = (i: number): [number, number] => [4 + Math.sin(i), 120 + Math.cos(i)];
    const v: [number, number][] = [];
    for (let t = 0; t < 500; t += 100) r.send(t, 10, 10_000, (i) => (v[i] = wave(i)));
    // The frame of 400 ms again: same time, same values.
    r.send(400, 10, 10_000, (i) => v[i - 10]!);
    for (let t = 500; t < 900; t += 100) r.send(t, 10, 10_000, (i) => wave(i - 10));
    expect(r.verdicts[0]!.children.uniqueness).toMatchObject({ score: 0.1, pass: false, code: 'uniqueness.duplicates' });
    expect(r.verdicts[0]!.children.clock_sanity!.score).toBe(0);
  });

  it('feeds a plugged-in anomaly scorer every sample once, per stream', () => {
    const fed: Record<string, number> = {};
    const factory = (c: { name: string }): AnomalyScorer => ({
      update() {
        fed[c.name] = (fed[c.name] ?? 0) + 1;
        return 0.25;
      },
    });
    const r = rig({ qa: allOn(), anomalyScorer: factory, window: { size: 100, hop: 50 } });
    for (let t = 0; t < 2000; t += 100) r.send(t);
    expect(fed).toEqual({ pressure: 200, flow: 200 });
    expect(r.verdicts.every((v) => v.children.anomaly!.score === 0.25)).toBe(true);
  });

  it('publishes parent_scores for a weighted parent', () => {
    const r = rig({ qa: qa((q) => (q.parents.intrinsic = { decision: 'weighted', weights: { spike: 1 }, bias: -4, threshold: 0.5 })) });
    for (let t = 0; t < 1000; t += 100) r.send(t);
    expect(r.verdicts[0]!.parent_scores!.intrinsic!.threshold).toBe(0.5);
    expect(r.verdicts[0]!.parent_scores!.intrinsic!.p).toBeLessThan(0.05);
  });
});

describe('windows judged with a QA model (the asynchronous model stage)', () => {
  /** A model port whose answers the test releases by hand (unit test of this layer only). */
  function port(channels: string[] | undefined) {
    const pending: { windows: readonly Float64Array[]; resolve: (r: { ratios: Record<string, number>; name: string } | undefined) => void }[] = [];
    return {
      pending,
      channels,
      score(windows: readonly Float64Array[]) {
        return new Promise<{ ratios: Record<string, number>; name: string } | undefined>((resolve) => pending.push({ windows, resolve }));
      },
    };
  }

  it('judges in order once the model answers, with the model score in the anomaly child and the verdict', async () => {
    const m = port(['pressure', 'flow']);
    const r = rig({ model: m, qa: qa((q) => (q.anomaly.enabled = true)) });
    for (let t = 0; t < 3000; t += 100) r.send(t);
    expect(m.pending).toHaveLength(3);
    expect(r.verdicts).toHaveLength(0);
    // Aligned windows, in the model's channel order, copied out of the rings.
    expect(m.pending[0]!.windows[0]![0]).toBeCloseTo(4, 1);
    expect(m.pending[0]!.windows[1]![0]).toBeCloseTo(120, 0);
    // Answers arrive out of order; verdicts still come in window order.
    m.pending[2]!.resolve({ ratios: { pressure: 0.1, flow: 0.1 }, name: 'm@1' });
    m.pending[1]!.resolve({ ratios: { pressure: 3, flow: 0.1 }, name: 'm@1' });
    m.pending[0]!.resolve({ ratios: { pressure: 0.2, flow: 0.2 }, name: 'm@1' });
    await new Promise((res) => setTimeout(res, 0));
    const p = r.verdicts;
    expect(p.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(p.map((v) => v.model)).toEqual(Array(6).fill('m@1'));
    const second = p.filter((v) => v.stream === 'pressure')[1]!;
    expect(second.children.anomaly!.pass).toBe(false);
    expect(second.children.anomaly!.score).toBeCloseTo(0.75, 6);
    expect(p.filter((v) => v.stream === 'pressure')[0]!.children.anomaly!.pass).toBe(true);
  });

  it('leaves the anomaly child to the model: a stream the model does not read is not judged by it', async () => {
    const m = port(['pressure', 'flow']);
    const r = rig({ model: m, qa: qa((q) => (q.anomaly.enabled = true)) });
    for (let t = 0; t < 1000; t += 100) r.send(t);
    m.pending[0]!.resolve({ ratios: { pressure: 2 }, name: 'forecaster@1' });
    await new Promise((res) => setTimeout(res, 0));
    const [p, f] = r.verdicts;
    expect(p!.model).toBe('forecaster@1');
    expect(p!.children.anomaly!.pass).toBe(false);
    expect(f!.model).toBeNull();
    expect(f!.children.anomaly!.score).toBe(0);
    expect(f!.children.anomaly!.reason).toMatch(/not judged: model forecaster@1 does not read this stream/);
  });

  it('judges without the model when it has no answer (unavailable), and counts it', async () => {
    const m = port(['pressure', 'flow']);
    const r = rig({ model: m });
    for (let t = 0; t < 1000; t += 100) r.send(t);
    m.pending[0]!.resolve(undefined);
    await new Promise((res) => setTimeout(res, 0));
    expect(r.verdicts.map((v) => v.model)).toEqual([null, null]);
  });

  it('does not wait for a model whose channels the device does not have', async () => {
    const m = port(['pressure', 'temperature']);
    const r = rig({ model: m });
    for (let t = 0; t < 1000; t += 100) r.send(t);
    expect(m.pending).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 0));
    expect(r.verdicts).toHaveLength(2);
  });

  it('bounds the windows waiting for the model: beyond the limit they are judged without it, in order', async () => {
    const m = port(['pressure', 'flow']);
    const r = rig({ model: m, modelMaxPending: 2 });
    for (let t = 0; t < 5000; t += 100) r.send(t);
    expect(m.pending).toHaveLength(2);
    for (const q of m.pending) q.resolve({ ratios: { pressure: 0, flow: 0 }, name: 'm@1' });
    await new Promise((res) => setTimeout(res, 0));
    expect(r.verdicts.map((v) => v.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(r.verdicts.map((v) => v.model)).toEqual([...Array(4).fill('m@1'), ...Array(6).fill(null)]);
  });

  describe('under the budget governor (DESIGN §7)', () => {
    const budget = (o: { judging?: boolean; model?: () => boolean; children?: ReadonlySet<string>; adapting?: boolean }) => ({
      judging: () => o.judging ?? true,
      modelTurn: o.model ?? (() => true),
      children: () => o.children,
      adapting: () => o.adapting ?? true,
    });

    it('reduced: sends every k-th window set to the model, judges the others without the anomaly child, and runs only the allowed children', async () => {
      const m = port(['pressure', 'flow']);
      let turn = 0;
      const allowed = new Set(['completeness', 'validity', 'flatline', 'anomaly']);
      const r = rig({ model: m, qa: qa((q) => (q.anomaly.enabled = true)), budget: budget({ model: () => ++turn % 2 === 0, children: allowed }) });
      for (let t = 0; t < 4000; t += 100) r.send(t);
      expect(m.pending).toHaveLength(2);
      for (const p of m.pending) p.resolve({ ratios: { pressure: 0.1, flow: 0.1 }, name: 'm@1' });
      await new Promise((res) => setTimeout(res, 0));
      expect(r.verdicts).toHaveLength(8);
      const withModel = r.verdicts.filter((v) => v.model === 'm@1');
      expect(withModel).toHaveLength(4);
      for (const v of withModel) expect(Object.keys(v.children)).toEqual(['completeness', 'validity', 'flatline', 'anomaly']);
      for (const v of r.verdicts.filter((x) => x.model === null)) expect(Object.keys(v.children)).toEqual(['completeness', 'validity', 'flatline']);
    });

    it('duty-cycled: skips windows in the off phase and counts them; no verdict is made for them', () => {
      let on = true;
      const r = rig({ budget: { judging: () => on, modelTurn: () => false, children: () => undefined, adapting: () => false } });
      for (let t = 0; t < 1000; t += 100) r.send(t);
      on = false;
      for (let t = 1000; t < 2000; t += 100) r.send(t);
      on = true;
      for (let t = 2000; t < 3000; t += 100) r.send(t);
      expect(r.verdicts.map((v) => v.t0)).toEqual([0, 0, 2000, 2000]);
    });

    it('hands every judged window to the adaptation layer unless the mode forbids learning, and asks it for each stream\'s hooks', () => {
      const seen: string[] = [];
      const asked: string[] = [];
      let adapting = true;
      const adapt = {
        hooks: (stream: string) => {
          asked.push(stream);
          return { envelope: () => undefined, anomalyThreshold: () => 0.01 };
        },
        observe: (stream: string, values: Float64Array, v: Verdict) => seen.push(`${stream}:${v.seq}:${values.length}`),
      };
      const r = rig({ adapt, qa: qa((q) => (q.anomaly.enabled = true)), budget: { judging: () => true, modelTurn: () => true, children: () => undefined, adapting: () => adapting } });
      for (let t = 0; t < 1000; t += 100) r.send(t);
      adapting = false;
      for (let t = 1000; t < 2000; t += 100) r.send(t);
      expect(asked).toEqual(['pressure', 'flow']);
      expect(seen).toEqual(['pressure:1:100', 'flow:2:100']);
      expect(r.verdicts).toHaveLength(4);
      // The adaptive threshold (0.01) is the anomaly child's threshold.
      expect(r.verdicts[0]!.children.anomaly!.threshold).toBe(0.01);
    });

    it('never lets an adaptive threshold be looser than the configured one', () => {
      const adapt = { hooks: () => ({ envelope: () => undefined, anomalyThreshold: () => 0.9 }), observe: () => {} };
      const r = rig({ adapt, qa: qa((q) => (q.anomaly.enabled = true)) });
      for (let t = 0; t < 1000; t += 100) r.send(t);
      expect(r.verdicts[0]!.children.anomaly!.threshold).toBe(0.5);
    });
  });
});
