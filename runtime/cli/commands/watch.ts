import { readFileSync, writeFileSync } from 'node:fs';
import { systemClock } from '../../core/clock.js';
import { ErrorCode, TinyqaError, errorMessage } from '../../core/errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../core/log.js';
import { signCommand } from '../../publish/commands.js';
import { decodeBody } from '../../publish/encoding.js';
import { redactUrl, subscribe, type ReceivedMessage, type SubscribeOptions } from '../../publish/mqtt.js';
import { SeqTracker } from '../../publish/seq-tracker.js';
import { parseTopic, watchFilters } from '../../publish/topics.js';
import type { Verdict } from '../../qa/types.js';
import { numberOption, parse } from '../args.js';
import { formatVerdict, styleFor } from '../format.js';

export const WATCH_HELP = `Usage: tinyqa watch [options]

Subscribe to a broker and show verdicts, actions and device status live — from any tinyqa device
publishing there (a gateway, or a \`tinyqa sim --broker URL\` on a laptop).

It is the reference end-to-end subscriber: every verdict and action carries the device's durable
\`seq\`; watch drops wire duplicates, prints in seq order, asks the device to replay what is missing
(<prefix>/<device>/cmd/replay), and gives a gap up after --hold seconds, or at once when the device
answers that those records are gone.

Options:
  --broker URL         broker to subscribe to (default: mqtt://127.0.0.1:1883)
  --device ID          only this device (default: all)
  --prefix P           topic prefix (default: tinyqa/v1)
  --json               print each verdict as one JSON object per line (the published object);
                       nothing else goes to stdout
  --actions            with --json, print actions too, as {"action": {...}} lines (default: off;
                       without --json actions are always shown)
  --count N            exit after N verdicts (default: no limit)
  --duration S         exit after S seconds (default: no limit)
  --hold S             how long a gap in seq may hold output back before it is given up as lost
                       (default: 30)
  --no-replay          a plain QoS 1 subscriber: print messages as they arrive, duplicates and
                       disorder included, and ask for nothing; the summary still counts what was
                       missing (default: off)
  --secret-file F      shared secret to sign replay requests with (HMAC-SHA256), for devices that
                       require signed commands (default: unsigned)
  --username U         broker user name (default: none)
  --password-file F    file holding the broker password (default: none)
  --ca F               CA certificate (PEM) of an mqtts:// or wss:// broker (default: system CAs)
  --client-id ID       MQTT client id (default: tinyqa-watch-<pid>-<random>)
  --persistent         persistent session (needs --client-id): the broker queues messages for this
                       client id while watch is not running (default: off, a clean session)
  --summary-json FILE  at exit, also write the summary as one JSON object to FILE
  --log LEVEL          ${LOG_LEVELS.join('|')} (default: info)
  -h, --help           show this help

At exit (--count, --duration, Ctrl-C or SIGTERM) one summary line goes to stderr, per device:
verdicts and actions accepted, wire duplicates dropped, gaps, replay requests, seqs lost, and seqs
still missing at exit (unresolved: they may only have been on their way).

Exit codes: 0 done; 3 some seqs were lost (given up after --hold, or gone from the device);
2 bad options or unreadable files; 1 another failure.
`;

/** Exit code when seqs were given up (DESIGN §9: non-zero means something for scripts to act on). */
export const EXIT_LOST = 3;
/** Messages held per device while a gap is open; beyond, the oldest gap is given up at once. */
const MAX_BUFFERED = 10_000;
/** Ranges kept per device for the summary (the counts stay exact). */
const MAX_RANGES = 1_000;
/** A tail announced by health/status is often only queued on the device: ask after this. */
const TAIL_GRACE_MS = 1_000;
const TICK_MS = 250;

type Body = Record<string, unknown>;

interface Rec {
  kind: 'verdict' | 'action';
  body: Body;
}

interface DeviceStats {
  first: number | null;
  last: number | null;
  verdicts: number;
  actions: number;
  requests: number;
  lost: [number, number][];
  unresolved: [number, number][];
}

const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
/** JSON of a decoded body; a CBOR bignum (tag 2/3) has no JSON form of its own and is written as a number or a string. */
const toJson = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? (Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()) : x));
const range = ([a, b]: [number, number]) => (a === b ? `${a}` : `${a}–${b}`);
const ranges = (rs: [number, number][]) => rs.slice(0, 5).map(range).join(', ') + (rs.length > 5 ? `, … (${rs.length} ranges)` : '');

function readFileOption(name: string, path: string | boolean | undefined): Buffer | undefined {
  if (typeof path !== 'string') return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TinyqaError(ErrorCode.UsageInvalid, `watch: cannot read --${name} ${path}: ${errorMessage(e)}`);
  }
}

/** A secret or password file written by `echo` ends in a newline that is not part of it. */
const textOf = (b: Buffer | undefined) => b?.toString('utf8').replace(/\r?\n$/, '');

export async function watchCommand(argv: string[]): Promise<number> {
  const a = parse('watch', argv, {
    broker: { type: 'string' },
    device: { type: 'string' },
    prefix: { type: 'string' },
    json: { type: 'boolean' },
    actions: { type: 'boolean' },
    count: { type: 'string' },
    duration: { type: 'string' },
    hold: { type: 'string' },
    'no-replay': { type: 'boolean' },
    'secret-file': { type: 'string' },
    username: { type: 'string' },
    'password-file': { type: 'string' },
    ca: { type: 'string' },
    'client-id': { type: 'string' },
    persistent: { type: 'boolean' },
    'summary-json': { type: 'string' },
    log: { type: 'string' },
  });
  if (a.help) {
    process.stdout.write(WATCH_HELP);
    return 0;
  }
  const usage = (msg: string) => new TinyqaError(ErrorCode.UsageInvalid, `watch: ${msg}`, { hint: 'see `tinyqa watch --help`' });
  const url = typeof a.broker === 'string' ? a.broker : 'mqtt://127.0.0.1:1883';
  if (!/^(mqtts?|wss?|tcp|ssl):\/\//.test(url)) throw usage(`--broker must be a URL like mqtt://host:1883; got "${url}"`);
  const prefix = typeof a.prefix === 'string' ? a.prefix : 'tinyqa/v1';
  const device = typeof a.device === 'string' ? a.device : undefined;
  // MQTT 3.1.1 §4.7.1: wildcards and separators in a filter level would widen or break the subscription.
  if (device !== undefined && !/^[^/+#]+$/.test(device)) throw usage(`--device must be one topic level (no "/", "+" or "#"); got "${device}"`);
  if (!/^[^+#]+$/.test(prefix) || prefix.endsWith('/')) throw usage(`--prefix must be a topic without wildcards or a trailing "/"; got "${prefix}"`);
  const count = numberOption('watch', 'count', a.count, 1, 1e12);
  const duration = numberOption('watch', 'duration', a.duration, 0.1, 1e9);
  const holdMs = (numberOption('watch', 'hold', a.hold, 0.1, 86_400) ?? 30) * 1000;
  const level = typeof a.log === 'string' ? a.log : 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw usage(`--log must be one of ${LOG_LEVELS.join(', ')}; got "${level}"`);
  const json = a.json === true;
  const showActions = a.actions === true || !json;
  const replay = a['no-replay'] !== true;
  const summaryPath = typeof a['summary-json'] === 'string' ? a['summary-json'] : undefined;
  const clientId = typeof a['client-id'] === 'string' ? a['client-id'] : undefined;
  if (clientId === '') throw usage('--client-id must not be empty');
  if (a.persistent && clientId === undefined) throw usage('--persistent needs --client-id: the broker keeps a session by client id');
  const tlsUrl = /^(mqtts|ssl|wss):/.test(url);
  if (typeof a.ca === 'string' && !tlsUrl) throw usage(`--ca is for mqtts:// or wss:// brokers; ${redactUrl(url)} is plaintext`);
  const secret = textOf(readFileOption('secret-file', a['secret-file']));
  if (secret === '') throw usage(`--secret-file ${String(a['secret-file'])} is empty`);
  const password = textOf(readFileOption('password-file', a['password-file']));
  const ca = readFileOption('ca', a.ca);

  // Logs go to stderr, so --json output on stdout stays one verdict per line.
  const log = createLogger(level as LogLevel);
  if (password && !tlsUrl && !/\/\/([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url)) {
    log.warn?.(`the broker password goes in plaintext over ${redactUrl(url)}; use mqtts:// with --ca`);
  }
  const style = styleFor(process.stdout);
  const clock = systemClock;
  const out = (line: string) => process.stdout.write(line + '\n');

  const stats = new Map<string, DeviceStats>();
  const statsOf = (d: string) => {
    let s = stats.get(d);
    if (!s) stats.set(d, (s = { first: null, last: null, verdicts: 0, actions: 0, requests: 0, lost: [], unresolved: [] }));
    return s;
  };
  let shown = 0;
  let countReached = false;
  let stopping = false;
  let bad = 0;
  const badTopics = new Set<string>();
  /** Why the tracker is giving up a range right now, for the log. */
  let why = 'reorder buffer full';
  /** Our replay requests waiting for their result, by id (bounded: the oldest is forgotten). */
  const pending = new Map<string, { from: number; to: number }>();
  const idBase = `w${process.pid.toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
  let idN = 0;

  let finish: (reason: string) => void = () => undefined;
  const finished = new Promise<string>((resolve) => (finish = resolve));
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    finish(reason);
  };

  const show = (d: string, r: Rec) => {
    if (countReached) return;
    if (r.kind === 'action') {
      if (!showActions) return;
      const b = r.body;
      out(json ? toJson({ action: b }) : `${d} ${String(b.stream)} ${style.dim(('#' + String(b.seq)).padEnd(6))} action ${String(b.kind)}${b.state ? ' ' + String(b.state) : ''}${b.event ? ' ' + String(b.event) : ''}: ${String(b.reason)}`);
      return;
    }
    let line: string;
    try {
      line = json ? toJson(r.body) : formatVerdict(r.body as unknown as Verdict, style);
    } catch {
      line = toJson(r.body); // a verdict without the usual fields: shown as it is
    }
    out(line);
    if (count !== undefined && ++shown >= count) {
      countReached = true;
      stop('count');
    }
  };

  const sendReplay = (d: string, from: number, to: number) => {
    const id = `${idBase}-${++idN}`;
    const topic = `${prefix}/${d}/cmd/replay`;
    const ts = clock.now();
    const args = { from, to };
    const body = { id, ts, args, ...(secret !== undefined ? { sig: signCommand(secret, topic, id, ts, args) } : {}) };
    pending.set(id, args);
    if (pending.size > 1_000) pending.delete(pending.keys().next().value!);
    statsOf(d).requests++;
    log.info?.(`${d}: seq ${range([from, to])} missing; asked for a replay`);
    sub.publish(topic, JSON.stringify(body)).catch((e: unknown) => log.warn?.(`replay request to ${d} not sent: ${errorMessage(e)}; asking again later`));
  };

  const tracker = new SeqTracker<Rec>({
    holdMs,
    maxBuffered: MAX_BUFFERED,
    tailGraceMs: TAIL_GRACE_MS,
    deliver: (d, seq, r) => {
      if (countReached) return;
      const s = statsOf(d);
      s.first ??= seq;
      s.last = seq;
      if (r.kind === 'verdict') s.verdicts++;
      else s.actions++;
      if (replay) show(d, r);
    },
    request: (d, from, to) => {
      if (replay) sendReplay(d, from, to);
    },
    lost: (d, from, to) => {
      const s = statsOf(d);
      if (s.lost.length < MAX_RANGES) s.lost.push([from, to]);
      log.warn?.(`${d}: seq ${range([from, to])} lost (${why})`);
    },
    unresolved: (d, from, to) => {
      const s = statsOf(d);
      if (s.unresolved.length < MAX_RANGES) s.unresolved.push([from, to]);
    },
  });

  const badMessage = (topic: string, reason: string) => {
    bad++;
    if (badTopics.has(topic) || badTopics.size >= 1_000) return;
    badTopics.add(topic);
    log.warn?.(`ignored a message on ${topic}: ${reason} (further ones on this topic are only counted)`);
  };

  const onResult = (d: string, body: Body) => {
    const req = typeof body.id === 'string' ? pending.get(body.id) : undefined;
    if (!req) return; // another client's command
    pending.delete(body.id as string);
    if (body.ok !== true) {
      const reason = String(body.error ?? body.reason ?? 'no reason given');
      log.warn?.(`${d} refused the replay of seq ${range([req.from, req.to])}: ${reason}${/unsigned|signature/.test(reason) ? ' — give the device secret with --secret-file' : ''}`);
      return;
    }
    const result = (typeof body.result === 'object' && body.result !== null ? body.result : {}) as Body;
    log.debug?.(`${d} replays ${String(result.replayed)} record(s) of seq ${range([req.from, req.to])}`);
    if (!Array.isArray(result.gone)) return;
    why = 'gone from the device: older than its retention, or dropped by a full outbox';
    for (const g of result.gone as unknown[]) {
      if (Array.isArray(g) && isSeq(g[0]) && isSeq(g[1]) && g[0] <= g[1]) tracker.giveUp(d, g[0], g[1], clock.monotonic());
    }
  };

  const onMessage = (m: ReceivedMessage): void => {
    if (stopping) return;
    const where = parseTopic(prefix, m.topic);
    if (!where) return;
    const now = clock.monotonic();
    // JSON or CBOR, by the MQTT 5 content type or else by the first byte (encoding.ts).
    let body: Body;
    try {
      const v = decodeBody(m.payload, m.contentType);
      if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) return badMessage(m.topic, 'not a JSON or CBOR object');
      body = v as Body;
    } catch (e) {
      return badMessage(m.topic, errorMessage(e));
    }
    switch (where.kind) {
      case 'verdict':
      case 'action': {
        if (!isSeq(body.seq)) return badMessage(m.topic, 'no "seq" (a non-negative integer)');
        const r: Rec = { kind: where.kind, body };
        if (!replay) show(where.device, r);
        why = 'reorder buffer full';
        tracker.accept(where.device, body.seq, r, now);
        return;
      }
      case 'status':
      case 'health': {
        if (where.kind === 'status') log.info?.(`${where.device} is ${String(body.state)}${m.retain ? ' (retained)' : ''}${isSeq(body.last_seq) ? `, last seq ${body.last_seq}` : ''}`);
        else if (!json) out(`${where.device} health: last seq ${String(body.last_seq)}, cpu ${String(body.cpu_share)}, rss ${String(body.rss_mb)} MB${body.budget_mode !== undefined ? `, mode ${String(body.budget_mode)}` : ''}${body.battery_pct !== undefined ? `, battery ${String(body.battery_pct)} %` : ''}`);
        if (isSeq(body.last_seq)) tracker.announce(where.device, body.last_seq, now);
        // A device back online may have missed our requests (or we its answers): ask again now.
        if (where.kind === 'status' && body.state === 'online' && !m.retain) tracker.reask(where.device, now);
        return;
      }
      case 'cmd':
        if (where.stream === 'result') onResult(where.device, body);
        return;
    }
  };

  const sub = subscribe(
    url,
    watchFilters(prefix, device),
    (m) => {
      // Whatever a message holds, watch goes on: it is counted and said once per topic.
      try {
        onMessage(m);
      } catch (e) {
        badMessage(m.topic, `could not be handled: ${errorMessage(e)}`);
      }
    },
    log,
    {
      ...(clientId !== undefined ? { clientId } : {}),
      persistent: a.persistent === true,
      ...(typeof a.username === 'string' ? { username: a.username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(ca ? { ca } : {}),
    } satisfies SubscribeOptions,
  );

  // subscribe() says "subscribed" on connect; this line means the broker has confirmed it (SUBACK).
  void sub.ready.then(() => log.info?.(`listening: ${device ?? 'every device'} under ${prefix}/, ${replay ? `replay on, gaps held up to ${holdMs / 1000} s` : 'no replay'}`));
  let connectsSeen = 0;
  const ticker = setInterval(() => {
    why = `not replayed within --hold ${holdMs / 1000} s`;
    // Our own reconnect (a broker restart) may have swallowed requests and replays: ask again.
    if (sub.counters.connects > connectsSeen) {
      if (connectsSeen > 0) tracker.reask(undefined, clock.monotonic());
      connectsSeen = sub.counters.connects;
    }
    tracker.tick(clock.monotonic());
  }, TICK_MS);
  const timer = duration !== undefined ? setTimeout(() => stop('duration'), duration * 1000) : undefined;
  const onSignal = () => stop('signal');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await finished;
  clearInterval(ticker);
  if (timer) clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // What is held is printed; what is still missing is reported, not waited for.
  tracker.finish(clock.monotonic());
  await sub.close();

  const devices: Record<string, unknown> = {};
  const parts: string[] = [];
  let lost = 0;
  for (const d of tracker.deviceIds()) {
    const c = tracker.deviceCounters(d)!;
    const s = statsOf(d);
    lost += c.lost;
    devices[d] = {
      first_seq: s.first,
      last_seq: s.last,
      accepted: s.verdicts + s.actions,
      verdicts: s.verdicts,
      actions: s.actions,
      duplicates: c.duplicates,
      gaps: c.gaps,
      requests: s.requests,
      recovered: c.recovered,
      lost: c.lost,
      lost_ranges: s.lost,
      unresolved: c.unresolved,
      unresolved_ranges: s.unresolved,
    };
    parts.push(
      `${d}: ${s.verdicts} verdicts + ${s.actions} actions accepted${s.first !== null ? ` (seq ${s.first}–${s.last})` : ''}, ${c.duplicates} duplicates dropped, ` +
        `${c.gaps} gaps, ${s.requests} replay requests, ${c.recovered} recovered, ${c.lost} lost${c.lost ? ` (${ranges(s.lost)})` : ''}` +
        (c.unresolved ? `, ${c.unresolved} unresolved at exit (${ranges(s.unresolved)})` : ''),
    );
  }
  const wire = sub.counters;
  process.stderr.write(
    `watch: ${wire.messages} wire messages, ${wire.connects} connect${wire.connects === 1 ? '' : 's'}${bad ? `, ${bad} unreadable` : ''}${replay ? '' : ', no replay'}; ` +
      (parts.length ? parts.join('; ') : 'no device seen') +
      '\n',
  );
  if (summaryPath !== undefined) {
    const summary = { devices, wire_messages: wire.messages, connects: wire.connects, bad_messages: bad, replay, exit_code: lost > 0 ? EXIT_LOST : 0 };
    try {
      writeFileSync(summaryPath, JSON.stringify(summary) + '\n');
    } catch (e) {
      throw new TinyqaError(ErrorCode.ReportFailed, `watch: cannot write --summary-json ${summaryPath}: ${errorMessage(e)}`, { cause: e });
    }
  }
  return lost > 0 ? EXIT_LOST : 0;
}
