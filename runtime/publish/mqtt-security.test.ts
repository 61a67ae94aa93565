/**
 * TLS, passwords and ACLs against a real Mosquitto (issue 6, "Security"): each test starts its own
 * broker on a private port with a config, password file and ACL it writes (sim/testing/mosquitto.ts).
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import { MemoryLogSink, createLogger } from '../core/log.js';
import { loadMqttCredentials } from '../config/mqtt-credentials.js';
import { validateConfig } from '../config/schema.js';
import { mqttPublisherOptions } from '../root.js';
import { startEmbeddedBroker } from '../../sim/broker.js';
import { collect, type Collected } from '../../sim/testing/collector.js';
import { makeTestPki, mosquittoSkipReason, startMosquitto, writePasswordFile, type Mosquitto, type MosquittoOptions, type TestPki } from '../../sim/testing/mosquitto.js';
import { until } from '../../sim/testing/until.js';
import { MqttPublisher } from './mqtt.js';
import { sampleVerdict } from './publisher.contract.js';

const count = (sink: MemoryLogSink, re: RegExp) => sink.lines.filter((l) => re.test(l)).length;

const skip = mosquittoSkipReason(['mosquitto', 'mosquitto_passwd', 'openssl']);

// dev1 may write only under its own device topics; the watcher may read every device's.
const ACL = ['user dev1', 'topic readwrite tinyqa/v1/dev1/#', '', 'user watcher', 'topic read tinyqa/v1/#', ''].join('\n');

describe.skipIf(skip !== undefined)(`MqttPublisher against a private Mosquitto with TLS, a password file and an ACL${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let pki: TestPki;
  let passwordFile: string;
  let aclFile: string;
  let dev1PasswordFile: string;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeAll(() => {
    pki = makeTestPki('dev1');
    passwordFile = writePasswordFile(join(pki.dir, 'passwd'), { dev1: 'right-pw', watcher: 'watch-pw' });
    aclFile = join(pki.dir, 'acl');
    writeFileSync(aclFile, ACL);
    dev1PasswordFile = join(pki.dir, 'dev1.secret');
    writeFileSync(dev1PasswordFile, 'right-pw\n');
  });
  afterAll(() => pki?.dispose());
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function broker(extra: Partial<MosquittoOptions> = {}): Promise<Mosquitto> {
    const m = await startMosquitto({
      tls: { cafile: pki.caCert, certfile: pki.serverCert, keyfile: pki.serverKey },
      allowAnonymous: false,
      passwordFile,
      aclFile,
      ...extra,
    });
    cleanup.push(() => m.stop());
    return m;
  }

  /** A subscriber with read rights on every device, on the broker's plaintext listener (same password file and ACL). */
  async function watcher(m: Mosquitto, device: string): Promise<Collected> {
    const seen = await collect(m.url!.replace('//', '//watcher:watch-pw@'), 'tinyqa/v1', device);
    cleanup.push(() => seen.sub.close());
    return seen;
  }

  /** A publisher built from a config the way `tinyqa run` builds it (validateConfig → mqttPublisherOptions). */
  function publisher(device: string, mqtt: Record<string, unknown>): { p: MqttPublisher; sink: MemoryLogSink } {
    const config = validateConfig(
      { device, serial: { path: '/dev/null' }, outbox: { dir: mkdtempSync(join(tmpdir(), 'tinyqa-sec-outbox-')), fsync: 'never' }, mqtt: { reconnect_min_ms: 50, reconnect_max_ms: 200, keepalive_s: 10, ...mqtt } },
      'test config',
    );
    const sink = new MemoryLogSink();
    const p = new MqttPublisher(mqttPublisherOptions(config), systemClock, createLogger('info', sink));
    cleanup.push(() => p.close());
    return { p, sink };
  }


  it('connects over mqtts with the right password and delivers verdicts a subscriber receives, in order', async () => {
    const m = await broker();
    const seen = await watcher(m, 'dev1');
    const { p, sink } = publisher('dev1', { url: m.tlsUrl, ca: pki.caCert, username: 'dev1', password_file: dev1PasswordFile });
    await p.start();
    for (let seq = 1; seq <= 50; seq++) p.publishVerdict(sampleVerdict('dev1', seq));
    await seen.waitFor(() => seen.verdicts.length >= 50, 15_000);
    expect(await p.flush(5_000)).toBe(true);
    // The outbox numbers them from 0 (a fresh outbox).
    expect(seen.verdicts.map((v) => v.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seen.status.some((s) => s.state === 'online')).toBe(true);
    expect(p.counters).toMatchObject({ accepted: 50, acked: 50, auth_failures: 0, tls_failures: 0, publish_denied: 0 });
    expect(sink.lines.join('\n')).not.toMatch(/refused|denied|plaintext/);
    // The broker saw an MQTT 5 client (p5) log in as dev1 over the TLS listener.
    expect(m.log()).toMatch(new RegExp(`on port ${m.tlsPort}[\\s\\S]*p5, c0, k10, u'dev1'`));
  });

  it('is refused without credentials when the broker allows no anonymous clients, and says so once', async () => {
    const m = await broker();
    const { p, sink } = publisher('dev1', { url: m.tlsUrl, ca: pki.caCert, auth_retry_min_ms: 200 });
    await p.start();
    p.publishVerdict(sampleVerdict('dev1', 1));
    await until(() => p.counters.auth_failures >= 3, 10_000, 'three refused logins');
    expect(p.connected).toBe(false);
    expect(p.counters).toMatchObject({ acked: 0, queued: 1, tls_failures: 0 });
    expect(count(sink, /broker refused the credentials for anonymous clients \(no mqtt\.username set\) \(reason 135: Not authorized\)/)).toBe(1);
    expect(m.log().match(/disconnected, not authorised/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('is refused with a wrong password: counted, said once, retried no more often than auth_retry_min_ms, and accepted once the broker knows the password', async () => {
    const m = await broker();
    const seen = await watcher(m, 'dev1');
    const minMs = 1_000;
    // reconnect_min/max 50/200 ms: without the floor, attempts would be ≤ 240 ms apart.
    const { p, sink } = publisher('dev1', { url: m.tlsUrl, ca: pki.caCert, username: 'dev1', password: 'wrong-pw', auth_retry_min_ms: minMs });
    const refusedAt: number[] = [];
    let last = 0;
    const poll = setInterval(() => {
      if (p.counters.auth_failures > last) {
        last = p.counters.auth_failures;
        refusedAt.push(performance.now());
      }
    }, 2);
    cleanup.push(() => clearInterval(poll));
    await p.start();
    p.publishVerdict(sampleVerdict('dev1', 1));
    await until(() => refusedAt.length >= 4, 15_000, 'four refused logins');
    const gaps = refusedAt.slice(1).map((t, i) => t - refusedAt[i]!);
    // Each gap is the floor plus one TLS handshake; polling every 2 ms can shave at most a few ms.
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(minMs - 10);
      expect(g).toBeLessThan(minMs + 800);
    }
    expect(p.counters.auth_failures).toBe(refusedAt.length);
    expect(count(sink, /broker refused the credentials for user "dev1" \(reason 135: Not authorized\); retrying at most every 1\.0 s/)).toBe(1);
    expect(sink.lines.join('\n')).not.toContain('wrong-pw');
    expect(p.counters.acked).toBe(0);

    // The broker learns the password (SIGHUP re-reads the password file): the streak ends, the queued verdict goes out.
    writePasswordFile(passwordFile, { dev1: 'wrong-pw', watcher: 'watch-pw' });
    cleanup.push(() => void writePasswordFile(passwordFile, { dev1: 'right-pw', watcher: 'watch-pw' }));
    m.reload();
    await seen.waitFor(() => seen.verdicts.length >= 1, 10_000);
    expect(await p.flush(5_000)).toBe(true);
    expect(count(sink, /broker accepted the credentials for user "dev1" after \d+ refusals/)).toBe(1);
    expect(p.counters.acked).toBe(1);
  });

  it('is denied publishing to another device\'s topics: counted as publish_denied, logged once per topic, never acked', async () => {
    const m = await broker();
    const seen = await watcher(m, 'dev2');
    // dev1's credentials, but device dev2: the ACL lets dev1 write only under tinyqa/v1/dev1/.
    const { p, sink } = publisher('dev2', { url: m.tlsUrl, ca: pki.caCert, username: 'dev1', password_file: dev1PasswordFile });
    await p.start();
    await until(() => p.connected, 10_000, 'connected');
    for (let seq = 1; seq <= 20; seq++) p.publishVerdict(sampleVerdict('dev2', seq, seq % 2 ? 'a' : 'b'));
    expect(await p.flush(10_000)).toBe(true);
    expect(p.counters).toMatchObject({ accepted: 20, acked: 0, publish_denied: 20, auth_failures: 0 });
    // One line per topic: the two verdict streams and the birth message.
    expect(count(sink, /broker denied publishing to tinyqa\/v1\/dev2\/verdict\/a \(reason 0x87: Not authorized\) for user "dev1"/)).toBe(1);
    expect(count(sink, /broker denied publishing to tinyqa\/v1\/dev2\/verdict\/b/)).toBe(1);
    expect(count(sink, /broker denied publishing to tinyqa\/v1\/dev2\/status/)).toBe(1);
    expect(m.log().match(/Denied PUBLISH from tinyqa-dev2 .*tinyqa\/v1\/dev2\/verdict/g)?.length).toBe(20);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.verdicts).toHaveLength(0);
  });

  it('with MQTT 3.1.1 the same denial is acknowledged and lost without a word — why protocol_version defaults to 5', async () => {
    const m = await broker();
    const { p } = publisher('dev2', { url: m.tlsUrl, ca: pki.caCert, username: 'dev1', password_file: dev1PasswordFile, protocol_version: 4 });
    await p.start();
    for (let seq = 1; seq <= 5; seq++) p.publishVerdict(sampleVerdict('dev2', seq));
    expect(await p.flush(10_000)).toBe(true);
    expect(p.counters).toMatchObject({ acked: 5, publish_denied: 0 });
    expect(m.log().match(/Denied PUBLISH from tinyqa-dev2/g)?.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses at config validation a plaintext URL with TLS keys, and unreadable certificate files, naming the key', async () => {
    const m = await broker({ plain: true });
    const err = (() => {
      try {
        validateConfig({ device: 'dev1', serial: { path: '/dev/null' }, mqtt: { url: m.url, ca: pki.caCert, username: 'dev1', password_file: dev1PasswordFile } });
      } catch (e) {
        return e;
      }
      throw new Error('a plaintext URL with mqtt.ca was accepted');
    })();
    expect(isTinyqaError(err, ErrorCode.ConfigInvalid)).toBe(true);
    expect((err as Error).message).toContain(`mqtt.url: is plaintext (mqtt://) but mqtt.ca is set, so TLS would not be used; use mqtts://127.0.0.1:${m.port}`);
    // Nothing reached the broker: validation runs before any connection.
    expect(m.log()).not.toMatch(/New client connected/);

    const cfg = validateConfig({ device: 'dev1', serial: { path: '/dev/null' }, mqtt: { url: m.tlsUrl, ca: join(pki.dir, 'missing-ca.crt') } });
    expect(() => loadMqttCredentials(cfg.mqtt)).toThrow(/E1002 mqtt\.ca: cannot read .*missing-ca\.crt/);
    const notPem = validateConfig({ device: 'dev1', serial: { path: '/dev/null' }, mqtt: { url: m.tlsUrl, ca: aclFile } });
    expect(() => loadMqttCredentials(notPem.mqtt)).toThrow(/E1002 mqtt\.ca: .* is not a PEM file/);
  });

  it('refuses a broker whose certificate no trusted CA signed when mqtt.ca is not set, saying why', async () => {
    const m = await broker();
    const { p, sink } = publisher('dev1', { url: m.tlsUrl, username: 'dev1', password_file: dev1PasswordFile });
    await p.start();
    await until(() => p.counters.tls_failures >= 2, 10_000, 'two failed TLS handshakes');
    expect(p.connected).toBe(false);
    expect(count(sink, /TLS with broker .* failed: the broker's certificate is not signed by a trusted CA \(SELF_SIGNED_CERT_IN_CHAIN\)/)).toBe(1);
    // The password never left: the handshake failed before CONNECT.
    expect(m.log()).not.toMatch(/New client connected/);
  });

  it('with require_certificate, connects with mqtt.cert and mqtt.key and fails clearly without them', async () => {
    const m = await broker({ tls: { cafile: pki.caCert, certfile: pki.serverCert, keyfile: pki.serverKey, requireCertificate: true } });
    const seen = await watcher(m, 'dev1');
    const withCert = publisher('dev1', { url: m.tlsUrl, ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey, username: 'dev1', password_file: dev1PasswordFile });
    await withCert.p.start();
    withCert.p.publishVerdict(sampleVerdict('dev1', 1));
    await seen.waitFor(() => seen.verdicts.length >= 1, 10_000);
    expect(await withCert.p.flush(5_000)).toBe(true);
    expect(withCert.p.counters).toMatchObject({ acked: 1, tls_failures: 0 });

    const without = publisher('dev1', { url: m.tlsUrl, ca: pki.caCert, username: 'dev1', password_file: dev1PasswordFile, client_id: 'tinyqa-nocert' });
    await without.p.start();
    await until(() => without.p.counters.tls_failures >= 3, 10_000, 'three failed TLS handshakes');
    expect(without.p.connected).toBe(false);
    expect(without.p.counters.auth_failures).toBe(0);
    expect(count(without.sink, /TLS with broker mqtts:\/\/127\.0\.0\.1:\d+ failed: the broker requires a client certificate and got none \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\) — check mqtt\.ca .* mqtt\.cert and mqtt\.key/)).toBe(1);
  });
});

describe('MQTT version fallback', () => {
  it('speaks MQTT 3.1.1 to a broker that refuses 5 (the embedded aedes), saying so once, and delivers', async () => {
    const b = await startEmbeddedBroker();
    const seen = await collect(b.url, 'tinyqa/v1', 'fb');
    const sink = new MemoryLogSink();
    const config = validateConfig({ device: 'fb', serial: { path: '/dev/null' }, outbox: { dir: mkdtempSync(join(tmpdir(), 'tinyqa-fb-outbox-')), fsync: 'never' }, mqtt: { url: b.url } });
    const p = new MqttPublisher(mqttPublisherOptions(config), systemClock, createLogger('info', sink));
    try {
      await p.start();
      p.publishVerdict(sampleVerdict('fb', 1));
      await seen.waitFor(() => seen.verdicts.length >= 1, 10_000);
      expect(count(sink, /does not speak MQTT 5 \(Connection refused: Unacceptable protocol version\); using MQTT 3\.1\.1/)).toBe(1);
      expect(sink.lines.join('\n')).not.toMatch(/unreachable|retry/);
      expect(p.counters).toMatchObject({ connects: 1, auth_failures: 0 });
    } finally {
      await p.close();
      await seen.sub.close();
      await b.close();
    }
  });
});
