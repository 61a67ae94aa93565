/**
 * Messages over frames: the receiving side turns bytes into typed messages (PROTOCOL §2–§6), the
 * sending side numbers its frames (PROTOCOL §7) and encodes messages into a caller's buffer.
 */

import { FrameReceiver, MAX_FRAME, encodeFrame, type FrameError, type FrameHeader, type ReceiverCounters } from './frame.js';
import { encodeBody, parseMessage, TYPE_CODE, type Message } from './messages.js';

export interface MessageCounters extends ReceiverCounters {
  /** Valid frames of a type this side does not know (PROTOCOL §8: ignored, counted). */
  unknown_type: number;
  /** Valid frames whose body does not make the message its type requires. */
  bad_message: number;
}

export interface MessageSink {
  message(header: FrameHeader, m: Message): void;
  /** Optional: every discard, for diagnostics. */
  discard?(reason: FrameError | 'delimiter' | 'unknown_type' | 'bad_message', bytes: number, detail?: string): void;
}

export class MessageReceiver {
  private readonly frames: FrameReceiver;
  readonly counters: MessageCounters;

  constructor(private readonly sink: MessageSink) {
    this.frames = new FrameReceiver({
      frame: (h, body) => this.onFrame(h, body),
      discard: (reason, bytes) => this.sink.discard?.(reason, bytes),
    });
    this.counters = Object.assign(this.frames.counters, { unknown_type: 0, bad_message: 0 });
  }

  get buffered(): number {
    return this.frames.buffered;
  }

  push(chunk: Uint8Array): void {
    this.frames.push(chunk);
  }

  resetSequence(): void {
    this.frames.resetSequence();
  }

  private onFrame(h: FrameHeader, body: unknown): void {
    const m = parseMessage(h.type, body as Record<string, unknown>);
    if (typeof m === 'string') {
      if (m.startsWith('unknown message type')) this.counters.unknown_type++;
      else this.counters.bad_message++;
      this.sink.discard?.(m.startsWith('unknown message type') ? 'unknown_type' : 'bad_message', 0, m);
      return;
    }
    this.sink.message(h, m);
  }
}

/** Encodes one side's messages, numbering its frames from 0 (PROTOCOL §7). */
export class MessageEncoder {
  private readonly scratch = new Uint8Array(MAX_FRAME);
  seq = 0;

  /** Writes the framed message into `out` at `at`; returns the bytes written. */
  encode(out: Uint8Array, at: number, m: Message, time_ms: number): number {
    const n = encodeFrame(out, at, { type: TYPE_CODE[m.type], seq: this.seq, time_ms }, encodeBody(m), this.scratch);
    this.seq = (this.seq + 1) & 0xffff;
    return n;
  }

  /** The framed message as a new array (for tests and one-off sends). */
  frame(m: Message, time_ms: number): Uint8Array {
    const out = new Uint8Array(MAX_FRAME + 16);
    return out.slice(0, this.encode(out, 0, m, time_ms));
  }
}
