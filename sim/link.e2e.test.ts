/**
 * The device link over real pseudo-terminals: commands answered by the firmware emulator, a silent
 * device detected by liveness, and a device unplugged and replugged a hundred times under traffic.
 */

import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../runtime/core/clock.js';
import { ErrorCode, isTinyqaError } from '../runtime/core/errors.js';
import { MemoryLogSink, createLogger, silentLogger } from '../runtime/core/log.js';
import { MessageEncoder } from '../runtime/framing/codec.js';
import { CommandCode, type Hello } from '../runtime/framing/messages.js';
import { DeviceLink } from '../runtime/link/link.js';
import { SerialTransport } from '../runtime/transport/serial.js';
import { FirmwareEmulator } from './emulator.js';
import { openPtyPair, type PtyPair } from './pty.js';
import { pump } from './scenarios/pump.js';
import { until } from './testing/until.js';

const sink = new MemoryLogSink();
function linkOn(path: string, o: Partial<{ reopenMinMs: number; reopenMaxMs: number; livenessFloorMs: number }> = {}) {
  const transport = new SerialTransport({ path, baudRate: 115_200, reopenMinMs: o.reopenMinMs ?? 50, reopenMaxMs: o.reopenMaxMs ?? 2000 }, systemClock, createLogger('debug', sink));
  transport.onState((s, d) => sink.write(`${Date.now() % 100000} state ${s} ${d}`));
  const link = new DeviceLink(transport, systemClock, silentLogger, { livenessPeriods: 5, livenessFloorMs: o.livenessFloorMs ?? 2000, ackTimeoutMs: 200, retries: 3, timeSync: true });
  return { transport, link };
}

describe('device link over a pseudo-terminal', () => {
  it('sends commands the emulated firmware acknowledges, NACKs or does not support', async () => {
    const pty = await openPtyPair();
    const { link } = linkOn(pty.path);
    await link.start();
    const emu = new FirmwareEmulator({ scenario: pump, faults: new Set(), seed: 1, speed: 1, durationS: 5, batch: 10 }, pty, systemClock);
    pty.onData((b) => emu.receive(b));
    const run = emu.run();
    try {
      await until(() => link.deviceHello !== undefined, 3000, 'HELLO');
      await expect(link.sendCommand(CommandCode.SetRate, 200)).resolves.toMatchObject({ status: 0, attempts: 1 });
      expect(emu.rateHz).toBe(200);
      await expect(link.sendCommand(CommandCode.SetRate, 0)).resolves.toMatchObject({ status: 2, detail: 'rate must be 1..10000 Hz' });
      await expect(link.sendCommand(CommandCode.Recalibrate, 1)).resolves.toMatchObject({ status: 0 });
      expect(emu.commandLog.map((c) => [c.code, c.status])).toEqual([[1, 0], [1, 2], [2, 0]]);
      // TIME_SYNC after the HELLO: device time now maps to wall time within a few ms.
      expect(Math.abs(link.toWallMs(0)! - emu.bootEpochMs)).toBeLessThan(50);
    } finally {
      emu.stop();
      await run;
      await link.stop();
      pty.close();
    }
  });

  it('refuses a command code the firmware did not announce', async () => {
    const pty = await openPtyPair();
    const { link } = linkOn(pty.path);
    await link.start();
    const enc = new MessageEncoder();
    const hello: Hello = { type: 'hello', fw: 'tiny/0.1', device: 'd', channels: [{ name: 'a', unit: '', min: 0, max: 1 }], rate_hz: 10, batch: 1, heartbeat_ms: 1000, commands: [], proto_min: 1 };
    await pty.write(enc.frame(hello, 0));
    await until(() => link.deviceHello !== undefined, 3000, 'HELLO');
    const e = await link.sendCommand(CommandCode.Reboot).then(() => undefined, (x: unknown) => x);
    expect(isTinyqaError(e, ErrorCode.CommandUnsupported)).toBe(true);
    await link.stop();
    pty.close();
  });

  it('reopens a port whose device went silent although the OS never reported it gone', async () => {
    const pty = await openPtyPair();
    const { link, transport } = linkOn(pty.path, { livenessFloorMs: 300 });
    await link.start();
    const enc = new MessageEncoder();
    await pty.write(enc.frame({ type: 'hello', fw: 'f', device: 'd', channels: [{ name: 'a', unit: '', min: 0, max: 1 }], rate_hz: 100, batch: 1, heartbeat_ms: 50, commands: [], proto_min: 1 }, 0));
    await until(() => link.deviceHello !== undefined, 3000, 'HELLO');
    // limit = max(300, 5 × 50) = 300 ms of silence
    const waited = await until(() => link.counters.liveness_reopens >= 1, 3000, 'a liveness reopen');
    expect(waited).toBeGreaterThanOrEqual(250);
    await until(() => transport.state === 'open' && transport.counters.reopens >= 1, 3000, 'the reopened port');
    // The reopened port works: frames flow again.
    const before = link.counters.frames;
    await pty.write(enc.frame({ type: 'heartbeat', uptime_ms: 1, dropped: 0 }, 1));
    await until(() => link.counters.frames > before, 2000, 'a frame after the reopen');
    await link.stop();
    pty.close();
  });

  it('reopens within 2 s each time the device is unplugged and replugged, 100 times under traffic, with file descriptors flat', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyqa-by-id-'));
    const byId = join(dir, 'usb-tinyqa_sim_node-if00');
    let pty: PtyPair = await openPtyPair();
    symlinkSync(pty.path, byId);
    // Heartbeat 100 ms × 5 periods: a replug the OS never reports is caught by liveness in 0.5 s.
    const { link, transport } = linkOn(byId, { reopenMinMs: 50, reopenMaxMs: 2000, livenessFloorMs: 300 });
    const enc = new MessageEncoder();
    let traffic = true;
    let sent = 0;
    const hello: Hello = { type: 'hello', fw: 'f', device: 'd', channels: [{ name: 'a', unit: '', min: 0, max: 1 }], rate_hz: 1000, batch: 10, heartbeat_ms: 100, commands: [], proto_min: 1 };
    const feeder = (async () => {
      while (traffic) {
        const p = pty;
        await p.write(enc.frame(sent % 50 === 0 ? hello : { type: 'samples', channels: 1, period_us: 1000, values: Float32Array.of(0.5, 0.25, 0.75) }, sent)).catch(() => undefined);
        sent++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await link.start();
    await until(() => link.counters.frames > 5, 3000, 'first frames');
    const fds = () => readdirSync('/proc/self/fd').length;
    const fdBefore = fds();
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const opens = transport.counters.opens;
      pty.close(); // unplugged: the follower path disappears
      rmSync(byId);
      await new Promise((r) => setTimeout(r, 20));
      pty = await openPtyPair(); // plugged back: a new pseudo-terminal behind the same by-id link
      symlinkSync(pty.path, byId);
      const replugged = Date.now();
      sink.write(`${Date.now() % 100000} replugged ${pty.path}`);
      await until(() => transport.counters.opens > opens && transport.state === 'open', 2000, `reopen #${i + 1}`).catch((e: unknown) => {
        console.log(sink.lines.slice(-25).join('\n'));
        throw e;
      });
      const frames = link.counters.frames;
      await until(() => link.counters.frames > frames, 2000, `traffic after reopen #${i + 1}`);
      times.push(Date.now() - replugged);
    }
    traffic = false;
    await feeder;
    const fdAfter = fds();
    times.sort((a, b) => a - b);
    console.log(
      `unplug/replug ×100: reopen + first frame median ${times[50]} ms, max ${times[99]} ms; ` +
        `${link.counters.liveness_reopens} of them noticed by liveness rather than the OS; fds ${fdBefore} → ${fdAfter}`,
    );
    expect(times[99]).toBeLessThan(2000);
    expect(Math.abs(fdAfter - fdBefore)).toBeLessThanOrEqual(2);
    await link.stop();
    pty.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
