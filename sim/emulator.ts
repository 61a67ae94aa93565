/**
 * The firmware emulator: plays a scenario the way a microcontroller would — a hello, then sample
 * batches at the scenario's rate, a hello again every few seconds — encoding real frames into a byte
 * sink (one end of a pseudo-terminal in `tinyqa sim`). It can also spray garbage bytes between frames
 * to exercise the runtime's resynchronisation.
 */

import type { Clock } from '../runtime/core/clock.js';
import { encodeHello, encodeSamples, MAX_VALUES_PER_BATCH } from '../runtime/framing/messages.js';
import { MAX_FRAME } from '../runtime/framing/provisional.js';
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
  /** Seconds between repeated hellos. */
  helloEveryS?: number;
}

export interface EmulatorStats {
  frames: number;
  samples: number;
  bytes: number;
  garbageBytes: number;
  garbageBursts: number;
}

export class FirmwareEmulator {
  readonly stats: EmulatorStats = { frames: 0, samples: 0, bytes: 0, garbageBytes: 0, garbageBursts: 0 };
  /** Device time (ms since epoch) of the first sample; fixed when `run` starts. */
  startEpochMs = 0;
  private stopped = false;
  private readonly out = new Uint8Array(MAX_FRAME * 2);

  constructor(
    private readonly o: EmulatorOptions,
    private readonly sink: ByteSink,
    private readonly clock: Clock,
  ) {
    const C = o.scenario.hello.channels.length;
    if (o.batch < 1 || o.batch * C > MAX_VALUES_PER_BATCH) throw new RangeError(`batch must be 1..${Math.floor(MAX_VALUES_PER_BATCH / C)}`);
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<EmulatorStats> {
    const { scenario, batch } = this.o;
    const C = scenario.hello.channels.length;
    const periodMs = 1000 / scenario.rateHz;
    const periodUs = Math.round(1000 * periodMs);
    const totalSamples = Number.isFinite(this.o.durationS) ? Math.round(this.o.durationS * scenario.rateHz) : Infinity;
    const helloEvery = Math.round((this.o.helloEveryS ?? 5) * scenario.rateHz);
    const source = scenario.createSource(this.o.seed, this.o.faults);
    const rng = new Rng(this.o.seed ^ 0x9e3779b9);
    const one = new Float64Array(C);
    const values = new Float64Array(batch * C);
    this.startEpochMs = Math.round(this.clock.now());
    const wallStart = this.clock.monotonic();
    let seq = 0;
    let k = 0;
    let nextHello = 0;

    while (!this.stopped && k < totalSamples) {
      if (k >= nextHello) {
        await this.send(encodeHello(this.out, 0, scenario.hello));
        nextHello += helloEvery;
      }
      const n = Math.min(batch, totalSamples - k);
      for (let i = 0; i < n; i++) {
        source.next(one);
        values.set(one, i * C);
      }
      const t0 = this.startEpochMs + k * periodMs;
      if (this.o.garbageProbability && rng.next() < this.o.garbageProbability) {
        const g = 1 + rng.int(this.o.maxGarbage ?? 64);
        const junk = new Uint8Array(g);
        for (let i = 0; i < g; i++) junk[i] = rng.int(256);
        this.stats.garbageBytes += g;
        this.stats.garbageBursts++;
        await this.send(junk.length, junk);
      }
      await this.send(encodeSamples(this.out, 0, seq, t0, periodUs, C, n, values));
      this.stats.frames++;
      this.stats.samples += n;
      seq = (seq + 1) >>> 0;
      k += n;
      if (Number.isFinite(this.o.speed)) {
        // Pace against absolute targets so timing errors do not accumulate.
        const due = wallStart + (k * periodMs) / this.o.speed;
        const wait = due - this.clock.monotonic();
        if (wait > 1) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, wait));
      }
    }
    return this.stats;
  }

  private async send(len: number, bytes: Uint8Array = this.out): Promise<void> {
    // The sink may keep the array until written, so hand it a copy of the shared encode buffer.
    const chunk = bytes === this.out ? bytes.slice(0, len) : bytes;
    this.stats.bytes += chunk.length;
    await this.sink.write(chunk);
  }

  /** Absolute device-time spans [startMs, endMs) of every fault episode the run could contain. */
  episodeSpans(durationS: number): { fault: FaultKind; channel: string; expectedChild: string; startMs: number; endMs: number }[] {
    const { scenario } = this.o;
    const spans = [];
    for (let c = 0; c * scenario.cycleS < durationS; c++) {
      for (const e of scenario.episodes) {
        if (!this.o.faults.has(e.fault)) continue;
        const base = this.startEpochMs + c * scenario.cycleS * 1000;
        spans.push({ fault: e.fault, channel: e.channel, expectedChild: e.expectedChild, startMs: base + e.startS * 1000, endMs: base + e.endS * 1000 });
      }
    }
    return spans;
  }
}
