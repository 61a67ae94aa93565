import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../runtime/core/clock.js';
import { silentLogger } from '../../runtime/core/log.js';
import { MqttPublisher } from '../../runtime/publish/mqtt.js';
import { collect } from './collector.js';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from './mosquitto.js';

const skip = mosquittoSkipReason();

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

describe.skipIf(skip !== undefined)(`the private Mosquitto harness${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let m: Mosquitto | undefined;
  afterEach(async () => {
    await m?.stop();
  });

  it('is killed with SIGKILL, restarts on the same port, keeps persisted retained messages across a SIGTERM, and cleans up', async () => {
    m = await startMosquitto({ persistence: true });
    const port = m.port!;
    const p = new MqttPublisher(
      { url: m.url!, clientId: 'harness', topicPrefix: 'tinyqa/v1', device: 'h', qos: 1, keepaliveS: 10, reconnectMinMs: 50, reconnectMaxMs: 200, outbox: { dir: mkdtempSync(join(tmpdir(), 'tinyqa-harness-outbox-')), fsync: 'never' }, version: 't' },
      systemClock,
      silentLogger,
    );
    await p.start();
    const deadline = Date.now() + 5_000;
    while (!p.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await p.close(); // publishes a retained "offline"

    const pid = m.pid;
    await m.kill('SIGTERM'); // Mosquitto saves its db when it stops cleanly
    expect(await accepts(port)).toBe(false);
    expect(readdirSync(m.dataDir)).toContain('mosquitto.db');
    await m.restart();
    expect(m.pid).not.toBe(pid);
    expect(m.port).toBe(port);
    const seen = await collect(m.url!, 'tinyqa/v1', 'h');
    await seen.waitFor(() => seen.status.length > 0, 5_000);
    expect(seen.status[0]).toEqual({ state: 'offline', retain: true });
    await seen.sub.close();

    await m.kill('SIGKILL');
    expect(await accepts(port)).toBe(false);
    await m.restart();
    expect(await accepts(port)).toBe(true);
    const dir = m.dir;
    await m.stop();
    m = undefined;
    expect(existsSync(dir)).toBe(false);
  });

  it('fails with the broker log when the config is wrong', async () => {
    await expect(startMosquitto({ extra: ['no_such_option 1'] })).rejects.toThrow(/mosquitto exited before accepting connections[\s\S]*no_such_option/);
  });
});
