/**
 * MQTT: the only file that imports `mqtt` (STYLE §12).
 *
 * Delivery (DESIGN §6). Every verdict and action goes into the durable outbox (outbox.ts) first and
 * gets its `seq` there: one per-device sequence, strictly increasing, never reused across restarts —
 * what subscribers dedup on. Records leave the outbox only on PUBACK. While connected, at most
 * `window` records are in flight: `maxInflight`, lowered to the broker's receive maximum (MQTT 5
 * CONNACK, §3.2.2.3.3). A dropped connection puts every in-flight record back in the queue; the next
 * connection sends them again, same seq (a wire-level duplicate subscribers drop).
 *
 * Each connection is a fresh mqtt.js client with the same stable client id and a persistent session
 * (clean start off, session expiry `sessionExpiryS`), so inbound QoS 1 commands wait at the broker
 * while we are away. mqtt.js's own reconnect and offline store are not used: its store is memory only,
 * and its publish callbacks can wait forever on a connection that is gone. Here, a callback of an old
 * connection is ignored (generation check) and nothing awaits one without a deadline.
 *
 * End to end: a broker killed with SIGKILL loses what it held in memory, acknowledged or not. Acked
 * records stay in the outbox's retention window; a subscriber that sees a gap in `seq` (or a tail:
 * status and health carry `last_seq`) asks for a replay on `cmd/replay {from, to}`, and the records
 * still on disk are published again on their topics; the result names the ranges that are gone.
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
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Action } from '../policy/policy.js';
import type { Verdict } from '../qa/types.js';
import type { Command, CommandGate } from './commands.js';
import { decodeBody, encodeBody, sniffEncoding, type Encoding } from './encoding.js';
import { Outbox, outboxDropped, type OutboxOptions, type OutboxRecord } from './outbox.js';
import { SparkplugSession, decodeSparkplug } from './sparkplug.js';
import { newPublisherCounters, type Publisher, type PublisherCounters } from './publisher.js';
import { deviceTopics, type DeviceTopics } from './topics.js';

const utf8 = new TextEncoder();

export interface MqttPublisherOptions {
  url: string;
  clientId: string;
  topicPrefix: string;
  device: string;
  qos: 0 | 1;
  keepaliveS: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Where and how records wait for the broker (outbox.ts): a directory of its own, and bounds. */
  outbox: OutboxOptions;
  /** Records in flight at most; the broker's receive maximum lowers it (default 100). */
  maxInflight?: number;
  /** MQTT 5 session expiry: how long the broker keeps our session (and queued commands) after a disconnect (default 86 400 s). */
  sessionExpiryS?: number;
  /** Payload encoding of everything published on the plain topic tree (default json); CBOR sets the MQTT 5 content type. */
  encoding?: Encoding;
  /**
   * Sparkplug B mode: verdicts and actions go out as DDATA of edge node `device` in `group` (device id
   * `device` too), with NBIRTH/DBIRTH/NDEATH and bdSeq kept in `bdSeqPath`. Status is replaced by the
   * births and the death; health, commands and replays stay on the plain tree.
   */
  sparkplug?: { group: string; bdSeqPath: string };
  /** Inbound commands on <prefix>/<device>/cmd/<name>; without it, none are subscribed to. `replay` is served here. */
  commands?: { gate: CommandGate; run: (c: Command) => Promise<unknown> };
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

/** Hides credentials in a broker URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** A replay request being served: seqs from `next` to `to` still to look at. */
interface ReplayJob {
  next: number;
  to: number;
}

/** Most seqs one replay request may ask for; a subscriber asks again for the rest. */
const REPLAY_MAX_SPAN = 100_000;
/** Replay work queued at most (requests); beyond, new requests are answered "busy". */
const REPLAY_MAX_JOBS = 64;

export class MqttPublisher implements Publisher {
  private client: MqttClient | undefined;
  /** Bumped for every connection attempt: events and callbacks of older clients are ignored. */
  private gen = 0;
  private readonly topics: DeviceTopics;
  private box: Outbox | undefined;
  private readonly c = newPublisherCounters();
  private retryTimer: TimerHandle | undefined;
  private backoff: number;
  private attempts = 0;
  private closing = false;
  private isConnected = false;
  private waiters: (() => void)[] = [];
  /** Records (and replays) handed to the current client and not yet acknowledged. */
  private inflightN = 0;
  /** The in-flight bound of the current connection: maxInflight, or less if the broker says so. */
  private window: number;
  private pumping = false;
  private readonly replays: ReplayJob[] = [];
  private protocolVersion: 4 | 5;
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
  /** Command refusal reasons already logged (once each, bounded). */
  private readonly saidRefusals = new Set<string>();
  private readonly encoding: Encoding;
  private readonly sp: SparkplugSession | undefined;
  /** Streams the current DBIRTH declared (Sparkplug mode); a new one means a rebirth first. */
  private readonly spStreams = new Set<string>();

  constructor(
    private readonly o: MqttPublisherOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.topics = deviceTopics(o.topicPrefix, o.device);
    this.backoff = o.reconnectMinMs;
    this.window = o.maxInflight ?? 100;
    this.protocolVersion = o.protocolVersion ?? 5;
    this.encoding = o.encoding ?? 'json';
    if (o.sparkplug) this.sp = new SparkplugSession({ group: o.sparkplug.group, edgeNode: o.device, device: o.device, bdSeqPath: o.sparkplug.bdSeqPath, log });
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** Publisher counters; queue figures come from the outbox, so they survive restarts as the records do. */
  get counters(): PublisherCounters {
    const b = this.box?.counters;
    if (b) {
      this.c.queued = b.queued - b.inflight;
      this.c.inflight = b.inflight;
      this.c.dropped_queue_full = b.dropped_full_verdicts + b.dropped_full_other + b.dropped_corrupt;
      this.c.dropped_actions = b.dropped_full_actions;
    }
    return this.c;
  }

  get lastSeq(): number {
    return this.box ? this.box.nextSeq - 1 : -1;
  }

  details(): Record<string, number> {
    const b = this.box?.counters;
    if (!b) return {};
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(b)) out[`outbox_${k}`] = v;
    out.outbox_dropped = outboxDropped(b);
    out.outbox_acked_through = this.box!.ackedThrough;
    out.last_seq = this.lastSeq;
    return out;
  }

  /** Opens the outbox (recovering what an earlier run left) and starts connecting in the background. */
  async start(): Promise<void> {
    if (this.box) return;
    this.box = Outbox.open({ clock: this.clock, log: this.log, ...this.o.outbox });
    const b = this.box.counters;
    if (b.recovered_records > 0 || b.torn_bytes_cut > 0 || b.corrupt_records > 0) {
      this.log.info?.(
        `outbox ${this.o.outbox.dir}: ${b.queued} record${b.queued === 1 ? '' : 's'} from an earlier run still to send (next seq ${this.box.nextSeq})` +
          (b.torn_bytes_cut > 0 ? `; a torn record of ${b.torn_bytes_cut} bytes cut` : '') +
          (b.corrupt_records > 0 ? `; ${b.corrupt_records} damaged record${b.corrupt_records === 1 ? '' : 's'} skipped` : ''),
      );
    }
    if (this.o.tls && !this.o.tls.rejectUnauthorized) this.log.warn?.('mqtt.reject_unauthorized is false: the broker certificate is not checked, anyone on the path can pose as the broker');
    if (this.o.password && /^(mqtt|tcp|ws):/.test(this.o.url) && !/\/\/([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(this.o.url)) {
      this.log.warn?.(`the broker password goes in plaintext over ${redactUrl(this.o.url)}; use mqtts:// with mqtt.ca`);
    }
    this.connect();
  }

  private clientOptions(): IClientOptions {
    const o = this.o;
    const options: IClientOptions = {
      clientId: o.clientId,
      // A persistent session: the broker keeps our subscriptions and queues commands while we are away.
      clean: false,
      keepalive: o.keepaliveS,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      protocolVersion: this.protocolVersion,
      will: this.will(),
      ...(o.username ? { username: o.username } : {}),
      ...(o.password !== undefined && o.password !== '' ? { password: o.password } : {}),
    };
    if (this.protocolVersion === 5) options.properties = { sessionExpiryInterval: o.sessionExpiryS ?? 86_400 };
    if (o.tls) {
      if (o.tls.ca) options.ca = o.tls.ca;
      if (o.tls.cert) options.cert = o.tls.cert;
      if (o.tls.key) options.key = o.tls.key;
      options.rejectUnauthorized = o.tls.rejectUnauthorized;
    }
    return options;
  }

  /**
   * The last will: "offline" on the retained status topic; in Sparkplug mode the NDEATH of a new
   * session (bdSeq + 1, persisted before it is used, the same value the NBIRTH will carry).
   */
  private will(): NonNullable<IClientOptions['will']> {
    if (this.sp) {
      this.sp.nextSession();
      const d = this.sp.death();
      return { topic: d.topic, payload: Buffer.from(d.bytes), qos: 1, retain: false };
    }
    // No last_seq in the will: it is built at connect time, and a stale value would mislead.
    const st = this.statusMessage('offline', false);
    return { topic: this.topics.status, payload: st.payload, qos: 1, retain: true, ...(st.properties ? { properties: st.properties } : {}) };
  }

  /** A body on the plain tree in the configured encoding; MQTT 5 gets the content type. */
  private encode(body: object): { payload: Buffer; properties?: { contentType: string } } {
    const e = encodeBody(body, this.encoding);
    return this.protocolVersion === 5 ? { payload: e.bytes, properties: { contentType: e.contentType } } : { payload: e.bytes };
  }

  private statusMessage(state: 'online' | 'offline', withLastSeq = true): { payload: Buffer; properties?: { contentType: string } } {
    return this.encode({ state, device: this.o.device, ts: this.clock.now(), version: this.o.version, ...(withLastSeq ? { last_seq: this.lastSeq } : {}) });
  }

  /** NBIRTH then DBIRTH (Sparkplug): after every connect, for a new stream, and on a host's rebirth request. */
  private births(): void {
    const sp = this.sp!;
    const client = this.client!;
    const now = this.clock.now();
    const nb = sp.nodeBirth(now, { version: this.o.version, device: this.o.device });
    client.publish(nb.topic, Buffer.from(nb.bytes), { qos: 0 });
    const db = sp.deviceBirth(now, [...this.spStreams]);
    client.publish(db.topic, Buffer.from(db.bytes), { qos: 0 });
  }

  /** One connection attempt with a fresh client; its events count only while it is the current one. */
  private connect(): void {
    const gen = ++this.gen;
    const old = this.client;
    if (old) {
      old.removeAllListeners();
      old.on('error', () => undefined);
      old.end(true);
    }
    const client = mqtt.connect(this.o.url, this.clientOptions());
    this.client = client;
    client.on('connect', (connack) => gen === this.gen && this.onConnect(connack.properties?.receiveMaximum, connack.sessionPresent));
    client.on('error', (e) => gen === this.gen && this.onError(e));
    client.on('close', () => gen === this.gen && this.onClose());
    client.on('message', (topic, payload, packet) => gen === this.gen && this.onMessage(topic, payload, packet.retain));
    // MQTT 5 §3.14: a broker says why it ends a session (e.g. 142 "session taken over": another client uses our id).
    client.on('disconnect', (packet) => {
      if (gen !== this.gen) return;
      this.log.warn?.(
        `broker ${redactUrl(this.o.url)} disconnected us (reason ${packet.reasonCode ?? 0}: ${packet.properties?.reasonString ?? (ReasonCodes as Record<number, string | undefined>)[packet.reasonCode ?? 0] ?? 'unknown'})`,
      );
    });
  }

  private who(): string {
    return this.o.username ? `user "${this.o.username}"` : 'anonymous clients (no mqtt.username set)';
  }

  /** Errors of one connection attempt: CONNACK refusals and TLS failures are counted and said once per streak. */
  private onError(e: unknown): void {
    const f = classifyConnectError(e);
    this.log.debug?.(`mqtt error: ${f.reason}`);
    if (f.kind === 'version' && this.protocolVersion === 5) {
      // A 3.1.1-only broker (e.g. aedes, the embedded broker) answers MQTT 5 with "unacceptable
      // protocol version" [MQTT-3.1.2-2]: speak 3.1.1 to it from now on.
      this.protocolVersion = 4;
      this.fallingBack = true;
      this.log.info?.(`broker ${redactUrl(this.o.url)} does not speak MQTT 5 (${f.reason}); using MQTT 3.1.1, where a broker that denies a publish says nothing`);
      return;
    }
    if (f.kind === 'other' || this.attemptCounted) return;
    this.attemptCounted = true;
    if (f.kind === 'auth') this.c.auth_failures++;
    if (f.kind === 'tls') this.c.tls_failures++;
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

  private onConnect(receiveMaximum: number | undefined, sessionPresent: boolean): void {
    this.isConnected = true;
    this.c.connects++;
    this.inflightN = 0;
    const max = this.o.maxInflight ?? 100;
    this.window = receiveMaximum !== undefined && receiveMaximum > 0 ? Math.min(max, receiveMaximum) : max;
    const backlog = this.box!.counters.queued;
    const what = `${backlog} record${backlog === 1 ? '' : 's'} to send, in-flight window ${this.window}${sessionPresent ? ', session resumed' : ''}`;
    if (this.attempts > 0) this.log.info?.(`connected to broker ${redactUrl(this.o.url)} after ${this.attempts} retr${this.attempts === 1 ? 'y' : 'ies'} (${what})`);
    else this.log.info?.(`connected to broker ${redactUrl(this.o.url)} (${what})`);
    if (this.streakKind === 'auth') this.log.info?.(`broker accepted the credentials for ${this.who()} after ${this.refusals} refusal${this.refusals === 1 ? '' : 's'}`);
    this.streak = undefined;
    this.streakKind = undefined;
    this.refusals = 0;
    this.attempts = 0;
    this.backoff = this.o.reconnectMinMs;
    const client = this.client!;
    if (this.sp) {
      this.births();
      client.subscribe(this.sp.topics.ncmd, { qos: 1 });
    } else {
      const st = this.statusMessage('online');
      client.publish(this.topics.status, st.payload, { qos: 1, retain: true, ...(st.properties ? { properties: st.properties } : {}) }, (err) => {
        if (err) this.onPublishError(this.topics.status, err);
      });
    }
    if (this.o.commands) {
      client.subscribe(`${this.o.topicPrefix}/${this.o.device}/cmd/+`, { qos: 1 }, (err, granted) => {
        if (err) this.log.error?.(`could not subscribe to commands: ${errorMessage(err)}`);
        else if (granted?.some((g) => g.qos >= 0x80)) this.log.error?.(`the broker refused our subscription to ${this.o.topicPrefix}/${this.o.device}/cmd/+ (reason 0x${granted[0]!.qos.toString(16)}): commands cannot reach this device — check the broker's ACL`);
      });
    }
    this.pump();
    this.notify();
  }

  private onClose(): void {
    const wasConnected = this.isConnected;
    this.isConnected = false;
    this.inflightN = 0;
    // Everything in flight goes back in the queue, same seq: the next connection sends it again.
    const back = this.box?.requeueInflight() ?? 0;
    if (back > 0) this.c.resent += back;
    // An attempt that failed without a refusal (broker down, timeout) ends a refusal streak: the
    // next refusal is news again, and the plain backoff applies.
    if (!wasConnected && !this.attemptCounted && !this.fallingBack) {
      this.streak = undefined;
      this.streakKind = undefined;
    }
    this.attemptCounted = false;
    if (wasConnected) this.c.disconnects++;
    this.notify();
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
      const queued = this.counters.queued;
      const line =
        `${wasConnected ? 'lost broker' : this.streakKind ? 'broker refused us:' : 'broker unreachable:'} ${redactUrl(this.o.url)}; retry ${this.attempts} in ${(delay / 1000).toFixed(1)} s` +
        ` (${queued} record${queued === 1 ? '' : 's'} queued in the outbox)`;
      // A refusal streak was said once, clearly; its retries are detail.
      if (this.streakKind) this.log.debug?.(line);
      else this.log.warn?.(line);
    }
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closing) this.connect();
    }, delay);
  }

  private requireOutbox(): Outbox {
    if (!this.box) throw new TinyqaError(ErrorCode.Internal, 'the MQTT publisher was used before start()');
    return this.box;
  }

  /**
   * Gives the verdict its durable seq (`v.seq` is set here, so the actions and the local store that
   * follow refer to the same number) and appends it to the outbox. A refused append (disk full) is
   * counted and said by the outbox; the runtime keeps judging.
   */
  publishVerdict(v: Verdict): void {
    const box = this.requireOutbox();
    v.seq = box.nextSeq;
    if (this.append('verdict', this.topics.verdict(v.stream), v)) this.c.accepted++;
  }

  publishAction(a: Action): void {
    const box = this.requireOutbox();
    if (this.append('action', this.topics.action, { ...a, seq: box.nextSeq })) this.c.actions++;
  }

  private append(kind: 'verdict' | 'action', topic: string, body: object): boolean {
    const box = this.box!;
    const expect = box.nextSeq;
    try {
      const seq = box.append(kind, topic, utf8.encode(JSON.stringify(body)));
      if (seq !== expect) throw new TinyqaError(ErrorCode.Internal, `outbox gave seq ${seq} where ${expect} was written into the payload`);
    } catch (e) {
      // The outbox said why (rate-limited) and counted it; a bug is said here.
      this.c.refused++;
      if (!(e instanceof TinyqaError) || e.code === ErrorCode.Internal) this.log.error?.(`${kind} not queued: ${errorMessage(e)}`);
      return false;
    }
    this.pump();
    return true;
  }

  publishHealth(report: object): void {
    const client = this.client;
    if (!this.isConnected || !client) {
      this.c.health_skipped++;
      return;
    }
    this.c.health++;
    const m = this.encode({ ...report, last_seq: this.lastSeq });
    client.publish(this.topics.health, m.payload, { qos: 0, ...(m.properties ? { properties: m.properties } : {}) });
  }

  /** Hands records to the client while the window has room: replays first (a subscriber is waiting), then the queue. */
  private pump(): void {
    if (this.pumping || !this.isConnected || !this.client || !this.box) return;
    this.pumping = true;
    try {
      const box = this.box;
      while (this.isConnected && this.inflightN < this.window) {
        const job = this.replays[0];
        if (job) {
          const recs = box.readRange(job.next, job.to, Math.min(this.window - this.inflightN, 256));
          if (recs.length === 0) {
            this.replays.shift();
            continue;
          }
          // Records still waiting to be sent (or in flight) go out on their own: not twice.
          for (const r of recs) if (!this.pending(r.seq)) this.send(r, false);
          job.next = recs[recs.length - 1]!.seq + 1;
          if (job.next > job.to) this.replays.shift();
          continue;
        }
        const recs = box.nextToSend(this.window - this.inflightN);
        if (recs.length === 0) break;
        for (const r of recs) {
          if (box.markSent(r.seq)) this.send(r, true);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** One record to the client; `fromQueue`: acked in the outbox on PUBACK (a replay is already acked). */
  private send(r: OutboxRecord, fromQueue: boolean): void {
    const gen = this.gen;
    const wire = this.wire(r);
    this.inflightN++;
    if (!fromQueue) this.c.replayed++;
    this.client!.publish(wire.topic, wire.payload, { qos: wire.qos, ...(wire.properties ? { properties: wire.properties } : {}) }, (err) => {
      // A callback of a connection that is gone: its records were requeued when it closed.
      if (gen !== this.gen) return;
      this.inflightN--;
      if (!err) {
        if (fromQueue && this.box?.ack(r.seq)) this.c.acked++;
      } else if (this.onPublishError(r.topic, err)) {
        // The broker has it and refuses it: resending cannot help. Counted, and out of the queue.
        this.c.publish_denied++;
        if (fromQueue) this.box?.ack(r.seq);
      } else {
        this.log.debug?.(`seq ${r.seq} on ${r.topic} not acknowledged: ${errorMessage(err)}; sent again on the next connection`);
      }
      this.pump();
      this.notify();
    });
  }

  /**
   * What goes on the wire for a record: the outbox keeps the JSON the pipeline produced; CBOR and
   * Sparkplug are encoded at send time (Sparkplug's seq belongs to the session the record goes out in).
   * Sparkplug DDATA is QoS 0, as the specification requires: acknowledged when written to the socket.
   */
  private wire(r: OutboxRecord): { topic: string; payload: Buffer; qos: 0 | 1; properties?: { contentType: string } } {
    const raw = Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
    if (this.sp) {
      const body = JSON.parse(raw.toString('utf8')) as Verdict & Action;
      const now = this.clock.now();
      if (r.kind === 'verdict' && !this.spStreams.has(body.stream)) {
        this.spStreams.add(body.stream);
        this.births();
      } else if (this.sp.needsRebirth) this.births();
      const m = r.kind === 'verdict' ? this.sp.verdictData(now, body, r.seq) : this.sp.actionData(now, body, r.seq);
      return { topic: m.topic, payload: Buffer.from(m.bytes), qos: 0 };
    }
    if (this.encoding === 'json') return { topic: r.topic, payload: raw, qos: this.o.qos, ...(this.protocolVersion === 5 ? { properties: { contentType: 'application/json' } } : {}) };
    return { topic: r.topic, qos: this.o.qos, ...this.encode(JSON.parse(raw.toString('utf8')) as object) };
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

  // ---- inbound commands -------------------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.sp && topic === this.sp.topics.ncmd) {
      this.onNodeCommand(payload);
      return;
    }
    const cmds = this.o.commands;
    if (!cmds) return;
    // Commands may come in CBOR too; the gate reads JSON (its signature is over JSON.stringify(args)).
    let body: Buffer | string = payload;
    if (payload.length > 0 && sniffEncoding(payload) === 'cbor') {
      try {
        body = JSON.stringify(decodeBody(payload, 'application/cbor'));
      } catch {
        // Left as it is: the gate refuses it as not JSON, with the reason.
      }
    }
    const check = cmds.gate.check(topic, body, retained, this.clock.now());
    if (!check.ok) {
      if (check.ignore) {
        this.c.commands_ignored++;
        this.log.debug?.(check.reason);
        return;
      }
      this.c.commands_refused++;
      if (!this.saidRefusals.has(check.reason) && this.saidRefusals.size < 100) {
        this.saidRefusals.add(check.reason);
        this.log.warn?.(`command refused: ${check.reason}`);
      }
      if (check.id) this.answer(check.id, topic.slice(topic.lastIndexOf('/') + 1), false, check.reason);
      return;
    }
    const cmd = check.command;
    this.c.commands++;
    if (cmd.name === 'replay') {
      const r = this.replay(cmd.args);
      this.answer(cmd.id, cmd.name, r.ok, r.ok ? undefined : r.error, r.ok ? r.result : undefined);
      return;
    }
    this.log.info?.(`command ${cmd.name} (${cmd.id})`);
    cmds.run(cmd).then(
      (result) => this.answer(cmd.id, cmd.name, true, undefined, result),
      (e: unknown) => {
        this.log.warn?.(`command ${cmd.name} (${cmd.id}) failed: ${errorMessage(e)}`);
        this.answer(cmd.id, cmd.name, false, errorMessage(e));
      },
    );
  }

  /** A Sparkplug host's NCMD: `Node Control/Rebirth` = true asks for the births again (spec ch. 6). */
  private onNodeCommand(payload: Buffer): void {
    try {
      const p = decodeSparkplug(payload);
      if (p.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.boolean_value === true)) {
        this.log.info?.('Sparkplug host asked for a rebirth');
        this.births();
      }
    } catch (e) {
      this.c.commands_refused++;
      this.log.warn?.(`NCMD ignored: ${errorMessage(e)}`);
    }
  }

  /** The command's answer on <prefix>/<device>/cmd/result, with its id. */
  private answer(id: string, name: string, ok: boolean, error?: string, result?: unknown): void {
    const m = this.encode({ id, name, ok, ts: this.clock.now(), ...(error !== undefined ? { error } : {}), ...(result !== undefined ? { result } : {}) });
    if (this.isConnected) this.client?.publish(`${this.o.topicPrefix}/${this.o.device}/cmd/result`, m.payload, { qos: 1, ...(m.properties ? { properties: m.properties } : {}) });
  }

  /**
   * A replay request {from, to}: the records of that range still on disk are queued to be published
   * again; the ranges no longer on disk (older than the retention window, or dropped by a full
   * outbox) are named at once, so the subscriber gives them up instead of waiting.
   */
  private replay(args: Record<string, unknown>): { ok: true; result: { replayed: number; gone: [number, number][]; pending: number; last_seq: number; next?: number } } | { ok: false; error: string } {
    const box = this.box!;
    const { from, to } = args;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || (from as number) < 0 || (to as number) < (from as number)) {
      return { ok: false, error: 'replay needs integer args {from, to} with 0 ≤ from ≤ to' };
    }
    const last = this.lastSeq;
    const lo = from as number;
    const hi = Math.min(to as number, last, lo + REPLAY_MAX_SPAN - 1);
    if (this.replays.length >= REPLAY_MAX_JOBS) return { ok: false, error: `busy: ${this.replays.length} replays queued; ask again later` };
    const gone: [number, number][] = [];
    let replayed = 0;
    let pending = 0;
    for (let s = lo; s <= hi; s++) {
      if (this.pending(s)) {
        pending++;
        continue;
      }
      if (box.present(s)) {
        replayed++;
        continue;
      }
      const g = gone[gone.length - 1];
      if (g && g[1] === s - 1) g[1] = s;
      else gone.push([s, s]);
      this.c.replay_gone++;
    }
    // A repeated request for records already being replayed adds nothing: subscribers ask again
    // while a replay is under way, and each copy would multiply the traffic.
    const covered = this.replays.some((j) => j.next <= lo && hi <= j.to);
    if (replayed > 0 && !covered) this.replays.push({ next: lo, to: hi });
    this.log.info?.(`replay ${lo}–${to as number} requested: ${replayed} record${replayed === 1 ? '' : 's'} to publish again${gone.length ? `, ${gone.length} range${gone.length === 1 ? '' : 's'} gone` : ''}`);
    this.pump();
    // A range cut at REPLAY_MAX_SPAN says where to ask again.
    return { ok: true, result: { replayed, gone, pending, last_seq: last, ...(hi < Math.min(to as number, last) ? { next: hi + 1 } : {}) } };
  }

  /** Not yet acknowledged: it is sent (again) from the queue anyway. */
  private pending(seq: number): boolean {
    const st = this.box!.stateOf(seq);
    return st === 'queued' || st === 'inflight';
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Resolves true once the outbox holds nothing unacknowledged, false if `timeoutMs` passes first. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = this.clock.monotonic() + timeoutMs;
    while ((this.box?.counters.queued ?? 0) > 0) {
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
    if (client) {
      if (this.isConnected) {
        // A graceful stop publishes "offline" (Sparkplug: NDEATH) itself: the broker only sends the will on an abnormal end.
        const last = this.sp ? { topic: this.sp.topics.ndeath, payload: Buffer.from(this.sp.death(this.clock.now()).bytes), retain: false } : { topic: this.topics.status, ...this.statusMessage('offline'), retain: true };
        await new Promise<void>((resolve) => {
          const t = this.clock.setTimeout(resolve, 1_000);
          client.publish(last.topic, last.payload, { qos: 1, retain: last.retain, ...('properties' in last && last.properties ? { properties: last.properties } : {}) }, () => {
            t.cancel();
            resolve();
          });
        });
      }
      // A DISCONNECT when connected (the broker then drops the will: this end is not abnormal), a
      // forced end otherwise; bounded either way.
      const graceful = this.isConnected;
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(() => {
          client.end(true);
          resolve();
        }, 2_000);
        client.end(!graceful, {}, () => {
          t.cancel();
          resolve();
        });
      });
    }
    this.isConnected = false;
    // What is still unacknowledged stays in the outbox for the next run.
    this.box?.requeueInflight();
    this.box?.close();
    this.box = undefined;
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
  /** The same, retained (an empty payload clears the retained message). */
  publishRetained(topic: string, payload: string | Buffer): Promise<void>;
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
  /** 4 (3.1.1, default: every broker speaks it) or 5 (content types and reason codes arrive). */
  protocolVersion?: 4 | 5;
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
    protocolVersion: so.protocolVersion ?? 4,
    ...(so.persistent && so.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 86_400 } } : {}),
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
  const publish = (topic: string, payload: string | Buffer, retain: boolean) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not connected to ${redactUrl(url)}: could not publish on ${topic} within 5 s`)), 5_000);
      const go = () =>
        client.publish(topic, payload, { qos: 1, retain }, (err) => {
          clearTimeout(t);
          if (err) reject(err);
          else resolve();
        });
      if (client.connected) go();
      else client.once('connect', go);
    });
  return {
    ready,
    counters,
    publish: (topic, payload) => publish(topic, payload, false),
    publishRetained: (topic, payload) => publish(topic, payload, true),
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}
