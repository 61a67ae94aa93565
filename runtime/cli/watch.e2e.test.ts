/**
 * `tinyqa watch` as the end-to-end subscriber (DESIGN §6): a real broker, watch as a real process,
 * and the test playing the device with a plain MQTT client — publishing seqs with some skipped,
 * duplicated and out of order, and serving replay requests from its "retention window".
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodeCbor } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { testBrokers, uniqueDevice } from '../../sim/testing/brokers.js';
import { startCli, type CliProcess } from '../../sim/testing/cli.js';
import { silentLogger } from '../core/log.js';
import { CommandGate } from '../publish/commands.js';
import { subscribe } from '../publish/mqtt.js';

const dir = mkdtempSync(join(tmpdir(), 'tinyqa-watch-'));

type Body = Record<string, unknown>;

/**
 * The device side of the delivery contract: every record it ever made (`have`, minus what `gone`
 * says it no longer has), replay requests checked by the real command gate and answered like the
 * publisher does — the records on their original topics, then the result with the gone ranges.
 */
async function playDevice(url: string, prefix: string, device: string, o: { actions?: number[]; gone?: number[]; secret?: string } = {}) {
  const base = `${prefix}/${device}`;
  const actions = new Set(o.actions ?? []);
  const gone = new Set(o.gone ?? []);
  const record = (seq: number): { topic: string; body: Body } => {
    const t0 = 1_700_000_000_000 + seq * 1000;
    return actions.has(seq)
      ? { topic: `${base}/action`, body: { v: 1, device, stream: 'level', kind: 'alert', state: 'raised', reason: 'test alert', verdict_seq: seq - 1, t0, t1: t0 + 1000, seq } }
      : { topic: `${base}/verdict/level`, body: { device, stream: 'level', seq, t0, t1: t0 + 1000, parents: { intrinsic: 'pass' }, children: {}, failed: [] } };
  };
  const gate = new CommandGate({ prefix, device, maxAgeMs: 60_000, ...(o.secret !== undefined ? { secret: o.secret } : {}) });
  const requests: [number, number][] = [];
  const refused: string[] = [];
  let serving = Promise.resolve();
  const sub = subscribe(
    url,
    [`${base}/cmd/replay`],
    (m) => {
      const c = gate.check(m.topic, m.payload, m.retain, Date.now());
      if (!c.ok) {
        refused.push(c.reason);
        return;
      }
      const { from, to } = c.command.args as { from: number; to: number };
      requests.push([from, to]);
      serving = serving.then(async () => {
        const g: [number, number][] = [];
        let replayed = 0;
        for (let s = from; s <= to; s++) {
          if (!gone.has(s)) {
            const r = record(s);
            await sub.publish(r.topic, JSON.stringify(r.body));
            replayed++;
          } else if (g.length > 0 && g[g.length - 1]![1] === s - 1) g[g.length - 1]![1] = s;
          else g.push([s, s]);
        }
        await sub.publish(`${base}/cmd/result`, JSON.stringify({ id: c.command.id, name: 'replay', ok: true, ts: Date.now(), result: { replayed, gone: g } }));
      });
    },
    silentLogger,
  );
  await sub.ready;
  return {
    requests,
    refused,
    record,
    /** Publishes seq as the device first did (JSON, or CBOR). */
    send: (seq: number, enc: 'json' | 'cbor' = 'json') => {
      const r = record(seq);
      return sub.publish(r.topic, enc === 'json' ? JSON.stringify(r.body) : Buffer.from(encodeCbor(r.body)));
    },
    raw: (topic: string, payload: string | Buffer) => sub.publish(`${base}/${topic}`, payload),
    health: (lastSeq: number) => sub.publish(`${base}/health`, JSON.stringify({ v: 1, device, ts: Date.now(), uptime_s: 1, last_seq: lastSeq })),
    close: async () => {
      await serving;
      await sub.close();
    },
  };
}

function startWatch(url: string, prefix: string, device: string, extra: string[]): { watch: CliProcess; summary: string } {
  const summary = join(dir, `${prefix.replace(/\W/g, '_')}.json`);
  const watch = startCli(['watch', '--broker', url, '--prefix', prefix, '--device', device, '--json', '--summary-json', summary, ...extra]);
  return { watch, summary };
}

const lines = (stdout: string) => stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Body);
const seqs = (from: number, to: number, except: number[] = []) => Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((s) => !except.includes(s));

describe.each(testBrokers())('tinyqa watch end to end on the $name', (factory) => {
  it('prints every verdict once in seq order: drops duplicates, reorders, replays gaps and the announced tail, gives up what the device says is gone', async () => {
    const b = await factory.start();
    const prefix = `tq-${uniqueDevice('e2e')}`;
    const device = 'gw-1';
    const actions = [4, 14];
    const gone = [17, 18, 21];
    const expected = seqs(0, 31, [...actions, ...gone]);
    const { watch, summary } = startWatch(b.url, prefix, device, ['--count', String(expected.length), '--hold', '60']);
    try {
      await watch.waitForOutput(/listening: /);
      const dev = await playDevice(b.url, prefix, device, { actions, gone });
      // 5–7, 12, 17–18, 20–22 never sent (the device has all but 17, 18, 21); 3, 9, 15 sent twice;
      // 11 before 10, 25 before 24; 30–31 never sent, announced by health; 26 as CBOR.
      const script = [0, 1, 2, 3, 3, 4, 8, 9, 9, 11, 10, 13, 14, 15, 15, 16, 19, 23, 25, 24, 26, 27, 28, 29];
      for (const s of script) await dev.send(s, s === 26 ? 'cbor' : 'json');
      await dev.raw('verdict/level', 'not a payload');
      await dev.raw('verdict/level', JSON.stringify({ device, stream: 'level', note: 'no seq' }));
      await dev.health(31);
      const r = await watch.done;
      await dev.close();
      expect(r.code, r.stderr).toBe(3);
      const printed = lines(r.stdout);
      expect(printed.map((v) => v.seq)).toEqual(expected);
      // Exactly the published verdict objects (the CBOR one decoded to the same object).
      expect(printed).toEqual(expected.map((s) => dev.record(s).body));
      // Each gap is asked for once (the tail after its grace); 17–18 and 21 come back as gone.
      expect(dev.requests).toEqual([[5, 7], [10, 10], [12, 12], [17, 18], [20, 22], [24, 24], [30, 31]]);
      const j = JSON.parse(readFileSync(summary, 'utf8'));
      expect(j.devices[device]).toMatchObject({
        first_seq: 0,
        last_seq: 31,
        accepted: expected.length + actions.length,
        verdicts: expected.length,
        actions: 2,
        // 3 sent twice, and the replays of 10 and 24, which came anyway.
        duplicates: 5,
        gaps: 7,
        requests: 7,
        recovered: 10,
        lost: 3,
        lost_ranges: [[17, 18], [21, 21]],
        unresolved: 0,
      });
      expect(j).toMatchObject({ connects: 1, bad_messages: 2, replay: true, exit_code: 3 });
      expect(j.wire_messages).toBeGreaterThanOrEqual(script.length + 2 + 1 + 10);
      expect(r.stderr).toMatch(/gw-1: seq 17–18 lost \(gone from the device/);
      expect(r.stderr).toMatch(/ignored a message on .*verdict\/level: .*\(further ones on this topic are only counted\)/);
      expect(r.stderr).toMatch(/watch: \d+ wire messages, 1 connect, 2 unreadable; gw-1: 27 verdicts \+ 2 actions accepted \(seq 0–31\), 5 duplicates dropped, 7 gaps, 7 replay requests, 10 recovered, 3 lost \(17–18, 21\)/);
    } finally {
      watch.child.kill('SIGKILL');
      await b.close();
    }
  });

  it('signs its replay requests with --secret-file, prints actions with --actions, and exits 0 when nothing is lost', async () => {
    const b = await factory.start();
    const prefix = `tq-${uniqueDevice('e2e')}`;
    const device = 'gw-2';
    const secret = 'correct horse battery staple';
    const secretFile = join(dir, `${prefix}.secret`);
    writeFileSync(secretFile, secret + '\n');
    const { watch, summary } = startWatch(b.url, prefix, device, ['--count', '8', '--actions', '--secret-file', secretFile]);
    try {
      await watch.waitForOutput(/listening: /);
      const dev = await playDevice(b.url, prefix, device, { actions: [2, 6], secret });
      for (const s of [0, 1, 5, 6, 7, 8, 9]) await dev.send(s);
      const r = await watch.done;
      await dev.close();
      expect(r.code, r.stderr).toBe(0);
      expect(dev.refused).toEqual([]);
      expect(dev.requests).toEqual([[2, 4]]);
      const printed = lines(r.stdout);
      expect(printed.map((l) => ('action' in l ? `a${(l.action as Body).seq}` : `v${l.seq}`))).toEqual(['v0', 'v1', 'a2', 'v3', 'v4', 'v5', 'a6', 'v7', 'v8', 'v9']);
      const j = JSON.parse(readFileSync(summary, 'utf8'));
      expect(j.devices[device]).toMatchObject({ first_seq: 0, last_seq: 9, accepted: 10, verdicts: 8, actions: 2, duplicates: 0, gaps: 1, requests: 1, recovered: 3, lost: 0, lost_ranges: [] });
      expect(j.exit_code).toBe(0);
    } finally {
      watch.child.kill('SIGKILL');
      await b.close();
    }
  });

  it('with --no-replay is a plain QoS 1 subscriber: prints duplicates and disorder, asks for nothing, and reports the gap it gave up', async () => {
    const b = await factory.start();
    const prefix = `tq-${uniqueDevice('e2e')}`;
    const device = 'gw-3';
    const { watch, summary } = startWatch(b.url, prefix, device, ['--no-replay', '--hold', '1.5']);
    try {
      await watch.waitForOutput(/listening: /);
      const dev = await playDevice(b.url, prefix, device);
      for (const s of [0, 1, 2, 3, 3, 5, 4, 6, 8, 9]) await dev.send(s);
      await watch.waitForOutput(/gw-3: seq 7 lost \(not replayed within --hold 1\.5 s\)/);
      watch.child.kill('SIGTERM');
      const r = await watch.done;
      await dev.close();
      expect(r.code, r.stderr).toBe(3);
      expect(dev.requests).toEqual([]);
      expect(lines(r.stdout).map((v) => v.seq)).toEqual([0, 1, 2, 3, 3, 5, 4, 6, 8, 9]);
      const j = JSON.parse(readFileSync(summary, 'utf8'));
      expect(j.devices[device]).toMatchObject({ accepted: 9, duplicates: 1, gaps: 2, requests: 0, lost: 1, lost_ranges: [[7, 7]] });
      expect(j).toMatchObject({ replay: false, exit_code: 3 });
    } finally {
      watch.child.kill('SIGKILL');
      await b.close();
    }
  });

  it('with --client-id and --persistent gets what was published while it was not running', async () => {
    const b = await factory.start();
    const prefix = `tq-${uniqueDevice('e2e')}`;
    const device = 'gw-4';
    const clientId = `tq-watch-${uniqueDevice('p')}`;
    const dev = await playDevice(b.url, prefix, device);
    try {
      const first = startWatch(b.url, prefix, device, ['--client-id', clientId, '--persistent']);
      await first.watch.waitForOutput(/listening: /);
      for (const s of [0, 1, 2]) await dev.send(s);
      await first.watch.waitForOutput(/"seq":2/);
      // Give its PUBACK for seq 2 time to leave, so the broker does not deliver it again.
      await new Promise((resolve) => setTimeout(resolve, 300));
      first.watch.child.kill('SIGTERM');
      expect((await first.watch.done).code).toBe(0);
      // watch is down: the broker queues these for its session.
      for (const s of [3, 4, 5]) await dev.send(s);
      const second = startWatch(b.url, prefix, device, ['--client-id', clientId, '--persistent', '--count', '3']);
      const r = await second.watch.done;
      expect(r.code, r.stderr).toBe(0);
      expect(lines(r.stdout).map((v) => v.seq)).toEqual([3, 4, 5]);
      expect(dev.requests).toEqual([]);
    } finally {
      await dev.close();
      await b.close();
    }
  });
});
