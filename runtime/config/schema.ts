/**
 * tinyqa's configuration: declared once here (type, unit, range, default, why), validated at
 * start-up, then frozen. `tinyqa run --config FILE` reads a JSON file with this shape; `tinyqa sim`
 * builds one from its flags.
 */

import { ErrorCode, TinyqaError } from '../core/errors.js';
import { LOG_LEVELS } from '../core/log.js';
import type { QaConfig } from '../qa/types.js';
import { deepFreeze, type FieldSpec, type Problem, validateValue } from './spec.js';

const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SEVERITIES = ['critical', 'warning', 'info'] as const;

function child(why: string, threshold: { min: number; max: number; default: number; why: string }, extra: Record<string, FieldSpec> = {}): FieldSpec {
  return {
    kind: 'object',
    why,
    fields: {
      enabled: { kind: 'bool', default: true, why: 'every child is on until calibration switches it off' },
      severity: { kind: 'enum', values: SEVERITIES, default: 'critical', why: 'a failing critical child fails its parent' },
      threshold: { kind: 'number', min: threshold.min, max: threshold.max, default: threshold.default, why: threshold.why },
      ...extra,
    },
  };
}

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
        offline_queue_max: { kind: 'int', min: 0, max: 1_000_000, default: 10_000, unit: 'messages', why: 'bounds memory while the broker is away; oldest verdicts are dropped first and counted' },
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
    qa: {
      kind: 'object',
      why: 'the QA dimension graph (DESIGN §4)',
      fields: {
        completeness: child('share of missing (NaN) values', { min: 0, max: 1, default: 0.02, why: 'tolerates one or two dropped readings per 100' }),
        validity: child('share of values outside the physical range', { min: 0, max: 1, default: 0, why: 'a value a sensor cannot physically produce is always a fault' }),
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
    offline_queue_max: number;
  };
  window: { size: number; hop: number };
  qa: QaConfig;
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
  if (ok('serial.reopen_min_ms', 'serial.reopen_max_ms') && out.serial.reopen_min_ms > out.serial.reopen_max_ms) {
    problems.push({ key: 'serial.reopen_min_ms', message: `must be ≤ serial.reopen_max_ms (${out.serial.reopen_max_ms}); got ${out.serial.reopen_min_ms}` });
  }
  if (ok('mqtt.reconnect_min_ms', 'mqtt.reconnect_max_ms') && out.mqtt.reconnect_min_ms > out.mqtt.reconnect_max_ms) {
    problems.push({ key: 'mqtt.reconnect_min_ms', message: `must be ≤ mqtt.reconnect_max_ms (${out.mqtt.reconnect_max_ms}); got ${out.mqtt.reconnect_min_ms}` });
  }
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
            : sub.kind;
      const def = sub.default === undefined ? 'required' : `default ${JSON.stringify(sub.default)}`;
      lines.push(`  ${key.padEnd(28)} ${range}; ${def} — ${sub.why}`);
    }
  }
  return lines;
}
