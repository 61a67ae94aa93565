/**
 * tinyqa's configuration: declared once here (type, unit, range, default, why), validated at
 * start-up, then frozen. `tinyqa run --config FILE` reads a JSON file with this shape; `tinyqa sim`
 * builds one from its flags.
 */

import { readFileSync } from 'node:fs';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';
import { LOG_LEVELS } from '../core/log.js';
import { CHILD_PARENT, type ChildName, childrenOf, isChildName, KNOWN_CHILDREN } from '../qa/catalog.js';
import { DRIFT_DETECTORS } from '../qa/dimensions/drift.js';
import { parseProfile, type ReferenceProfile } from '../qa/profile.js';
import type { ParentName, QaConfig } from '../qa/types.js';
import { deepFreeze, distance, type FieldSpec, type Problem, validateValue } from './spec.js';

const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SEVERITIES = ['critical', 'warning', 'info'] as const;
type Severity = (typeof SEVERITIES)[number];

interface ChildDefaults {
  /** Default of `enabled`, and why. Children are on unless said otherwise. */
  enabled?: [boolean, string];
  /** Default of `severity`, and why. Children are critical unless said otherwise. */
  severity?: [Severity, string];
}

/** Children added after the first four are opt-in, for one reason (DESIGN §1, dimension selection). */
const OPT_IN: [boolean, string] = [
  false,
  'opt-in: the default graph is the four rule children the shipped scenarios are tuned for; enable it when the site policy or `tinyqa calibrate` selects it',
];

function child(
  why: string,
  threshold: { min: number; max: number; default: number; why: string },
  extra: Record<string, FieldSpec> = {},
  defaults: ChildDefaults = {},
): FieldSpec {
  const [enabled, enabledWhy] = defaults.enabled ?? [true, 'every child is on until calibration switches it off'];
  const [severity, severityWhy] = defaults.severity ?? ['critical', 'a failing critical child fails its parent'];
  return {
    kind: 'object',
    why,
    fields: {
      enabled: { kind: 'bool', default: enabled, why: enabledWhy },
      severity: { kind: 'enum', values: SEVERITIES, default: severity, why: severityWhy },
      threshold: { kind: 'number', min: threshold.min, max: threshold.max, default: threshold.default, why: threshold.why },
      ...extra,
    },
  };
}

const CHILD_KEY = /^[a-z_]{1,32}$/;

function parent(name: ParentName): FieldSpec {
  return {
    kind: 'object',
    why: `how the ${name} parent decides pass/fail from its children: ${childrenOf(name).join(', ')}`,
    fields: {
      decision: { kind: 'enum', values: ['rule', 'weighted'], default: 'rule', why: 'rule: fails when any critical child fails; weighted: p = σ(bias + Σ weight·score) > threshold' },
      weights: {
        kind: 'record',
        keyPattern: CHILD_KEY,
        keyHint: `child names of ${name}`,
        value: { kind: 'number', min: 0, max: 1000, why: 'monotone: a worse child score never makes its parent more likely to pass' },
        default: {},
        why: 'weighted decision only: weight per child (a child without one weighs 0); set by calibration',
      },
      bias: { kind: 'number', min: -1000, max: 1000, default: 0, why: 'weighted decision only: the logit when every child scores 0' },
      threshold: { kind: 'number', min: 0, max: 1, default: 0.5, why: 'weighted decision only: the parent fails when p exceeds it; 0.5 is even odds' },
    },
  };
}

const CHANNEL = /^[A-Za-z0-9_.-]{1,64}$/;

const QA_SPEC: FieldSpec = {
  kind: 'object',
  why: 'the QA dimension graph (DESIGN §4)',
  fields: {
    parents: {
      kind: 'object',
      why: 'each parent\'s decision (DESIGN §1: QA model training and dimension selection)',
      fields: { integrity: parent('integrity'), intrinsic: parent('intrinsic'), contextual: parent('contextual') },
    },
    frame_integrity: child(
      'share of delimited serial pieces since the previous window that were not a clean frame (CRC, COBS, garbage)',
      { min: 0, max: 1, default: 0.01, why: 'one dirty piece in 100 is a noisy line worth a look' },
      {},
      { enabled: OPT_IN, severity: ['warning', 'CRC-rejected frames never reach a window: a dirty line is a maintenance signal; lost data is sequence_continuity\'s'] },
    ),
    sequence_continuity: child(
      'share of expected frames lost or out of sequence since the previous window',
      { min: 0, max: 1, default: 0, why: 'any lost frame leaves a hole in the window' },
      {},
      { enabled: OPT_IN },
    ),
    clock_sanity: child(
      'backward time steps and time-map jumps, as a share of the window span',
      { min: 0, max: 1, default: 0.05, why: 'up to 50 ms of clock error in a 1 s window does not misplace a sample by more than a few periods' },
      { step_tolerance_ms: { kind: 'number', min: 0, max: 3_600_000, default: 250, unit: 'ms', why: 'TIME_SYNC re-estimates the offset from a round trip: steps of tens of ms are jitter; a reset or jump is seconds' } },
      { enabled: OPT_IN },
    ),
    completeness: child('share of missing (NaN) values', { min: 0, max: 1, default: 0.02, why: 'tolerates one or two dropped readings per 100' }),
    validity: child('share of values outside the physical range', { min: 0, max: 1, default: 0, why: 'a value a sensor cannot physically produce is always a fault' }),
    timeliness: child(
      'timing error of the sample intervals vs the nominal period, ≈ share of sample slots lost to gaps and jitter',
      { min: 0, max: 1, default: 0.05, why: 'a 1 ms frame clock gives up to ~2 % at 1 kHz; one lost 10-sample frame in 100 samples scores 9 %' },
      {},
      { enabled: OPT_IN },
    ),
    uniqueness: child('share of samples repeating an earlier sample\'s time and value (re-sent frames)', { min: 0, max: 1, default: 0, why: 'a healthy device never delivers the same reading twice' }, {}, { enabled: OPT_IN }),
    flatline: child(
      'longest constant run as a share of the window',
      { min: 0, max: 1, default: 0.5, why: 'half a window of identical readings does not happen with a live analogue sensor' },
      { epsilon: { kind: 'number', min: 0, max: 1e9, default: 0, why: '0: bit-exact repeats; raise to the ADC step for quantised sensors' } },
    ),
    spike: child(
      'impulsive outliers, score = z/(z+k)',
      { min: 0, max: 1, default: 0.5, why: '0.5 is exactly z = k' },
      { k: { kind: 'number', min: 1, max: 1000, default: 8, why: 'robust z above 8 essentially never happens with Gaussian noise (p < 1e-15)' } },
    ),
    noise: child(
      'noise floor vs the stream\'s learned reference, |ln ratio| / (|ln ratio| + ln r)',
      { min: 0, max: 1, default: 0.5, why: '0.5 is exactly a ratio of r (or 1/r)' },
      {
        ratio: { kind: 'number', min: 1.01, max: 1000, default: 3, why: 'the window MAD scale of 100 samples varies by ~±17 %; 3× is ~6 of those, and a real fault (loose wire, EMI, dead sensor) is larger' },
        alpha: { kind: 'number', min: 0.001, max: 1, default: 0.05, why: 'the reference follows slow changes over ~20 passing windows' },
        warmup: { kind: 'int', min: 1, max: 10_000, default: 5, unit: 'windows', why: 'judge once a few clean windows set the reference' },
      },
      { enabled: OPT_IN },
    ),
    anomaly: child(
      'largest per-sample anomaly score in the window (built-in: robust z of a one-step EWMA forecast residual, z/(z+k))',
      { min: 0, max: 1, default: 0.5, why: '0.5 is exactly z = k for the built-in scorer' },
      {
        k: { kind: 'number', min: 1, max: 1000, default: 8, why: 'as spike: robust z of 8 is far outside Gaussian noise' },
        alpha: { kind: 'number', min: 0.001, max: 1, default: 0.3, why: 'a level that follows process motion within a few samples, so the residual is mostly noise' },
        warmup: { kind: 'int', min: 2, max: 1_000_000, default: 50, unit: 'samples', why: 'learn level and scale before scoring' },
      },
      { enabled: OPT_IN, severity: ['warning', 'an uncalibrated generic detector: its alarms are reported, calibration decides whether they fail the parent'] },
    ),
    cross_sensor: child(
      'disagreement of configured channel pairs with their expected relation, (1 − s·r)/2',
      { min: 0, max: 1, default: 0.4, why: 'fails when the correlation is below 0.2 in the expected direction: an unrelated pair (r ≈ 0 ± 0.1 over 100 samples) fails, a coupled one passes' },
      {
        pairs: {
          kind: 'list',
          maxItems: 64,
          default: [],
          why: 'none: the child is inactive',
          item: {
            kind: 'object',
            why: 'two channels (as the HELLO names them) and how they move together',
            fields: {
              a: { kind: 'string', pattern: CHANNEL, patternHint: 'a channel name', why: 'first channel' },
              b: { kind: 'string', pattern: CHANNEL, patternHint: 'a channel name', why: 'second channel' },
              relation: { kind: 'enum', values: ['positive', 'negative'], why: 'positive: rise together; negative: one rises as the other falls' },
            },
          },
        },
        min_excitation: { kind: 'number', min: 1, max: 1000, default: 3, why: 'judge only windows where a channel moved 3× beyond its own noise; a still process says nothing about the relation' },
      },
    ),
    relevance: child(
      'distance of the window summary (mean, std, min, max) outside the reference profile\'s envelope, D/(D+k)',
      { min: 0, max: 1, default: 0.5, why: '0.5 is exactly k envelope widths outside' },
      {
        profile: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a file path, or empty', default: '', why: 'empty: no profile, the child is inactive (runtime/qa/profile.ts defines the JSON)' },
        k: {
          kind: 'number',
          min: 0.001,
          max: 1000,
          default: 0.5,
          why: 'an envelope from quantiles of a finite training run is itself uncertain; half a width beyond it is another operating point (pump, P² profile of 20–60 min of clean data: ≤ 1 in 1800 clean windows of a new run fell further out)',
        },
      },
    ),
    drift: child(
      'window-mean change detectors (ADWIN, Page-Hinkley) on the stream, u/(1+u) with u the detectors\' statistic over its limit',
      { min: 0, max: 1, default: 0.5, why: '0.5 is exactly a detection' },
      {
        delta: { kind: 'number', min: 1e-9, max: 0.5, default: 0.002, why: 'the ADWIN paper\'s confidence' },
        ph_delta: { kind: 'number', min: 0, max: 100, default: 0.5, unit: 'reference σ', why: 'shifts of the window mean under half a reference σ are tolerated' },
        ph_lambda: { kind: 'number', min: 0.1, max: 10_000, default: 10, unit: 'reference σ', why: 'measured with the defaults (drift tests): 2 alarms in 50 000 stationary windows; a 5 σ shift of the window mean flagged after 2–4 windows, a ramp of 0.2 σ per window after ~10' },
        warmup: { kind: 'int', min: 2, max: 10_000, default: 20, unit: 'windows', why: 'the reference spread of window means from the first 20 clean windows' },
        detectors: {
          kind: 'list',
          maxItems: 4,
          item: { kind: 'enum', values: DRIFT_DETECTORS, why: 'a change detector (runtime/stats)' },
          default: ['adwin', 'page_hinkley'],
          why: 'ADWIN and Page-Hinkley watch the level; add kswin for changes in the distribution of window means, hddm_a for a Hoeffding-bound test with a guaranteed false-alarm rate',
        },
      },
      {
        enabled: OPT_IN,
        severity: ['warning', 'normal operation also moves the level (warm-up, load changes): reported, and calibration decides whether it fails the parent'],
      },
    ),
  },
};

export const CONFIG_SPEC: FieldSpec = {
  kind: 'object',
  why: 'tinyqa configuration',
  fields: {
    device: {
      kind: 'string',
      pattern: ID,
      patternHint: 'letters, digits, "_", "." or "-", 1–64 characters',
      why: 'the device id used in MQTT topics (tinyqa/v1/<device>/…)',
    },
    serial: {
      kind: 'object',
      why: 'the serial link to the sensor firmware',
      fields: {
        path: { kind: 'string', pattern: /^\S+$/, patternHint: 'a device path such as /dev/ttyUSB0 or /dev/serial/by-id/…', why: 'where the firmware is attached' },
        baud_rate: { kind: 'int', min: 1200, max: 4_000_000, default: 115_200, unit: 'baud', why: 'the common default of microcontroller USB-serial bridges' },
        reopen_min_ms: { kind: 'int', min: 50, max: 60_000, default: 250, unit: 'ms', why: 'first retry soon: USB re-enumeration takes ~100 ms' },
        reopen_max_ms: { kind: 'int', min: 100, max: 300_000, default: 2_000, unit: 'ms', why: 'a re-plugged device should be back within 2 s' },
        liveness_periods: { kind: 'int', min: 2, max: 1000, default: 5, unit: 'frame periods', why: 'five missed heartbeats or batches is a dead link, not jitter (PROTOCOL §9)' },
        liveness_floor_ms: { kind: 'int', min: 100, max: 600_000, default: 2_000, unit: 'ms', why: 'never declare a fast device dead in less than 2 s' },
        ack_timeout_ms: { kind: 'int', min: 10, max: 60_000, default: 500, unit: 'ms', why: 'a device answers within a few frame periods (PROTOCOL §6)' },
        command_retries: { kind: 'int', min: 0, max: 20, default: 3, why: 'PROTOCOL §6: the same command id is resent up to 3 times' },
        time_sync: { kind: 'bool', default: true, why: 'map device time to wall time with TIME_SYNC after every HELLO (PROTOCOL §7)' },
      },
    },
    mqtt: {
      kind: 'object',
      why: 'the broker verdicts are published to',
      fields: {
        url: { kind: 'string', pattern: /^(mqtts?|wss?|tcp|ssl):\/\/\S+$/, patternHint: 'mqtt://host:port', default: 'mqtt://127.0.0.1:1883', why: 'a broker on the gateway itself is the common set-up' },
        topic_prefix: { kind: 'string', pattern: /^[^#+\s]*[^/#+\s]$/, patternHint: 'no wildcards, no trailing "/"', default: 'tinyqa/v1', why: 'the versioned topic root of DESIGN §6' },
        client_id: { kind: 'string', pattern: /^[A-Za-z0-9_.-]{0,64}$/, patternHint: 'letters, digits, "_", "." or "-", at most 64 characters', default: '', why: 'empty: tinyqa-<device>, stable across restarts (a random id breaks persistent sessions)' },
        qos: { kind: 'int', min: 0, max: 1, default: 1, why: 'QoS 1: the broker acknowledges every verdict' },
        keepalive_s: { kind: 'int', min: 5, max: 3600, default: 30, unit: 's', why: 'detect a dead link within a minute' },
        reconnect_min_ms: { kind: 'int', min: 50, max: 60_000, default: 500, unit: 'ms', why: 'first retry soon after a broker restart' },
        reconnect_max_ms: { kind: 'int', min: 100, max: 600_000, default: 30_000, unit: 'ms', why: 'cap the backoff so a returning broker is found within 30 s' },
        encoding: { kind: 'enum', values: ['json', 'cbor'], default: 'json', why: 'JSON reads anywhere; CBOR is about a fifth smaller, for metered links (MQTT 5 content type application/cbor; subscribers may also tell them apart by the first byte)' },
        sparkplug_group: {
          kind: 'string',
          pattern: /^[^/+#\s]{0,64}$/,
          patternHint: 'a Sparkplug group id without / + # or spaces, or empty',
          default: '',
          why: 'empty: the plain topic tree. Set: Eclipse Sparkplug B — verdicts and actions as DDATA of edge node <device> in this group, with NBIRTH/DBIRTH/NDEATH and bdSeq, for SCADA hosts',
        },
        max_inflight: { kind: 'int', min: 1, max: 65_535, default: 100, unit: 'messages', why: 'records sent and not yet acknowledged at most; lowered to the broker\'s receive maximum (MQTT 5), e.g. Mosquitto\'s 20' },
        session_expiry_s: { kind: 'int', min: 0, max: 4_294_967_295, default: 86_400, unit: 's', why: 'MQTT 5: the broker keeps our session, and commands sent to us, for a day while we are away' },
        protocol_version: {
          kind: 'int',
          min: 4,
          max: 5,
          default: 5,
          why: '5: reason codes say why a login failed and when the broker\'s ACL refuses a verdict (3.1.1 acknowledges and drops it silently); 4 is MQTT 3.1.1. A broker refusing 5 (e.g. the embedded aedes) is retried with 3.1.1, said on the log',
        },
        username: { kind: 'string', pattern: /^[^\u0000]{0,256}$/, patternHint: 'a user name, or empty', default: '', why: 'empty: connect anonymously, as a broker on the gateway itself usually allows' },
        password: { kind: 'string', default: '', why: 'empty: none; prefer mqtt.password_file so the secret is not in the config file' },
        password_file: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a file path, or empty', default: '', why: 'read once at start (one trailing newline dropped): the secret can live in a file only the service user reads' },
        ca: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a PEM file path, or empty', default: '', why: 'empty: trust the system CAs; set it to the (site or self-signed) CA that signed the broker\'s certificate. Needs mqtts:// or wss://' },
        cert: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a PEM file path, or empty', default: '', why: 'client certificate, for brokers with require_certificate; empty: none. Needs mqtt.key and mqtts:// or wss://' },
        key: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a PEM file path, or empty', default: '', why: 'the private key of mqtt.cert' },
        reject_unauthorized: { kind: 'bool', default: true, why: 'a broker certificate no trusted CA signed is refused; false lets anyone on the path pose as the broker — for a lab only' },
        auth_retry_min_ms: {
          kind: 'int',
          min: 100,
          max: 3_600_000,
          default: 30_000,
          unit: 'ms',
          why: 'refused credentials do not fix themselves: at most one login per 30 s keeps the broker log readable and stays under ban limits, yet a fixed account is picked up within half a minute',
        },
      },
    },
    window: {
      kind: 'object',
      why: 'how samples are grouped into the windows each verdict judges',
      fields: {
        size: { kind: 'int', min: 8, max: 65_536, default: 100, unit: 'samples', why: '1 s at the 100 Hz of typical process sensors' },
        hop: { kind: 'int', min: 1, max: 65_536, default: 100, unit: 'samples', why: 'tumbling windows: one verdict per sample range, no double counting' },
      },
    },
    qa: QA_SPEC,
    policy: {
      kind: 'object',
      why: 'what happens to judged data, and when alarms are raised (runtime/policy/policy.ts)',
      fields: {
        debounce_k: { kind: 'int', min: 1, max: 1000, default: 3, unit: 'windows', why: 'an alarm needs 3 failing windows…' },
        debounce_n: { kind: 'int', min: 1, max: 1000, default: 5, unit: 'windows', why: '…among the last 5, so one noisy window does not raise it' },
        clear_after: { kind: 'int', min: 1, max: 100_000, default: 5, unit: 'windows', why: 'hysteresis: 5 passing windows in a row before an alarm clears' },
        commands: { kind: 'bool', default: false, why: 'commanding a device (switch to backup, recalibrate) is a site decision: off until enabled' },
        clean_max_missing: { kind: 'number', min: 0, max: 1, default: 0.2, why: 'interpolation repairs short gaps, not a window that is mostly missing' },
      },
    },
    store: {
      kind: 'object',
      why: 'the local store for diverted and quarantined windows (tinyqa store read)',
      fields: {
        dir: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a folder path, or empty to keep nothing', default: '.tinyqa/store', why: 'beside the working directory; point it at persistent storage on a gateway' },
        max_bytes: { kind: 'int', min: 1024, max: 1e12, default: 50_000_000, unit: 'bytes', why: 'bounded: 50 MB per kind fits the smallest SD cards' },
        files: { kind: 'int', min: 1, max: 100, default: 5, why: 'rotation: the oldest fifth is dropped at a time' },
      },
    },
    outbox: {
      kind: 'object',
      why: 'the durable queue between the pipeline and the broker: verdicts and actions wait here, on disk, until the broker acknowledges them',
      fields: {
        dir: { kind: 'string', pattern: /^\S.*$/, patternHint: 'a folder path', default: '.tinyqa/outbox', why: 'beside the working directory; on a gateway, persistent storage (not tmpfs), or verdicts queued while the broker is away die with a reboot' },
        fsync: { kind: 'enum', values: ['always', 'interval', 'never'], default: 'interval', why: 'interval: a record survives a crash of tinyqa at once, and a power loss after at most 200 ms; always: a power loss too, at one fsync per record' },
        max_records: { kind: 'int', min: 10, max: 100_000_000, default: 100_000, unit: 'records', why: 'about an hour of 25 streams at one verdict a second while the broker is away; beyond, the oldest verdicts are dropped and counted' },
        max_bytes: { kind: 'int', min: 65_536, max: 1e12, default: 64 * 1024 * 1024, unit: 'bytes', why: 'a small share of the smallest SD card a gateway ships with' },
        retain_records: { kind: 'int', min: 0, max: 100_000_000, default: 20_000, unit: 'records', why: 'acknowledged records kept for subscribers\' replay requests: minutes of output, enough to cover a broker restart' },
        retain_bytes: { kind: 'int', min: 0, max: 1e12, default: 16 * 1024 * 1024, unit: 'bytes', why: 'bounds the retention window on disk' },
      },
    },
    health: {
      kind: 'object',
      why: 'the periodic report on <prefix>/<device>/health',
      fields: {
        interval_s: { kind: 'int', min: 0, max: 86_400, default: 60, unit: 's', why: 'once a minute tells a fleet operator a gateway is sick before its users do; 0: only on request (cmd/health)' },
      },
    },
    commands: {
      kind: 'object',
      why: 'inbound commands on <prefix>/<device>/cmd/<name> (set_threshold, set_config, resync, health, model, replay), answered on cmd/result',
      fields: {
        enabled: { kind: 'bool', default: true, why: 'subscribers need replay to lose nothing; the broker\'s ACL decides who may publish under cmd/' },
        secret_file: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a file path, or empty', default: '', why: 'a shared secret: commands must then carry an HMAC-SHA256 over topic, id, time and arguments; empty: the ACL alone authorises' },
        max_age_s: { kind: 'int', min: 1, max: 86_400, default: 300, unit: 's', why: 'a command older than 5 minutes (or that far in the future) is refused: it was meant for another moment' },
      },
    },
    adapt: {
      kind: 'object',
      why: 'guarded on-device adaptation (DESIGN §7, runtime/adapt/adapter.ts): the relevance envelope and the anomaly threshold learn from windows that pass intrinsic QA; a candidate is promoted only if it raises no false alarms on known-good windows',
      fields: {
        enabled: { kind: 'bool', default: false, why: 'opt-in: a site decides whether its QA may follow benign change; `tinyqa eval adapt` shows what it gains and costs' },
        checkpoint_dir: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a folder, or empty', default: '.tinyqa/adapt', why: 'the adaptation state survives restarts (atomic, checksummed, two generations); empty: kept in memory only' },
        checkpoint_s: { kind: 'int', min: 1, max: 86_400, default: 60, unit: 's', why: 'a promotion is saved within a minute (and at stop); a crash loses at most that much learning, never the previous state' },
        forgetting_windows: { kind: 'int', min: 10, max: 10_000_000, default: 480, unit: 'windows', why: 'the envelope remembers ≈ 480 windows (10 days of hourly windows, 8 minutes of 1 s windows): a regime must persist that long to be learned fully' },
        envelope_z: { kind: 'number', min: 1, max: 100, default: 4, unit: 'σ', why: 'a learned envelope of ±4 σ of each window feature admits what the stream does and little more' },
        warmup_windows: { kind: 'int', min: 2, max: 1_000_000, default: 48, unit: 'windows', why: 'without a reference profile, the first envelope comes from 48 clean windows' },
        shadow_windows: { kind: 'int', min: 1, max: 1_000_000, default: 24, unit: 'windows', why: 'the candidate is compared with the active state every 24 learning windows' },
        reservoir: { kind: 'int', min: 0, max: 100_000, default: 256, unit: 'windows', why: 'known-good windows the candidate must not fail: 256 puts the false-alarm rate on a 0.4 % grid' },
        tolerance: { kind: 'number', min: 0, max: 1, default: 0.01, why: 'a candidate may fail at most 1 % more of the known-good windows than the active state' },
        threshold_quantile: { kind: 'number', min: 0.5, max: 0.99999, default: 0.99, why: 'the anomaly threshold follows the 99th percentile of passing scores' },
        threshold_margin: { kind: 'number', min: 1, max: 100, default: 1.5, why: 'and sits 1.5× above it, so normal windows do not fail the tightened threshold' },
        threshold_floor: { kind: 'number', min: 0.01, max: 1, default: 0.5, why: 'the threshold never tightens below half the configured one' },
        retrain_after_windows: { kind: 'int', min: 0, max: 10_000_000, default: 480, unit: 'windows', why: 'horizon of the "cannot keep up" test (0: never request retraining)' },
        retrain_fail_rate: { kind: 'number', min: 0, max: 1, default: 0.2, why: 'a fifth of the windows failing for the whole horizon is no passing episode' },
        divert_windows: { kind: 'int', min: 0, max: 10_000_000, default: 100, unit: 'windows', why: 'windows kept in the local store after a retrain request, for off-device retraining (needs store.dir)' },
      },
    },
    governor: {
      kind: 'object',
      why: 'the budget governor (DESIGN §7, runtime/governor): full → reduced → minimal → duty_cycled as CPU, battery or temperature demand',
      fields: {
        enabled: { kind: 'bool', default: false, why: 'opt-in: set it on battery or CPU-constrained gateways' },
        cpu_share: { kind: 'number', min: 0, max: 8, default: 0, unit: 'cores', why: 'the process\'s CPU budget as a share of one core (0.25 = a quarter of a core); 0: no CPU budget, battery and temperature still apply' },
        tick_s: { kind: 'number', min: 0.1, max: 19, default: 2, unit: 's', why: 'CPU, battery and temperature are read and the mode decided every 2 s' },
        headroom: { kind: 'number', min: 0, max: 0.9, default: 0.15, why: 'step up only when the richer mode is expected to use ≤ 85 % of the budget' },
        min_hold_s: { kind: 'number', min: 0, max: 86_400, default: 10, unit: 's', why: 'a mode is held at least 10 s before trying a richer one (hysteresis)' },
        reduced_model_every: { kind: 'int', min: 1, max: 1000, default: 4, unit: 'windows', why: 'reduced mode sends every 4th window set to the model; the others are judged without the anomaly child' },
        reduced_off: {
          kind: 'list',
          maxItems: 32,
          item: { kind: 'enum', values: KNOWN_CHILDREN, why: 'a child' },
          default: ['noise', 'cross_sensor', 'relevance', 'drift'],
          why: 'children switched off in reduced mode: the statistical extras, so the rules and the model keep judging',
        },
        minimal_on: {
          kind: 'list',
          maxItems: 32,
          item: { kind: 'enum', values: KNOWN_CHILDREN, why: 'a child' },
          default: ['frame_integrity', 'sequence_continuity', 'clock_sanity', 'completeness', 'validity', 'timeliness', 'uniqueness', 'flatline', 'spike'],
          why: 'the only children left in minimal and duty-cycled modes: rules, no model, no adaptation',
        },
        battery: {
          kind: 'object',
          why: 'battery thresholds (percent of capacity); charging or mains power lifts them',
          fields: {
            reduced_below: { kind: 'number', min: 0, max: 100, default: 40, unit: '%', why: 'below 40 % the model runs on every 4th window' },
            minimal_below: { kind: 'number', min: 0, max: 100, default: 20, unit: '%', why: 'below 20 % rules only' },
            duty_below: { kind: 'number', min: 0, max: 100, default: 10, unit: '%', why: 'below 10 % judging is duty-cycled so the device lasts until it is charged' },
            hysteresis_pct: { kind: 'number', min: 0, max: 50, default: 5, unit: '%', why: 'a mode is left upward only 5 points above its threshold' },
          },
        },
        thermal: {
          kind: 'object',
          why: 'SoC temperature thresholds (°C)',
          fields: {
            reduced_above: { kind: 'number', min: 0, max: 150, default: 75, unit: '°C', why: 'a Raspberry Pi 4 starts soft throttling at 80 °C: step down before it does' },
            minimal_above: { kind: 'number', min: 0, max: 150, default: 80, unit: '°C', why: 'at the soft-throttle point, rules only' },
            duty_above: { kind: 'number', min: 0, max: 150, default: 85, unit: '°C', why: 'near the 85 °C hard limit, duty-cycled' },
            hysteresis_c: { kind: 'number', min: 0, max: 50, default: 5, unit: '°C', why: 'leave a mode upward only 5 °C below its threshold' },
          },
        },
        duty: {
          kind: 'object',
          why: 'the duty-cycled mode: windows are judged during the on-part of every period only',
          fields: {
            period_s: { kind: 'number', min: 1, max: 60, default: 60, unit: 's', why: 'a minute: each period still judges some windows, and the CPU share averaged over any minute follows the on-fraction' },
            min_on: { kind: 'number', min: 0.01, max: 1, default: 0.1, why: 'at least a tenth of each period is judged, whatever the budget' },
          },
        },
        power_supply_dir: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a folder, or empty', default: '/sys/class/power_supply', why: 'Linux power supplies (a battery HAT or UPS shows here); empty: no battery reading' },
        thermal_path: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a file, or empty', default: '/sys/class/thermal/thermal_zone0/temp', why: 'the SoC temperature in millidegrees; empty: no temperature reading' },
      },
    },
    model: {
      kind: 'object',
      why: 'a QA model package (models/<name>/<version>/) that judges the anomaly child, and whose training envelope the relevance child uses',
      fields: {
        package: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a package folder, or empty for no model', default: '', why: 'no model by default: the rule dimensions and the built-in anomaly scorer judge alone' },
        public_key: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'an ed25519 public key file (PEM), or empty', default: '', why: 'with a key, unsigned or wrongly signed packages are refused; set it on every gateway' },
        state: { kind: 'string', pattern: /^(|\S.*)$/, patternHint: 'a file path', default: '.tinyqa/model-state.json', why: 'the highest security_version accepted per model, persisted so a downgrade is refused after a restart' },
        engine: { kind: 'enum', values: ['auto', 'tflite', 'onnx'], default: 'auto', why: 'auto runs the package\'s TFLite file when it has one (the smaller engine), else its ONNX file' },
        reload_s: { kind: 'int', min: 0, max: 86_400, default: 5, unit: 's', why: 'how often the package folder is checked for an update (0: only on SIGHUP); a refused update keeps the last good model' },
        max_batch: { kind: 'int', min: 1, max: 1024, default: 32, unit: 'windows', why: 'windows queued while the model runs go in one call, up to this many' },
      },
    },
    log: {
      kind: 'object',
      why: 'diagnostics on stderr',
      fields: { level: { kind: 'enum', values: LOG_LEVELS, default: 'info', why: 'say what happens to the link and the broker, not every frame' } },
    },
  },
};

export type { ChildConfig, QaConfig } from '../qa/types.js';

export interface TinyqaConfig {
  device: string;
  serial: {
    path: string;
    baud_rate: number;
    reopen_min_ms: number;
    reopen_max_ms: number;
    liveness_periods: number;
    liveness_floor_ms: number;
    ack_timeout_ms: number;
    command_retries: number;
    time_sync: boolean;
  };
  mqtt: {
    url: string;
    topic_prefix: string;
    client_id: string;
    qos: 0 | 1;
    keepalive_s: number;
    reconnect_min_ms: number;
    reconnect_max_ms: number;
    encoding: 'json' | 'cbor';
    sparkplug_group: string;
    max_inflight: number;
    session_expiry_s: number;
    protocol_version: 4 | 5;
    username: string;
    password: string;
    password_file: string;
    ca: string;
    cert: string;
    key: string;
    reject_unauthorized: boolean;
    auth_retry_min_ms: number;
  };
  window: { size: number; hop: number };
  qa: QaConfig;
  policy: { debounce_k: number; debounce_n: number; clear_after: number; commands: boolean; clean_max_missing: number };
  store: { dir: string; max_bytes: number; files: number };
  outbox: { dir: string; fsync: 'always' | 'interval' | 'never'; max_records: number; max_bytes: number; retain_records: number; retain_bytes: number };
  health: { interval_s: number };
  commands: { enabled: boolean; secret_file: string; max_age_s: number };
  adapt: {
    enabled: boolean;
    checkpoint_dir: string;
    checkpoint_s: number;
    forgetting_windows: number;
    envelope_z: number;
    warmup_windows: number;
    shadow_windows: number;
    reservoir: number;
    tolerance: number;
    threshold_quantile: number;
    threshold_margin: number;
    threshold_floor: number;
    retrain_after_windows: number;
    retrain_fail_rate: number;
    divert_windows: number;
  };
  governor: {
    enabled: boolean;
    cpu_share: number;
    tick_s: number;
    headroom: number;
    min_hold_s: number;
    reduced_model_every: number;
    reduced_off: ChildName[];
    minimal_on: ChildName[];
    battery: { reduced_below: number; minimal_below: number; duty_below: number; hysteresis_pct: number };
    thermal: { reduced_above: number; minimal_above: number; duty_above: number; hysteresis_c: number };
    duty: { period_s: number; min_on: number };
    power_supply_dir: string;
    thermal_path: string;
  };
  model: { package: string; public_key: string; state: string; engine: 'auto' | 'tflite' | 'onnx'; reload_s: number; max_batch: number };
  log: { level: (typeof LOG_LEVELS)[number] };
}

/** Validates a parsed config object; throws one error listing every problem, each naming its key. */
export function validateConfig(input: unknown, source = 'config'): Readonly<TinyqaConfig> {
  const problems: Problem[] = [];
  const out = validateValue(CONFIG_SPEC, input, '', problems) as TinyqaConfig;
  // Cross-key rules, checked whenever both keys are individually valid, so every problem shows at once.
  const ok = (...keys: string[]) => !problems.some((p) => keys.includes(p.key));
  if (ok('window.hop', 'window.size') && out.window.hop > out.window.size) {
    problems.push({ key: 'window.hop', message: `must be ≤ window.size (${out.window.size}); got ${out.window.hop}` });
  }
  if (ok('policy.debounce_k', 'policy.debounce_n') && out.policy.debounce_k > out.policy.debounce_n) {
    problems.push({ key: 'policy.debounce_k', message: `must be ≤ policy.debounce_n (${out.policy.debounce_n}); got ${out.policy.debounce_k}` });
  }
  if (ok('serial.reopen_min_ms', 'serial.reopen_max_ms') && out.serial.reopen_min_ms > out.serial.reopen_max_ms) {
    problems.push({ key: 'serial.reopen_min_ms', message: `must be ≤ serial.reopen_max_ms (${out.serial.reopen_max_ms}); got ${out.serial.reopen_min_ms}` });
  }
  if (ok('mqtt.reconnect_min_ms', 'mqtt.reconnect_max_ms') && out.mqtt.reconnect_min_ms > out.mqtt.reconnect_max_ms) {
    problems.push({ key: 'mqtt.reconnect_min_ms', message: `must be ≤ mqtt.reconnect_max_ms (${out.mqtt.reconnect_max_ms}); got ${out.mqtt.reconnect_min_ms}` });
  }
  validateMqttSecurity(out.mqtt, problems);
  validateQa(out.qa, problems);
  validateGovernor(out.governor, problems);
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.key}: ${p.message}`).join('\n');
    throw new TinyqaError(ErrorCode.ConfigInvalid, `${source} is invalid (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n${lines}`, {
      hint: 'fix the keys above; `tinyqa run --help` lists every key with its default',
    });
  }
  // MQTT 3.1.1 servers must accept ids of up to 23 bytes and may refuse longer; we keep within 64.
  if (out.mqtt.client_id === '') out.mqtt.client_id = `tinyqa-${out.device}`.slice(0, 64);
  return deepFreeze(out);
}

/** Every key with its type, default and why — for `--help`. */
export function describeConfig(spec: FieldSpec = CONFIG_SPEC, prefix = ''): string[] {
  if (spec.kind !== 'object') return [];
  const lines: string[] = [];
  for (const [k, sub] of Object.entries(spec.fields)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (sub.kind === 'object') lines.push(...describeConfig(sub, key));
    else {
      const range =
        sub.kind === 'int' || sub.kind === 'number'
          ? `${sub.kind} ${sub.min}..${sub.max}${sub.unit ? ' ' + sub.unit : ''}`
          : sub.kind === 'enum'
            ? sub.values.join('|')
            : sub.kind === 'list'
              ? `list of ${sub.item.kind === 'object' ? `{${Object.keys(sub.item.fields).join(', ')}}` : sub.item.kind}`
              : sub.kind === 'record'
                ? `map of ${sub.keyHint} → ${sub.value.kind}`
                : sub.kind;
      const def = sub.default === undefined ? 'required' : `default ${JSON.stringify(sub.default)}`;
      lines.push(`  ${key.padEnd(28)} ${range}; ${def} — ${sub.why}`);
    }
  }
  return lines;
}

/**
 * The mqtt section's security rules. TLS keys with a plaintext URL are refused rather than ignored:
 * mqtt.js would connect without TLS and send the password in clear, while the config says otherwise.
 */
/** The governor's ladders must be ordered: each rung's threshold more severe than the one before. */
function validateGovernor(g: TinyqaConfig['governor'], problems: Problem[]): void {
  const b = g.battery;
  if (!(b.reduced_below >= b.minimal_below && b.minimal_below >= b.duty_below)) {
    problems.push({ key: 'governor.battery', message: `thresholds must satisfy reduced_below ≥ minimal_below ≥ duty_below; got ${b.reduced_below}, ${b.minimal_below}, ${b.duty_below}` });
  }
  const t = g.thermal;
  if (!(t.reduced_above <= t.minimal_above && t.minimal_above <= t.duty_above)) {
    problems.push({ key: 'governor.thermal', message: `thresholds must satisfy reduced_above ≤ minimal_above ≤ duty_above; got ${t.reduced_above}, ${t.minimal_above}, ${t.duty_above}` });
  }
}

function validateMqttSecurity(m: TinyqaConfig['mqtt'], problems: Problem[]): void {
  if (problems.some((p) => p.key === 'mqtt')) return;
  const tlsKeys = (['ca', 'cert', 'key'] as const).filter((k) => m[k] !== '');
  const scheme = /^([a-z]+):/.exec(m.url)?.[1];
  if (tlsKeys.length > 0 && (scheme === 'mqtt' || scheme === 'tcp' || scheme === 'ws')) {
    const secure = scheme === 'ws' ? 'wss' : 'mqtts';
    problems.push({
      key: 'mqtt.url',
      message: `is plaintext (${scheme}://) but ${tlsKeys.map((k) => `mqtt.${k}`).join(', ')} ${tlsKeys.length > 1 ? 'are' : 'is'} set, so TLS would not be used; use ${secure}://${m.url.slice(scheme.length + 3).replace(/:1883(?=$|\/)/, ':8883')} (or remove the TLS keys)`,
    });
  }
  if (m.cert !== '' && m.key === '') problems.push({ key: 'mqtt.key', message: 'is required with mqtt.cert: the private key of the client certificate' });
  if (m.key !== '' && m.cert === '') problems.push({ key: 'mqtt.cert', message: 'is required with mqtt.key: the client certificate the key belongs to' });
  if (m.password !== '' && m.password_file !== '') problems.push({ key: 'mqtt.password_file', message: 'and mqtt.password are both set; keep one (password_file keeps the secret out of the config)' });
  if ((m.password !== '' || m.password_file !== '') && m.username === '') {
    // MQTT 3.1.1 [MQTT-3.1.2-22]: a password without a user name is a protocol error.
    problems.push({ key: m.password !== '' ? 'mqtt.password' : 'mqtt.password_file', message: 'needs mqtt.username: brokers refuse a password without a user name' });
  }
}

/**
 * The qa section's cross-key rules: weights name known children of their own parent that are
 * enabled, a weighted parent has a weight to decide with, and cross_sensor pairs are proper pairs.
 */
function validateQa(qa: QaConfig, problems: Problem[]): void {
  if (problems.some((p) => p.key === 'qa' || p.key === 'qa.parents')) return;
  for (const parentName of ['integrity', 'intrinsic', 'contextual'] as const satisfies readonly ParentName[]) {
    const pc = qa.parents[parentName];
    const base = `qa.parents.${parentName}`;
    if (problems.some((p) => p.key === base || p.key === `${base}.weights`)) continue;
    let nonZero = 0;
    for (const [name, w] of Object.entries(pc.weights)) {
      const key = `${base}.weights.${name}`;
      if (!isChildName(name)) {
        const near = KNOWN_CHILDREN.filter((c) => distance(c, name) <= 2);
        problems.push({
          key,
          message: `is not a known child${near.length ? ` (did you mean ${near.map((n) => JSON.stringify(n)).join(' or ')}?)` : ''}; children of ${parentName}: ${childrenOf(parentName).join(', ')}`,
        });
        continue;
      }
      if (CHILD_PARENT[name] !== parentName) {
        problems.push({ key, message: `${name} is a child of ${CHILD_PARENT[name]}, not of ${parentName}; weigh it under qa.parents.${CHILD_PARENT[name]}.weights` });
        continue;
      }
      if (typeof w !== 'number') continue;
      if (w !== 0 && !qa[name].enabled) problems.push({ key, message: `qa.${name} is disabled, so its weight ${w} cannot count; enable it or drop the weight` });
      if (w !== 0) nonZero++;
    }
    if (pc.decision === 'weighted' && nonZero === 0 && !problems.some((p) => p.key.startsWith(`${base}.weights.`))) {
      problems.push({ key: `${base}.weights`, message: `decision "weighted" needs at least one non-zero weight for an enabled child of ${parentName} (${childrenOf(parentName).join(', ')})` });
    }
  }
  if (Array.isArray(qa.cross_sensor.pairs)) {
    const seen = new Set<string>();
    qa.cross_sensor.pairs.forEach((pair, i) => {
      if (!pair || typeof pair.a !== 'string' || typeof pair.b !== 'string') return;
      const key = `qa.cross_sensor.pairs[${i}]`;
      if (pair.a === pair.b) problems.push({ key, message: `pairs a channel with itself ("${pair.a}"); a and b must differ` });
      const id = [pair.a, pair.b].sort().join('\u0000');
      if (seen.has(id)) problems.push({ key, message: `repeats the pair ${pair.a}/${pair.b}` });
      seen.add(id);
    });
  }
}

/**
 * Reads and validates the reference profile that `qa.relevance.profile` names (runtime/qa/profile.ts
 * defines the JSON); undefined when none is configured or relevance is disabled. Errors name the
 * config key, the file and the key inside it.
 */
export function loadReferenceProfile(config: Readonly<TinyqaConfig>, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): ReferenceProfile | undefined {
  const path = config.qa.relevance.profile;
  if (!config.qa.relevance.enabled || path === '') return undefined;
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    throw new TinyqaError(ErrorCode.ConfigUnreadable, `qa.relevance.profile: cannot read ${path}: ${errorMessage(e)}`, { hint: 'fix the path, or set qa.relevance.profile to "" to run without a profile' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TinyqaError(ErrorCode.ConfigUnreadable, `qa.relevance.profile: ${path} is not valid JSON: ${errorMessage(e)}`, { hint: 'fix the JSON syntax (no comments or trailing commas)' });
  }
  const profile = parseProfile(json, `qa.relevance.profile (${path})`);
  if (profile.window !== undefined && profile.window !== config.window.size) {
    throw new TinyqaError(
      ErrorCode.ConfigInvalid,
      `qa.relevance.profile (${path}) is invalid (1 problem):\n  window: the profile summarises ${profile.window}-sample windows, but window.size is ${config.window.size}`,
      { hint: 'rebuild the profile with the window size in use, or set window.size to match' },
    );
  }
  return profile;
}
