/**
 * Brokers for tests: the embedded aedes broker always, and a real Mosquitto when
 * TINYQA_TEST_MQTT_URL is set (CI sets it to the Mosquitto on 127.0.0.1:1883).
 */

import { startEmbeddedBroker } from '../broker.js';

export interface TestBroker {
  name: string;
  url: string;
  close(): Promise<void>;
}

export type BrokerFactory = { name: string; start(): Promise<TestBroker> };

export function testBrokers(): BrokerFactory[] {
  const out: BrokerFactory[] = [
    {
      name: 'embedded aedes',
      start: async () => {
        const b = await startEmbeddedBroker();
        return { name: 'embedded aedes', url: b.url, close: () => b.close() };
      },
    },
  ];
  const external = process.env.TINYQA_TEST_MQTT_URL;
  if (external) out.push({ name: `external broker ${external}`, start: async () => ({ name: 'external', url: external, close: async () => undefined }) });
  return out;
}

/** A device id no other test run uses, so tests sharing one external broker do not see each other. */
export function uniqueDevice(prefix = 'test'): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
