import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../runtime/config/schema.js';
import { silentLogger } from '../../runtime/core/log.js';
import { verdictFails, type Verdict } from '../../runtime/qa/types.js';
import { judgeReplay, type Replay } from '../eval/faults.js';
import { startSim } from '../run-sim.js';
import { testBrokers, uniqueDevice } from '../testing/brokers.js';
import { runCli } from '../testing/cli.js';
import { collect } from '../testing/collector.js';
import { compressedAir, developingLeakSource } from './compressed-air.js';
import { generate, type Generated } from './generate.js';
import { getScenario } from './index.js';
import { pump } from './pump.js';
import { FAULT_KINDS, parseFaults, type FaultKind } from './scenario.js';

const C = 3;
const [P, F, KW] = [0, 1, 2] as const;
const at = (g: Generated, i: number, c: number) => g.values[i * C + c]!;
const faults = (...k: FaultKind[]) => new Set<FaultKind>(k);

/** The compressor is loaded where its power is above the middle of the idle and loaded levels. */
const LOADED_KW = 35;

/** Maximal runs [start, end) of samples where the compressor is loaded (or idle). */
function runs(g: Generated, loaded: boolean): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let s = -1;
  for (let i = 0; i <= g.samples; i++) {
    const inRun = i < g.samples && at(g, i, KW) > LOADED_KW === loaded;
    if (inRun && s < 0) s = i;
    if (!inRun && s >= 0) {
      out.push({ start: s, end: i });
      s = -1;
    }
  }
  return out;
}

/** Least-squares slope of the pressure over [a, b), in bar/s. */
function slope(g: Generated, a: number, b: number): number {
  let n = 0;
  let st = 0;
  let sp = 0;
  let stt = 0;
  let stp = 0;
  for (let i = a; i < b; i++) {
    const t = i / g.rateHz;
    const p = at(g, i, P);
    n++;
    st += t;
    sp += p;
    stt += t * t;
    stp += t * p;
  }
  return (n * stp - st * sp) / (n * stt - st * st);
}

function mean(g: Generated, c: number, a: number, b: number): number {
  let s = 0;
  for (let i = a; i < b; i++) s += at(g, i, c);
  return s / (b - a);
}

const avg = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

describe('the compressed-air scenario', () => {
  it('is registered beside the pump and plays the leak that the pump ignores', () => {
    expect(getScenario('compressed-air')).toBe(compressedAir);
    expect(FAULT_KINDS).toContain('leak');
    expect(parseFaults('stuck, leak')).toEqual(new Set(['stuck', 'leak']));
    expect(parseFaults('default')).toEqual(new Set(FAULT_KINDS));
    expect(parseFaults('lek')).toMatch(/unknown fault "lek".*leak/);
    expect(new Set(compressedAir.episodes.map((e) => e.fault))).toEqual(new Set(FAULT_KINDS));
    expect(compressedAir.episodes.find((e) => e.fault === 'leak')!.expectedChild).toBe('anomaly');
    // The pump has no leak episode; asking for one changes nothing.
    expect(pump.episodes.some((e) => e.fault === 'leak')).toBe(false);
    expect(generate(pump, 3, 40, faults('leak')).values).toEqual(generate(pump, 3, 40).values);
    expect(() => getScenario('toString')).toThrow(/unknown scenario/);
  });

  it('replays the same samples from the same seed and different ones from another seed', () => {
    const a = generate('compressed-air', 42, 300, parseFaults('default') as Set<FaultKind>);
    const b = generate('compressed-air', 42, 300, parseFaults('default') as Set<FaultKind>);
    const c = generate('compressed-air', 43, 300, parseFaults('default') as Set<FaultKind>);
    expect(a.samples).toBe(3000);
    expect(a.values).toEqual(b.values);
    expect(a.times).toEqual(b.times);
    expect(a.values).not.toEqual(c.values);
    expect(a.times[10]).toBe(1000);
  });

  it('keeps every channel inside its physical range, and the clean plant inside its operating bands', () => {
    for (const seed of [1, 2, 3]) {
      const g = generate(compressedAir, seed, 1200);
      expect(g.values.every(Number.isFinite)).toBe(true);
      const lo = [Infinity, Infinity, Infinity];
      const hi = [-Infinity, -Infinity, -Infinity];
      for (let i = 0; i < g.samples; i++) {
        for (let c = 0; c < C; c++) {
          lo[c] = Math.min(lo[c]!, at(g, i, c));
          hi[c] = Math.max(hi[c]!, at(g, i, c));
        }
      }
      compressedAir.channels.forEach((ch, c) => {
        expect(lo[c]).toBeGreaterThan(ch.min);
        expect(hi[c]).toBeLessThan(ch.max);
      });
      // Pressure: the 6.5–7.5 bar band, a little under at the load point while the inlet valve opens.
      expect(lo[P]).toBeGreaterThan(6.35);
      expect(hi[P]).toBeLessThan(7.6);
      // Demand: the night base to a busy shift with tools on.
      expect(lo[F]).toBeGreaterThan(3.3);
      expect(hi[F]).toBeLessThan(8.5);
      // Power: unloaded ≈ 17 kW, loaded ≈ 55 kW.
      expect(lo[KW]).toBeGreaterThan(15.5);
      expect(hi[KW]).toBeLessThan(60);
    }
  });

  it('draws a sawtooth: loads at 6.5 bar, unloads at 7.5 bar, rising while loaded and falling while idle', () => {
    const g = generate(compressedAir, 1, 1200);
    const loaded = runs(g, true).filter((r) => r.start > 0 && r.end < g.samples);
    const idle = runs(g, false).filter((r) => r.start > 0 && r.end < g.samples);
    // ≈ 40 s per sawtooth at the mean demand: three per 120 s fault cycle.
    expect(loaded.length).toBeGreaterThanOrEqual(25);
    expect(loaded.length).toBeLessThanOrEqual(35);
    expect(idle.length).toBeGreaterThanOrEqual(25);
    for (let j = 0; j + 1 < loaded.length; j++) {
      // One cycle: from a load start to the next. Its peak is the unload set point.
      let peak = -Infinity;
      for (let i = loaded[j]!.start; i < loaded[j + 1]!.start; i++) peak = Math.max(peak, at(g, i, P));
      expect(peak).toBeGreaterThan(7.47);
      expect(peak).toBeLessThan(7.56);
    }
    for (const r of loaded) {
      // Around a load start the trough is the load set point (less the inlet valve's second).
      let trough = Infinity;
      for (let i = r.start - 30; i < r.start + 30; i++) trough = Math.min(trough, at(g, i, P));
      expect(trough).toBeGreaterThan(6.38);
      expect(trough).toBeLessThan(6.52);
      // Power lags the valve: skip the inlet opening at the start and the blowdown at the end.
      expect(slope(g, r.start + 15, r.end - 30)).toBeGreaterThan(0.005);
      expect(mean(g, KW, r.start + 15, r.end - 30)).toBeGreaterThan(52);
    }
    for (const r of idle) {
      expect(slope(g, r.start, r.end)).toBeLessThan(-0.04);
      expect(mean(g, KW, r.start + 60 < r.end ? r.start + 60 : r.start, r.end)).toBeLessThan(30);
    }
  });

  it('a leak makes the idle pressure fall faster than the metered demand explains, and keeps the compressor loaded longer', () => {
    const seconds = 1800;
    const clean = generate(compressedAir, 5, seconds);
    const leaky = generate(compressedAir, 5, seconds, faults('leak'));
    const spans = leaky.episodes;
    expect(spans.map((e) => [e.fault, e.startS, e.endS])).toEqual(Array.from({ length: 15 }, (_, k) => ['leak', 120 * k + 70, 120 * k + 120]));
    // The leak is upstream of the flow meter: the metered demand is the same sample for sample.
    const flow = (g: Generated) => g.values.filter((_, j) => j % C === F);
    expect(flow(leaky)).toEqual(flow(clean));

    // Per idle phase inside a leak span: the decay rate, and what the metered demand explains of it
    // (isothermal receiver: dp/dt = −P_atm/V · Q/60, V = 1.2 m³). Skip the first second (the inlet
    // valve is still closing) and require 3 s of data.
    const decay = (g: Generated) =>
      runs(g, false)
        .map((r) => ({ start: r.start + 10, end: r.end }))
        .filter((r) => r.end - r.start >= 30 && spans.some((e) => r.start >= e.start && r.end <= e.end))
        .map((r) => {
          const rate = -slope(g, r.start, r.end);
          const explained = ((1.013 / 1.2) * mean(g, F, r.start, r.end)) / 60;
          return { rate, explained, excess: rate - explained };
        });
    const c = decay(clean);
    const l = decay(leaky);
    expect(c.length).toBeGreaterThanOrEqual(10);
    expect(l.length).toBeGreaterThanOrEqual(5);
    // Clean: the background leaks (≈ 0.4 m³/min) add ≈ 0.006 bar/s to what the demand explains.
    for (const x of c) expect(x.excess).toBeLessThan(0.012);
    // The leak (≈ 1.9 m³/min at 7 bar) adds ≈ 0.027 bar/s more: every leaky idle phase shows it.
    for (const x of l) expect(x.excess).toBeGreaterThan(0.022);
    expect(avg(l.map((x) => x.excess)) - avg(c.map((x) => x.excess))).toBeGreaterThan(0.02);
    expect(avg(l.map((x) => x.excess)) - avg(c.map((x) => x.excess))).toBeLessThan(0.035);
    expect(avg(l.map((x) => x.rate / x.explained))).toBeGreaterThan(1.25 * avg(c.map((x) => x.rate / x.explained)));
    expect(avg(l.map((x) => x.rate))).toBeGreaterThan(1.1 * avg(c.map((x) => x.rate)));

    // The compressor runs loaded for a larger share of the leak spans.
    const duty = (g: Generated) => {
      let on = 0;
      let n = 0;
      for (const e of spans) for (let i = e.start; i < e.end; i++, n++) if (at(g, i, KW) > LOADED_KW) on++;
      return on / n;
    };
    expect(duty(leaky)).toBeGreaterThan(duty(clean) + 0.1);
  });

  it('a developing leak: the same plant until it starts, then the compressor loads more as the orifice opens, and stays so', () => {
    const n = 3600 * 10;
    const clean = compressedAir.createSource(5, faults());
    const leaky = developingLeakSource(5, { startS: 600, rampS: 1800 });
    const a = new Float64Array(C);
    const b = new Float64Array(C);
    const loaded = [0, 0, 0, 0];
    const loadedClean = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      clean.next(a);
      leaky.next(b);
      if (i < 6000) expect(b[P], `sample ${i}`).toBe(a[P]);
      const q = Math.min(3, Math.floor(i / 9000));
      if (b[KW]! > 40) loaded[q]!++;
      if (a[KW]! > 40) loadedClean[q]!++;
    }
    const share = (x: number[]) => x.map((k) => (k / 9000).toFixed(2));
    console.log(`developing leak: compressor loaded ${share(loaded).join(', ')} of each quarter hour (without: ${share(loadedClean).join(', ')})`);
    expect(loaded[3]! / 9000).toBeGreaterThan(loadedClean[3]! / 9000 + 0.1);
    expect(loaded[3]!).toBeGreaterThan(loaded[1]!);
  });

  it('places every fault where its episode says, and nowhere else', () => {
    const g = generate(compressedAir, 9, 240, parseFaults('default') as Set<FaultKind>);
    expect(g.episodes.map((e) => `${e.fault}@${e.startS}`)).toEqual(
      ['stuck@10', 'missing@25', 'spikes@40', 'range@55', 'leak@70', 'stuck@130', 'missing@145', 'spikes@160', 'range@175', 'leak@190'],
    );
    const inside = (fault: FaultKind, i: number) => g.episodes.some((e) => e.fault === fault && i >= e.start && i < e.end);
    for (let i = 0; i < g.samples; i++) {
      expect(Number.isNaN(at(g, i, KW))).toBe(inside('missing', i));
      expect(at(g, i, P) < 0).toBe(inside('range', i));
      if (inside('stuck', i) && inside('stuck', i - 1)) expect(at(g, i, P)).toBe(at(g, i - 1, P));
    }
    const stuck = g.episodes[0]!;
    expect([stuck.start, stuck.end, stuck.channelIndex]).toEqual([100, 250, P]);
  });

  it('fails each sensor fault on its own rule child and passes the leak and every clean window (default graph)', () => {
    const g = generate(compressedAir, 3, 480, parseFaults('default') as Set<FaultKind>);
    const s = compressedAir;
    const replay: Replay = {
      hello: { type: 'hello', fw: s.fw, device: s.device, channels: s.channels, rate_hz: s.rateHz, batch: 10, heartbeat_ms: 1000, commands: [], proto_min: 1 },
      times: g.times.map((t) => 1_700_000_000_000 + t),
      values: s.channels.map((_, c) => Float64Array.from({ length: g.samples }, (_, i) => Math.fround(at(g, i, c)))),
      periodMs: 1000 / s.rateHz,
    };
    const W = 100;
    const verdicts = judgeReplay(replay, validateConfig({ device: s.device, serial: { path: '/dev/null' }, window: { size: W, hop: W }, log: { level: 'silent' } }));
    let clean = 0;
    for (const ch of s.channels) {
      const list = verdicts.get(ch.name)!;
      expect(list).toHaveLength(48);
      list.forEach((v, j) => {
        const [a, b] = [j * W, (j + 1) * W];
        const within = g.episodes.find((e) => e.channel === ch.name && a >= e.start && b <= e.end);
        const touched = g.episodes.some((e) => e.channel === ch.name && a < e.end && b > e.start);
        if (within && within.fault !== 'leak') {
          expect(v.failed, `${within.fault} on ${ch.name} at ${a / 10} s`).toContain(within.expectedChild);
        } else if (!touched || within?.fault === 'leak') {
          // No rule sees the leak: that is the forecaster's job.
          expect(verdictFails(v), `${ch.name} at ${a / 10} s: ${v.failed.join(',')}`).toBe(false);
          clean++;
        }
      });
    }
    expect(clean).toBeGreaterThan(100);
  });

  it('runs end to end from the command line: tinyqa sim --scenario compressed-air --speed max --duration 20 --json', async () => {
    const r = await runCli(['sim', '--scenario', 'compressed-air', '--speed', 'max', '--duration', '20', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const verdicts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { device: string; stream: string; seq: number; n: number; failed: string[]; parents: { intrinsic: string } });
    // 20 s × 10 Hz / 100-sample windows × 3 streams.
    expect(verdicts).toHaveLength(6);
    expect(new Set(verdicts.map((v) => v.device))).toEqual(new Set(['air-01']));
    expect(new Set(verdicts.map((v) => v.stream))).toEqual(new Set(['pressure', 'flow', 'compressor_kw']));
    expect(verdicts.every((v) => v.n === 100)).toBe(true);
    // 10–25 s of the cycle: the pressure transmitter is stuck, so the second pressure window fails.
    const pressure = verdicts.filter((v) => v.stream === 'pressure');
    expect(pressure.map((v) => v.parents.intrinsic)).toEqual(['pass', 'fail']);
    expect(pressure[1]!.failed).toContain('flatline');
    expect(verdicts.filter((v) => v.stream !== 'pressure').every((v) => v.parents.intrinsic === 'pass')).toBe(true);
    expect(r.stderr).toMatch(/broker acknowledged (\d+)\/\1 messages \(6 verdicts, \d+ actions\)/);
  });
});

describe.each(testBrokers())('the compressed-air plant end to end through a pseudo-terminal and the $name', (factory) => {
  it('publishes every window, fails each sensor fault on its child, and passes the leak and the clean windows', async () => {
    const broker = await factory.start();
    try {
      const device = uniqueDevice('air');
      const received = await collect(broker.url, 'tinyqa/v1', device);
      const local: Verdict[] = [];
      const sim = startSim({
        scenario: 'compressed-air',
        faults: parseFaults('default') as Set<FaultKind>,
        speed: Infinity,
        durationS: 240,
        seed: 7,
        broker: broker.url,
        config: { device, log: { level: 'silent' }, store: { dir: '' } },
        log: silentLogger,
        onVerdict: (v) => local.push(v),
      });
      const result = await sim.done;
      await received.waitFor(() => received.verdicts.length >= result.verdicts && received.status.at(-1)?.state === 'offline');
      await received.sub.close();
      // 240 s × 10 Hz / 100-sample windows × 3 streams.
      expect(result.verdicts).toBe(72);
      expect(received.verdicts).toEqual(local);
      expect(new Set(result.episodes.map((e) => e.fault))).toEqual(new Set(FAULT_KINDS));
      const inside = (v: Verdict, e: { startMs: number; endMs: number }) => v.t0 >= e.startMs && v.t1 < e.endMs;
      const overlaps = (v: Verdict, e: { startMs: number; endMs: number }) => v.t0 < e.endMs && v.t1 >= e.startMs;
      for (const ep of result.episodes) {
        const hit = local.filter((v) => v.stream === ep.channel && inside(v, ep));
        expect(hit.length, `${ep.fault} on ${ep.channel}`).toBeGreaterThanOrEqual(1);
        for (const v of hit) {
          if (ep.fault === 'leak') expect(v.parents.intrinsic, `leak window ${v.seq}: ${v.failed.join(',')}`).toBe('pass');
          else expect(v.failed, `${ep.fault} window ${v.seq}`).toContain(ep.expectedChild);
        }
      }
      const clean = local.filter((v) => !result.episodes.some((ep) => ep.fault !== 'leak' && ep.channel === v.stream && overlaps(v, ep)));
      expect(clean.length).toBeGreaterThan(50);
      for (const v of clean) expect(v.parents.intrinsic, `clean window ${v.seq} (${v.stream}): ${v.failed.join(',')}`).toBe('pass');
    } finally {
      await broker.close();
    }
  });
});
