/**
 * The firmware emulator: plays a scenario the way a microcontroller running the tinyqa protocol does
 * (PROTOCOL §6): a lone delimiter and a HELLO at boot, SAMPLES batches at the scenario's rate, a HELLO
 * again every few seconds, and answers to what the host sends — TIME_SYNC replies and ACKs for
 * COMMANDs, with a repeated command id re-acknowledged without running it twice. It writes real
 * frames into a byte sink (one end of a pseudo-terminal in `tinyqa sim`) and can spray garbage bytes
 * between frames to exercise the runtime's resynchronisation.
 */

import type { Clock } from '../runtime/core/clock.js';
import { MessageEncoder, MessageReceiver } from '../runtime/framing/codec.js';
import { MAX_FRAME } from '../runtime/framing/frame.js';
import { AckStatus, CommandCode, type Command, type Message } from '../runtime/framing/messages.js';
import { Rng } from './random.js';
import type { FaultKind, Scenario } from './scenarios/scenario.js';

export interface ByteSink {
  /** Resolves when the bytes were taken (so a fast producer waits for a slow link). */
  write(bytes: Uint8Array): Promise<void>;
}

export interface EmulatorOptions {
  scenario: Scenario;
  faults: ReadonlySet<FaultKind>;
  seed: number;
  /** Replay speed: 1 = real time, 10 = ten times faster, Infinity = as fast as the link takes it. */
  speed: number;
  /** Seconds of scenario time to play; Infinity plays until stopped. */
  durationS: number;
  /** Samples per frame. */
  batch: number;
  /** Chance that garbage bytes (1..maxGarbage) are written before a frame. */
  garbageProbability?: number;
  maxGarbage?: number;
  /** Seconds between repeated HELLOs (PROTOCOL §6 asks for ≤ 10). */
  helloEveryS?: number;
  heartbeatMs?: number;
}

export interface EmulatorStats {
  frames: number;
  samples: number;
  bytes: number;
  garbageBytes: number;
  garbageBursts: number;
  commands: number;
  reboots: number;
}

const SUPPORTED = [CommandCode.SetRate, CommandCode.Recalibrate, CommandCode.SwitchToBackup, CommandCode.Reboot];

export class FirmwareEmulator {
  readonly stats: EmulatorStats = { frames: 0, samples: 0, bytes: 0, garbageBytes: 0, garbageBursts: 0, commands: 0, reboots: 0 };
  /** Wall time (ms since epoch) at which the emulated device booted; device time counts from here. */
  bootEpochMs = 0;
  /** Commands received, in order, with the status the device answered. */
  readonly commandLog: { id: number; code: number; arg?: number; status: number; repeat: boolean }[] = [];
  rateHz: number;
  /** Called with every batch sent: device time of its first sample (ms since boot), period, values. */
  onBatch: ((deviceMs: number, periodMs: number, channels: number, values: Float32Array) => void) | undefined;
  private stopped = false;
  private deviceMs = 0;
  private readonly enc = new MessageEncoder();
  private readonly out = new Uint8Array(MAX_FRAME * 2);
  private readonly rx: MessageReceiver;
  private readonly recentAcks: { id: number; status: number }[] = [];
  private rebootRequested = false;
  private readonly replies: Message[] = [];

  constructor(
    private readonly o: EmulatorOptions,
    private readonly sink: ByteSink,
    private readonly clock: Clock,
  ) {
    const C = o.scenario.channels.length;
    if (o.batch < 1 || 4 * o.batch * C + 64 > MAX_FRAME) throw new RangeError(`batch must be 1..${Math.floor((MAX_FRAME - 64) / 4 / C)}`);
    this.rateHz = o.scenario.rateHz;
    this.rx = new MessageReceiver({ message: (_h, m) => this.onHostMessage(m) });
  }

  stop(): void {
    this.stopped = true;
  }

  /** Bytes the host sent to the device (commands, time sync). */
  receive(bytes: Uint8Array): void {
    this.rx.push(bytes);
  }

  private onHostMessage(m: Message): void {
    if (m.type === 'time_sync') {
      this.replies.push({ type: 'time_sync_reply', nonce: m.nonce, host_ms: m.host_ms, device_ms: Math.round(this.deviceMs) >>> 0 });
    } else if (m.type === 'hello_request') {
      this.replies.push(this.hello());
    } else if (m.type === 'command') {
      this.onCommand(m);
    }
  }

  private onCommand(m: Command): void {
    // PROTOCOL §6: a repeated id is re-acknowledged with the same status and not executed again.
    const seen = this.recentAcks.find((a) => a.id === m.id);
    if (seen) {
      this.commandLog.push({ id: m.id, code: m.code, ...(m.arg !== undefined ? { arg: m.arg } : {}), status: seen.status, repeat: true });
      this.replies.push({ type: 'ack', id: m.id, status: seen.status });
      return;
    }
    this.stats.commands++;
    let status: number = AckStatus.Done;
    let detail: string | undefined;
    if (m.code === CommandCode.SetRate) {
      if (m.arg === undefined || !(m.arg >= 1 && m.arg <= 10_000)) {
        status = AckStatus.BadArgument;
        detail = 'rate must be 1..10000 Hz';
      } else this.rateHz = m.arg;
    } else if (m.code === CommandCode.Recalibrate || m.code === CommandCode.SwitchToBackup) {
      if (m.arg !== undefined && !(Number.isInteger(m.arg) && m.arg >= 0 && m.arg < this.o.scenario.channels.length)) {
        status = AckStatus.BadArgument;
        detail = `channel index must be 0..${this.o.scenario.channels.length - 1}`;
      }
    } else if (m.code === CommandCode.Reboot) {
      this.rebootRequested = true;
    } else {
      status = AckStatus.Unsupported;
      detail = `unknown command code ${m.code}`;
    }
    this.recentAcks.push({ id: m.id, status });
    if (this.recentAcks.length > 4) this.recentAcks.shift();
    this.commandLog.push({ id: m.id, code: m.code, ...(m.arg !== undefined ? { arg: m.arg } : {}), status, repeat: false });
    this.replies.push(detail === undefined ? { type: 'ack', id: m.id, status } : { type: 'ack', id: m.id, status, detail });
  }

  private hello(): Message {
    const s = this.o.scenario;
    return {
      type: 'hello',
      fw: s.fw,
      device: s.device,
      channels: s.channels,
      rate_hz: this.rateHz,
      batch: this.o.batch,
      heartbeat_ms: this.o.heartbeatMs ?? 1000,
      commands: SUPPORTED,
      proto_min: 1,
    };
  }

  private async boot(): Promise<void> {
    // PROTOCOL §2: a lone delimiter ends whatever the host holds from before the boot.
    await this.write(new Uint8Array([0]));
    await this.sendMessage(this.hello());
  }

  async run(): Promise<EmulatorStats> {
    const { scenario, batch } = this.o;
    const C = scenario.channels.length;
    const totalSamples = Number.isFinite(this.o.durationS) ? Math.round(this.o.durationS * scenario.rateHz) : Infinity;
    const helloEveryMs = (this.o.helloEveryS ?? 5) * 1000;
    const source = scenario.createSource(this.o.seed, this.o.faults);
    const rng = new Rng(this.o.seed ^ 0x9e3779b9);
    const one = new Float64Array(C);
    const values = new Float32Array(batch * C);
    this.bootEpochMs = Math.round(this.clock.now());
    const wallStart = this.clock.monotonic();
    let k = 0;
    let nextHelloMs = helloEveryMs;
    await this.boot();

    while (!this.stopped && k < totalSamples) {
      await this.flushReplies();
      if (this.rebootRequested) {
        this.rebootRequested = false;
        this.stats.reboots++;
        this.enc.seq = 0;
        await this.boot();
      }
      if (this.deviceMs >= nextHelloMs) {
        await this.sendMessage(this.hello());
        nextHelloMs += helloEveryMs;
      }
      const n = Math.min(batch, totalSamples - k);
      for (let i = 0; i < n; i++) {
        source.next(one);
        for (let c = 0; c < C; c++) values[i * C + c] = one[c]!;
      }
      const periodUs = Math.round(1e6 / this.rateHz);
      if (this.o.garbageProbability && rng.next() < this.o.garbageProbability) {
        const g = 1 + rng.int(this.o.maxGarbage ?? 64);
        const junk = new Uint8Array(g);
        for (let i = 0; i < g; i++) junk[i] = rng.int(256);
        this.stats.garbageBytes += g;
        this.stats.garbageBursts++;
        await this.write(junk);
      }
      const sent = n === batch ? values : values.slice(0, n * C);
      this.onBatch?.(this.deviceMs, periodUs / 1000, C, sent);
      await this.sendMessage({ type: 'samples', channels: C, period_us: periodUs, values: sent });
      this.stats.samples += n;
      k += n;
      this.deviceMs += (n * periodUs) / 1000;
      if (Number.isFinite(this.o.speed)) {
        // Pace against absolute targets so timing errors do not accumulate.
        const due = wallStart + this.deviceMs / this.o.speed;
        const wait = due - this.clock.monotonic();
        if (wait > 1) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, wait));
      }
    }
    await this.flushReplies();
    return this.stats;
  }

  private async flushReplies(): Promise<void> {
    while (this.replies.length > 0) await this.sendMessage(this.replies.shift()!);
  }

  private async sendMessage(m: Message): Promise<void> {
    const n = this.enc.encode(this.out, 0, m, Math.floor(this.deviceMs) >>> 0);
    this.stats.frames++;
    await this.write(this.out.slice(0, n));
  }

  private async write(bytes: Uint8Array): Promise<void> {
    this.stats.bytes += bytes.length;
    await this.sink.write(bytes);
  }

  /** Absolute spans [startMs, endMs) of every fault episode the run could contain, in host wall time. */
  episodeSpans(durationS: number): { fault: FaultKind; channel: string; expectedChild: string; startMs: number; endMs: number }[] {
    const { scenario } = this.o;
    const spans = [];
    for (let c = 0; c * scenario.cycleS < durationS; c++) {
      for (const e of scenario.episodes) {
        if (!this.o.faults.has(e.fault)) continue;
        const base = this.bootEpochMs + c * scenario.cycleS * 1000;
        spans.push({ fault: e.fault, channel: e.channel, expectedChild: e.expectedChild, startMs: base + e.startS * 1000, endMs: base + e.endS * 1000 });
      }
    }
    return spans;
  }
}
