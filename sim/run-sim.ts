/**
 * `tinyqa sim`: the whole system on one machine. An embedded broker (unless an external one is
 * given), a pseudo-terminal pair, the firmware emulator writing a scenario into one end, and the real
 * runtime — built by the composition root — reading the other end as its serial port.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../runtime/core/clock.js';
import { ErrorCode, TinyqaError } from '../runtime/core/errors.js';
import type { Logger } from '../runtime/core/log.js';
import { validateConfig, type TinyqaConfig } from '../runtime/config/schema.js';
import { verdictFails, type Verdict } from '../runtime/qa/types.js';
import { createRuntime } from '../runtime/root.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { FirmwareEmulator, type EmulatorStats } from './emulator.js';
import { openPtyPair } from './pty.js';
import { getScenario } from './scenarios/index.js';
import type { FaultKind, Scenario } from './scenarios/scenario.js';
import { writeReport, type Report } from './report/html.js';
import { writeFileSync } from 'node:fs';
import { ErrorCode as Codes, TinyqaError as CodedError, errorMessage } from '../runtime/core/errors.js';

export interface SimOptions {
  scenario: string;
  faults: ReadonlySet<FaultKind>;
  /** 1 = real time; Infinity = as fast as the pipeline takes it. */
  speed: number;
  /** Seconds of scenario time; Infinity runs until `stop`. */
  durationS: number;
  seed: number;
  /** How long to wait at the end for the broker to acknowledge everything (s; default 15). */
  flushS?: number;
  /**
   * After the flush, stay connected up to this long (s; default 0) serving subscribers' replay
   * requests, as a gateway that keeps running would; `stop()` ends it early.
   */
  lingerS?: number;
  /** Called once the replay has been judged and flushed, before lingering. */
  onFlushed?: (info: { verdicts: number; lastSeq: number; flushed: boolean }) => void;
  /** External broker URL; undefined starts the embedded one. */
  broker?: string;
  /** Extra config (window, qa, log…) merged over the defaults. */
  config?: Record<string, unknown>;
  garbageProbability?: number;
  log: Logger;
  clock?: Clock;
  onVerdict?: (v: Verdict) => void;
  /** Write a self-contained HTML report of the signals, window verdicts and scores here. */
  report?: string;
  /** Write the emulated signal as a CSV (timestamp ms + channels) here, e.g. as calibration data. */
  record?: string;
  /** A calibration profile's hash, reported in every verdict (its children are already in `config`). */
  profileHash?: string;
  /** Called once everything is up, with the broker URL and the pseudo-terminal path. */
  onReady?: (info: { brokerUrl: string; serialPath: string; device: string; topicPrefix: string }) => void;
}

export interface SimResult {
  verdicts: number;
  failed: number;
  emulator: EmulatorStats;
  counters: Record<string, number>;
  /** Fault episodes as absolute device-time spans, for checking verdicts against the truth. */
  episodes: ReturnType<FirmwareEmulator['episodeSpans']>;
  brokerUrl: string;
  /** True when every verdict was acknowledged by the broker before exit. */
  flushed: boolean;
}

export interface SimHandle {
  done: Promise<SimResult>;
  /** Ends the replay early (Ctrl-C); `done` still resolves with what was processed. */
  stop(): void;
}

export function startSim(o: SimOptions): SimHandle {
  let emulator: FirmwareEmulator | undefined;
  let stopRequested = false;
  let onStop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (onStop = resolve));
  const done = runSim(
    o,
    (e) => {
      emulator = e;
      if (stopRequested) e.stop();
    },
    stopped,
  );
  return {
    done,
    stop() {
      stopRequested = true;
      emulator?.stop();
      onStop();
    },
  };
}

async function runSim(o: SimOptions, expose: (e: FirmwareEmulator) => void, stopped: Promise<void>): Promise<SimResult> {
  const clock = o.clock ?? systemClock;
  const scenario = getScenario(o.scenario);
  const log = o.log;
  let broker: EmbeddedBroker | undefined;
  const pty = await openPtyPair();
  // Without an outbox folder of its own (sim --outbox), a replay queues in a fresh temporary one:
  // runs side by side never share one, and nothing is left behind.
  const givenOutbox = (o.config?.outbox as { dir?: string } | undefined)?.dir;
  const tmpOutbox = givenOutbox ? undefined : mkdtempSync(join(tmpdir(), 'tinyqa-sim-outbox-'));
  try {
    let brokerUrl = o.broker;
    if (!brokerUrl) {
      broker = await startEmbeddedBroker();
      brokerUrl = broker.url;
      log.info?.(`embedded MQTT broker listening on ${brokerUrl}`);
    }
    const config: Readonly<TinyqaConfig> = validateConfig(
      {
        ...o.config,
        device: (o.config?.device as string | undefined) ?? scenario.device,
        // A replay faster than real time has a device clock that runs ahead of ours: no TIME_SYNC.
        serial: { time_sync: o.speed === 1, ...((o.config?.serial as object) ?? {}), path: pty.path },
        mqtt: { ...((o.config?.mqtt as object) ?? {}), url: brokerUrl },
        outbox: { ...((o.config?.outbox as object) ?? {}), ...(tmpOutbox ? { dir: tmpOutbox } : {}) },
      },
      'simulator config',
    );
    let verdicts = 0;
    let failed = 0;
    const seen: Verdict[] = [];
    const runtime = createRuntime(config, {
      clock,
      log,
      ...(o.profileHash ? { profileHash: o.profileHash } : {}),
      onVerdict: (v) => {
        verdicts++;
        if (verdictFails(v)) failed++;
        if (o.report) seen.push(v);
        o.onVerdict?.(v);
      },
    });
    await runtime.start();
    // Give a reachable broker a moment so the first verdicts go straight out; an unreachable one is
    // retried in the background and verdicts queue meanwhile.
    const t0 = clock.monotonic();
    while (!runtime.publisher.connected && clock.monotonic() - t0 < 2_000) await new Promise((r) => setTimeout(r, 10));
    o.onReady?.({ brokerUrl, serialPath: pty.path, device: config.device, topicPrefix: config.mqtt.topic_prefix });

    const emulator = new FirmwareEmulator(
      {
        scenario,
        faults: o.faults,
        seed: o.seed,
        speed: o.speed,
        durationS: o.durationS,
        batch: 10,
        ...(o.garbageProbability ? { garbageProbability: o.garbageProbability, maxGarbage: 64 } : {}),
      },
      pty,
      clock,
    );
    pty.onData((bytes) => emulator.receive(bytes));
    const recorder = o.report || o.record ? new SignalRecorder(scenario.channels.length) : undefined;
    if (recorder) emulator.onBatch = (ms, period, C, values) => recorder.add(emulator.bootEpochMs + ms, period, C, values);
    expose(emulator);
    const stats = await emulator.run();

    // Wait until the runtime has read everything the emulator wrote.
    const waitStart = clock.monotonic();
    let lastIn = -1;
    let lastChange = waitStart;
    while (runtime.transport.counters.bytes_in < stats.bytes) {
      const now = clock.monotonic();
      if (runtime.transport.counters.bytes_in !== lastIn) {
        lastIn = runtime.transport.counters.bytes_in;
        lastChange = now;
      } else if (now - lastChange > 5_000) {
        throw new TinyqaError(ErrorCode.SimStalled, `the runtime stopped reading: ${lastIn} of ${stats.bytes} bytes arrived`, {
          hint: 'rerun with --log debug to see the serial link',
        });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    // Windows waiting for the model are judged and handed to the publisher before it is flushed.
    await runtime.pipeline.idle();
    // A broker reached during the run is waited for even while it is away (restarting, reconnecting:
    // the publisher keeps retrying); a broker never reached is not — its records stay in the outbox.
    const reached = runtime.publisher.connected || runtime.publisher.counters.connects > 0;
    const flushed = await runtime.publisher.flush(reached ? (o.flushS ?? 15) * 1000 : 0);
    if (!flushed) {
      const left = runtime.publisher.counters.queued + runtime.publisher.counters.inflight;
      log.warn?.(`${left} verdicts and actions were not acknowledged by the broker before exit${givenOutbox ? `; they wait in ${givenOutbox} for the next run` : ' (no --outbox: they are lost)'}`);
    }
    o.onFlushed?.({ verdicts, lastSeq: runtime.publisher.lastSeq, flushed });
    if (o.lingerS) {
      // A subscriber that finds a gap now can only get it replayed while the device runs.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopped, new Promise<void>((r) => (timer = setTimeout(r, o.lingerS! * 1000)))]);
      clearTimeout(timer);
    }
    const counters = runtime.counters();
    await runtime.stop();
    if (o.report && recorder) {
      writeReport(o.report, simReport(scenario, recorder, seen, counters, o));
      log.info?.(`report written to ${o.report}`);
    }
    if (o.record && recorder) {
      writeCsv(o.record, scenario.channels.map((c) => c.name), recorder);
      log.info?.(`${recorder.times.length} samples recorded to ${o.record}`);
    }
    return { verdicts, failed, emulator: stats, counters, episodes: emulator.episodeSpans(stats.samples / scenario.rateHz), brokerUrl, flushed };
  } finally {
    pty.close();
    await broker?.close();
    if (tmpOutbox) rmSync(tmpOutbox, { recursive: true, force: true });
  }
}

/** Keeps what the emulated firmware sent, decimated to a plottable size. */
class SignalRecorder {
  readonly times: number[] = [];
  readonly values: (number | null)[][];
  constructor(channels: number) {
    this.values = Array.from({ length: channels }, () => []);
  }
  add(t0: number, periodMs: number, C: number, v: Float32Array): void {
    for (let i = 0; i < v.length / C; i++) {
      this.times.push(t0 + i * periodMs);
      for (let c = 0; c < C; c++) {
        const x = v[i * C + c]!;
        this.values[c]!.push(Number.isNaN(x) ? null : x);
      }
    }
  }
}

const MAX_POINTS = 60_000;

function simReport(scenario: Scenario, rec: SignalRecorder, verdicts: Verdict[], counters: Record<string, number>, o: SimOptions): Report {
  const stride = Math.max(1, Math.ceil(rec.times.length / MAX_POINTS));
  const pick = <T>(a: T[]) => a.filter((_, i) => i % stride === 0);
  const times = pick(rec.times);
  return {
    title: `tinyqa sim — ${scenario.name}`,
    subtitle: scenario.description,
    summary: {
      verdicts: verdicts.length,
      'failed windows': verdicts.filter(verdictFails).length,
      faults: [...o.faults].join(', ') || 'none',
      'samples per channel': rec.times.length,
      'frames decoded': counters.frames ?? 0,
      'discarded bytes': counters.discarded_bytes ?? 0,
      ...(stride > 1 ? { 'plotted': `every ${stride}th sample` } : {}),
    },
    sections: scenario.channels.map((ch, c) => {
      const vs = verdicts.filter((v) => v.stream === ch.name);
      const score = times.map((t) => {
        const v = vs.find((x) => t >= x.t0 && t <= x.t1);
        return v ? Math.max(...Object.values(v.children).map((k) => Math.min(1, k.score / Math.max(1e-9, 2 * k.threshold || 1)))) : null;
      });
      return {
        kind: 'timeseries' as const,
        title: ch.name,
        unit: ch.unit,
        times,
        values: pick(rec.values[c]!),
        windows: vs.map((v) => ({ t0: v.t0, t1: v.t1, fail: verdictFails(v), label: v.failed.join(', ') })),
        score,
        scoreLabel: 'worst child score / (2 × threshold)',
      };
    }),
  };
}

function writeCsv(path: string, names: string[], rec: SignalRecorder): void {
  const lines = [['timestamp', ...names].join(',')];
  for (let i = 0; i < rec.times.length; i++) lines.push([Math.round(rec.times[i]!), ...rec.values.map((v) => (v[i] === null ? '' : String(v[i])))].join(','));
  try {
    writeFileSync(path, lines.join('\n') + '\n');
  } catch (e) {
    throw new CodedError(Codes.ReportFailed, `cannot write ${path}: ${errorMessage(e)}`);
  }
}
