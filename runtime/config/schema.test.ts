import { describe, expect, it } from 'vitest';
import { ErrorCode, TinyqaError } from '../core/errors.js';
import { describeConfig, validateConfig } from './schema.js';

const MINIMAL = { device: 'd', serial: { path: '/dev/null' } };

/** The error validateConfig throws for `input`; fails the test if it does not throw one. */
function configError(input: unknown): TinyqaError {
  try {
    validateConfig(input);
  } catch (e) {
    if (e instanceof TinyqaError) return e;
    throw e;
  }
  throw new Error('validateConfig accepted an invalid config');
}

describe('validateConfig', () => {
  it('fills every default around the two required keys', () => {
    const cfg = validateConfig(MINIMAL);
    expect(cfg.device).toBe('d');
    expect(cfg.serial).toEqual({
      path: '/dev/null',
      baud_rate: 115_200,
      reopen_min_ms: 250,
      reopen_max_ms: 2_000,
      liveness_periods: 5,
      liveness_floor_ms: 2_000,
      ack_timeout_ms: 500,
      command_retries: 3,
      time_sync: true,
    });
    expect(cfg.window).toEqual({ size: 100, hop: 100 });
    expect(cfg.mqtt).toMatchObject({ url: 'mqtt://127.0.0.1:1883', topic_prefix: 'tinyqa/v1', qos: 1, keepalive_s: 30, offline_queue_max: 10_000 });
    expect(cfg.qa.spike).toEqual({ enabled: true, severity: 'critical', threshold: 0.5, k: 8 });
    expect(cfg.qa.flatline).toEqual({ enabled: true, severity: 'critical', threshold: 0.5, epsilon: 0 });
    expect(cfg.qa.completeness.threshold).toBe(0.02);
    expect(cfg.qa.validity.threshold).toBe(0);
    expect(cfg.log.level).toBe('info');
  });

  it('keeps the values it is given', () => {
    const cfg = validateConfig({ ...MINIMAL, window: { size: 64, hop: 16 }, qa: { spike: { k: 5, severity: 'warning' } }, log: { level: 'debug' } });
    expect(cfg.window).toEqual({ size: 64, hop: 16 });
    expect(cfg.qa.spike).toMatchObject({ k: 5, severity: 'warning', threshold: 0.5 });
    expect(cfg.log.level).toBe('debug');
  });

  it('does not modify its input', () => {
    const input = { device: 'd', serial: { path: '/dev/null' } };
    validateConfig(input);
    expect(input).toEqual({ device: 'd', serial: { path: '/dev/null' } });
    expect(Object.isFrozen(input)).toBe(false);
  });

  it('returns a deeply frozen config that refuses writes', () => {
    const cfg = validateConfig(MINIMAL);
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.qa.spike)).toBe(true);
    expect(() => {
      (cfg.window as { size: number }).size = 5;
    }).toThrow(TypeError);
    expect(cfg.window.size).toBe(100);
  });

  it('defaults client_id to tinyqa-<device> and keeps an explicit one', () => {
    expect(validateConfig({ ...MINIMAL, device: 'pump-7' }).mqtt.client_id).toBe('tinyqa-pump-7');
    expect(validateConfig({ ...MINIMAL, mqtt: { client_id: 'gw1' } }).mqtt.client_id).toBe('gw1');
  });

  it('refuses an unknown key with code ConfigInvalid, naming the key and suggesting the near one', () => {
    const e = configError({ ...MINIMAL, windw: { size: 10 } });
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toContain('windw');
    expect(e.message).toContain('did you mean "window"');
  });

  it('names the full path of an unknown nested key and suggests its neighbour', () => {
    const e = configError({ ...MINIMAL, qa: { spike: { kk: 3 } } });
    expect(e.message).toContain('qa.spike.kk');
    expect(e.message).toContain('"k"');
  });

  it('suggests nothing for an unknown key far from every known one', () => {
    const e = configError({ ...MINIMAL, zzzzzzzz: 1 });
    expect(e.message).toContain('zzzzzzzz');
    expect(e.message).not.toContain('did you mean');
  });

  it('names the key and its allowed range for an out-of-range value', () => {
    const e = configError({ ...MINIMAL, window: { size: 3 } });
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toContain('window.size');
    expect(e.message).toContain('[8, 65536]');
  });

  it.each([
    ['a string for an integer', { window: { size: '100' } }, 'window.size'],
    ['a fraction for an integer', { serial: { path: '/dev/null', baud_rate: 9600.5 } }, 'serial.baud_rate'],
    ['a value outside an enum', { log: { level: 'loud' } }, 'log.level'],
    ['a string for a boolean', { qa: { spike: { enabled: 'yes' } } }, 'qa.spike.enabled'],
    ['an array for an object', { qa: [] }, 'qa'],
    ['a device id with a space', { device: 'my pump' }, 'device'],
    ['a topic prefix with a wildcard', { mqtt: { topic_prefix: 'a/#' } }, 'mqtt.topic_prefix'],
    ['a threshold above 1', { qa: { completeness: { threshold: 1.5 } } }, 'qa.completeness.threshold'],
  ])('refuses %s, naming the key', (_what, patch, key) => {
    const e = configError({ ...MINIMAL, ...patch });
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toContain(`${key}:`);
  });

  it('reports a missing required key as required', () => {
    const e = configError({ serial: { path: '/dev/null' } });
    expect(e.message).toMatch(/device: is required/);
  });

  it('reports every problem at once', () => {
    const e = configError({ serial: {}, windw: 1, window: { size: 3 }, log: { level: 'loud' } });
    expect(e.message).toContain('5 problems');
    for (const key of ['device:', 'serial.path:', 'windw:', 'window.size:', 'log.level:']) expect(e.message).toContain(key);
  });

  it('refuses a non-object config at the top level', () => {
    const e = configError(null);
    expect(e.message).toContain('(top level): must be an object');
  });

  it('refuses a hop larger than the window size', () => {
    const e = configError({ ...MINIMAL, window: { size: 10, hop: 20 } });
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toContain('window.hop');
    expect(() => validateConfig({ ...MINIMAL, window: { size: 10, hop: 10 } })).not.toThrow();
  });

  it('refuses reconnect and reopen minimums above their maximums', () => {
    expect(configError({ ...MINIMAL, mqtt: { reconnect_min_ms: 5000, reconnect_max_ms: 1000 } }).message).toContain('mqtt.reconnect_min_ms');
    expect(configError({ device: 'd', serial: { path: '/dev/null', reopen_min_ms: 5000, reopen_max_ms: 1000 } }).message).toContain('serial.reopen_min_ms');
  });

  it('names the config source in the message', () => {
    let message = '';
    try {
      validateConfig({}, 'tinyqa.json');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^E1001 tinyqa\.json is invalid/);
  });
});

describe('describeConfig', () => {
  it('lists every leaf key once with its range and default', () => {
    const lines = describeConfig();
    const keys = lines.map((l) => l.trim().split(/\s+/)[0]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toContain('qa.spike.k');
    expect(lines.find((l) => l.trim().startsWith('window.size'))).toMatch(/int 8\.\.65536 samples; default 100/);
    expect(lines.find((l) => l.trim().startsWith('device'))).toContain('required');
  });
});

describe('validateConfig edge cases', () => {
  it('keeps the default client id within 64 characters for the longest device id', () => {
    const device = 'd'.repeat(64);
    const c = validateConfig({ device, serial: { path: '/dev/null' } });
    expect(c.mqtt.client_id.length).toBeLessThanOrEqual(64);
    expect(c.mqtt.client_id.startsWith('tinyqa-')).toBe(true);
  });

  it('accepts a one-character topic prefix and refuses wildcards or a trailing slash', () => {
    expect(validateConfig({ ...MINIMAL, mqtt: { topic_prefix: 'x' } }).mqtt.topic_prefix).toBe('x');
    for (const bad of ['a/#', 'a/+/b', 'tinyqa/', '']) {
      expect(() => validateConfig({ ...MINIMAL, mqtt: { topic_prefix: bad } }), bad).toThrow(/mqtt\.topic_prefix/);
    }
  });

  it('reports a cross-key problem together with unrelated ones', () => {
    try {
      validateConfig({ ...MINIMAL, window: { size: 10, hop: 20 }, log: { level: 'loud' } });
      expect.unreachable();
    } catch (e) {
      expect((e as TinyqaError).code).toBe(ErrorCode.ConfigInvalid);
      expect((e as Error).message).toMatch(/window\.hop: must be ≤ window\.size \(10\); got 20/);
      expect((e as Error).message).toMatch(/log\.level/);
    }
  });
});
