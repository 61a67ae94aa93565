/**
 * MQTT: the only file that imports `mqtt` (STYLE §12).
 *
 * The publisher connects with a stable client id and a retained last will ("offline") on the
 * device's status topic, announces "online" (retained) on every connect, and publishes each verdict
 * at the configured QoS. It reconnects itself with capped exponential backoff plus jitter (mqtt.js's
 * own reconnect is a fixed period and is switched off), saying so on the log. While disconnected,
 * verdicts wait in a bounded queue; when it is full the oldest is dropped and counted. (The durable
 * on-disk outbox replaces this queue later.)
 *
 * Security: TLS (CA, client certificate) and user name/password come from the config (files read once
 * at start by config/mqtt-credentials.ts). MQTT 5 is spoken by default because its reason codes make
 * refusals visible: a CONNACK says why a login failed (MQTT 5 §3.2.2.2), and a PUBACK ≥ 0x80 says the
 * broker refused a message (§3.4.2.1) — in 3.1.1 an ACL denial is acknowledged and silently dropped.
 * A refused login is said once per streak and retried no more often than `authRetryMinMs`: it does
 * not fix itself, and hammering a broker with bad passwords gets a gateway banned.
 */

import mqtt, { ReasonCodes, type IClientOptions, type MqttClient } from 'mqtt';
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
  /** 5 (default) or 4 (3.1.1). With 5, a broker refusing the version is retried once with 4, said on the log. */
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  /** PEM contents (not paths); only used with mqtts:// or wss:// (config validation refuses plaintext URLs with TLS keys). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  /** Least delay between attempts while the broker refuses the credentials (default 30 000 ms). */
  authRetryMinMs?: number;
}

/** Why a connection attempt failed, from mqtt.js's error; pure, for the log and the counters. */
export type ConnectFailure =
  | { kind: 'auth'; code: number; reason: string }
  | { kind: 'version'; code: number; reason: string }
  | { kind: 'refused'; code: number; reason: string }
  | { kind: 'tls'; reason: string }
  | { kind: 'other'; reason: string };

/** CONNACK codes of a refused login: 3.1.1 §3.2.2.3 (4, 5) and MQTT 5 §3.2.2.2 (134, 135, 140). */
const AUTH_CODES = new Set([4, 5, 134, 135, 140]);
/** "Unacceptable protocol version" (3.1.1: 1) and "Unsupported Protocol Version" (MQTT 5: 132). */
const VERSION_CODES = new Set([1, 132]);

export function classifyConnectError(e: unknown): ConnectFailure {
  const reason = errorMessage(e);
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'number') {
    if (AUTH_CODES.has(code)) return { kind: 'auth', code, reason };
    if (VERSION_CODES.has(code)) return { kind: 'version', code, reason };
    return { kind: 'refused', code, reason };
  }
  // Node's TLS errors: OpenSSL alerts (ERR_SSL_…), certificate checks (…CERT…, ERR_TLS_…), and mqtt.js's own.
  if ((typeof code === 'string' && /^ERR_SSL_|^ERR_TLS_|CERT|SIGNATURE|ISSUER/.test(code)) || /^TLS not authorized/.test(reason)) return { kind: 'tls', reason: tlsReason(String(code), reason) };
  return { kind: 'other', reason };
}

/** OpenSSL's messages span lines and name source files: say what happened instead, keeping the code. */
function tlsReason(code: string, message: string): string {
  if (/CERTIFICATE_REQUIRED/.test(code)) return `the broker requires a client certificate and got none (${code})`;
  if (/ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA|ALERT_CERTIFICATE_UNKNOWN/.test(code)) return `the broker did not accept our client certificate (${code})`;
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) return `the broker's certificate is not signed by a trusted CA (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the broker's certificate does not name this host: ${message}`;
  if (/EXPIRED|NOT_YET_VALID/.test(code)) return `the broker's certificate is outside its validity period (${code})`;
  const alert = /alert ([a-z ]+?)(?::|$)/m.exec(message)?.[1];
  if (alert) return `TLS alert "${alert}" (${code})`;
  const first = message.split('\n')[0] ?? message;
  return code === 'undefined' || first.includes(code) ? first : `${first} (${code})`;
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
  /** The refusal being repeated (kind and code), so it is logged once per streak. */
  private streak: string | undefined;
  private streakKind: ConnectFailure['kind'] | undefined;
  private refusals = 0;
  /** One attempt can raise several errors (a TLS failure often two): count the attempt once. */
  private attemptCounted = false;
  /** Set when the broker refused MQTT 5: the next attempt, at once, uses 3.1.1. */
  private fallingBack = false;
  /** Topics whose PUBACK denial was logged (once per topic). */
  private readonly deniedTopics = new Set<string>();

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
    const o = this.o;
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: true,
      keepalive: o.keepaliveS,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      protocolVersion: o.protocolVersion ?? 5,
      will: { topic: this.topics.status, payload: Buffer.from(this.statusPayload('offline')), qos: 1, retain: true },
      ...(o.username ? { username: o.username } : {}),
      ...(o.password !== undefined && o.password !== '' ? { password: o.password } : {}),
    };
    if (o.tls) {
      if (o.tls.ca) options.ca = o.tls.ca;
      if (o.tls.cert) options.cert = o.tls.cert;
      if (o.tls.key) options.key = o.tls.key;
      options.rejectUnauthorized = o.tls.rejectUnauthorized;
      if (!o.tls.rejectUnauthorized) this.log.warn?.('mqtt.reject_unauthorized is false: the broker certificate is not checked, anyone on the path can pose as the broker');
    }
    if (options.password && /^(mqtt|tcp|ws):/.test(o.url) && !/\/\/([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(o.url)) {
      this.log.warn?.(`the broker password goes in plaintext over ${redactUrl(o.url)}; use mqtts:// with mqtt.ca`);
    }
    const client = mqtt.connect(o.url, options);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('error', (e) => this.onError(e));
    client.on('close', () => this.onClose());
    // MQTT 5 §3.14: a broker says why it ends a session (e.g. 142 "session taken over": another client uses our id).
    client.on('disconnect', (packet) => this.log.warn?.(`broker ${redactUrl(o.url)} disconnected us (reason ${packet.reasonCode ?? 0}: ${packet.properties?.reasonString ?? (ReasonCodes as Record<number, string | undefined>)[packet.reasonCode ?? 0] ?? 'unknown'})`));
  }

  private who(): string {
    return this.o.username ? `user "${this.o.username}"` : 'anonymous clients (no mqtt.username set)';
  }

  /** Errors of one connection attempt: CONNACK refusals and TLS failures are counted and said once per streak. */
  private onError(e: unknown): void {
    const f = classifyConnectError(e);
    this.log.debug?.(`mqtt error: ${f.reason}`);
    if (f.kind === 'version' && this.client?.options.protocolVersion === 5) {
      // A 3.1.1-only broker (e.g. aedes, the embedded broker) answers MQTT 5 with "unacceptable
      // protocol version" [MQTT-3.1.2-2]: speak 3.1.1 to it from now on.
      this.client.options.protocolVersion = 4;
      this.fallingBack = true;
      this.log.info?.(`broker ${redactUrl(this.o.url)} does not speak MQTT 5 (${f.reason}); using MQTT 3.1.1, where a broker that denies a publish says nothing`);
      return;
    }
    if (f.kind === 'other' || this.attemptCounted) return;
    this.attemptCounted = true;
    if (f.kind === 'auth') this.counters.auth_failures++;
    if (f.kind === 'tls') this.counters.tls_failures++;
    this.refusals++;
    const key = f.kind === 'tls' ? 'tls' : `${f.kind}:${f.code}`;
    if (key === this.streak) return;
    this.streak = key;
    this.streakKind = f.kind;
    if (f.kind === 'auth') {
      this.log.error?.(
        `broker refused the credentials for ${this.who()} (reason ${f.code}: ${f.reason.replace(/^Connection refused: /, '')}); ` +
          `retrying at most every ${((this.o.authRetryMinMs ?? 30_000) / 1000).toFixed(1)} s — check mqtt.username and mqtt.password_file, and the broker's password file`,
      );
    } else if (f.kind === 'tls') {
      this.log.error?.(`TLS with broker ${redactUrl(this.o.url)} failed: ${f.reason} — check mqtt.ca (the CA that signed the broker's certificate) and, if the broker requires client certificates, mqtt.cert and mqtt.key`);
    } else {
      this.log.warn?.(`broker ${redactUrl(this.o.url)} refused the connection (reason ${f.code}: ${f.reason.replace(/^Connection refused: /, '')})`);
    }
  }

  private statusPayload(state: 'online' | 'offline'): string {
    return JSON.stringify({ state, device: this.o.device, ts: this.clock.now(), version: this.o.version });
  }

  private onConnect(): void {
    this.isConnected = true;
    this.counters.connects++;
    if (this.attempts > 0) this.log.info?.(`connected to broker ${redactUrl(this.o.url)} after ${this.attempts} retr${this.attempts === 1 ? 'y' : 'ies'}`);
    else this.log.info?.(`connected to broker ${redactUrl(this.o.url)}`);
    if (this.streakKind === 'auth') this.log.info?.(`broker accepted the credentials for ${this.who()} after ${this.refusals} refusal${this.refusals === 1 ? '' : 's'}`);
    this.streak = undefined;
    this.streakKind = undefined;
    this.refusals = 0;
    this.attempts = 0;
    this.backoff = this.o.reconnectMinMs;
    this.client?.publish(this.topics.status, this.statusPayload('online'), { qos: 1, retain: true }, (err) => {
      if (err) this.onPublishError(this.topics.status, err);
    });
    while (this.queue.length > 0 && this.isConnected) {
      this.counters.queued--;
      this.send(this.queue.shift()!);
    }
    this.notify();
  }

  private onClose(): void {
    const wasConnected = this.isConnected;
    this.isConnected = false;
    // An attempt that failed without a refusal (broker down, timeout) ends a refusal streak: the
    // next refusal is news again, and the plain backoff applies.
    if (!wasConnected && !this.attemptCounted && !this.fallingBack) {
      this.streak = undefined;
      this.streakKind = undefined;
    }
    this.attemptCounted = false;
    if (wasConnected) this.counters.disconnects++;
    if (this.closing) return;
    let delay: number;
    if (this.fallingBack) {
      this.fallingBack = false;
      delay = 0;
    } else {
      this.attempts++;
      const jitter = 0.8 + 0.4 * Math.random();
      delay = Math.round(this.backoff * jitter);
      this.backoff = Math.min(this.o.reconnectMaxMs, this.backoff * 2);
      // Bad credentials stay bad: never try more often than authRetryMinMs while they are refused.
      if (this.streakKind === 'auth') delay = Math.max(delay, this.o.authRetryMinMs ?? 30_000);
      const line =
        `${wasConnected ? 'lost broker' : this.streakKind ? 'broker refused us:' : 'broker unreachable:'} ${redactUrl(this.o.url)}; retry ${this.attempts} in ${(delay / 1000).toFixed(1)} s` +
        ` (${this.counters.queued} verdict${this.counters.queued === 1 ? '' : 's'} queued)`;
      // A refusal streak was said once, clearly; its retries are detail.
      if (this.streakKind) this.log.debug?.(line);
      else this.log.warn?.(line);
    }
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
      if (err && this.onPublishError(msg.topic, err)) this.counters.publish_denied++;
      else if (err) {
        // mqtt.js keeps unacknowledged QoS 1 packets and resends them after reconnect; an error
        // here means the client gave up on this one (e.g. it was ended), so say so and count it.
        this.log.warn?.(`verdict on ${msg.topic} not acknowledged: ${errorMessage(err)}`);
      } else this.counters.acked++;
      this.notify();
    });
  }

  /**
   * A PUBACK with a reason code ≥ 0x80 (MQTT 5 §3.4.2.1, e.g. 0x87 "not authorized" from an ACL):
   * the broker has the message and refuses it, so resending cannot help. Said once per topic; true
   * when it was such a denial.
   */
  private onPublishError(topic: string, err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'number' || code < 0x80) return false;
    if (!this.deniedTopics.has(topic) && this.deniedTopics.size < 1_000) {
      this.deniedTopics.add(topic);
      this.log.error?.(
        `broker denied publishing to ${topic} (reason 0x${code.toString(16)}: ${errorMessage(err).replace(/^Publish error: /, '')}) for ${this.who()}; ` +
          `messages on this topic are dropped and counted (publish_denied) — check the broker's ACL and mqtt.topic_prefix/device`,
      );
    }
    return true;
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
  /** MQTT 5 content type (e.g. "application/cbor"), when the publisher set one. */
  contentType?: string;
}

export interface Subscription {
  close(): Promise<void>;
  /** Resolves once the subscription is active on the broker. */
  ready: Promise<void>;
  /** Publishes at QoS 1 (e.g. a replay request); resolves on PUBACK, rejects on error or when not connected within 5 s. */
  publish(topic: string, payload: string | Buffer): Promise<void>;
  /** Wire-level messages received (before any dedup), and connects. */
  readonly counters: { messages: number; connects: number };
}

export interface SubscribeOptions {
  clientId?: string;
  /** A persistent session (clean = false): the broker queues QoS 1 messages for us while we are away. */
  persistent?: boolean;
  username?: string;
  password?: string;
  ca?: Buffer;
  /** Delay between reconnect attempts (default 1 000 ms). */
  reconnectMs?: number;
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
  clientIdOrOptions: string | SubscribeOptions = {},
): Subscription {
  const so: SubscribeOptions = typeof clientIdOrOptions === 'string' ? { clientId: clientIdOrOptions } : clientIdOrOptions;
  const clientId = so.clientId ?? `tinyqa-watch-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const reconnectMs = so.reconnectMs ?? 1_000;
  const client = mqtt.connect(url, {
    clientId,
    clean: !so.persistent,
    reconnectPeriod: reconnectMs,
    connectTimeout: 5_000,
    ...(so.username ? { username: so.username } : {}),
    ...(so.password ? { password: so.password } : {}),
    ...(so.ca ? { ca: so.ca } : {}),
  });
  const counters = { messages: 0, connects: 0 };
  let announced = false;
  const ready = new Promise<void>((resolve) => {
    client.on('connect', (connack) => {
      counters.connects++;
      log.info?.(`subscribed to ${redactUrl(url)}: ${filters.join(' ')}`);
      announced = false;
      // A resumed persistent session keeps its subscriptions; subscribing again is harmless.
      if (so.persistent && connack.sessionPresent) {
        resolve();
        return;
      }
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) log.error?.(`subscribe failed: ${errorMessage(err)}`);
        else resolve();
      });
    });
  });
  client.on('error', (e) => {
    if (!announced) log.warn?.(`broker ${redactUrl(url)}: ${errorMessage(e)}; retrying every ${(reconnectMs / 1000).toFixed(1)} s`);
    announced = true;
  });
  client.on('message', (topic, payload, packet) => {
    counters.messages++;
    const contentType = packet.properties?.contentType;
    onMessage({ topic, payload, retain: packet.retain, ...(contentType ? { contentType } : {}) });
  });
  return {
    ready,
    counters,
    publish: (topic, payload) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`not connected to ${redactUrl(url)}: could not publish on ${topic} within 5 s`)), 5_000);
        const go = () =>
          client.publish(topic, payload, { qos: 1 }, (err) => {
            clearTimeout(t);
            if (err) reject(err);
            else resolve();
          });
        if (client.connected) go();
        else client.once('connect', go);
      }),
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}
