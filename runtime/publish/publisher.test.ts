import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { MemoryLogSink, createLogger, silentLogger } from '../core/log.js';
import { testBrokers, uniqueDevice, type TestBroker } from '../../sim/testing/brokers.js';
import { collect } from '../../sim/testing/collector.js';
import { startEmbeddedBroker } from '../../sim/broker.js';
import { MemoryPublisher } from './memory.js';
import { MqttPublisher, redactUrl, type MqttPublisherOptions } from './mqtt.js';
import { publisherContract, sampleVerdict } from './publisher.contract.js';

const options = (url: string, device: string, extra: Partial<MqttPublisherOptions> = {}): MqttPublisherOptions => ({
  url,
  clientId: `tinyqa-${device}`,
  topicPrefix: 'tinyqa/v1',
  device,
  qos: 1,
  keepaliveS: 10,
  reconnectMinMs: 50,
  reconnectMaxMs: 200,
  offlineQueueMax: 100,
  version: 'test',
  ...extra,
});

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
      publisher: new MqttPublisher(options(broker.url, device, { offlineQueueMax: 1000 }), systemClock, silentLogger),
      received: () => seen.verdicts.map((v) => ({ ...v, device: 'dev' })),
      dispose: () => seen.sub.close(),
    };
  });
});

describe('MqttPublisher without a broker', () => {
  it('says the broker is unreachable, retries with growing delays, queues boundedly and drops oldest first', async () => {
    const probe = await startEmbeddedBroker();
    const port = probe.port;
    await probe.close();
    const sink = new MemoryLogSink();
    const device = uniqueDevice('q');
    const p = new MqttPublisher(options(`mqtt://user:secret@127.0.0.1:${port}`, device, { offlineQueueMax: 5 }), systemClock, createLogger('info', sink));
    await p.start();
    for (let i = 1; i <= 8; i++) p.publishVerdict(sampleVerdict(device, i));
    expect(p.counters.queued).toBe(5);
    expect(p.counters.dropped_queue_full).toBe(3);
    const t0 = Date.now();
    while (sink.lines.filter((l) => l.includes('broker unreachable')).length < 3 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
    const warnings = sink.lines.filter((l) => l.includes('broker unreachable'));
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    expect(warnings[0]).toMatch(/retry 1 in [\d.]+ s \(5 verdicts queued\)/);
    expect(warnings.join('\n')).not.toContain('secret');
    expect(redactUrl('mqtt://u:p@h:1')).toBe('mqtt://***@h:1');

    // The broker comes up: the five newest verdicts go out, oldest dropped ones do not.
    const up = await startEmbeddedBroker(port);
    const seen = await collect(up.url, 'tinyqa/v1', device);
    await seen.waitFor(() => seen.verdicts.length >= 5, 10_000);
    expect(seen.verdicts.map((v) => v.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(sink.lines.some((l) => /connected to broker mqtt:\/\/\*\*\*@127\.0\.0\.1:\d+ after \d+ retr/.test(l))).toBe(true);
    await p.close();
    await seen.sub.close();
    await up.close();
  });
});

describe('MqttPublisher offline queue with actions', () => {
  it('drops verdicts before actions when the queue is full, and counts both', async () => {
    const probe = await startEmbeddedBroker();
    const port = probe.port;
    await probe.close();
    const device = uniqueDevice('qa');
    const p = new MqttPublisher(options(`mqtt://127.0.0.1:${port}`, device, { offlineQueueMax: 3, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 }), systemClock, silentLogger);
    await p.start();
    const action = (i: number) => ({ v: 1 as const, device, stream: 's', kind: 'alert' as const, state: 'raised' as const, reason: `a${i}`, verdict_seq: i, t0: 0, t1: 0 });
    p.publishVerdict(sampleVerdict(device, 1));
    p.publishAction(action(1));
    p.publishVerdict(sampleVerdict(device, 2));
    p.publishAction(action(2)); // full: verdict 1 goes
    p.publishAction(action(3)); // full: verdict 2 goes
    expect(p.counters).toMatchObject({ queued: 3, dropped_queue_full: 2, dropped_actions: 0, actions: 3 });
    p.publishVerdict(sampleVerdict(device, 3)); // only actions queued: the new verdict is dropped
    expect(p.counters).toMatchObject({ queued: 3, dropped_queue_full: 3, dropped_actions: 0 });
    p.publishAction(action(4)); // only actions: the oldest action goes, and that is counted
    expect(p.counters).toMatchObject({ queued: 3, dropped_actions: 1 });
    await p.close();
  });
});
