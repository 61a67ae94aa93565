import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/**
 * The C reference firmware (firmware-bridge/c, built with make) writes real C-encoded frames into a
 * pseudo-terminal; the TypeScript runtime reads them through its serial transport, judges windows,
 * and sends commands the C side acknowledges.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../runtime/core/log.js';
import { validateConfig } from '../runtime/config/schema.js';
import { CommandCode } from '../runtime/framing/messages.js';
import type { Verdict } from '../runtime/qa/types.js';
import { createRuntime, type Runtime } from '../runtime/root.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { REPO } from './testing/cli.js';
import { until } from './testing/until.js';

const C_DIR = `${REPO}firmware-bridge/c`;

describe('C firmware → pseudo-terminal → TypeScript runtime', () => {
  let node: ChildProcess;
  let out = '';
  let broker: EmbeddedBroker;
  let runtime: Runtime;
  const verdicts: Verdict[] = [];

  beforeAll(async () => {
    execFileSync('make', ['-s', '-C', C_DIR, 'fake_node'], { stdio: 'pipe' });
    node = spawn(`${C_DIR}/build/fake_node`, ['--seconds', '0', '--rate', '200', '--batch', '20', '--heartbeat-ms', '250'], { stdio: ['ignore', 'pipe', 'pipe'] });
    node.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /^PTY (\S+)$/m.test(out), 5000, 'the PTY line');
    const path = /^PTY (\S+)$/m.exec(out)![1]!;
    broker = await startEmbeddedBroker();
    const config = validateConfig({ device: 'c-node-01', serial: { path }, mqtt: { url: broker.url }, outbox: { dir: mkdtempSync(join(tmpdir(), 'tinyqa-cnode-outbox-')) }, window: { size: 50, hop: 50 }, log: { level: 'silent' } });
    runtime = createRuntime(config, { log: silentLogger, onVerdict: (v) => verdicts.push(v) });
    await runtime.start();
  }, 60_000);

  afterAll(async () => {
    await runtime?.stop();
    node?.kill('SIGTERM');
    await broker?.close();
  });

  it('learns the C node from its HELLO and judges its windows from C-encoded SAMPLES', async () => {
    await until(() => verdicts.length >= 9, 10_000, '9 verdicts').catch((e: unknown) => {
      console.log(JSON.stringify(runtime.counters()));
      throw e;
    });
    const hello = runtime.link.deviceHello!;
    expect(hello.device).toBe('c-node-01');
    expect(hello.channels.map((c) => c.name)).toEqual(['a', 'b', 'c']);
    expect(hello.commands).toEqual([1, 2, 3, 4]);
    expect(new Set(verdicts.map((v) => v.stream))).toEqual(new Set(['a', 'b', 'c']));
    const c = runtime.link.counters;
    expect(c.bad_crc + c.bad_cobs + c.bad_body + c.bad_message + c.runt).toBe(0);
    expect(c.seq_gaps).toBe(0);
    expect(runtime.pipeline.counters.samples).toBeGreaterThanOrEqual(150);
    // Verdict times follow the C node's clock mapped to wall time by TIME_SYNC.
    expect(Math.abs(verdicts.at(-1)!.t1 - Date.now())).toBeLessThan(2000);
  });

  it('sends commands that the C node acknowledges, once per id, with the status it reports', async () => {
    await until(() => runtime.link.deviceHello !== undefined, 5000, 'HELLO');
    const r = await runtime.link.sendCommand(CommandCode.SetRate, 100);
    expect(r.attempts).toBe(1);
    await until(() => /CMD id=\d+ code=1 arg=100 status=\d+/.test(out), 3000, 'the C node to print the command');
    const status = Number(/CMD id=\d+ code=1 arg=100 status=(\d+)/.exec(out)![1]);
    expect(r.status).toBe(status);
    expect(r.status).toBe(0);
    const recal = await runtime.link.sendCommand(CommandCode.Recalibrate, 1);
    expect(recal.status).toBe(0);
    // The node prints after it answered: its stdout may trail the ACK that came over the pty.
    await until(() => (out.match(/^CMD /gm) ?? []).length >= 2, 3000, 'the C node to print the second command');
    expect(out.match(/^CMD /gm)).toHaveLength(2);
  });

  it('sees a C node reboot as a sequence reset and keeps judging after it', async () => {
    const before = { hellos: runtime.pipeline.counters.hellos, seq_resets: runtime.link.counters.seq_resets };
    const r = await runtime.link.sendCommand(CommandCode.Reboot);
    expect(r.status).toBe(0);
    await until(() => runtime.pipeline.counters.hellos > before.hellos, 15_000, 'the HELLO after the reboot');
    await until(() => runtime.link.counters.seq_resets > before.seq_resets, 5000, 'a sequence reset');
    const n = verdicts.length;
    await until(() => verdicts.length >= n + 3, 10_000, 'verdicts after the reboot');
  });
});
