import { describe, expect, it } from 'vitest';
import { ErrorCode, TinyqaError } from '../core/errors.js';
import { loadMqttCredentials } from './mqtt-credentials.js';
import { describeConfig, loadReferenceProfile, validateConfig } from './schema.js';

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
    expect(cfg.mqtt).toMatchObject({ url: 'mqtt://127.0.0.1:1883', topic_prefix: 'tinyqa/v1', qos: 1, keepalive_s: 30, max_inflight: 100 });
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

describe('validateConfig: the QA graph', () => {
  const qa = (patch: Record<string, unknown>) => ({ ...MINIMAL, qa: patch });

  it('declares every child with enabled/severity/threshold and each parent with the rule decision by default', () => {
    const cfg = validateConfig(MINIMAL);
    expect(cfg.qa.parents.intrinsic).toEqual({ decision: 'rule', weights: {}, bias: 0, threshold: 0.5 });
    for (const name of ['completeness', 'validity', 'flatline', 'spike', 'relevance', 'cross_sensor']) expect(cfg.qa[name as 'spike'].enabled, name).toBe(true);
    for (const name of ['frame_integrity', 'sequence_continuity', 'clock_sanity', 'timeliness', 'uniqueness', 'noise', 'anomaly', 'drift']) expect(cfg.qa[name as 'spike'].enabled, name).toBe(false);
    expect(cfg.qa.drift.severity).toBe('warning');
    expect(cfg.qa.anomaly.severity).toBe('warning');
    expect(cfg.qa.frame_integrity.severity).toBe('warning');
    expect(cfg.qa.relevance).toEqual({ enabled: true, severity: 'critical', threshold: 0.5, profile: '', k: 0.5 });
    expect(cfg.qa.cross_sensor.pairs).toEqual([]);
  });

  it('keeps a weighted decision with its weights, and cross-sensor pairs', () => {
    const cfg = validateConfig(
      qa({
        parents: { intrinsic: { decision: 'weighted', weights: { spike: 2.5, flatline: 1 }, bias: -1.5, threshold: 0.7 } },
        cross_sensor: { pairs: [{ a: 'pressure', b: 'flow', relation: 'negative' }] },
      }),
    );
    expect(cfg.qa.parents.intrinsic).toEqual({ decision: 'weighted', weights: { spike: 2.5, flatline: 1 }, bias: -1.5, threshold: 0.7 });
    expect(cfg.qa.cross_sensor.pairs).toEqual([{ a: 'pressure', b: 'flow', relation: 'negative' }]);
    expect(Object.isFrozen(cfg.qa.cross_sensor.pairs[0])).toBe(true);
  });

  it('gives every config its own copy of list and map defaults', () => {
    const a = validateConfig(MINIMAL);
    const b = validateConfig(MINIMAL);
    expect(a.qa.cross_sensor.pairs).not.toBe(b.qa.cross_sensor.pairs);
    expect(a.qa.parents.intrinsic.weights).not.toBe(b.qa.parents.intrinsic.weights);
  });

  it('refuses a weight for an unknown child, naming the key and suggesting the near one', () => {
    const e = configError(qa({ parents: { intrinsic: { decision: 'weighted', weights: { spkie: 1 } } } }));
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toMatch(/qa\.parents\.intrinsic\.weights\.spkie: is not a known child \(did you mean "spike"\?\); children of intrinsic: completeness, validity/);
  });

  it('refuses a weight for a child under the wrong parent', () => {
    const e = configError(qa({ parents: { contextual: { decision: 'weighted', weights: { spike: 1, drift: 1 } } }, drift: { enabled: true } }));
    expect(e.message).toContain('qa.parents.contextual.weights.spike: spike is a child of intrinsic, not of contextual; weigh it under qa.parents.intrinsic.weights');
  });

  it('refuses a non-zero weight for a disabled child, and accepts a zero one', () => {
    const e = configError(qa({ parents: { intrinsic: { decision: 'weighted', weights: { noise: 2, spike: 1 } } } }));
    expect(e.message).toContain('qa.parents.intrinsic.weights.noise: qa.noise is disabled, so its weight 2 cannot count; enable it or drop the weight');
    expect(() => validateConfig(qa({ parents: { intrinsic: { decision: 'weighted', weights: { noise: 0, spike: 1 } } } }))).not.toThrow();
    expect(() => validateConfig(qa({ noise: { enabled: true }, parents: { intrinsic: { decision: 'weighted', weights: { noise: 2 } } } }))).not.toThrow();
  });

  it('refuses a weighted decision without a non-zero weight', () => {
    const e = configError(qa({ parents: { integrity: { decision: 'weighted' } } }));
    expect(e.message).toContain('qa.parents.integrity.weights: decision "weighted" needs at least one non-zero weight');
  });

  it.each([
    ['a negative child threshold', { spike: { threshold: -0.1 } }, 'qa.spike.threshold'],
    ['a NaN child threshold', { noise: { threshold: NaN } }, 'qa.noise.threshold'],
    ['an infinite child threshold', { drift: { threshold: Infinity } }, 'qa.drift.threshold'],
    ['a NaN parent threshold', { parents: { intrinsic: { threshold: NaN } } }, 'qa.parents.intrinsic.threshold'],
    ['a parent threshold above 1', { parents: { contextual: { threshold: 1.5 } } }, 'qa.parents.contextual.threshold'],
    ['a negative weight', { parents: { intrinsic: { decision: 'weighted', weights: { spike: -1 } } } }, 'qa.parents.intrinsic.weights.spike'],
    ['a NaN weight', { parents: { intrinsic: { decision: 'weighted', weights: { spike: NaN } } } }, 'qa.parents.intrinsic.weights.spike'],
    ['a weights array', { parents: { intrinsic: { weights: [1] } } }, 'qa.parents.intrinsic.weights'],
    ['an unknown decision', { parents: { intrinsic: { decision: 'vote' } } }, 'qa.parents.intrinsic.decision'],
    ['an unknown parent', { parents: { quality: {} } }, 'qa.parents.quality'],
    ['an unknown child', { timelines: { enabled: true } }, 'qa.timelines'],
    ['a pair relation that is not positive/negative', { cross_sensor: { pairs: [{ a: 'p', b: 'f', relation: 'inverse' }] } }, 'qa.cross_sensor.pairs[0].relation'],
    ['a pair without b', { cross_sensor: { pairs: [{ a: 'p', relation: 'negative' }] } }, 'qa.cross_sensor.pairs[0].b'],
    ['pairs that are not a list', { cross_sensor: { pairs: { a: 'p' } } }, 'qa.cross_sensor.pairs'],
    ['a channel paired with itself', { cross_sensor: { pairs: [{ a: 'p', b: 'p', relation: 'negative' }] } }, 'qa.cross_sensor.pairs[0]'],
    ['a repeated pair', { cross_sensor: { pairs: [{ a: 'p', b: 'f', relation: 'negative' }, { a: 'f', b: 'p', relation: 'negative' }] } }, 'qa.cross_sensor.pairs[1]'],
    ['a profile path with leading space', { relevance: { profile: ' x.json' } }, 'qa.relevance.profile'],
  ])('refuses %s, naming the key', (_what, patch, key) => {
    const e = configError(qa(patch));
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toContain(`${key}:`);
  });

  it('suggests the child name for a typo in the qa section', () => {
    expect(configError(qa({ timelines: {} })).message).toContain('did you mean "timeliness"');
  });

  it('lists the graph keys in --help, with list and map types', () => {
    const lines = describeConfig();
    expect(lines.find((l) => l.trim().startsWith('qa.parents.intrinsic.weights'))).toMatch(/map of child names of intrinsic → number; default \{\}/);
    expect(lines.find((l) => l.trim().startsWith('qa.cross_sensor.pairs'))).toMatch(/list of \{a, b, relation\}; default \[\]/);
    expect(lines.find((l) => l.trim().startsWith('qa.drift.enabled'))).toMatch(/default false — opt-in/);
  });
});

describe('loadReferenceProfile', () => {
  const profile = { version: 1, window: 100, streams: { pressure: { mean: { lo: 3, hi: 5 } } } };
  const withProfile = (extra: Record<string, unknown> = {}) => validateConfig({ ...MINIMAL, ...extra, qa: { relevance: { profile: '/etc/tinyqa/profile.json' } } });
  const thrownBy = (fn: () => unknown): TinyqaError => {
    try {
      fn();
    } catch (e) {
      if (e instanceof TinyqaError) return e;
      throw e;
    }
    throw new Error('did not throw');
  };

  it('returns nothing without a profile path, and the parsed profile with one', () => {
    expect(loadReferenceProfile(validateConfig(MINIMAL), () => 'unused')).toBeUndefined();
    expect(loadReferenceProfile(withProfile(), () => JSON.stringify(profile))).toEqual(profile);
  });

  it('names the key and the file when the file cannot be read or parsed', () => {
    const unreadable = thrownBy(() =>
      loadReferenceProfile(withProfile(), () => {
        throw new Error('ENOENT: no such file');
      }),
    );
    expect(unreadable.code).toBe(ErrorCode.ConfigUnreadable);
    expect(unreadable.message).toBe('E1002 qa.relevance.profile: cannot read /etc/tinyqa/profile.json: ENOENT: no such file');
    expect(thrownBy(() => loadReferenceProfile(withProfile(), () => '{ nope')).message).toMatch(/qa\.relevance\.profile: \/etc\/tinyqa\/profile\.json is not valid JSON/);
  });

  it('names the key inside the profile that is wrong, and a window size that does not match', () => {
    const bad = thrownBy(() => loadReferenceProfile(withProfile(), () => JSON.stringify({ version: 1, streams: { pressure: { mean: { lo: 5, hi: 3 } } } })));
    expect(bad.code).toBe(ErrorCode.ConfigInvalid);
    expect(bad.message).toContain('qa.relevance.profile (/etc/tinyqa/profile.json) is invalid (1 problem):\n  streams.pressure.mean: lo (5) must be ≤ hi (3)');
    const window = thrownBy(() => loadReferenceProfile(withProfile({ window: { size: 64, hop: 64 } }), () => JSON.stringify(profile)));
    expect(window.message).toContain('window: the profile summarises 100-sample windows, but window.size is 64');
  });
});

describe('mqtt security keys', () => {
  it('default to MQTT 5, no credentials, no TLS files, certificates checked, and a 30 s floor between refused logins', () => {
    expect(validateConfig(MINIMAL).mqtt).toMatchObject({
      protocol_version: 5,
      username: '',
      password: '',
      password_file: '',
      ca: '',
      cert: '',
      key: '',
      reject_unauthorized: true,
      auth_retry_min_ms: 30_000,
    });
  });

  it.each([
    ['mqtt://', { url: 'mqtt://broker.local:1883', ca: '/etc/tinyqa/ca.pem' }, 'mqtt.url: is plaintext (mqtt://) but mqtt.ca is set, so TLS would not be used; use mqtts://broker.local:8883'],
    ['tcp://', { url: 'tcp://h:1884', cert: '/c.pem', key: '/k.pem' }, 'mqtt.url: is plaintext (tcp://) but mqtt.cert, mqtt.key are set, so TLS would not be used; use mqtts://h:1884'],
    ['ws://', { url: 'ws://h:9001/mqtt', ca: '/ca.pem' }, 'use wss://h:9001/mqtt'],
  ])('refuses a plaintext %s URL when TLS keys are set, naming mqtt.url and the secure scheme', (_scheme, mqtt, text) => {
    const e = configError({ ...MINIMAL, mqtt });
    expect(e.code).toBe(ErrorCode.ConfigInvalid);
    expect(e.message).toContain(text);
  });

  it('accepts TLS keys with mqtts:// and wss://', () => {
    expect(validateConfig({ ...MINIMAL, mqtt: { url: 'mqtts://h:8883', ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' } }).mqtt.ca).toBe('/ca.pem');
    expect(validateConfig({ ...MINIMAL, mqtt: { url: 'wss://h/mqtt', ca: '/ca.pem' } }).mqtt.url).toBe('wss://h/mqtt');
  });

  it.each([
    ['a certificate without its key', { url: 'mqtts://h', cert: '/c.pem' }, 'mqtt.key: is required with mqtt.cert'],
    ['a key without its certificate', { url: 'mqtts://h', key: '/k.pem' }, 'mqtt.cert: is required with mqtt.key'],
    ['both password and password_file', { username: 'u', password: 'p', password_file: '/pw' }, 'mqtt.password_file: and mqtt.password are both set'],
    ['a password without a user name', { password: 'p' }, 'mqtt.password: needs mqtt.username'],
    ['a password file without a user name', { password_file: '/pw' }, 'mqtt.password_file: needs mqtt.username'],
    ['protocol version 3', { protocol_version: 3 }, 'mqtt.protocol_version: must be an integer in [4, 5]'],
    ['a retry floor under 100 ms', { auth_retry_min_ms: 10 }, 'mqtt.auth_retry_min_ms:'],
  ])('refuses %s, naming the key', (_what, mqtt, text) => {
    expect(configError({ ...MINIMAL, mqtt }).message).toContain(text);
  });
});

describe('loadMqttCredentials', () => {
  const PEM_TEXT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const files: Record<string, string> = { '/ca.pem': PEM_TEXT, '/c.pem': PEM_TEXT, '/k.pem': PEM_TEXT.replace(/CERTIFICATE/g, 'PRIVATE KEY'), '/pw': 's3cret\n', '/der': '\u0030\u0082' };
  const read = (p: string): Buffer => {
    const f = files[p];
    if (f === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
    return Buffer.from(f, 'latin1');
  };
  const load = (mqtt: Record<string, unknown>) => loadMqttCredentials(validateConfig({ ...MINIMAL, mqtt }).mqtt, read);

  it('reads the password file once, without its trailing newline, and passes no TLS options for a plaintext URL', () => {
    expect(load({ username: 'u', password_file: '/pw' })).toEqual({ username: 'u', password: 's3cret' });
    expect(load({})).toEqual({});
  });

  it('reads the CA, certificate and key for an mqtts:// URL, with certificate checking on by default', () => {
    const c = load({ url: 'mqtts://h', ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' });
    expect(c.tls?.rejectUnauthorized).toBe(true);
    expect(c.tls?.ca?.toString()).toBe(PEM_TEXT);
    expect(c.tls?.key?.toString()).toContain('PRIVATE KEY');
    expect(load({ url: 'mqtts://h', reject_unauthorized: false }).tls).toEqual({ rejectUnauthorized: false });
  });

  it.each([
    ['mqtt.ca', { url: 'mqtts://h', ca: '/missing.pem' }, /E1002 mqtt\.ca: cannot read \/missing\.pem: ENOENT/],
    ['mqtt.key', { url: 'mqtts://h', cert: '/c.pem', key: '/nokey' }, /E1002 mqtt\.key: cannot read \/nokey/],
    ['mqtt.password_file', { username: 'u', password_file: '/nopw' }, /E1002 mqtt\.password_file: cannot read \/nopw/],
    ['mqtt.cert (not PEM)', { url: 'mqtts://h', cert: '/der', key: '/k.pem' }, /E1002 mqtt\.cert: \/der is not a PEM file/],
  ])('refuses an unreadable %s with an error naming the key', (_key, mqtt, re) => {
    let err: unknown;
    try {
      load(mqtt);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TinyqaError);
    expect((err as TinyqaError).code).toBe(ErrorCode.ConfigUnreadable);
    expect((err as TinyqaError).message).toMatch(re);
  });
});
