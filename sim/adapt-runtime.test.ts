/**
 * The adaptation layer and the governor in the composed runtime (createRuntime): the smart meter's
 * PV drift is learned and published as actions, the state survives a restart through its checkpoint,
 * and the governor's mode — driven by a battery mirrored into a sysfs-like folder — is on the health
 * report and announced by a `budget` action.
 */

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../runtime/config/schema.js';
import { createLogger } from '../runtime/core/log.js';
import type { Pipeline } from '../runtime/pipeline/pipeline.js';
import { MemoryPublisher } from '../runtime/publish/memory.js';
import { ProfileBuilder } from '../runtime/qa/profile.js';
import { createRuntime } from '../runtime/root.js';
import { MockTransport } from '../runtime/transport/mock.js';
import { BatteryModel, SysfsBatteryWriter } from './battery.js';
import { feedReplay, type Replay, scenarioReplay } from './eval/faults.js';
import { createSmartMeter, SAMPLES_PER_DAY } from './scenarios/smart-meter.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Samples [from, to) of the replay, after the HELLO a (re)started link would see first. */
function feed(p: Pipeline, r: Replay, from: number, to: number): void {
  p.handle({ version: 1, incompat_flags: 0, compat_flags: 0, type: 1, seq: 0, time_ms: 0 }, r.hello);
  feedReplay(p, r, from, to);
}

describe('adaptation and the governor in the runtime', () => {
  it('learns the PV drift, publishes it, keeps it across a restart, and reports the budget mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-adapt-rt-'));
    dirs.push(dir);
    const meter = createSmartMeter({ solarDay: 3 });
    const W = 60;
    // The reference envelope: four days of another household without PV.
    const train = scenarioReplay(createSmartMeter({ solarDay: Infinity }), 4 * SAMPLES_PER_DAY, 1001);
    const b = new ProfileBuilder();
    train.values.forEach((v, c) => {
      for (let i = 0; i + W <= v.length; i += W) b.add(meter.channels[c]!.name, v.subarray(i, i + W));
    });
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(b.build(W)));
    const sysfs = new SysfsBatteryWriter(join(dir, 'power'));
    sysfs.write(new BatteryModel({ capacityWh: 10, initialPercent: 80 }));
    const config = validateConfig({
      device: 'meter-rt',
      serial: { path: '/dev/null' },
      window: { size: W, hop: W },
      log: { level: 'silent' },
      health: { interval_s: 0 },
      qa: { relevance: { enabled: true, profile: join(dir, 'profile.json') } },
      adapt: { enabled: true, checkpoint_dir: join(dir, 'adapt'), checkpoint_s: 1 },
      governor: { enabled: true, tick_s: 1, power_supply_dir: join(dir, 'power'), thermal_path: '' },
    });
    const replay = scenarioReplay(meter, 12 * SAMPLES_PER_DAY, 1);
    const split = 8 * SAMPLES_PER_DAY;

    // First run: eight days, PV from day 3.
    const pub1 = new MemoryPublisher();
    const rt1 = createRuntime(config, { transport: new MockTransport(), publisher: pub1, log: createLogger('silent') });
    await rt1.start();
    feed(rt1.pipeline, replay, 0, split);
    await new Promise((r) => setTimeout(r, 50));
    const promoted = pub1.actions.filter((a) => a.kind === 'adapt' && a.event === 'promoted');
    expect(promoted.length).toBeGreaterThan(0);
    expect(promoted[0]!.reason).toMatch(/candidate promoted/);
    const generation = rt1.adapter!.active('import_kw')!.generation;
    const envelope = rt1.adapter!.active('import_kw')!.envelope;
    expect(generation).toBeGreaterThan(0);
    // The learned envelope reaches down to the export the PV brings.
    expect(envelope!.mean!.lo).toBeLessThan(-0.5);
    rt1.publishHealth();
    expect((pub1.health.at(-1) as { budget_mode?: string }).budget_mode).toBe('full');
    await rt1.stop();
    expect(readdirSync(join(dir, 'adapt')).filter((f) => f.endsWith('.ckpt')).length).toBeGreaterThanOrEqual(1);

    // Second run: the battery is low now; the adapted state comes back from the checkpoint.
    sysfs.write(new BatteryModel({ capacityWh: 10, initialPercent: 15 }));
    const pub2 = new MemoryPublisher();
    const rt2 = createRuntime(config, { transport: new MockTransport(), publisher: pub2, log: createLogger('silent') });
    await rt2.start();
    expect(rt2.counters()['adapt_checkpoint_generation']).toBeGreaterThan(0);
    feed(rt2.pipeline, replay, split, split + 60);
    expect(rt2.adapter!.active('import_kw')!.generation).toBe(generation);
    expect(rt2.adapter!.active('import_kw')!.envelope).toEqual(envelope);
    // The governor's next tick reads the battery: minimal mode, announced and on the health report.
    await new Promise((r) => setTimeout(r, 1500));
    expect(rt2.budget!.mode).toBe('minimal');
    const budget = pub2.actions.find((a) => a.kind === 'budget');
    expect(budget?.event).toBe('minimal');
    expect(budget?.reason).toMatch(/battery 15% < 20%/);
    expect((pub2.health.at(-1) as { budget_mode?: string }).budget_mode).toBe('minimal');
    // Minimal mode: rules only — the relevance child no longer runs, and nothing is learned.
    const learned = rt2.adapter!.counters.adapt_windows_learned;
    const before = pub2.verdicts.length;
    feed(rt2.pipeline, replay, split + 60, split + 600);
    const later = pub2.verdicts.slice(before);
    expect(later.length).toBeGreaterThan(0);
    for (const v of later) expect(Object.keys(v.children)).not.toContain('relevance');
    expect(rt2.adapter!.counters.adapt_windows_learned).toBe(learned);
    await rt2.stop();
  }, 60_000);
});
