/**
 * `tinyqa eval delivery`: the broker-kill scenario of DESIGN §8 ("Broker killed repeatedly during a
 * long replay: 0 verdicts lost, 0 duplicates after dedup, order kept"), run with the real programs:
 *
 *   tinyqa sim --json ──QoS 1──▶ Mosquitto (private, SIGKILLed K times) ──QoS 1──▶ tinyqa watch --json
 *        │  durable outbox, seq per record                                      dedup, reorder, replay
 *        └──────────────◀── cmd/replay {from, to} ◀─────────────────────────────────────┘
 *
 * What sim prints on stdout is what its outbox accepted (the seq is the durable one); what watch
 * prints is what it accepted, once, in seq order. The figures compare the two sets of seqs.
 *
 * The broker is configured as a gateway's Mosquitto would be: persistence on (sessions and queued
 * QoS 1 messages saved to disk), saved every `autosaveS` seconds (default 1 s, the aggressive end:
 * Mosquitto's own default is 1 800 s), and its default per-client queue (max_queued_messages 1 000,
 * beyond which it drops messages for a slow or absent subscriber). SIGKILL gives it no chance to
 * save: whatever it acknowledged or queued since its last save is gone — messages the device already
 * removed from its outbox on PUBACK. Those, and the queue overflows, are what the end-to-end replay
 * (watch asking the device's retention window) must bring back; the saved state that comes back
 * with the broker brings wire duplicates instead.
 *
 * Kills: K points drawn (seeded) uniformly in [3 %, 80 %] of the verdicts, sorted; the broker is
 * killed when watch has accepted that many — so the kills spread over the delivery, not over the
 * production, which runs ahead of it while the broker is away — but never sooner than a random
 * 0.2–1 s after its last restart (clients reconnect in between, mostly), and restarted on the same
 * port after a random 0.1–1 s downtime. A kill still due when watch has 95 % is not made, and the
 * result says so.
 *
 * The device stays up until watch has everything: a gap found late can only be replayed by a device
 * that still runs. The sim flushes through the kills, then lingers (`sim --linger`) serving replay
 * requests; it is stopped with SIGTERM once watch has printed the last seq the sim printed. Its
 * health (every 5 s here) carries last_seq, which is how watch learns of a tail it never got.
 *
 * Speed: the sim replays at 30× real time (1 125 verdicts/s with windows of 8; 100 000 in ~90 s).
 * Faster, the subscriber is the limit: `tinyqa watch` holds at most 10 000 messages above a gap and
 * asks again for a lost replay request only every --hold/4 s, so above ~10 000 / (hold/4) messages/s a
 * replay request lost in a kill turns into a gap given up as lost, and re-asks of large ranges make
 * the device replay them again and again. At `--speed max` (~4 500 verdicts/s on the 2-core
 * development machine) that loses verdicts; `--speed max` shows it.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import { Rng } from '../random.js';
import { getScenario } from '../scenarios/index.js';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from '../testing/mosquitto.js';
import { parseSimSummary, seqOfLine, spawnTinyqa, type TinyqaChild } from './child.js';

export interface DeliveryOptions {
  /** Verdicts to produce at least (default 100 000). */
  verdicts?: number;
  /** Broker kills (default 20). */
  kills?: number;
  /** Seed of the kill schedule (default 1). */
  seed?: number;
  /** Samples per window of the simulated pump (default 8, the smallest: the most verdicts per second). */
  window?: number;
  /** sim --speed: a multiple of real time, or Infinity for as fast as the pipeline goes (default 30). */
  speed?: number;
  /** Mosquitto's autosave_interval in seconds; 0: persistence off (default 1). */
  autosaveS?: number;
  /** watch --hold: how long a gap may hold output back before watch gives it up; it re-asks every hold/4 (default 20 s). */
  holdS?: number;
  /** After the sim has exited, how long to wait for watch to accept the last seq (default 120 s). */
  settleS?: number;
  /** The tinyqa CLI entry to run the children with (default: this checkout's). */
  entry?: string;
  /** Called about once a second while it runs. */
  progress?: (p: DeliveryProgress) => void;
  /** Aborts the run: children killed, broker stopped, folders removed. */
  signal?: AbortSignal;
}

export interface DeliveryProgress {
  phase: 'replay' | 'settle';
  produced: number;
  target: number;
  received: number;
  kills: number;
  plannedKills: number;
  seconds: number;
}

export interface DeliveryResult {
  /** Verdicts the sim printed, i.e. accepted by its outbox (unique seqs). */
  produced: number;
  /** Distinct seqs watch printed. */
  received: number;
  /** Produced seqs watch never printed, and the first ranges of them. */
  missing: number;
  missing_ranges: [number, number][];
  /** Seqs watch printed more than once (its output is deduplicated: must be 0). */
  duplicates_after_dedup: number;
  /** watch's printed seqs strictly increase. */
  order_kept: boolean;
  /** Messages watch received again and dropped (resends after reconnects, replays, restored broker state). */
  wire_duplicates: number;
  wire_messages: number;
  /** Gaps watch saw, replay requests it made, messages that filled a gap, seqs it gave up. */
  gaps: number;
  replay_requests: number;
  recovered: number;
  lost: number;
  /** Records the device published again on request, and requested seqs it no longer had. */
  replayed: number;
  replay_gone: number;
  /** Records the device sent again because a connection dropped with them in flight. */
  resent: number;
  broker_kills: number;
  planned_kills: number;
  /** Broker downtime per kill (ms), as drawn. */
  downtime_ms: number[];
  watch_connects: number;
  autosave_s: number;
  window: number;
  seed: number;
  /** Wall time from starting the sim to watch having accepted the last seq. */
  seconds: number;
  /** Wall time of the sim (replay and final flush). */
  sim_seconds: number;
  /** received / seconds. */
  verdicts_per_s: number;
  sim_exit_code: number | null;
  watch_exit_code: number | null;
  /** The device's outbox at the end: produced = delivered + dropped + queued. */
  outbox: { produced: number; delivered: number; dropped: number; queued: number };
  /** The sim's own summary line (stderr), with its outbox counters. */
  sim_summary: string;
  /** missing = 0, duplicates_after_dedup = 0, order kept, no seq printed twice by the sim, and every planned kill made. */
  ok: boolean;
}

/** Defaults, with the reasons in the file comment: 30× real time and --hold 20 (re-asks every 5 s, before 10 000 messages at 1 125/s have arrived). */
export const DELIVERY_DEFAULTS = { verdicts: 100_000, kills: 20, seed: 1, window: 8, speed: 30, autosaveS: 1, holdS: 20, settleS: 120 };

const DEVICE = 'delivery-01';
/** A fixed client id: watch's persistent session is found again by it after each broker restart. */
const WATCH_CLIENT_ID = 'tinyqa-eval-delivery-watch';

/** Kill points: this share of the verdicts watch has accepted, from … to (see the file comment). */
const KILL_FROM = 0.03;
const KILL_TO = 0.8;
/** A kill still due when watch has this share is not made (the result says so). */
const KILL_STOP = 0.95;
/** Broker downtime per kill, and its least uptime before the next kill (ms, uniform). */
const DOWN_MS = [100, 1000] as const;
const UP_MS = [200, 1000] as const;
/** The device's health period in the run (s): how long a lost tail may go unnoticed. */
const HEALTH_S = 5;
/** The replay and its flush take at most this long (s); then the figures are taken as they are. */
const TIMEOUT_S = 1_800;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Ranges of consecutive seqs, the first `max` of them. */
function toRanges(seqs: number[], max: number): [number, number][] {
  const out: [number, number][] = [];
  for (const s of seqs) {
    const last = out[out.length - 1];
    if (last && last[1] === s - 1) last[1] = s;
    else if (out.length >= max) break;
    else out.push([s, s]);
  }
  return out;
}

export async function runDelivery(o: DeliveryOptions = {}): Promise<DeliveryResult> {
  const target = o.verdicts ?? DELIVERY_DEFAULTS.verdicts;
  const plannedKills = o.kills ?? DELIVERY_DEFAULTS.kills;
  const seed = o.seed ?? DELIVERY_DEFAULTS.seed;
  const window = o.window ?? DELIVERY_DEFAULTS.window;
  const speed = o.speed ?? DELIVERY_DEFAULTS.speed;
  const autosaveS = o.autosaveS ?? DELIVERY_DEFAULTS.autosaveS;
  const holdS = o.holdS ?? DELIVERY_DEFAULTS.holdS;
  const settleS = o.settleS ?? DELIVERY_DEFAULTS.settleS;
  const skip = mosquittoSkipReason();
  if (skip) throw new TinyqaError(ErrorCode.BrokerStartFailed, `eval delivery needs Mosquitto: ${skip}`, { hint: 'apt-get install mosquitto' });

  // Enough scenario time for `target` verdicts: one per window per channel.
  const pump = getScenario('pump');
  const perSecond = (pump.channels.length * pump.rateHz) / window;
  const durationS = Math.ceil(target / perSecond) + 1;

  const rng = new Rng(seed);
  const points = Array.from({ length: plannedKills }, () => Math.floor(target * (KILL_FROM + (KILL_TO - KILL_FROM) * rng.next()))).sort((a, b) => a - b);
  const downtime = points.map(() => DOWN_MS[0] + Math.round((DOWN_MS[1] - DOWN_MS[0]) * rng.next()));
  const minUp = points.map(() => UP_MS[0] + Math.round((UP_MS[1] - UP_MS[0]) * rng.next()));

  /** TINYQA_DEBUG: the children's logs and the kills go to stderr too, the broker's log to $TMPDIR/tinyqa-eval-delivery-mosquitto.log. */
  const debug = Boolean(process.env.TINYQA_DEBUG);
  const work = mkdtempSync(join(tmpdir(), 'tinyqa-eval-delivery-'));
  const summaryPath = join(work, 'watch-summary.json');
  let broker: Mosquitto | undefined;
  let watch: TinyqaChild | undefined;
  let sim: TinyqaChild | undefined;
  const abort = () => {
    watch?.child.kill('SIGKILL');
    sim?.child.kill('SIGKILL');
  };
  o.signal?.addEventListener('abort', abort, { once: true });
  const aborted = () => {
    if (o.signal?.aborted) throw new TinyqaError(ErrorCode.SimStalled, 'eval delivery: stopped before the end');
  };

  try {
    broker = await startMosquitto({
      persistence: autosaveS > 0,
      ...(autosaveS > 0 ? { autosaveIntervalS: autosaveS } : {}),
      // Connections, drops and saves, not a line per message: a log line per PUBLISH would cost
      // the broker more than the messages.
      logTypes: ['error', 'warning', 'notice', 'information'],
    });
    const url = broker.url!;

    // watch first, subscribed (SUBACK) before the first verdict: a subscriber asks only for gaps
    // after the first seq it sees.
    const watched: number[] = [];
    let watchMax = -1;
    let listening = false;
    watch = spawnTinyqa(
      ['watch', '--broker', url, '--device', DEVICE, '--json', '--persistent', '--client-id', WATCH_CLIENT_ID, '--summary-json', summaryPath, '--hold', String(holdS)],
      {
        ...(o.entry ? { entry: o.entry } : {}),
        onStdoutLine: (line) => {
          const s = seqOfLine(line);
          if (s === undefined) return;
          watched.push(s);
          if (s > watchMax) watchMax = s;
        },
        onStderrLine: (line) => {
          if (/listening: /.test(line)) listening = true;
          if (debug) process.stderr.write(`[watch] ${line}\n`);
        },
      },
    );
    const t0 = Date.now();
    while (!listening) {
      aborted();
      if (watch.done) throw new TinyqaError(ErrorCode.BrokerUnreachable, `eval delivery: watch exited before subscribing:\n${watch.stderrTail()}`);
      if (Date.now() - t0 > 30_000) throw new TinyqaError(ErrorCode.BrokerUnreachable, `eval delivery: watch did not subscribe within 30 s:\n${watch.stderrTail()}`);
      await sleep(20);
    }

    const produced: number[] = [];
    let simSummary = '';
    /** Verdicts the sim says it judged, once it has flushed and lingers. */
    let flushedVerdicts: number | undefined;
    // Time is compressed 30×, and so are two settings: the outbox holds the whole replay (the sim makes
    // in a minute what a gateway makes in hours; the unacked bound is the flood test's subject), and
    // health, whose last_seq tells watch of a tail it never got (messages the broker dropped after the
    // last one watch saw), comes every 5 s instead of 60.
    const simConfig = join(work, 'sim-config.json');
    writeFileSync(
      simConfig,
      JSON.stringify({
        outbox: { max_records: Math.max(100_000, 2 * target), max_bytes: Math.max(64 * 1024 * 1024, 2048 * target) },
        health: { interval_s: HEALTH_S },
      }),
    );
    const simStart = Date.now();
    sim = spawnTinyqa(
      [
        'sim', '--broker', url, '--device', DEVICE, '--outbox', join(work, 'outbox'), '--config', simConfig,
        '--speed', speed === Infinity ? 'max' : String(speed), '--window', String(window), '--faults', 'none', '--duration', String(durationS),
        // Flush through kills; then stay up serving replays until watch has it all (SIGTERM below).
        '--flush', String(settleS), '--linger', String(settleS), '--json',
      ],
      {
        ...(o.entry ? { entry: o.entry } : {}),
        onStdoutLine: (line) => {
          const s = seqOfLine(line);
          if (s !== undefined) produced.push(s);
        },
        onStderrLine: (line) => {
          const m = /^sim: lingering: (\d+) verdicts/.exec(line);
          if (m) flushedVerdicts = Number(m[1]);
          else if (line.startsWith('sim: ')) simSummary = line;
          if (debug) process.stderr.write(`[sim] ${line}\n`);
        },
      },
    );

    let kills = 0;
    let phase: DeliveryProgress['phase'] = 'replay';
    const report = () => o.progress?.({ phase, produced: produced.length, target, received: watched.length, kills, plannedKills, seconds: (Date.now() - simStart) / 1000 });
    const ticker = setInterval(report, 1_000);

    // The killer, beside the replay: kill i when watch has accepted points[i] verdicts.
    let stopKilling = false;
    const killer = (async () => {
      let upSince = Date.now();
      for (let i = 0; i < points.length; i++) {
        while (!stopKilling && watched.length < points[i]!) await sleep(10);
        while (!stopKilling && Date.now() - upSince < minUp[i]!) await sleep(10);
        if (stopKilling || watched.length >= KILL_STOP * target) return;
        await broker!.kill('SIGKILL');
        kills++;
        if (debug) process.stderr.write(`[eval] broker killed (${kills}) with ${watched.length} verdicts received, ${produced.length} produced\n`);
        await sleep(downtime[i]!);
        await broker!.restart();
        upSince = Date.now();
      }
    })();

    // The replay, then the wait for watch: it gets everything the sim printed, or asks for it.
    let deadline = simStart + TIMEOUT_S * 1000;
    let producedMax = Infinity;
    try {
      for (;;) {
        aborted();
        if (sim.done) throw new TinyqaError(ErrorCode.SimStalled, `eval delivery: the sim exited before watch had everything:\n${sim.stderrTail()}`);
        if (watch.done) throw new TinyqaError(ErrorCode.SimStalled, `eval delivery: watch exited before it had everything:\n${watch.stderrTail()}`);
        if (flushedVerdicts !== undefined && produced.length >= flushedVerdicts) {
          if (producedMax === Infinity) {
            phase = 'settle';
            deadline = Date.now() + settleS * 1000;
            producedMax = produced.reduce((a, b) => Math.max(a, b), -1);
          }
          if (watchMax >= producedMax) break;
        }
        if (Date.now() > deadline) break;
        await sleep(20);
      }
    } finally {
      stopKilling = true;
      await killer;
      clearInterval(ticker);
    }
    const seconds = (Date.now() - simStart) / 1000;
    const simExit = await sim.stop();
    const simSeconds = (Date.now() - simStart) / 1000;
    if (simExit.code !== 0) throw new TinyqaError(ErrorCode.SimStalled, `eval delivery: the sim exited with ${simExit.code ?? simExit.signal}:\n${sim.stderrTail()}`);
    const watchExit = await watch.stop();
    let summary: { devices?: Record<string, Record<string, number>>; wire_messages?: number; connects?: number } = {};
    try {
      summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as typeof summary;
    } catch {
      throw new TinyqaError(ErrorCode.ReportFailed, `eval delivery: watch wrote no summary (exit ${watchExit.code ?? watchExit.signal}):\n${watch.stderrTail()}`);
    }
    const dev = summary.devices?.[DEVICE] ?? {};

    const got = new Set(watched);
    const missingSeqs = produced.filter((s) => !got.has(s)).sort((a, b) => a - b);
    let orderKept = true;
    for (let i = 1; i < watched.length; i++) if (watched[i]! <= watched[i - 1]!) orderKept = false;
    const producedUnique = new Set(produced).size;
    const simFigures = parseSimSummary(simSummary);
    if (!simFigures) throw new TinyqaError(ErrorCode.ReportFailed, `eval delivery: the sim printed no summary:\n${sim.stderrTail()}`);
    const result: DeliveryResult = {
      produced: producedUnique,
      received: got.size,
      missing: missingSeqs.length,
      missing_ranges: toRanges(missingSeqs, 20),
      duplicates_after_dedup: watched.length - got.size,
      order_kept: orderKept,
      wire_duplicates: dev.duplicates ?? 0,
      wire_messages: summary.wire_messages ?? 0,
      gaps: dev.gaps ?? 0,
      replay_requests: dev.requests ?? 0,
      recovered: dev.recovered ?? 0,
      lost: dev.lost ?? 0,
      replayed: simFigures.replayed,
      replay_gone: simFigures.replayGone,
      resent: simFigures.resent,
      broker_kills: kills,
      planned_kills: plannedKills,
      downtime_ms: downtime.slice(0, kills),
      watch_connects: summary.connects ?? 0,
      autosave_s: autosaveS,
      window,
      seed,
      seconds: Math.round(seconds * 10) / 10,
      sim_seconds: Math.round(simSeconds * 10) / 10,
      verdicts_per_s: Math.round(got.size / seconds),
      sim_exit_code: simExit.code,
      watch_exit_code: watchExit.code,
      outbox: simFigures.outbox,
      sim_summary: simSummary,
      ok: false,
    };
    result.ok = result.missing === 0 && result.duplicates_after_dedup === 0 && result.order_kept && result.broker_kills === plannedKills && producedUnique === produced.length;
    return result;
  } finally {
    o.signal?.removeEventListener('abort', abort);
    abort();
    if (debug && broker) writeFileSync(join(tmpdir(), 'tinyqa-eval-delivery-mosquitto.log'), broker.log());
    await Promise.all([watch?.exited, sim?.exited]);
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The figures for a person (the --json object carries the same and more). */
export function formatDelivery(r: DeliveryResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `delivery through ${r.broker_kills} broker kill${r.broker_kills === 1 ? '' : 's'} (SIGKILL; Mosquitto ${r.autosave_s > 0 ? `persistence, autosave every ${r.autosave_s} s` : 'without persistence'}; seed ${r.seed}, window ${r.window}):`,
    `  produced (accepted by the outbox)  ${n(r.produced)}`,
    `  received by watch (unique)         ${n(r.received)}`,
    `  missing                            ${n(r.missing)}${r.missing ? `  (${r.missing_ranges.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ')})` : ''}`,
    `  duplicates after dedup             ${n(r.duplicates_after_dedup)}`,
    `  order kept                         ${r.order_kept ? 'yes' : 'NO'}`,
    `  wire duplicates dropped by watch   ${n(r.wire_duplicates)}  (of ${n(r.wire_messages)} messages; ${n(r.resent)} resent by the device after reconnects)`,
    `  gaps / replay requests             ${n(r.gaps)} / ${n(r.replay_requests)}  (${n(r.replayed)} seqs replayed by the device, ${n(r.recovered)} gap fills, ${n(r.replay_gone)} gone)`,
    `  lost (given up by watch)           ${n(r.lost)}`,
    `  broker kills                       ${r.broker_kills} of ${r.planned_kills}  (downtime ${r.downtime_ms.length ? `${Math.min(...r.downtime_ms)}–${Math.max(...r.downtime_ms)} ms` : '—'}; watch connected ${r.watch_connects}×)`,
    `  time                               ${r.seconds} s end to end (sim ${r.sim_seconds} s), ${n(r.verdicts_per_s)} verdicts/s`,
    `  ${r.ok ? 'OK: every verdict delivered once, in order' : 'FAILED: ' + [r.missing ? `${r.missing} missing` : '', r.duplicates_after_dedup ? `${r.duplicates_after_dedup} duplicated` : '', r.order_kept ? '' : 'order broken', r.broker_kills < r.planned_kills ? `only ${r.broker_kills} of ${r.planned_kills} kills made` : ''].filter(Boolean).join(', ')}`,
  ];
  return lines.join('\n') + '\n';
}
