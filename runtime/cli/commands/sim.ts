import { readFileSync } from 'node:fs';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../core/log.js';
import { ErrorCode, TinyqaError, errorMessage } from '../../core/errors.js';
import { numberOption, parse } from '../args.js';
import { formatVerdict, styleFor } from '../format.js';

export const SIM_HELP = `Usage: tinyqa sim [options]

Laptop mode: the whole system on this machine. A firmware emulator replays a sensor scenario into
one end of a pseudo-terminal pair; the runtime reads the other end as its serial port, judges each
window and publishes verdicts to an MQTT broker (an embedded one unless --broker is given).
Verdicts stream on stdout; progress and a summary go to stderr.

Options:
  --scenario NAME   sensor scenario: pump (default; pressure, flow, motor temperature at 100 Hz,
                    faults every 30 s), compressed-air (header pressure sawtooth, demand flow,
                    compressor power at 10 Hz, faults every 120 s) or smart-meter (household net
                    import and voltage, one sample per simulated minute at 1 Hz, PV panels installed
                    on day 7: a benign drift; try --speed 1000 --adapt)
  --speed X|max     replay speed: 1 = real time (default), 10 = ten times faster, max = as fast as
                    the pipeline takes it
  --duration S      seconds of scenario time to replay (default: 30, one pump fault cycle; 0 = until Ctrl-C)
  --faults SPEC     injected faults: default (all), none, or a comma list of stuck,missing,spikes,range,leak
                    (leak: an air leak in compressed-air, for a model-backed anomaly child to catch;
                    the pump has none)
  --seed N          random seed of the scenario (default: 1)
  --garbage P       chance (0..1) of garbage bytes on the serial line before each frame (default: 0)
  --window N        samples per window (default: 100; 60 for smart-meter); verdicts every N samples
                    per stream
  --broker URL      publish to this broker instead of starting the embedded one
  --device ID       the device id in topics (default: the scenario's, e.g. pump-01)
  --outbox DIR      keep the outbox (verdicts and actions waiting for the broker, and the retention
                    window replays are served from) in DIR, so a later run sends what this one could
                    not (default: a temporary folder, removed at exit)
  --flush S         at the end, wait up to S seconds for the broker to acknowledge everything, also
                    while it reconnects; a broker never reached in the run is not waited for
                    (default: 15; what is not acknowledged stays in --outbox DIR)
  --config FILE     a JSON config (the keys of \`tinyqa run --help\`, e.g. {"outbox": {"max_records": 50}})
                    merged key by key over the simulator's defaults; the options here win over it, and
                    serial.path and mqtt.url are always the simulator's (default: none)
  --linger S        after the flush, stay connected up to S more seconds serving subscribers' replay
                    requests (cmd/replay), as a gateway that keeps running would; Ctrl-C or SIGTERM
                    ends it; a line on stderr says when it begins (default: 0)
  --adapt           guarded adaptation on (adapt.enabled; DESIGN §7): the relevance envelope and the
                    anomaly threshold learn from windows that pass intrinsic QA; promotions,
                    rollbacks and retrain requests are published as actions (checkpoints only when
                    --config sets adapt.checkpoint_dir)
  --json            print each verdict as one JSON object per line (the published payload)
  --report FILE     also write a self-contained HTML page plotting the signals, the failing windows
                    and the scores
  --record FILE     also write the emulated signal as CSV (timestamp ms + channels): calibration data
  --profile FILE    judge with a calibration profile (tinyqa calibrate); verdicts carry its hash
  --model DIR       judge the anomaly child with a QA model package (e.g. models/pump-ae/1.0.0);
                    its training envelope feeds the relevance child; verdicts name the model
  --model-key FILE  require the package to be signed by this ed25519 public key
                    (e.g. models/keys/tinyqa-models.pub)
  --engine E        auto|tflite|onnx: which of the package's files runs (default: auto = TFLite)
  --log LEVEL       ${LOG_LEVELS.join('|')} (default: info; warn with --json)
  -h, --help        show this help

Examples:
  tinyqa sim                                   # 30 s of the pump scenario in real time
  tinyqa sim --duration 10 --speed max --json  # 10 s of data as fast as possible, JSON lines
  tinyqa sim --faults none --speed 20          # a clean run: every verdict should pass
  tinyqa sim --scenario compressed-air --speed 10 --faults leak   # only the air leak (no rule fails)
  tinyqa sim --speed max --model models/pump-ae/1.0.0 --model-key models/keys/tinyqa-models.pub
`;

export async function simCommand(argv: string[]): Promise<number> {
  const a = parse('sim', argv, {
    scenario: { type: 'string' },
    speed: { type: 'string' },
    duration: { type: 'string' },
    faults: { type: 'string' },
    seed: { type: 'string' },
    garbage: { type: 'string' },
    window: { type: 'string' },
    broker: { type: 'string' },
    device: { type: 'string' },
    outbox: { type: 'string' },
    flush: { type: 'string' },
    linger: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean' },
    log: { type: 'string' },
    report: { type: 'string' },
    record: { type: 'string' },
    adapt: { type: 'boolean' },
    profile: { type: 'string' },
    model: { type: 'string' },
    'model-key': { type: 'string' },
    engine: { type: 'string' },
  });
  if (a.help) {
    process.stdout.write(SIM_HELP);
    return 0;
  }
  const speed = a.speed === 'max' ? Infinity : (numberOption('sim', 'speed', a.speed, 0.01, 1e6) ?? 1);
  const duration = numberOption('sim', 'duration', a.duration, 0, 1e7) ?? 30;
  const seed = numberOption('sim', 'seed', a.seed, 0, 2 ** 32 - 1) ?? 1;
  const garbage = numberOption('sim', 'garbage', a.garbage, 0, 1) ?? 0;
  const window = numberOption('sim', 'window', a.window, 8, 65_536);
  const json = a.json === true;
  const fileConfig = typeof a.config === 'string' ? readConfigObject(a.config) : {};
  const fileLevel = isPlainObject(fileConfig.log) && typeof fileConfig.log.level === 'string' ? fileConfig.log.level : undefined;
  const level = (a.log as string | undefined) ?? fileLevel ?? (json ? 'warn' : 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new TinyqaError(ErrorCode.UsageInvalid, `sim: --log (or log.level in --config) must be one of ${LOG_LEVELS.join(', ')}; got "${level}"`);
  }
  const log = createLogger(level as LogLevel);

  // The simulator is loaded only for this command: `tinyqa run` on a gateway never pays for it.
  const { startSim } = await import('../../../sim/run-sim.js');
  const { parseFaults } = await import('../../../sim/scenarios/scenario.js');
  const faults = parseFaults(typeof a.faults === 'string' ? a.faults : 'default');
  if (typeof faults === 'string') throw new TinyqaError(ErrorCode.UsageInvalid, `sim: --faults: ${faults}`);

  const style = styleFor(process.stdout);
  const flushS = numberOption('sim', 'flush', a.flush, 0, 86_400) ?? 15;
  const lingerS = numberOption('sim', 'linger', a.linger, 0, 86_400) ?? 0;
  let config: Record<string, unknown> = mergeConfig(fileConfig, {
    log: { level },
    // The smart meter's faults last whole hours of 60 one-minute samples: its windows are an hour.
    ...(window ? { window: { size: window, hop: window } } : a.scenario === 'smart-meter' && fileConfig.window === undefined ? { window: { size: 60, hop: 60 } } : {}),
    ...(typeof a.device === 'string' ? { device: a.device } : {}),
    ...(typeof a.outbox === 'string' ? { outbox: { dir: a.outbox } } : {}),
    // A laptop replay keeps no adaptation state unless the config names a folder for it.
    ...(a.adapt ? { adapt: { enabled: true, checkpoint_dir: (fileConfig as { adapt?: { checkpoint_dir?: string } }).adapt?.checkpoint_dir ?? '' } } : {}),
  });
  if (typeof a.model === 'string') {
    // The simulator keeps no security-version state: a laptop replay must not pin a gateway's versions.
    // The model is why the anomaly child runs: on, and critical (its threshold was fitted on clean data).
    config = mergeConfig(config, {
      model: { package: a.model, public_key: typeof a['model-key'] === 'string' ? a['model-key'] : '', state: '', reload_s: 0, ...(typeof a.engine === 'string' ? { engine: a.engine } : {}) },
      qa: { anomaly: { enabled: true, severity: 'critical' } },
    });
  } else if (a['model-key'] !== undefined || a.engine !== undefined) {
    throw new TinyqaError(ErrorCode.UsageInvalid, 'sim: --model-key and --engine need --model DIR');
  }
  let profileHash: string | undefined;
  if (typeof a.profile === 'string') {
    const { loadCalibrationProfile, withCalibrationProfile } = await import('../../config/qa-profile.js');
    const p = loadCalibrationProfile(a.profile);
    config = withCalibrationProfile(config, p);
    profileHash = p.hash;
  }
  const sim = startSim({
    scenario: typeof a.scenario === 'string' ? a.scenario : 'pump',
    faults,
    speed,
    durationS: duration === 0 ? Infinity : duration,
    flushS,
    lingerS,
    ...(lingerS > 0
      ? {
          onFlushed: ({ verdicts, lastSeq, flushed }: { verdicts: number; lastSeq: number; flushed: boolean }) =>
            process.stderr.write(`sim: lingering: ${verdicts} verdicts judged, last seq ${lastSeq}, ${flushed ? 'all' : 'NOT all'} acknowledged; serving replay requests for up to ${lingerS} s\n`),
        }
      : {}),
    seed,
    garbageProbability: garbage,
    ...(typeof a.broker === 'string' ? { broker: a.broker } : {}),
    ...(typeof a.report === 'string' ? { report: a.report } : {}),
    config,
    ...(profileHash ? { profileHash } : {}),
    ...(typeof a.record === 'string' ? { record: a.record } : {}),
    log,
    onVerdict: (v) => process.stdout.write((json ? JSON.stringify(v) : formatVerdict(v, style)) + '\n'),
    onReady: ({ brokerUrl, serialPath, device, topicPrefix }) =>
      log.info?.(
        `replaying ${duration === 0 ? 'until Ctrl-C' : `${duration} s`} at ${speed === Infinity ? 'max' : speed + '×'} speed through ${serialPath}; ` +
          `verdicts on ${brokerUrl} topic ${topicPrefix}/${device}/verdict/<stream>`,
      ),
  });
  const onSignal = () => {
    log.info?.('stopping…');
    sim.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await sim.done;
    const c = r.counters;
    log.warn !== undefined &&
      process.stderr.write(
        `sim: ${r.verdicts} verdicts (${r.failed} fail) from ${r.emulator.samples} samples per channel; ` +
          `frames ${c.frames}, discarded bytes ${c.discarded_bytes}, bad CRC ${c.bad_crc}; ` +
          `broker acknowledged ${c.mqtt_acked}/${(c.mqtt_accepted ?? 0) + (c.mqtt_actions ?? 0)} messages (${c.mqtt_accepted} verdicts, ${c.mqtt_actions} actions)${r.flushed ? '' : ' (NOT all acknowledged)'}` +
          (c.stored ? `; ${c.stored} windows diverted/quarantined to the store (tinyqa store read)` : '') +
          outboxSummary(c) +
          '\n',
      );
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** `over` merged into `base` key by key (objects recursively; anything else replaced). */
function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? mergeConfig(b, v) : v;
  }
  return out;
}

/** The --config file as an object; its keys are validated with the rest of the simulator's config. */
function readConfigObject(path: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TinyqaError(ErrorCode.ConfigUnreadable, `sim: cannot read --config ${path}: ${errorMessage(e)}`, { hint: 'a JSON object with the keys of `tinyqa run --help`' });
  }
  if (!isPlainObject(obj)) throw new TinyqaError(ErrorCode.ConfigInvalid, `sim: --config ${path} must hold a JSON object`, { hint: 'e.g. {"outbox": {"max_records": 50}}' });
  return obj;
}

/**
 * The outbox's own account of this run (DESIGN §8: `in = delivered + dropped + queued`): produced
 * counts the records appended since it opened plus those an earlier run left unacknowledged.
 */
function outboxSummary(c: Record<string, number>): string {
  if (c.outbox_produced === undefined) return '';
  return (
    `; outbox: produced ${c.outbox_produced} = delivered ${c.outbox_delivered} + dropped ${c.outbox_dropped} + queued ${c.outbox_queued}` +
    `; ${c.mqtt_resent ?? 0} resent after reconnects, ${c.mqtt_replayed ?? 0} replayed on request, ${c.mqtt_replay_gone ?? 0} asked for but gone`
  );
}
