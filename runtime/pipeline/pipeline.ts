/**
 * The device pipeline (DESIGN §2): messages from the device link → per-stream windows → QA graph →
 * verdicts. Pure of I/O: it is handed messages and hands verdicts to a callback, so the composition
 * root decides where messages come from and where verdicts go.
 */

import type { Logger } from '../core/log.js';
import { WindowRing } from '../core/window.js';
import type { FrameHeader } from '../framing/frame.js';
import type { ChannelInfo, Hello, Message, Samples } from '../framing/messages.js';
import { StreamJudge } from '../qa/graph.js';
import type { QaConfig, Verdict } from '../qa/types.js';

export interface PipelineOptions {
  device: string;
  window: { size: number; hop: number };
  qa: QaConfig;
  profileHash: string | null;
  /** Maps a device time (ms since its boot) to wall time (ms since the epoch). */
  toWallMs: (deviceMs: number) => number | undefined;
}

export interface PipelineCounters {
  hellos: number;
  /** Samples that arrived before any HELLO told us the channel layout (dropped; PROTOCOL §6). */
  samples_before_hello: number;
  /** Batches whose channel count disagrees with the last HELLO (dropped). */
  layout_mismatch: number;
  samples: number;
  missing_values: number;
  /** Samples the device itself reports it could not send (HEARTBEAT key 1). */
  device_dropped: number;
  verdicts: number;
}

interface Stream {
  channel: ChannelInfo;
  ring: WindowRing;
  judge: StreamJudge;
}

export class Pipeline {
  readonly counters: PipelineCounters = {
    hellos: 0,
    samples_before_hello: 0,
    layout_mismatch: 0,
    samples: 0,
    missing_values: 0,
    device_dropped: 0,
    verdicts: 0,
  };
  private streams: Stream[] = [];
  private hello: Hello | undefined;
  private verdictSeq = 0;
  private warnedNoHello = false;

  constructor(
    private readonly o: PipelineOptions,
    private readonly onVerdict: (v: Verdict) => void,
    private readonly log: Logger,
  ) {}

  get deviceHello(): Hello | undefined {
    return this.hello;
  }

  /** Handles one message from the device. */
  handle(h: FrameHeader, m: Message): void {
    if (m.type === 'hello') this.onHello(m);
    else if (m.type === 'samples') this.onSamples(h, m);
    else if (m.type === 'heartbeat') this.counters.device_dropped = m.dropped;
  }

  private onHello(h: Hello): void {
    this.counters.hellos++;
    const same =
      this.hello !== undefined &&
      this.hello.channels.length === h.channels.length &&
      this.hello.channels.every((c, i) => {
        const d = h.channels[i]!;
        return c.name === d.name && c.min === d.min && c.max === d.max && c.unit === d.unit;
      });
    this.hello = h;
    if (same) return;
    this.log.info?.(
      `firmware ${h.device} (fw ${h.fw}) at ${h.rate_hz} Hz: ${h.channels.map((c) => `${c.name}[${c.min}..${c.max} ${c.unit}]`).join(', ')}`,
    );
    this.streams = h.channels.map((channel) => ({
      channel,
      ring: new WindowRing(this.o.window.size, this.o.window.hop),
      judge: new StreamJudge(this.o.qa),
    }));
  }

  private onSamples(h: FrameHeader, b: Samples): void {
    const count = b.values.length / b.channels;
    if (!this.hello) {
      this.counters.samples_before_hello += count;
      if (!this.warnedNoHello) this.log.warn?.('samples arrive before the firmware said HELLO; dropping them until it does');
      this.warnedNoHello = true;
      return;
    }
    if (b.channels !== this.streams.length) {
      this.counters.layout_mismatch++;
      this.log.debug?.(`batch with ${b.channels} channels, HELLO declared ${this.streams.length}; dropped`);
      return;
    }
    const deviceT0 = b.t0_us !== undefined ? b.t0_us / 1000 : h.time_ms;
    const t0 = this.o.toWallMs(deviceT0) ?? deviceT0;
    const periodMs = b.period_us / 1000;
    const C = b.channels;
    const v = b.values;
    for (let i = 0; i < count; i++) {
      const t = t0 + i * periodMs;
      for (let c = 0; c < C; c++) {
        const x = v[i * C + c]!;
        if (Number.isNaN(x)) this.counters.missing_values++;
        const s = this.streams[c]!;
        if (s.ring.push(x, t)) this.emit(s);
      }
    }
    this.counters.samples += count;
  }

  private emit(s: Stream): void {
    const w = s.ring.view;
    const j = s.judge.judge({ values: w.values, t0: w.t0, t1: w.t1, channel: s.channel });
    this.verdictSeq++;
    this.counters.verdicts++;
    this.onVerdict({
      v: 1,
      device: this.o.device,
      stream: s.channel.name,
      seq: this.verdictSeq,
      t0: w.t0,
      t1: w.t1,
      n: w.values.length,
      unit: s.channel.unit,
      parents: j.parents,
      children: j.children,
      failed: j.failed,
      profile: this.o.profileHash,
      model: null,
    });
  }
}
