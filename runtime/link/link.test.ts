/** The device link's session rules on a mock transport and a manual clock (no sleeping). */

import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import { silentLogger } from '../core/log.js';
import { MessageEncoder, MessageReceiver } from '../framing/codec.js';
import type { Hello, Message } from '../framing/messages.js';
import { MockTransport } from '../transport/mock.js';
import { DeviceLink } from './link.js';

const hello: Hello = {
  type: 'hello',
  fw: 'test/1',
  device: 'dev',
  channels: [{ name: 'a', unit: 'V', min: 0, max: 5 }],
  rate_hz: 100,
  batch: 10,
  heartbeat_ms: 200,
  commands: [1, 4],
  proto_min: 1,
};

function rig(opts: Partial<{ livenessPeriods: number; livenessFloorMs: number; ackTimeoutMs: number; retries: number; timeSync: boolean }> = {}) {
  const clock = new ManualClock(1_800_000_000_000);
  const t = new MockTransport('mock0');
  const link = new DeviceLink(t, clock, silentLogger, { livenessPeriods: 5, livenessFloorMs: 500, ackTimeoutMs: 100, retries: 3, timeSync: false, ...opts });
  const device = new MessageEncoder();
  const fromHost: Message[] = [];
  const hostRx = new MessageReceiver({ message: (_h, m) => fromHost.push(m) });
  const send = (m: Message, deviceMs = 0) => t.inject(device.frame(m, deviceMs));
  const pump = () => {
    for (const w of t.written.splice(0)) hostRx.push(w);
    return fromHost;
  };
  return { clock, t, link, send, pump, fromHost };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('DeviceLink', () => {
  it('hands every decoded message to its listeners and maps device time to wall time', async () => {
    const r = rig();
    const seen: string[] = [];
    r.link.onMessage((_h, m) => seen.push(m.type));
    await r.link.start();
    r.send(hello, 5000);
    r.send({ type: 'heartbeat', uptime_ms: 5100, dropped: 0 }, 5100);
    expect(seen).toEqual(['hello', 'heartbeat']);
    expect(r.link.deviceHello?.device).toBe('dev');
    expect(r.link.toWallMs(6000)).toBe(1_800_000_000_000 - 5000 + 6000);
  });

  it('reopens a link that went silent for the liveness limit although the transport never closed', async () => {
    const r = rig({ livenessPeriods: 5, livenessFloorMs: 500 });
    await r.link.start();
    r.send(hello);
    // heartbeat 200 ms vs batch 10 / 100 Hz = 100 ms → period 200 ms, limit max(500, 5 × 200) = 1000 ms
    expect(r.link.livenessMs()).toBe(1000);
    r.clock.advance(900);
    r.send({ type: 'heartbeat', uptime_ms: 900, dropped: 0 });
    r.clock.advance(900);
    expect(r.link.counters.liveness_reopens).toBe(0);
    r.clock.advance(200);
    expect(r.link.counters.liveness_reopens).toBe(1);
    expect(r.t.counters.reopens).toBe(1);
    r.clock.advance(1000);
    expect(r.link.counters.liveness_reopens).toBe(2);
  });

  it('uses the floor before any HELLO told it the device’s rates', async () => {
    const r = rig({ livenessFloorMs: 3000 });
    await r.link.start();
    expect(r.link.livenessMs()).toBe(5000);
    r.clock.advance(4999);
    expect(r.link.counters.liveness_reopens).toBe(0);
    r.clock.advance(2);
    expect(r.link.counters.liveness_reopens).toBe(1);
  });

  it('resends an unacknowledged command with the same id and resolves on the ACK', async () => {
    const r = rig({ ackTimeoutMs: 100, retries: 3 });
    await r.link.start();
    r.send(hello);
    const p = r.link.sendCommand(1, 250);
    await flush();
    expect(r.pump().filter((m) => m.type === 'command')).toHaveLength(1);
    r.clock.advance(100);
    await flush();
    const cmds = r.pump().filter((m) => m.type === 'command');
    expect(cmds).toHaveLength(2);
    expect(cmds[0]).toEqual(cmds[1]);
    expect(cmds[0]).toMatchObject({ code: 1, arg: 250 });
    const id = (cmds[0] as { id: number }).id;
    r.send({ type: 'ack', id, status: 0 });
    await expect(p).resolves.toMatchObject({ id, status: 0, attempts: 2 });
    // A late duplicate ACK for the same id is ignored.
    r.send({ type: 'ack', id, status: 0 });
    expect(r.link.counters).toMatchObject({ commands_sent: 1, command_retries: 1, command_acks: 1, command_nacks: 0 });
  });

  it('reports a NACK with its status and detail', async () => {
    const r = rig();
    await r.link.start();
    r.send(hello);
    const p = r.link.sendCommand(1, 0);
    await flush();
    const id = (r.pump().find((m) => m.type === 'command') as { id: number }).id;
    r.send({ type: 'ack', id, status: 2, detail: 'rate must be 1..10000 Hz' });
    await expect(p).resolves.toMatchObject({ status: 2, detail: 'rate must be 1..10000 Hz' });
    expect(r.link.counters.command_nacks).toBe(1);
  });

  it('gives up after the retries with E2006', async () => {
    const r = rig({ ackTimeoutMs: 100, retries: 2 });
    await r.link.start();
    r.send(hello);
    const p = r.link.sendCommand(4);
    const settled = p.then(() => 'resolved', (e: unknown) => e);
    for (let i = 0; i < 3; i++) {
      await flush();
      r.clock.advance(100);
    }
    const e = await settled;
    expect(isTinyqaError(e, ErrorCode.CommandFailed)).toBe(true);
    expect((e as Error).message).toMatch(/reboot got no ACK after 3 attempts/);
    expect(r.pump().filter((m) => m.type === 'command')).toHaveLength(3);
    expect(r.link.counters.command_timeouts).toBe(1);
  });

  it('refuses a command the firmware did not list in its HELLO without sending it (PROTOCOL §8)', async () => {
    const r = rig();
    await r.link.start();
    r.send(hello);
    const e = await r.link.sendCommand(3, 0).then(() => undefined, (x: unknown) => x);
    expect(isTinyqaError(e, ErrorCode.CommandUnsupported)).toBe(true);
    expect((e as Error).message).toMatch(/switch_to_backup is unsupported by this firmware \(test\/1\)/);
    await flush();
    expect(r.pump().filter((m) => m.type === 'command')).toHaveLength(0);
  });

  it('sends TIME_SYNC after a HELLO and adopts the measured offset', async () => {
    const r = rig({ timeSync: true });
    await r.link.start();
    r.send(hello, 10_000);
    await flush();
    const sync = r.pump().find((m) => m.type === 'time_sync') as { nonce: number; host_ms: number };
    expect(sync.host_ms).toBe(1_800_000_000_000);
    r.clock.advance(40);
    r.send({ type: 'time_sync_reply', nonce: sync.nonce, host_ms: sync.host_ms, device_ms: 70_000 }, 70_000);
    // offset = host_ms + rtt/2 − device_ms
    expect(r.link.toWallMs(70_000)).toBe(1_800_000_000_000 + 20);
  });

  it('abandons pending commands when stopped', async () => {
    const r = rig();
    await r.link.start();
    r.send(hello);
    const p = r.link.sendCommand(1, 10).then(() => 'resolved', (e: unknown) => e);
    await r.link.stop();
    expect(isTinyqaError(await p, ErrorCode.CommandFailed)).toBe(true);
  });
});
