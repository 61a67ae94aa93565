/**
 * The device pipeline (DESIGN §2): bytes → framing → messages → per-stream windows → QA graph →
 * verdicts. Pure of I/O: it is fed bytes and hands verdicts to a callback, so the composition root
 * decides where bytes come from and where verdicts go.
 */

import type { Logger } from '../core/log.js';
import { FrameDecoder, MessageType, type DiscardKind } from '../framing/provisional.js';
import { emptyBatch, parseHello, parseSamples, type Hello } from '../framing/messages.js';
import type { QaConfig } from '../qa/types.js';
import { WindowRing } from '../core/window.js';
import { StreamJudge } from '../qa/graph.js';
import type { Verdict } from '../qa/types.js';
import type { ChannelInfo } from '../framing/messages.js';

export interface PipelineOptions {
  device: string;
  window: { size: number; hop: number };
  qa: QaConfig;
  profileHash: string | null;
}

export interface PipelineCounters {
  frames: number;
  discarded_bytes: number;
  bad_crc: number;
  oversize: number;
  bad_version: number;
  bad_payload: number;
  unknown_type: number;
  /** Sample batches that arrived before any hello told us the channel layout (dropped). */
  samples_before_hello: number;
  /** Batches whose channel count disagrees with the last hello (dropped). */
  layout_mismatch: number;
  seq_gaps: number;
  samples: number;
  missing_values: number;
  verdicts: number;
  hellos: number;
}

interface Stream {
  channel: ChannelInfo;
  ring: WindowRing;
  judge: StreamJudge;
}

export class Pipeline {
  readonly counters: PipelineCounters = {
    frames: 0,
    discarded_bytes: 0,
    bad_crc: 0,
    oversize: 0,
    bad_version: 0,
    bad_payload: 0,
    unknown_type: 0,
    samples_before_hello: 0,
    layout_mismatch: 0,
    seq_gaps: 0,
    samples: 0,
    missing_values: 0,
    verdicts: 0,
    hellos: 0,
  };
  private readonly decoder: FrameDecoder;
  private readonly batch = emptyBatch();
  private streams: Stream[] = [];
  private hello: Hello | undefined;
  private lastSeq = -1;
  private verdictSeq = 0;
  private warnedNoHello = false;

  constructor(
    private readonly o: PipelineOptions,
    private readonly onVerdict: (v: Verdict) => void,
    private readonly log: Logger,
  ) {
    this.decoder = new FrameDecoder({
      frame: (type, payload) => this.onFrame(type, payload),
      discard: (kind, bytes) => this.onDiscard(kind, bytes),
    });
  }

  /** The firmware's last hello, if any. */
  get deviceHello(): Hello | undefined {
    return this.hello;
  }

  /** Feeds raw bytes from the link. Never throws on their content. */
  push(chunk: Uint8Array): void {
    this.decoder.push(chunk);
  }

  private onDiscard(kind: DiscardKind, bytes: number): void {
    const c = this.counters;
    c.discarded_bytes += bytes;
    if (kind === 'bad_crc') c.bad_crc++;
    else if (kind === 'oversize') c.oversize++;
    else if (kind === 'bad_version') c.bad_version++;
    this.log.trace?.(`discarded ${bytes} byte(s): ${kind}`);
  }

  private onFrame(type: number, payload: Uint8Array): void {
    this.counters.frames++;
    if (type === MessageType.Hello) this.onHello(payload);
    else if (type === MessageType.Samples) this.onSamples(payload);
    else {
      this.counters.unknown_type++;
      this.log.debug?.(`frame of unknown type ${type} ignored`);
    }
  }

  private onHello(payload: Uint8Array): void {
    const h = parseHello(payload);
    if (typeof h === 'string') {
      this.counters.bad_payload++;
      this.log.warn?.(`bad hello from firmware ignored: ${h}`);
      return;
    }
    this.counters.hellos++;
    const same =
      this.hello !== undefined &&
      this.hello.channels.length === h.channels.length &&
      this.hello.channels.every((c, i) => {
        const d = h.channels[i]!;
        return c.name === d.name && c.min === d.min && c.max === d.max && c.unit === d.unit;
      });
    if (same) return;
    this.log.info?.(
      `firmware ${h.device} (fw ${h.fw}) at ${h.rate_hz} Hz: ${h.channels.map((c) => `${c.name}[${c.min}..${c.max} ${c.unit}]`).join(', ')}`,
    );
    this.hello = h;
    this.streams = h.channels.map((channel) => ({
      channel,
      ring: new WindowRing(this.o.window.size, this.o.window.hop),
      judge: new StreamJudge(this.o.qa),
    }));
  }

  private onSamples(payload: Uint8Array): void {
    const b = parseSamples(payload, this.batch);
    if (typeof b === 'string') {
      this.counters.bad_payload++;
      this.log.debug?.(`bad sample batch ignored: ${b}`);
      return;
    }
    if (!this.hello) {
      this.counters.samples_before_hello += b.count;
      if (!this.warnedNoHello) this.log.warn?.('sample batches arrive before the firmware said hello; dropping them until it does');
      this.warnedNoHello = true;
      return;
    }
    if (b.channels !== this.streams.length) {
      this.counters.layout_mismatch++;
      this.log.debug?.(`batch with ${b.channels} channels, hello declared ${this.streams.length}; dropped`);
      return;
    }
    if (this.lastSeq >= 0 && b.seq !== ((this.lastSeq + 1) >>> 0)) this.counters.seq_gaps++;
    this.lastSeq = b.seq;
    const periodMs = b.periodUs / 1000;
    const C = b.channels;
    for (let i = 0; i < b.count; i++) {
      const t = b.t0 + i * periodMs;
      for (let c = 0; c < C; c++) {
        const x = b.values[i * C + c]!;
        if (Number.isNaN(x)) this.counters.missing_values++;
        const s = this.streams[c]!;
        if (s.ring.push(x, t)) this.emit(s);
      }
    }
    this.counters.samples += b.count;
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
