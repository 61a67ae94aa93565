/**
 * MQTT: the only file that imports `mqtt` (STYLE §12).
 *
 * The publisher connects with a stable client id and a retained last will ("offline") on the
 * device's status topic, announces "online" (retained) on every connect, and publishes each verdict
 * at the configured QoS. It reconnects itself with capped exponential backoff plus jitter (mqtt.js's
 * own reconnect is a fixed period and is switched off), saying so on the log. While disconnected,
 * verdicts wait in a bounded queue; when it is full the oldest is dropped and counted. (The durable
 * on-disk outbox replaces this queue later.)
 */

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Action } from '../policy/policy.js';
import type { Verdict } from '../qa/types.js';
import { newPublisherCounters, type Publisher } from './publisher.js';
import { deviceTopics, type DeviceTopics } from './topics.js';

export interface MqttPublisherOptions {
  url: string;
  clientId: string;
  topicPrefix: string;
  device: string;
  qos: 0 | 1;
  keepaliveS: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  offlineQueueMax: number;
  /** Software version announced in the birth message. */
  version: string;
}

interface Outgoing {
  topic: string;
  payload: string;
  /** Actions are dropped last when the offline queue is full. */
  action: boolean;
}

/** Hides credentials in a broker URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

export class MqttPublisher implements Publisher {
  readonly counters = newPublisherCounters();
  private client: MqttClient | undefined;
  private readonly topics: DeviceTopics;
  private readonly queue: Outgoing[] = [];
  private retryTimer: TimerHandle | undefined;
  private backoff: number;
  private attempts = 0;
  private closing = false;
  private isConnected = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly o: MqttPublisherOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.topics = deviceTopics(o.topicPrefix, o.device);
    this.backoff = o.reconnectMinMs;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  async start(): Promise<void> {
    const options: IClientOptions = {
      clientId: this.o.clientId,
      clean: true,
      keepalive: this.o.keepaliveS,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      will: { topic: this.topics.status, payload: Buffer.from(this.statusPayload('offline')), qos: 1, retain: true },
    };
    const client = mqtt.connect(this.o.url, options);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('error', (e) => this.log.debug?.(`mqtt error: ${errorMessage(e)}`));
    client.on('close', () => this.onClose());
  }

  private statusPayload(state: 'online' | 'offline'): string {
    return JSON.stringify({ state, device: this.o.device, ts: this.clock.now(), version: this.o.version });
  }

  private onConnect(): void {
    this.isConnected = true;
    this.counters.connects++;
    if (this.attempts > 0) this.log.info?.(`connected to broker ${redactUrl(this.o.url)} after ${this.attempts} retr${this.attempts === 1 ? 'y' : 'ies'}`);
    else this.log.info?.(`connected to broker ${redactUrl(this.o.url)}`);
    this.attempts = 0;
    this.backoff = this.o.reconnectMinMs;
    this.client?.publish(this.topics.status, this.statusPayload('online'), { qos: 1, retain: true });
    while (this.queue.length > 0 && this.isConnected) {
      this.counters.queued--;
      this.send(this.queue.shift()!);
    }
    this.notify();
  }

  private onClose(): void {
    const wasConnected = this.isConnected;
    this.isConnected = false;
    if (wasConnected) this.counters.disconnects++;
    if (this.closing) return;
    this.attempts++;
    const jitter = 0.8 + 0.4 * Math.random();
    const delay = Math.round(this.backoff * jitter);
    this.backoff = Math.min(this.o.reconnectMaxMs, this.backoff * 2);
    this.log.warn?.(
      `${wasConnected ? 'lost broker' : 'broker unreachable:'} ${redactUrl(this.o.url)}; retry ${this.attempts} in ${(delay / 1000).toFixed(1)} s` +
        ` (${this.counters.queued} verdict${this.counters.queued === 1 ? '' : 's'} queued)`,
    );
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closing) this.client?.reconnect();
    }, delay);
  }

  publishVerdict(v: Verdict): void {
    this.counters.accepted++;
    this.enqueue({ topic: this.topics.verdict(v.stream), payload: JSON.stringify(v), action: false });
  }

  publishAction(a: Action): void {
    this.counters.actions++;
    this.enqueue({ topic: this.topics.action, payload: JSON.stringify(a), action: true });
  }

  private enqueue(msg: Outgoing): void {
    if (this.isConnected) {
      this.send(msg);
      return;
    }
    if (this.o.offlineQueueMax === 0) {
      if (msg.action) this.counters.dropped_actions++;
      else this.counters.dropped_queue_full++;
      return;
    }
    if (this.queue.length >= this.o.offlineQueueMax) {
      // Full: the oldest verdict goes first; an action only when nothing else is left, and said.
      const i = this.queue.findIndex((m) => !m.action);
      if (i >= 0) {
        this.queue.splice(i, 1);
        this.counters.dropped_queue_full++;
      } else if (!msg.action) {
        this.counters.dropped_queue_full++;
        return;
      } else {
        this.queue.shift();
        this.counters.dropped_actions++;
        this.log.warn?.(`offline queue full of actions: dropped the oldest action (${this.counters.dropped_actions} so far)`);
      }
      this.counters.queued--;
    }
    this.queue.push(msg);
    this.counters.queued++;
  }

  private send(msg: Outgoing): void {
    this.counters.inflight++;
    this.client!.publish(msg.topic, msg.payload, { qos: this.o.qos }, (err) => {
      this.counters.inflight--;
      if (err) {
        // mqtt.js keeps unacknowledged QoS 1 packets and resends them after reconnect; an error
        // here means the client gave up on this one (e.g. it was ended), so say so and count it.
        this.log.warn?.(`verdict on ${msg.topic} not acknowledged: ${errorMessage(err)}`);
      } else this.counters.acked++;
      this.notify();
    });
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = this.clock.monotonic() + timeoutMs;
    while (this.counters.queued > 0 || this.counters.inflight > 0) {
      const left = deadline - this.clock.monotonic();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          t.cancel();
          resolve();
        });
      });
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.isConnected) await this.flush(2_000);
    this.closing = true;
    this.retryTimer?.cancel();
    const client = this.client;
    if (!client) return;
    if (this.isConnected) {
      // A graceful stop publishes "offline" itself: the broker only sends the will on an abnormal end.
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(resolve, 1_000);
        client.publish(this.topics.status, this.statusPayload('offline'), { qos: 1, retain: true }, () => {
          t.cancel();
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    this.isConnected = false;
  }
}

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

export interface Subscription {
  close(): Promise<void>;
  /** Resolves once the subscription is active on the broker. */
  ready: Promise<void>;
}

/**
 * Subscribes to `filters` on a broker (QoS 1) and calls `onMessage` for each message; reconnects by
 * itself. Used by `tinyqa watch` and by tests that check what reached the broker.
 */
export function subscribe(
  url: string,
  filters: string[],
  onMessage: (m: ReceivedMessage) => void,
  log: Logger,
  clientId = `tinyqa-watch-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
): Subscription {
  const client = mqtt.connect(url, { clientId, clean: true, reconnectPeriod: 1_000, connectTimeout: 5_000 });
  let announced = false;
  const ready = new Promise<void>((resolve) => {
    client.on('connect', () => {
      log.info?.(`subscribed to ${redactUrl(url)}: ${filters.join(' ')}`);
      announced = false;
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) log.error?.(`subscribe failed: ${errorMessage(err)}`);
        else resolve();
      });
    });
  });
  client.on('error', (e) => {
    if (!announced) log.warn?.(`broker ${redactUrl(url)}: ${errorMessage(e)}; retrying every 1 s`);
    announced = true;
  });
  client.on('message', (topic, payload, packet) => onMessage({ topic, payload, retain: packet.retain }));
  return {
    ready,
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}
