/**
 * The device link: the protocol's session layer on top of a byte transport (PROTOCOL §6, §7, §9).
 *
 * - decodes everything the device sends and hands messages to the pipeline;
 * - watches liveness: no valid frame for `livenessPeriods` × the device's nominal frame period (never
 *   less than `livenessFloorMs`) → the transport is reopened, even if the OS never said the device
 *   went away (a wedged USB-serial bridge, a half-dead cable);
 * - sends host → device commands and waits for their ACK, resending the same command id after
 *   `ackTimeoutMs` up to `retries` times (PROTOCOL §6), never sending a command the device's HELLO
 *   did not list (PROTOCOL §8);
 * - keeps device time mapped to wall time with TIME_SYNC after every HELLO (PROTOCOL §7).
 */

import type { Clock, TimerHandle } from '../core/clock.js';
import { ErrorCode, TinyqaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { MessageEncoder, MessageReceiver, type MessageCounters } from '../framing/codec.js';
import type { FrameHeader } from '../framing/frame.js';
import { AckStatus, COMMAND_NAMES, type Ack, type Hello, type Message } from '../framing/messages.js';
import type { Transport } from '../transport/transport.js';

export interface LinkOptions {
  livenessPeriods: number;
  livenessFloorMs: number;
  ackTimeoutMs: number;
  retries: number;
  /**
   * Map device time to wall time with TIME_SYNC (PROTOCOL §7). Off for replays faster than real
   * time, whose device clock runs ahead of the host's by design: the first frame then fixes the map.
   */
  timeSync: boolean;
}

/** Offset changes smaller than this are jitter in the round trip, not clock steps: keep the old one. */
const SYNC_DEADBAND_MS = 20;

export interface LinkCounters extends MessageCounters {
  liveness_reopens: number;
  commands_sent: number;
  command_retries: number;
  command_acks: number;
  command_nacks: number;
  command_timeouts: number;
  device_logs: number;
}

export interface CommandResult {
  id: number;
  code: number;
  status: number;
  detail?: string;
  attempts: number;
}

interface Pending {
  id: number;
  code: number;
  arg: number | undefined;
  attempts: number;
  timer: TimerHandle | undefined;
  resolve(r: CommandResult): void;
  reject(e: Error): void;
}

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

export class DeviceLink {
  readonly counters: LinkCounters;
  private readonly rx: MessageReceiver;
  private readonly enc = new MessageEncoder();
  private readonly out = new Uint8Array(4096);
  private readonly handlers: ((h: FrameHeader, m: Message) => void)[] = [];
  private hello: Hello | undefined;
  private lastFrameAt = 0;
  private livenessTimer: TimerHandle | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private nonce = 1;
  private syncSentAt = new Map<number, number>();
  /** Wall-clock ms minus device ms, once known (PROTOCOL §7). */
  private offset: number | undefined;
  private stopped = false;

  constructor(
    private readonly transport: Transport,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly o: LinkOptions,
  ) {
    this.rx = new MessageReceiver({
      message: (h, m) => this.dispatch(h, m),
      discard: (reason, bytes, detail) => this.log.trace?.(`discarded ${bytes} byte(s): ${reason}${detail ? ` (${detail})` : ''}`),
    });
    this.counters = Object.assign(this.rx.counters, {
      liveness_reopens: 0,
      commands_sent: 0,
      command_retries: 0,
      command_acks: 0,
      command_nacks: 0,
      command_timeouts: 0,
      device_logs: 0,
    });
    transport.onData((chunk) => this.rx.push(chunk));
    transport.onState((s) => {
      if (s === 'open') {
        // A reopened port may carry a rebooted device: forget the sequence, and ask who is there
        // rather than wait up to 10 s for its periodic HELLO (PROTOCOL §6).
        this.rx.resetSequence();
        this.lastFrameAt = this.clock.monotonic();
        this.requestHello();
      }
    });
  }

  /** The device's last HELLO. */
  get deviceHello(): Hello | undefined {
    return this.hello;
  }

  /** Wall time (ms since epoch) of a device time, or undefined before the first frame. */
  toWallMs(deviceMs: number): number | undefined {
    return this.offset === undefined ? undefined : this.offset + deviceMs;
  }

  onMessage(fn: (h: FrameHeader, m: Message) => void): void {
    this.handlers.push(fn);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.transport.open();
    this.lastFrameAt = this.clock.monotonic();
    this.armLiveness();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.livenessTimer?.cancel();
    for (const p of this.pending.values()) {
      p.timer?.cancel();
      p.reject(new TinyqaError(ErrorCode.CommandFailed, `command ${COMMAND_NAMES[p.code] ?? p.code} abandoned: the link is closing`));
    }
    this.pending.clear();
    await this.transport.close();
  }

  /** The liveness timeout now in force (PROTOCOL §9). */
  livenessMs(): number {
    const h = this.hello;
    const period = h ? Math.max(h.heartbeat_ms, (1000 * h.batch) / h.rate_hz) : 1000;
    return Math.max(this.o.livenessFloorMs, this.o.livenessPeriods * period);
  }

  private armLiveness(): void {
    this.livenessTimer?.cancel();
    if (this.stopped) return;
    const limit = this.livenessMs();
    const due = this.lastFrameAt + limit - this.clock.monotonic();
    this.livenessTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      try {
        const silent = this.clock.monotonic() - this.lastFrameAt;
        if (silent >= limit && this.transport.state === 'open') {
          this.counters.liveness_reopens++;
          this.log.warn?.(`no frame from the device for ${Math.round(silent)} ms (limit ${limit} ms); reopening ${this.transport.name}`);
          this.lastFrameAt = this.clock.monotonic();
          this.transport.reopen('liveness timeout');
        }
      } finally {
        // Whatever happened above, keep watching.
        this.armLiveness();
      }
    }, Math.max(10, Math.min(due, limit)));
  }

  private dispatch(h: FrameHeader, m: Message): void {
    this.lastFrameAt = this.clock.monotonic();
    if (this.offset === undefined) this.offset = this.clock.now() - h.time_ms;
    switch (m.type) {
      case 'hello':
        this.onHello(m);
        break;
      case 'ack':
        this.onAck(m);
        break;
      case 'time_sync_reply': {
        const sentAt = this.syncSentAt.get(m.nonce);
        if (sentAt === undefined) break;
        this.syncSentAt.delete(m.nonce);
        const rtt = this.clock.monotonic() - sentAt;
        const offset = m.host_ms + rtt / 2 - m.device_ms;
        if (this.offset === undefined || Math.abs(offset - this.offset) > SYNC_DEADBAND_MS) this.offset = offset;
        this.log.debug?.(`time sync: device clock offset ${offset} ms (rtt ${rtt.toFixed(1)} ms)`);
        break;
      }
      case 'samples':
        if (this.hello === undefined) this.requestHello();
        break;
      case 'log': {
        this.counters.device_logs++;
        const level = LOG_LEVELS[Math.min(m.level, 3)]!;
        this.log[level]?.(`device: ${m.text}`);
        break;
      }
      default:
        break;
    }
    for (const fn of this.handlers) fn(h, m);
  }

  private onHello(m: Hello): void {
    const first = this.hello === undefined;
    this.hello = m;
    if (first) this.armLiveness();
    if (!this.o.timeSync) return;
    // Map device time to wall time as soon as the device says who it is.
    const nonce = this.nonce++ >>> 0;
    this.syncSentAt.set(nonce, this.clock.monotonic());
    if (this.syncSentAt.size > 8) this.syncSentAt.delete(this.syncSentAt.keys().next().value!);
    this.send({ type: 'time_sync', nonce, host_ms: Math.round(this.clock.now()) });
  }

  private lastHelloRequest = -Infinity;

  /**
   * Resynchronises with the device (a `resync` command): forgets the frame sequence and asks for its
   * HELLO now, which also renews the time mapping.
   */
  resync(): void {
    this.rx.resetSequence();
    this.lastHelloRequest = -Infinity;
    this.requestHello();
  }

  /** Asks the device for its HELLO, at most once a second (PROTOCOL §6). */
  private requestHello(): void {
    const now = this.clock.monotonic();
    if (now - this.lastHelloRequest < 1000) return;
    this.lastHelloRequest = now;
    this.send({ type: 'hello_request' });
  }

  private send(m: Message): void {
    if (this.transport.state !== 'open') return;
    const n = this.enc.encode(this.out, 0, m, this.clock.now() >>> 0);
    this.transport.write(this.out.slice(0, n)).catch((e: unknown) => this.log.debug?.(`write failed: ${String(e)}`));
  }

  /**
   * Sends a command and resolves with the device's ACK (status 0) or NACK (status ≠ 0); rejects with
   * E2006 when no ACK came after all retries, or at once when the device did not list the command.
   */
  sendCommand(code: number, arg?: number): Promise<CommandResult> {
    const name = COMMAND_NAMES[code] ?? `code ${code}`;
    if (this.hello && !this.hello.commands.includes(code)) {
      return Promise.reject(new TinyqaError(ErrorCode.CommandUnsupported, `command ${name} is unsupported by this firmware (${this.hello.fw})`, { hint: `it implements: ${this.hello.commands.map((c) => COMMAND_NAMES[c] ?? c).join(', ') || 'no commands'}` }));
    }
    const id = this.nextId++ >>> 0;
    return new Promise((resolve, reject) => {
      const p: Pending = { id, code, arg, attempts: 0, timer: undefined, resolve, reject };
      this.pending.set(id, p);
      this.counters.commands_sent++;
      this.attempt(p);
    });
  }

  private attempt(p: Pending): void {
    p.attempts++;
    if (p.attempts > 1) this.counters.command_retries++;
    this.send(p.arg === undefined ? { type: 'command', id: p.id, code: p.code } : { type: 'command', id: p.id, code: p.code, arg: p.arg });
    p.timer = this.clock.setTimeout(() => {
      if (!this.pending.has(p.id)) return;
      if (p.attempts <= this.o.retries) {
        this.log.debug?.(`no ACK for command ${p.id} (${COMMAND_NAMES[p.code] ?? p.code}) after ${this.o.ackTimeoutMs} ms; resending`);
        this.attempt(p);
        return;
      }
      this.pending.delete(p.id);
      this.counters.command_timeouts++;
      p.reject(new TinyqaError(ErrorCode.CommandFailed, `command ${COMMAND_NAMES[p.code] ?? p.code} got no ACK after ${p.attempts} attempts`, { hint: 'is the device running firmware that speaks the tinyqa protocol?' }));
    }, this.o.ackTimeoutMs);
  }

  private onAck(m: Ack): void {
    const p = this.pending.get(m.id);
    if (!p) return; // a duplicate ACK for a retried command
    this.pending.delete(m.id);
    p.timer?.cancel();
    if (m.status === AckStatus.Done) this.counters.command_acks++;
    else this.counters.command_nacks++;
    const r: CommandResult = { id: m.id, code: p.code, status: m.status, attempts: p.attempts };
    if (m.detail !== undefined) r.detail = m.detail;
    p.resolve(r);
  }

  /** Bytes waiting in the receiver for a delimiter (bounded by the maximum frame). */
  get buffered(): number {
    return this.rx.buffered;
  }
}
