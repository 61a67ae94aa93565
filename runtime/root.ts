/**
 * The composition root: the one place that builds the device pipeline and wires its parts
 * (DESIGN §2). Everything that runs tinyqa — `tinyqa run` on a gateway, `tinyqa sim` on a laptop,
 * the end-to-end tests — goes through `createRuntime`; parts touching the outside world can be
 * replaced (mock transport, memory publisher, manual clock), nothing else is built elsewhere.
 */

import { systemClock, type Clock } from './core/clock.js';
import { createLogger, type Logger } from './core/log.js';
import { loadMqttCredentials } from './config/mqtt-credentials.js';
import { loadReferenceProfile, type TinyqaConfig } from './config/schema.js';
import { createAnomalyDetector } from './anomaly/detector.js';
import { DeviceLink } from './link/link.js';
import { Policy, type Action } from './policy/policy.js';
import { WindowStore } from './store/store.js';
import { CommandCode } from './framing/messages.js';
import { Pipeline, type PipelineOptions } from './pipeline/pipeline.js';
import { ModelService } from './inference/model-service.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TinyqaError, errorMessage } from './core/errors.js';
import { CommandGate, type Command } from './publish/commands.js';
import { HealthMonitor } from './publish/health.js';
import { MqttPublisher, type MqttPublisherOptions } from './publish/mqtt.js';
import { commandRunner } from './remote.js';
import type { Publisher } from './publish/publisher.js';
import type { Verdict } from './qa/types.js';
import { SerialTransport } from './transport/serial.js';
import type { Transport } from './transport/transport.js';
import { VERSION } from './version.js';
import { type AdaptEvent, type Adapter, createAdapter } from './adapt/adapter.js';
import type { AdaptPersistence } from './adapt/persist.js';
import { BudgetControl, type BudgetTick } from './budget.js';
import type { StreamProfile } from './qa/profile.js';

export interface RuntimeParts {
  clock?: Clock;
  log?: Logger;
  transport?: Transport;
  publisher?: Publisher;
  /** Hash of the calibration profile merged into the config, reported in every verdict. */
  profileHash?: string;
  /** Called with every verdict after it was handed to the publisher (e.g. to print it). */
  onVerdict?: (v: Verdict) => void;
  /** Called with every action of the policy after it was handed to the publisher. */
  onAction?: (a: Action) => void;
  /** Called with every tick of the budget governor (evaluations record them). */
  onBudgetTick?: (t: BudgetTick) => void;
}

export interface Runtime {
  /** The config in force (commands can change its qa and policy sections until restart). */
  readonly config: Readonly<TinyqaConfig>;
  readonly pipeline: Pipeline;
  readonly link: DeviceLink;
  readonly transport: Transport;
  readonly publisher: Publisher;
  readonly policy: Policy;
  readonly store: WindowStore | undefined;
  /** The QA model, when the config names a package (model.package). */
  readonly model: ModelService | undefined;
  /** The adaptation layer, when adapt.enabled. */
  readonly adapter: Adapter | undefined;
  /** The budget governor, when governor.enabled. */
  readonly budget: BudgetControl | undefined;
  /** Connects the publisher (in the background) and opens the transport; rejects if the first open fails. */
  start(): Promise<void>;
  /** Closes the transport, then flushes and closes the publisher. */
  stop(): Promise<void>;
  /** Every counter of every stage, flat, for health reports and summaries. */
  counters(): Record<string, number>;
  /** Publishes a health report now (also every health.interval_s while running). */
  publishHealth(): void;
}

export function createRuntime(initialConfig: Readonly<TinyqaConfig>, parts: RuntimeParts = {}): Runtime {
  let config = initialConfig;
  const clock = parts.clock ?? systemClock;
  const log = parts.log ?? createLogger(config.log.level);
  const transport =
    parts.transport ??
    new SerialTransport(
      {
        path: config.serial.path,
        baudRate: config.serial.baud_rate,
        reopenMinMs: config.serial.reopen_min_ms,
        reopenMaxMs: config.serial.reopen_max_ms,
      },
      clock,
      log.child('serial'),
    );
  // Commands reach the parts built below; they run only once the runtime has started.
  let runCommand: (c: Command) => Promise<unknown> = () => Promise.reject(new TinyqaError(ErrorCode.Internal, 'not started'));
  const publisher =
    parts.publisher ??
    new MqttPublisher(
      {
        ...mqttPublisherOptions(config),
        ...(config.commands.enabled ? { commands: { gate: commandGate(config), run: (c: Command) => runCommand(c) } } : {}),
      },
      clock,
      log.child('mqtt'),
    );
  // The health report reads the battery and temperature where the governor does.
  const health = new HealthMonitor(
    {
      device: config.device,
      ...(config.governor.power_supply_dir !== '' ? { powerSupplyDir: config.governor.power_supply_dir } : {}),
      ...(config.governor.thermal_path !== '' ? { thermalPath: config.governor.thermal_path } : {}),
    },
    clock,
  );
  let healthTimer: ReturnType<typeof setInterval> | undefined;
  const link = new DeviceLink(transport, clock, log.child('link'), {
    livenessPeriods: config.serial.liveness_periods,
    livenessFloorMs: config.serial.liveness_floor_ms,
    ackTimeoutMs: config.serial.ack_timeout_ms,
    retries: config.serial.command_retries,
    timeSync: config.serial.time_sync,
  });
  const onVerdict = parts.onVerdict;
  const policy = new Policy(config.policy);
  const plog = log.child('policy');
  const store = config.store.dir === '' ? undefined : new WindowStore({ dir: config.store.dir, maxBytes: config.store.max_bytes, files: config.store.files }, log.child('store'));
  // Remedies the policy asks for go to the device as commands (PROTOCOL §6); the answer is logged.
  const remedyCodes: Record<string, number> = { switch_to_backup: CommandCode.SwitchToBackup, recalibrate: CommandCode.Recalibrate };
  const act = (a: Action) => {
    publisher.publishAction(a);
    parts.onAction?.(a);
    if (a.kind === 'command' && a.command && remedyCodes[a.command] !== undefined) {
      const channel = link.deviceHello?.channels.findIndex((c) => c.name === a.stream) ?? -1;
      link.sendCommand(remedyCodes[a.command]!, channel >= 0 ? channel : undefined).then(
        (r) => plog.info?.(`${a.command} for ${a.stream}: device answered status ${r.status}${r.detail ? ` (${r.detail})` : ''}`),
        (e: unknown) => plog.warn?.(`${a.command} for ${a.stream} failed: ${e instanceof Error ? e.message : String(e)}`),
      );
    }
  };
  const model = config.model.package
    ? new ModelService(
        {
          dir: config.model.package,
          publicKeyPath: config.model.public_key,
          statePath: config.model.state,
          engine: config.model.engine,
          windowSize: config.window.size,
          maxBatch: config.model.max_batch,
          reloadS: config.model.reload_s,
        },
        log.child('model'),
      )
    : undefined;
  // Adaptation (DESIGN §7): seeded with the reference envelope of the config, else of the model.
  // The config's reference profile, read once: the relevance child's, and the adapter's seed.
  const staticProfile = referenceProfile(config);
  const seedEnvelope = (stream: string): StreamProfile | undefined => (staticProfile.profile ?? model?.referenceProfile)?.streams[stream];
  const alog = log.child('adapt');
  const adaptAction = (e: AdaptEvent): Action => ({
    v: 1,
    device: config.device,
    stream: e.stream,
    kind: e.kind === 'retrain_requested' ? 'retrain' : 'adapt',
    event: e.kind,
    generation: e.generation,
    reason: e.reason,
    verdict_seq: e.verdict_seq,
    t0: e.t0,
    t1: e.t1,
  });
  const adapter = config.adapt.enabled
    ? createAdapter(config, seedEnvelope, (e) => {
        // Published after the verdict that caused it (the pipeline hands the verdict on right after learning);
        // a detected change only speeds up learning: logged and counted, not published.
        if (e.kind !== 'change_detected') queueMicrotask(() => act(adaptAction(e)));
        if (e.kind === 'change_detected') alog.debug?.(`${e.stream}: ${e.reason}`);
        else alog.info?.(`${e.stream}: ${e.reason}`);
      })
    : undefined;
  // Loaded in start(), only when adaptation keeps checkpoints.
  let persistence: AdaptPersistence | undefined;
  const budget = config.governor.enabled
    ? new BudgetControl(
        config.governor,
        clock,
        log.child('budget'),
        (mode, reason) => {
          const now = clock.now();
          act({ v: 1, device: config.device, stream: '*', kind: 'budget', event: mode, reason: `budget mode ${mode}: ${reason}`, verdict_seq: pipeline.counters.verdicts, t0: now, t1: now });
          publishHealth();
        },
        parts.onBudgetTick,
      )
    : undefined;
  if (model && !config.qa.anomaly.enabled) log.warn?.('model.package is set but qa.anomaly.enabled is false: the model scores windows nobody reads; enable the anomaly child');
  const pipeline = new Pipeline(
    {
      device: config.device,
      window: config.window,
      qa: config.qa,
      profileHash: parts.profileHash ?? null,
      toWallMs: (ms) => link.toWallMs(ms),
      // The integrity children judge the link's own counters (frames, discards, gaps) per window.
      integrity: () => link.counters,
      ...staticProfile,
      anomalyScorer: () => createAnomalyDetector(),
      ...(model ? { model, modelProfile: () => model.referenceProfile } : {}),
      ...(adapter ? { adapt: adapter } : {}),
      ...(budget ? { budget } : {}),
    },
    (v, window) => {
      publisher.publishVerdict(v);
      onVerdict?.(v);
      for (const a of policy.onVerdict(v)) act(a);
      // Divert and quarantine keep the window's data in the local store (paper §3.2: offline storage);
      // so does a stream whose retraining was requested (adapt.divert_windows), for off-device retraining.
      const kind = policy.dispositionOf(v.stream);
      const keep = kind === 'divert' || kind === 'quarantine' ? kind : adapter?.diverting(v.stream) ? 'retrain' : undefined;
      if (store && window && keep) {
        store.append({ kind: keep, device: v.device, stream: v.stream, verdict_seq: v.seq, t0: v.t0, t1: v.t1, reason: v.failed.join(', ') || (keep === 'retrain' ? 'passed' : ''), values: Array.from(window.values, (x) => (Number.isFinite(x) ? x : null)) });
      }
      if (plog.debug) plog.debug(`verdict ${v.seq} ${v.stream}: ${kind}`);
    },
    log.child('pipeline'),
  );

  link.onMessage((h, m) => pipeline.handle(h, m));

  const counters = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(link.counters)) out[k] = v;
    for (const [k, v] of Object.entries(pipeline.counters)) out[k] = v;
    for (const [k, v] of Object.entries(transport.counters)) out[`link_${k}`] = v;
    for (const [k, v] of Object.entries(publisher.counters)) out[`mqtt_${k}`] = v;
    for (const [k, v] of Object.entries(publisher.details())) out[k] = v;
    if (store) for (const [k, v] of Object.entries(store.counters)) out[k] = v;
    if (model) for (const [k, v] of Object.entries(model.counters)) out[k] = v;
    if (adapter) for (const [k, v] of Object.entries(adapter.counters)) out[k] = v;
    if (persistence) for (const [k, v] of Object.entries(persistence.counters)) out[k] = v;
    if (budget) for (const [k, v] of Object.entries(budget.counters)) out[k] = v;
    return out;
  };
  const publishHealth = () => publisher.publishHealth(health.report(counters(), budget ? { budget_mode: budget.mode } : {}));
  runCommand = commandRunner({
    config: () => config,
    setConfig: (c) => (config = c),
    pipeline,
    policy,
    link,
    model,
    adapter,
    publishHealth,
    log: log.child('cmd'),
  });

  return {
    get config() {
      return config;
    },
    pipeline,
    link,
    transport,
    publisher,
    policy,
    store,
    model,
    adapter,
    budget,
    async start() {
      // The model first: a refused package stops the start with its reason (there is no last good one yet).
      if (model) await model.start();
      if (adapter && config.adapt.checkpoint_dir !== '') {
        const { AdaptPersistence } = await import('./adapt/persist.js');
        persistence = new AdaptPersistence(adapter, { dir: config.adapt.checkpoint_dir, intervalS: config.adapt.checkpoint_s }, alog);
        persistence.load();
      }
      try {
        await publisher.start();
      } catch (e) {
        await model?.close();
        health.close();
        throw e;
      }
      try {
        // Opens the transport and starts watching liveness.
        await link.start();
      } catch (e) {
        await model?.close();
        await publisher.close();
        health.close();
        throw e;
      }
      if (config.health.interval_s > 0) {
        healthTimer = setInterval(publishHealth, config.health.interval_s * 1000);
        healthTimer.unref();
      }
      budget?.start();
      persistence?.start();
    },
    async stop() {
      if (healthTimer) clearInterval(healthTimer);
      budget?.stop();
      health.close();
      await link.stop();
      // Windows still waiting for the model are judged (and published) before the publisher closes.
      await pipeline.idle();
      persistence?.stop();
      await model?.close();
      await publisher.close();
    },
    counters,
    publishHealth,
  };
}

/**
 * The MQTT publisher's options from the config; reads the CA, certificate, key and password files
 * now, so a bad path stops start-up with an error naming its key.
 */
export function mqttPublisherOptions(config: Readonly<TinyqaConfig>): MqttPublisherOptions {
  return {
    url: config.mqtt.url,
    clientId: config.mqtt.client_id,
    topicPrefix: config.mqtt.topic_prefix,
    device: config.device,
    qos: config.mqtt.qos,
    keepaliveS: config.mqtt.keepalive_s,
    reconnectMinMs: config.mqtt.reconnect_min_ms,
    reconnectMaxMs: config.mqtt.reconnect_max_ms,
    encoding: config.mqtt.encoding,
    ...(config.mqtt.sparkplug_group ? { sparkplug: { group: config.mqtt.sparkplug_group, bdSeqPath: join(config.outbox.dir, 'sparkplug-bdseq.json') } } : {}),
    maxInflight: config.mqtt.max_inflight,
    sessionExpiryS: config.mqtt.session_expiry_s,
    outbox: {
      dir: config.outbox.dir,
      fsync: config.outbox.fsync,
      maxRecords: config.outbox.max_records,
      maxBytes: config.outbox.max_bytes,
      retainRecords: config.outbox.retain_records,
      retainBytes: config.outbox.retain_bytes,
    },
    version: VERSION,
    protocolVersion: config.mqtt.protocol_version,
    authRetryMinMs: config.mqtt.auth_retry_min_ms,
    ...loadMqttCredentials(config.mqtt),
  };
}

/** The inbound command gate; reads commands.secret_file now, so a bad path stops start-up naming its key. */
export function commandGate(config: Readonly<TinyqaConfig>): CommandGate {
  let secret: string | undefined;
  if (config.commands.secret_file !== '') {
    try {
      secret = readFileSync(config.commands.secret_file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new TinyqaError(ErrorCode.ConfigUnreadable, `commands.secret_file: cannot read ${config.commands.secret_file}: ${errorMessage(e)}`, { hint: 'point it at a file holding the shared secret, readable by the user tinyqa runs as, or set it to "" to rely on the broker ACL alone' });
    }
    if (secret.length < 16) throw new TinyqaError(ErrorCode.ConfigInvalid, `commands.secret_file: the secret in ${config.commands.secret_file} is ${secret.length} characters; use at least 16`, { hint: 'e.g. `openssl rand -hex 32 > FILE`' });
  }
  return new CommandGate({ prefix: config.mqtt.topic_prefix, device: config.device, maxAgeMs: config.commands.max_age_s * 1000, ...(secret !== undefined ? { secret } : {}) });
}

/**
 * The pipeline alone, for offline work (`tinyqa score`, evaluations, calibration): messages are
 * handed in directly and device times are already wall times. Built here so that offline and live
 * judging can never differ in how the graph is put together.
 */
export function createOfflinePipeline(
  config: Readonly<TinyqaConfig>,
  onVerdict: (v: Verdict, window?: { readonly values: Float64Array }) => void,
  log: Logger = createLogger('silent'),
  profileHash: string | null = null,
  /** Parts an evaluation plugs in: a model, an adaptation layer, a budget, a profile given as data. */
  extra: Pick<PipelineOptions, 'model' | 'adapt' | 'budget' | 'profile' | 'modelProfile'> = {},
): Pipeline {
  return new Pipeline(
    { device: config.device, window: config.window, qa: config.qa, profileHash, toWallMs: (ms) => ms, ...referenceProfile(config), anomalyScorer: () => createAnomalyDetector(), ...extra },
    onVerdict,
    log,
  );
}

/** The relevance child's reference profile, when the config names one (read once, at start). */
function referenceProfile(config: Readonly<TinyqaConfig>): { profile?: NonNullable<ReturnType<typeof loadReferenceProfile>> } {
  const p = loadReferenceProfile(config);
  return p ? { profile: p } : {};
}
