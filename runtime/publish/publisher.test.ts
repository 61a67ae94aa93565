import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { MemoryLogSink, createLogger, silentLogger } from '../core/log.js';
import { testBrokers, uniqueDevice, type TestBroker } from '../../sim/testing/brokers.js';
import { collect } from '../../sim/testing/collector.js';
import { startEmbeddedBroker } from '../../sim/broker.js';
import { CommandGate, signCommand } from './commands.js';
import { decodeBody } from './encoding.js';
import { decodeSparkplug } from './sparkplug.js';
import { MemoryPublisher } from './memory.js';
import { MqttPublisher, redactUrl, subscribe, type MqttPublisherOptions } from './mqtt.js';
import { publisherContract, sampleVerdict } from './publisher.contract.js';

const outboxDir = () => mkdtempSync(join(tmpdir(), 'tinyqa-pub-outbox-'));

const options = (url: string, device: string, extra: Partial<MqttPublisherOptions> = {}): MqttPublisherOptions => ({
  url,
  clientId: `tinyqa-${device}`,
  topicPrefix: 'tinyqa/v1',
  device,
  qos: 1,
  keepaliveS: 10,
  reconnectMinMs: 50,
  reconnectMaxMs: 200,
  outbox: { dir: outboxDir(), fsync: 'never' },
  version: 'test',
  ...extra,
});

const until = async (pred: () => boolean, ms = 10_000) => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('MemoryPublisher', () => {
  publisherContract(async () => {
    const p = new MemoryPublisher();
    return { publisher: p, received: () => p.verdicts, dispose: async () => undefined };
  });
});

describe.each(testBrokers())('MqttPublisher on the $name', (factory) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await factory.start();
  });
  afterAll(async () => {
    await broker.close();
  });

  publisherContract(async () => {
    const device = uniqueDevice('pub');
    const seen = await collect(broker.url, 'tinyqa/v1', device);
    return {
      publisher: new MqttPublisher(options(broker.url, device), systemClock, silentLogger),
      received: () => seen.verdicts.map((v) => ({ ...v, device: 'dev' })),
      dispose: () => seen.sub.close(),
    };
  });

  it('numbers verdicts and actions in one durable sequence that continues after a restart on the same outbox', async () => {
    const device = uniqueDevice('seq');
    const seen = await collect(broker.url, 'tinyqa/v1', device);
    const o = options(broker.url, device);
    const p1 = new MqttPublisher(o, systemClock, silentLogger);
    await p1.start();
    for (let i = 0; i < 5; i++) p1.publishVerdict(sampleVerdict(device, 100 + i));
    p1.publishAction({ v: 1, device, stream: 's', kind: 'alert', state: 'raised', reason: 'r', verdict_seq: 4, t0: 0, t1: 0 });
    expect(p1.lastSeq).toBe(5);
    expect(await p1.flush(10_000)).toBe(true);
    await p1.close();
    const p2 = new MqttPublisher(o, systemClock, silentLogger);
    await p2.start();
    p2.publishVerdict(sampleVerdict(device, 0));
    expect(await p2.flush(10_000)).toBe(true);
    await seen.waitFor(() => seen.verdicts.length >= 6 && seen.actions.length >= 1);
    expect(seen.verdicts.map((v) => v.seq)).toEqual([0, 1, 2, 3, 4, 6]);
    expect((seen.actions[0] as unknown as { seq: number }).seq).toBe(5);
    // The birth carries last_seq so a subscriber knows what exists.
    await p2.close();
    await seen.sub.close();
  });

  it('serves a replay request from the retention window and names the seqs that are gone', async () => {
    const device = uniqueDevice('replay');
    const p = new MqttPublisher(
      options(broker.url, device, { outbox: { dir: outboxDir(), fsync: 'never', retainRecords: 20, segmentBytes: 2048 }, commands: { gate: new CommandGate({ prefix: 'tinyqa/v1', device, maxAgeMs: 60_000 }), run: async () => ({}) } }),
      systemClock,
      silentLogger,
    );
    await p.start();
    await until(() => p.connected);
    for (let i = 0; i < 200; i++) p.publishVerdict(sampleVerdict(device, i));
    expect(await p.flush(10_000)).toBe(true);

    const got: number[] = [];
    const results: Record<string, unknown>[] = [];
    const sub = subscribe(broker.url, [`tinyqa/v1/${device}/verdict/+`, `tinyqa/v1/${device}/cmd/result`], (m) => {
      const body = JSON.parse(m.payload.toString()) as Record<string, unknown>;
      if (m.topic.endsWith('/cmd/result')) results.push(body);
      else got.push(body.seq as number);
    }, silentLogger);
    await sub.ready;
    await sub.publish(`tinyqa/v1/${device}/cmd/replay`, JSON.stringify({ id: 'r1', ts: Date.now(), args: { from: 190, to: 195 } }));
    await until(() => got.length >= 6 && results.length >= 1);
    expect(got).toEqual([190, 191, 192, 193, 194, 195]);
    expect(results[0]).toMatchObject({ id: 'r1', name: 'replay', ok: true, result: { replayed: 6, gone: [] } });
    // Seq 0 is far older than the 20 records retained: gone, and said so at once.
    await sub.publish(`tinyqa/v1/${device}/cmd/replay`, JSON.stringify({ id: 'r2', ts: Date.now(), args: { from: 0, to: 3 } }));
    await until(() => results.length >= 2);
    expect(results[1]).toMatchObject({ id: 'r2', ok: true, result: { replayed: 0, gone: [[0, 3]] } });
    await sub.publish(`tinyqa/v1/${device}/cmd/replay`, JSON.stringify({ id: 'r3', ts: Date.now(), args: { from: 5, to: 1 } }));
    await until(() => results.length >= 3);
    expect(results[2]).toMatchObject({ id: 'r3', ok: false });
    expect(String(results[2]!.error)).toMatch(/from ≤ to/);
    expect(p.counters.replayed).toBe(6);
    await sub.close();
    await p.close();
  });

  it('answers commands on cmd/result, refuses unsigned ones when a secret is set, and ignores retained ones', async () => {
    const device = uniqueDevice('cmd');
    const secret = 'a-shared-secret-of-32-characters';
    const ran: string[] = [];
    const p = new MqttPublisher(
      options(broker.url, device, { commands: { gate: new CommandGate({ prefix: 'tinyqa/v1', device, maxAgeMs: 60_000, secret }), run: async (c) => (ran.push(c.name), { done: c.name }) } }),
      systemClock,
      silentLogger,
    );
    const results: Record<string, unknown>[] = [];
    const sub = subscribe(broker.url, [`tinyqa/v1/${device}/cmd/result`], (m) => results.push(JSON.parse(m.payload.toString()) as Record<string, unknown>), silentLogger);
    await sub.ready;
    const topic = `tinyqa/v1/${device}/cmd/resync`;
    // A retained command, there before the device subscribes: stale by nature, never run.
    const rts = Date.now();
    await sub.publishRetained(topic, JSON.stringify({ id: 'old1', ts: rts, args: {}, sig: signCommand(secret, topic, 'old1', rts, {}) }));
    await p.start();
    await until(() => p.connected);
    await until(() => p.counters.commands_ignored >= 1);
    await sub.publishRetained(topic, ''); // clear it from the broker
    await sub.publish(topic, JSON.stringify({ id: 'u1', ts: Date.now(), args: {} }));
    const ts = Date.now();
    await sub.publish(topic, JSON.stringify({ id: 's1', ts, args: {}, sig: signCommand(secret, topic, 's1', ts, {}) }));
    await until(() => results.length >= 2);
    expect(results.find((r) => r.id === 'u1')).toMatchObject({ ok: false, error: expect.stringMatching(/unsigned/) });
    expect(results.find((r) => r.id === 's1')).toMatchObject({ ok: true, name: 'resync', result: { done: 'resync' } });
    expect(ran).toEqual(['resync']);
    expect(p.counters).toMatchObject({ commands: 1, commands_refused: 1 });
    await sub.close();
    await p.close();
  });
});

describe('MqttPublisher without a broker', () => {
  it('says the broker is unreachable, retries with growing delays, keeps records in the outbox within its bound and drops oldest first', async () => {
    const probe = await startEmbeddedBroker();
    const port = probe.port;
    await probe.close();
    const sink = new MemoryLogSink();
    const device = uniqueDevice('q');
    const p = new MqttPublisher(options(`mqtt://user:secret@127.0.0.1:${port}`, device, { outbox: { dir: outboxDir(), fsync: 'never', maxRecords: 5 } }), systemClock, createLogger('info', sink));
    await p.start();
    for (let i = 1; i <= 8; i++) p.publishVerdict(sampleVerdict(device, i));
    expect(p.counters.queued).toBe(5);
    expect(p.counters.dropped_queue_full).toBe(3);
    const t0 = Date.now();
    while (sink.lines.filter((l) => l.includes('broker unreachable')).length < 3 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
    const warnings = sink.lines.filter((l) => l.includes('broker unreachable'));
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    expect(warnings[0]).toMatch(/retry 1 in [\d.]+ s \(5 records queued in the outbox\)/);
    expect(warnings.join('\n')).not.toContain('secret');
    expect(redactUrl('mqtt://u:p@h:1')).toBe('mqtt://***@h:1');

    // The broker comes up: the five newest verdicts go out, the dropped oldest do not.
    const up = await startEmbeddedBroker(port);
    const seen = await collect(up.url, 'tinyqa/v1', device);
    await seen.waitFor(() => seen.verdicts.length >= 5, 10_000);
    expect(seen.verdicts.map((v) => v.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(sink.lines.some((l) => /connected to broker mqtt:\/\/\*\*\*@127\.0\.0\.1:\d+ after \d+ retr/.test(l))).toBe(true);
    expect(await p.flush(5_000)).toBe(true);
    expect(p.details()).toMatchObject({ outbox_produced: 8, outbox_delivered: 5, outbox_dropped: 3, outbox_queued: 0 });
    await p.close();
    await seen.sub.close();
    await up.close();
  });

  it('keeps what it could not send across a restart, and sends it when the broker is back', async () => {
    const probe = await startEmbeddedBroker();
    const port = probe.port;
    await probe.close();
    const device = uniqueDevice('restart');
    const o = options(`mqtt://127.0.0.1:${port}`, device, { reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
    const p1 = new MqttPublisher(o, systemClock, silentLogger);
    await p1.start();
    for (let i = 0; i < 10; i++) p1.publishVerdict(sampleVerdict(device, i));
    await p1.close();
    const up = await startEmbeddedBroker(port);
    const seen = await collect(up.url, 'tinyqa/v1', device);
    const p2 = new MqttPublisher({ ...o, reconnectMinMs: 50, reconnectMaxMs: 200 }, systemClock, silentLogger);
    await p2.start();
    await seen.waitFor(() => seen.verdicts.length >= 10, 10_000);
    expect(seen.verdicts.map((v) => v.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await p2.close();
    await seen.sub.close();
    await up.close();
  });

  it('drops verdicts before actions when the outbox is full, and counts both', async () => {
    const probe = await startEmbeddedBroker();
    const port = probe.port;
    await probe.close();
    const device = uniqueDevice('qa');
    const p = new MqttPublisher(options(`mqtt://127.0.0.1:${port}`, device, { outbox: { dir: outboxDir(), fsync: 'never', maxRecords: 3 }, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 }), systemClock, silentLogger);
    await p.start();
    const action = (i: number) => ({ v: 1 as const, device, stream: 's', kind: 'alert' as const, state: 'raised' as const, reason: `a${i}`, verdict_seq: i, t0: 0, t1: 0 });
    p.publishVerdict(sampleVerdict(device, 1));
    p.publishAction(action(1));
    p.publishVerdict(sampleVerdict(device, 2));
    p.publishAction(action(2)); // full: verdict 1 goes
    p.publishAction(action(3)); // full: verdict 2 goes
    expect(p.counters).toMatchObject({ queued: 3, dropped_queue_full: 2, dropped_actions: 0, actions: 3 });
    p.publishVerdict(sampleVerdict(device, 3)); // only actions queued: the new verdict is the oldest verdict, and goes
    expect(p.counters).toMatchObject({ queued: 3, dropped_queue_full: 3, dropped_actions: 0 });
    await p.close();
  });
});

describe.each(testBrokers())('MqttPublisher encodings on the $name', (factory) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await factory.start();
  });
  afterAll(async () => {
    await broker.close();
  });

  it('publishes CBOR that decodes to the same verdict, with the MQTT 5 content type where the broker speaks 5', async () => {
    const device = uniqueDevice('cbor');
    const got: { payload: Buffer; contentType?: string }[] = [];
    const v5 = broker.name !== 'embedded aedes';
    const sub = subscribe(broker.url, [`tinyqa/v1/${device}/verdict/+`], (m) => got.push(m), silentLogger, { protocolVersion: v5 ? 5 : 4 });
    await sub.ready;
    const p = new MqttPublisher(options(broker.url, device, { encoding: 'cbor' }), systemClock, silentLogger);
    await p.start();
    const sent = sampleVerdict(device, 7);
    p.publishVerdict(sent);
    expect(await p.flush(10_000)).toBe(true);
    await until(() => got.length >= 1);
    expect(got[0]!.payload[0]).not.toBe(0x7b); // not "{"
    expect(decodeBody(got[0]!.payload)).toEqual({ ...sent, seq: 0 });
    if (v5) expect(got[0]!.contentType).toBe('application/cbor');
    expect(got[0]!.payload.length).toBeLessThan(Buffer.byteLength(JSON.stringify(sent)));
    await p.close();
    await sub.close();
  });

  it('speaks Sparkplug B: NBIRTH/DBIRTH with bdSeq, DDATA with quality and the durable seq, and an NDEATH will with the same bdSeq', async () => {
    const device = uniqueDevice('spb');
    const group = `g${process.pid}${Math.random().toString(36).slice(2, 6)}`;
    const msgs: { topic: string; p: ReturnType<typeof decodeSparkplug> }[] = [];
    const sub = subscribe(broker.url, [`spBv1.0/${group}/#`], (m) => msgs.push({ topic: m.topic, p: decodeSparkplug(m.payload) }), silentLogger);
    await sub.ready;
    const dir = outboxDir();
    const p = new MqttPublisher(options(broker.url, device, { outbox: { dir, fsync: 'never' }, sparkplug: { group, bdSeqPath: join(dir, 'bdseq.json') } }), systemClock, silentLogger);
    await p.start();
    await until(() => p.connected);
    const ok = sampleVerdict(device, 1);
    const bad = { ...sampleVerdict(device, 2), failed: ['completeness'], parents: { intrinsic: 'fail' as const } };
    bad.children = { completeness: { ...bad.children.completeness!, pass: false, score: 0.5 } };
    p.publishVerdict(ok);
    p.publishVerdict(bad);
    expect(await p.flush(10_000)).toBe(true);
    const verb = (t: string) => t.split('/')[2];
    await until(() => msgs.filter((m) => verb(m.topic) === 'DDATA').length >= 2);
    const nbirth = msgs.find((m) => verb(m.topic) === 'NBIRTH')!;
    expect(nbirth.topic).toBe(`spBv1.0/${group}/NBIRTH/${device}`);
    expect(Number(nbirth.p.seq)).toBe(0);
    const bd = Number(nbirth.p.metrics!.find((m) => m.name === 'bdSeq')!.long_value);
    expect(msgs.some((m) => verb(m.topic) === 'DBIRTH')).toBe(true);
    const data = msgs.filter((m) => verb(m.topic) === 'DDATA');
    const metric = (i: number, name: string) => data[i]!.p.metrics!.find((m) => m.name === name)!;
    expect(Number(metric(0, 'tinyqa/seq').long_value)).toBe(0);
    expect(Number(metric(1, 'tinyqa/seq').long_value)).toBe(1);
    const quality = (m: { properties?: { keys?: string[]; values?: { int_value?: number }[] } }) => m.properties!.values![m.properties!.keys!.indexOf('Quality')]!.int_value;
    expect(quality(metric(0, 's/completeness/score'))).toBe(192);
    expect(quality(metric(1, 's/completeness/score'))).toBe(0);
    // Sparkplug seq counts every message after an NBIRTH (seq 0); a new stream means new metrics, so
    // the births are sent again before its first DDATA (NBIRTH, DBIRTH, DDATA…).
    const seqs = msgs.filter((m) => verb(m.topic) !== 'NDEATH').map((m) => Number(m.p.seq));
    expect(seqs).toEqual([0, 1, 0, 1, 2, 3]);
    expect(msgs.map((m) => verb(m.topic))).toEqual(['NBIRTH', 'DBIRTH', 'NBIRTH', 'DBIRTH', 'DDATA', 'DDATA']);

    // The connection dies without a DISCONNECT: the broker publishes the will, an NDEATH with the
    // session's bdSeq; the publisher reconnects with bdSeq + 1 in its NBIRTH.
    (p as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await until(() => msgs.some((m) => verb(m.topic) === 'NDEATH'), 15_000);
    const death = msgs.find((m) => verb(m.topic) === 'NDEATH')!;
    expect(Number(death.p.metrics!.find((m) => m.name === 'bdSeq')!.long_value)).toBe(bd);
    // (Two NBIRTHs so far came in the first session: at connect, and for the new stream.)
    await until(() => msgs.filter((m) => verb(m.topic) === 'NBIRTH').length >= 3, 15_000);
    const rebirth = msgs.filter((m) => verb(m.topic) === 'NBIRTH')[2]!;
    expect(Number(rebirth.p.metrics!.find((m) => m.name === 'bdSeq')!.long_value)).toBe((bd + 1) & 0xff);
    await p.close();
    await sub.close();
  });
});
