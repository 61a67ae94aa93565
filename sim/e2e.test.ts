/**
 * The whole path, with real parts: firmware emulator → real pseudo-terminal → serialport → framing →
 * windows → QA graph → MQTT publisher → a real broker → an independent subscriber.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../runtime/core/log.js';
import type { Verdict } from '../runtime/qa/types.js';
import { startSim, type SimResult } from './run-sim.js';
import { FAULT_KINDS, parseFaults } from './scenarios/scenario.js';
import { testBrokers, uniqueDevice, type TestBroker } from './testing/brokers.js';
import { collect, type Collected } from './testing/collector.js';

interface Run {
  result: SimResult;
  local: Verdict[];
  received: Collected;
}

async function replay(broker: TestBroker, faults: string, durationS: number, extra: { garbage?: number; seed?: number } = {}): Promise<Run> {
  const device = uniqueDevice('pump');
  const received = await collect(broker.url, 'tinyqa/v1', device);
  const local: Verdict[] = [];
  const f = parseFaults(faults);
  if (typeof f === 'string') throw new Error(f);
  const sim = startSim({
    scenario: 'pump',
    faults: f,
    speed: Infinity,
    durationS,
    seed: extra.seed ?? 7,
    broker: broker.url,
    config: { device, log: { level: 'silent' }, store: { dir: '' } },
    ...(extra.garbage ? { garbageProbability: extra.garbage } : {}),
    log: silentLogger,
    onVerdict: (v) => local.push(v),
  });
  const result = await sim.done;
  await received.waitFor(() => received.verdicts.length >= result.verdicts && received.actions.length >= (result.counters.mqtt_actions ?? 0) && received.status.at(-1)?.state === 'offline');
  await received.sub.close();
  return { result, local, received };
}

const overlaps = (v: Verdict, s: { startMs: number; endMs: number }) => v.t0 < s.endMs && v.t1 >= s.startMs;
const inside = (v: Verdict, s: { startMs: number; endMs: number }) => v.t0 >= s.startMs && v.t1 < s.endMs;

describe.each(testBrokers())('end to end through a pseudo-terminal and the $name', (factory) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await factory.start();
  });
  afterAll(async () => {
    await broker.close();
  });

  it('fails the windows of every injected episode on the right child and passes every other window', async () => {
    const { result, local, received } = await replay(broker, 'default', 60);
    // 60 s × 100 Hz / 100-sample windows × 3 streams
    expect(result.verdicts).toBe(180);
    expect(result.flushed).toBe(true);
    expect(received.verdicts).toHaveLength(180);
    expect(received.verdicts).toEqual(local);
    // Verdicts and actions share one durable sequence: together they are 0, 1, 2, … with no gap.
    const all = [...received.verdicts, ...received.actions].map((m) => (m as { seq: number }).seq).sort((a, b) => a - b);
    expect(all).toEqual(all.map((_, i) => i));
    expect(received.verdictTopics.every((t, i) => t === `tinyqa/v1/${local[i]!.device}/verdict/${local[i]!.stream}`)).toBe(true);

    // Every fault kind the pump plays (all but the compressed-air leak) occurs twice (two 30 s
    // cycles), each caught by its own child.
    expect(new Set(result.episodes.map((e) => e.fault))).toEqual(new Set(FAULT_KINDS.filter((k) => k !== 'leak')));
    for (const ep of result.episodes) {
      const hit = local.filter((v) => v.stream === ep.channel && inside(v, ep));
      expect(hit.length, `${ep.fault} on ${ep.channel}`).toBeGreaterThanOrEqual(1);
      for (const v of hit) {
        expect(v.parents.intrinsic, `${ep.fault} window ${v.seq}`).toBe('fail');
        expect(v.failed, `${ep.fault} window ${v.seq}`).toContain(ep.expectedChild);
        expect(v.children[ep.expectedChild]!.pass).toBe(false);
        expect(v.children[ep.expectedChild]!.reason.length).toBeGreaterThan(0);
      }
    }
    const clean = local.filter((v) => !result.episodes.some((ep) => ep.channel === v.stream && overlaps(v, ep)));
    expect(clean.length).toBeGreaterThan(140);
    for (const v of clean) expect(v.parents.intrinsic, `clean window ${v.seq} (${v.stream}): ${v.failed.join(',')}`).toBe('pass');

    // Every verdict carries what a subscriber needs to know why.
    const v = local[0]!;
    expect(Object.keys(v.children).sort()).toEqual(['completeness', 'flatline', 'spike', 'validity']);
    for (const c of Object.values(v.children)) {
      expect(c.score).toBeGreaterThanOrEqual(0);
      expect(c.score).toBeLessThanOrEqual(1);
      expect(typeof c.threshold).toBe('number');
      expect(typeof c.pass).toBe('boolean');
    }
    expect(v.t1 - v.t0).toBeCloseTo(990, 0);
    expect(v.n).toBe(100);

    // The policy's actions reach the action topic: stuck pressure and missing flow windows are
    // quarantined, and each episode raises one debounced alarm naming its child.
    const alerts = received.actions.filter((a) => a.kind === 'alert' && a.state === 'raised');
    expect(alerts.some((a) => a.stream === 'pressure' && a.child === 'flatline')).toBe(true);
    expect(alerts.some((a) => a.stream === 'flow' && a.child === 'completeness')).toBe(true);
    expect(received.actions.some((a) => a.kind === 'quarantine' && a.stream === 'pressure')).toBe(true);
    expect(received.actions.filter((a) => a.kind === 'alert' && a.state === 'raised' && a.stream === 'pressure' && a.child === 'flatline')).toHaveLength(2);

    // Birth on connect, "offline" on the graceful stop; both retained for late subscribers.
    expect(received.status.map((s) => s.state)).toContain('online');
    expect(received.status.at(-1)?.state).toBe('offline');
  });

  it('raises no alarm on a clean replay', async () => {
    const { result, local } = await replay(broker, 'none', 120, { seed: 11 });
    expect(result.verdicts).toBe(360);
    expect(local.filter((v) => v.parents.intrinsic !== 'pass').map((v) => `${v.stream}#${v.seq}: ${v.failed.join(',')}`)).toEqual([]);
  });

  it('recovers every frame when garbage bytes are mixed into the serial line', async () => {
    const { result, local } = await replay(broker, 'none', 30, { garbage: 0.3, seed: 5 });
    expect(result.emulator.garbageBursts).toBeGreaterThan(50);
    // Every garbage byte is discarded, plus the lone delimiter the device sends at boot (PROTOCOL §2).
    expect(result.counters.discarded_bytes).toBe(result.emulator.garbageBytes + 1);
    expect(result.counters.samples).toBe(result.emulator.samples);
    expect(result.counters.bad_message).toBe(0);
    expect(result.counters.seq_gaps).toBe(0);
    expect(result.counters.frames).toBe(result.emulator.frames);
    expect(local).toHaveLength(90);
    expect(local.every((v) => v.parents.intrinsic === 'pass')).toBe(true);
  });
});
