/**
 * Inbound commands through the whole runtime (a simulated pump on a pseudo-terminal, the embedded
 * broker): set_threshold changes the verdicts that follow, set_config refuses what cannot change
 * live, health is published on request and on its interval, and a delivered model package is
 * verified before it replaces the active one.
 */

import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../runtime/core/log.js';
import { subscribe } from '../runtime/publish/mqtt.js';
import type { Verdict } from '../runtime/qa/types.js';
import { startSim } from './run-sim.js';
import { REPO } from './testing/cli.js';
import { until } from './testing/until.js';

const PACKAGE = join(REPO, 'models', 'pump-ae', '1.0.0');
const KEY = join(REPO, 'models', 'keys', 'tinyqa-models.pub');

function packageFiles(dir: string, tamper = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const bytes = readFileSync(join(dir, name));
    if (tamper && name === 'model.tflite') bytes[bytes.length >> 1]! ^= 0x01;
    out[name] = bytes.toString('base64');
  }
  return out;
}

describe('inbound commands through the runtime', () => {
  it('runs set_threshold, refuses a bad set_config, publishes health, and verifies a delivered model before swapping it in', async () => {
    const pkg = join(mkdtempSync(join(tmpdir(), 'tinyqa-cmd-model-')), 'pump-ae');
    cpSync(PACKAGE, pkg, { recursive: true });
    const verdicts: Verdict[] = [];
    let ready: { brokerUrl: string; device: string; topicPrefix: string } | undefined;
    const sim = startSim({
      scenario: 'pump',
      faults: new Set(),
      speed: 4,
      durationS: 600,
      seed: 3,
      config: {
        health: { interval_s: 1 },
        model: { package: pkg, public_key: KEY, state: '', reload_s: 0 },
        qa: { anomaly: { enabled: true } },
      },
      log: silentLogger,
      onVerdict: (v) => verdicts.push(v),
      onReady: (i) => (ready = i),
    });
    try {
      await until(() => ready !== undefined, 20_000, 'the simulator');
      const { brokerUrl, device, topicPrefix } = ready!;
      const base = `${topicPrefix}/${device}`;
      const results = new Map<string, Record<string, unknown>>();
      const health: Record<string, unknown>[] = [];
      const sub = subscribe(brokerUrl, [`${base}/cmd/result`, `${base}/health`], (m) => {
        const body = JSON.parse(m.payload.toString()) as Record<string, unknown>;
        if (m.topic.endsWith('/health')) health.push(body);
        else results.set(String(body.id), body);
      }, silentLogger);
      await sub.ready;
      const command = async (name: string, id: string, args: Record<string, unknown>) => {
        await sub.publish(`${base}/cmd/${name}`, JSON.stringify({ id, ts: Date.now(), args }));
        await until(() => results.has(id), 20_000, `the result of ${id}`);
        return results.get(id)!;
      };

      await until(() => verdicts.length >= 3, 20_000, 'first verdicts');
      expect(verdicts[0]!.children.spike!.threshold).toBe(0.5);
      expect(await command('set_threshold', 't1', { child: 'spike', threshold: 0.9 })).toMatchObject({ ok: true, name: 'set_threshold', result: { child: 'spike', threshold: 0.9, was: 0.5 } });
      const after = verdicts.length;
      await until(() => verdicts.length >= after + 3, 20_000, 'verdicts after the change');
      expect(verdicts.slice(after).every((v) => v.children.spike!.threshold === 0.9)).toBe(true);

      const refused = await command('set_threshold', 't2', { child: 'spike', threshold: 7 });
      expect(refused).toMatchObject({ ok: false });
      expect(String(refused.error)).toMatch(/qa\.spike\.threshold/);
      const live = await command('set_config', 'c1', { mqtt: { qos: 0 } });
      expect(live).toMatchObject({ ok: false });
      expect(String(live.error)).toMatch(/only "qa" and "policy" can change while running/);

      // Health: on request, and every second; it carries counters and last_seq.
      expect(await command('health', 'h1', {})).toMatchObject({ ok: true, result: { published: true } });
      await until(() => health.length >= 2, 10_000, 'health reports');
      const h = health.at(-1)!;
      expect(h).toMatchObject({ v: 1, device });
      expect(typeof h.cpu_share).toBe('number');
      expect((h.counters as Record<string, number>).frames).toBeGreaterThan(0);
      expect((h.counters as Record<string, number>).outbox_produced).toBeGreaterThan(0);
      expect(h.last_seq as number).toBeGreaterThanOrEqual(0);

      // A package with one flipped bit is refused (its signature fails); the active model stays.
      const model = verdicts.at(-1)!.model;
      expect(model).toMatch(/^pump-ae@1\.0\.0/);
      const bad = await command('model', 'm1', { files: packageFiles(PACKAGE, true) });
      expect(bad).toMatchObject({ ok: false });
      expect(String(bad.error)).toMatch(/refused|signature|sha256/i);
      const n = verdicts.length;
      await until(() => verdicts.length >= n + 3, 20_000, 'verdicts after the refused model');
      expect(verdicts.at(-1)!.model).toBe(model);
      expect(readFileSync(join(pkg, 'model.tflite'))).toEqual(readFileSync(join(PACKAGE, 'model.tflite')));
      // The genuine package is accepted.
      expect(await command('model', 'm2', { files: packageFiles(PACKAGE) })).toMatchObject({ ok: true, result: { accepted: 'pump-ae@1.0.0' } });
      await sub.close();
    } finally {
      sim.stop();
      await sim.done;
    }
  }, 120_000);
});
