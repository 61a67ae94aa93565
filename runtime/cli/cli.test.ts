/** The command line as users drive it: real processes, real pseudo-terminals, real brokers. */

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPtyPair } from '../../sim/pty.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../sim/broker.js';
import { collect } from '../../sim/testing/collector.js';
import { REPO, runCli, startCli } from '../../sim/testing/cli.js';
import { testBrokers, uniqueDevice } from '../../sim/testing/brokers.js';
import { ErrorCode } from '../core/errors.js';
import { VERSION } from '../version.js';
import pkg from '../../package.json' with { type: 'json' };

const dir = mkdtempSync(join(tmpdir(), 'tinyqa-cli-'));
function configFile(name: string, body: unknown): string {
  const p = join(dir, name);
  // Each config gets an outbox folder of its own: tests run side by side, and an outbox has one owner.
  const withOutbox = typeof body === 'object' && body !== null && !('outbox' in body) ? { ...body, outbox: { dir: join(dir, `${name}.outbox`) } } : body;
  writeFileSync(p, typeof withOutbox === 'string' ? withOutbox : JSON.stringify(withOutbox));
  return p;
}

describe('tinyqa command line', () => {
  it('prints help for itself and every command, and its version', async () => {
    for (const args of [['--help'], ['sim', '--help'], ['run', '--help'], ['watch', '--help'], ['score', '--help'], ['calibrate', '--help'], ['eval', '--help'], ['bench', '--help'], ['store', '--help'], ['model', '--help']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: tinyqa/);
    }
    const v = await runCli(['--version']);
    expect(v.stdout.trim()).toBe(VERSION);
    expect(VERSION).toBe(pkg.version);
  });

  it('npm start streams readable verdicts from the simulated pump within a few seconds', async () => {
    const child = spawn('npm', ['start', '--silent'], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const t0 = Date.now();
    try {
      // Two full rounds of the three streams (seqs number verdicts and actions together).
      while ((out.match(/pump-01 motor_temp +#\d+ +intrinsic (pass|FAIL)/g) ?? []).length < 2) {
        if (Date.now() - t0 > 15_000 || child.exitCode !== null) throw new Error(`no verdict from npm start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toMatch(/pump-01 pressure +#0 +intrinsic pass/);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
    }
    await new Promise((resolve) => child.on('close', resolve));
    // Ctrl-C (SIGINT to the foreground process group) stops the replay cleanly: tinyqa still
    // flushes and prints its summary (npm itself then reports the signal).
    expect(out).toMatch(/sim: \d+ verdicts \(\d+ fail\)/);
  });

  it('refuses an unknown command or option with a one-line reason and exit code 2', async () => {
    const a = await runCli(['simulate']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command "simulate"/);
    const b = await runCli(['sim', '--sped', 'max']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--sped/);
    const c = await runCli(['sim', '--speed', 'fast']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--speed must be a number/);
  });

  it('sim --duration 10 --speed max --json prints one published verdict object per line and exits 0', async () => {
    const r = await runCli(['sim', '--duration', '10', '--speed', 'max', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(30);
    const verdicts = lines.map((l) => JSON.parse(l));
    for (const v of verdicts) {
      for (const key of ['device', 'stream', 'seq', 't0', 't1', 'parents', 'children']) expect(v).toHaveProperty(key);
      expect(['pass', 'fail']).toContain(v.parents.intrinsic);
      for (const c of Object.values(v.children) as Record<string, unknown>[]) {
        for (const key of ['score', 'threshold', 'pass', 'reason']) expect(c).toHaveProperty(key);
      }
    }
    // The published seq: one durable sequence for verdicts and actions, so strictly increasing.
    expect(verdicts[0].seq).toBe(0);
    for (let i = 1; i < verdicts.length; i++) expect(verdicts[i].seq).toBeGreaterThan(verdicts[i - 1].seq);
    // 6–9.5 s of the cycle: the pressure transmitter is stuck.
    expect(verdicts.some((v) => v.stream === 'pressure' && v.failed.includes('flatline'))).toBe(true);
    expect(r.stderr).toMatch(/broker acknowledged (\d+)\/\1 messages \(30 verdicts, \d+ actions\)/);
  });

  it('sim shows readable verdict lines naming the failing child and why', async () => {
    const r = await runCli(['sim', '--duration', '16', '--speed', 'max']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pump-01 pressure +#\d+ +intrinsic FAIL  flatline: stuck at [\d.]+ bar for 100\/100 samples/);
    expect(r.stdout).toMatch(/pump-01 flow +#\d+ +intrinsic FAIL  completeness: 100\/100 values missing/);
    expect(r.stdout).toMatch(/pump-01 motor_temp +#\d+ +intrinsic pass/);
    expect(r.stderr).toMatch(/embedded MQTT broker listening on mqtt:\/\/127\.0\.0\.1:\d+/);
  });

  it('run refuses a config with a wrong key, type or range, naming the key and the allowed values', async () => {
    const bad = configFile('bad.json', { device: 'gw', serial: { path: '/dev/null', baud_rate: 'fast' }, windw: { size: 3 }, window: { size: 3 }, log: { level: 'loud' } });
    const r = await runCli(['run', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`E${ErrorCode.ConfigInvalid}`);
    expect(r.stderr).toMatch(/serial\.baud_rate: must be an integer in \[1200, 4000000\] baud; got "fast"/);
    expect(r.stderr).toMatch(/windw: is not a known key \(did you mean "window"\?\)/);
    expect(r.stderr).toMatch(/window\.size: must be an integer in \[8, 65536\]/);
    expect(r.stderr).toMatch(/log\.level: must be one of "silent", "error", "warn", "info", "debug", "trace"/);
    const notJson = await runCli(['run', '--config', configFile('broken.json', '{ "device": ')]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/is not valid JSON/);
    const missing = await runCli(['run', '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config file .*nope\.json/);
  });

  it('run names the serial path when the port does not exist', async () => {
    const cfg = configFile('noport.json', { device: 'gw-1', serial: { path: '/dev/ttyTINYQA_MISSING' }, mqtt: { url: 'mqtt://127.0.0.1:1' }, log: { level: 'error' } });
    const r = await runCli(['run', '--config', cfg], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`E${ErrorCode.SerialNotFound} serial port /dev/ttyTINYQA_MISSING does not exist — check the cable and the path`));
  });
});

describe('gateway mode and watch against a broker', () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    broker = await startEmbeddedBroker();
  });
  afterAll(async () => {
    await broker.close();
  });

  it('run retries a broker that is down at start, says so, and delivers once it is up', async () => {
    const pty = await openPtyPair();
    // A port that nothing listens on yet; the broker starts there later.
    const later = await startEmbeddedBroker();
    const port = later.port;
    await later.close();
    const device = uniqueDevice('gw');
    const cfg = configFile('down.json', {
      device,
      serial: { path: pty.path },
      mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnect_min_ms: 100, reconnect_max_ms: 400 },
      window: { size: 10, hop: 10 },
    });
    const run = startCli(['run', '--config', cfg, '--json']);
    try {
      await run.waitForOutput(/broker unreachable: mqtt:\/\/127\.0\.0\.1:\d+; retry 2 in/);
      const { MessageEncoder } = await import('../framing/codec.js');
      const enc = new MessageEncoder();
      const hello = { type: 'hello', fw: 't', device, channels: [{ name: 'level', unit: 'm', min: 0, max: 10 }], rate_hz: 100, batch: 20, heartbeat_ms: 1000, commands: [], proto_min: 1 } as const;
      await pty.write(enc.frame({ ...hello, channels: [...hello.channels], commands: [] }, 0));
      const values = Float32Array.from({ length: 20 }, (_, i) => 5 + 0.1 * Math.sin(i) + 0.01 * i);
      await pty.write(enc.frame({ type: 'samples', channels: 1, period_us: 10_000, values }, 10));
      await run.waitForOutput(/"seq":2/);
      // The runtime is admitted only once our subscriber listens, so it cannot deliver before that.
      let listening = false;
      const up = await startEmbeddedBroker(port, '127.0.0.1', { admit: (id) => listening || id.startsWith('tinyqa-watch') });
      try {
        const seen = await collect(up.url, 'tinyqa/v1', device);
        listening = true;
        await run.waitForOutput(/connected to broker .* after \d+ retr/);
        // Verdicts produced while the broker was down were queued, then delivered; the retained
        // birth message is there for a late subscriber.
        await seen.waitFor(() => seen.verdicts.length >= 2 && seen.status.some((s) => s.state === 'online'));
        // One durable sequence for verdicts and actions: the two verdicts and the action between them.
        await seen.waitFor(() => seen.verdicts.length + seen.actions.length >= 3);
        expect([...seen.verdicts, ...seen.actions].map((m) => (m as { seq: number }).seq).sort((a, b) => a - b)).toEqual([0, 1, 2]);
        await seen.sub.close();
      } finally {
        run.child.kill('SIGTERM');
        const r = await run.done;
        expect(r.code).toBe(0);
        await up.close();
      }
    } finally {
      run.child.kill('SIGKILL');
      pty.close();
    }
  });

  it('watch shows the verdicts a sim publishes to the same broker', async () => {
    const watch = startCli(['watch', '--broker', broker.url, '--json', '--count', '6']);
    await watch.waitForOutput(/subscribed to mqtt:\/\/127\.0\.0\.1:\d+/);
    const sim = await runCli(['sim', '--duration', '2', '--speed', 'max', '--broker', broker.url]);
    expect(sim.code, sim.stderr).toBe(0);
    const r = await watch.done;
    expect(r.code, r.stderr).toBe(0);
    const verdicts = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(verdicts).toHaveLength(6);
    expect(new Set(verdicts.map((v) => v.stream))).toEqual(new Set(['pressure', 'flow', 'motor_temp']));
  });
});

describe.each(testBrokers())('last will on the $name', (factory) => {
  it('a runtime that dies without saying goodbye is announced offline by the broker', async () => {
    const b = await factory.start();
    const device = uniqueDevice('will');
    const seen = await collect(b.url, 'tinyqa/v1', device);
    const pty = await openPtyPair();
    const cfg = configFile(`will-${device}.json`, { device, serial: { path: pty.path }, mqtt: { url: b.url, keepalive_s: 5 } });
    const run = startCli(['run', '--config', cfg]);
    try {
      await seen.waitFor(() => seen.status.some((s) => s.state === 'online'));
      run.child.kill('SIGKILL');
      await run.done;
      await seen.waitFor(() => seen.status.at(-1)?.state === 'offline', 15_000);
    } finally {
      run.child.kill('SIGKILL');
      pty.close();
      await seen.sub.close();
      await b.close();
    }
  });
});

describe('tinyqa bench framing', () => {
  it('prints the decode figures against the DESIGN §8 targets as one JSON object', async () => {
    const r = await runCli(['bench', 'framing', '--json', '--runs', '1'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.samples_per_s_batch32).toBeGreaterThan(0);
    expect(report.frames_per_s_single).toBeGreaterThan(0);
    expect(report.targets).toEqual({ samples_per_s_batch32: 2_000_000, frames_per_s_single: 300_000 });
    expect(typeof report.meets_targets).toBe('boolean');
    expect(report.c).toBeTypeOf('object');
    expect(r.stderr).toMatch(/run 1\/1: [\d.]+ M samples\/s/);
  });
});

describe('tinyqa eval faults, calibrate and store', () => {
  it('eval faults prints recall, false-alarm rate and delay per fault and magnitude, and an HTML report', async () => {
    const report = join(dir, 'faults.html');
    const r = await runCli(['eval', 'faults', '--faults', 'missing,stuck', '--seconds', '120', '--json', '--report', report], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.faults.length).toBe(9);
    for (const f of j.faults) for (const k of ['fault', 'magnitude', 'recall', 'false_alarm_rate', 'delay_windows']) expect(f).toHaveProperty(k);
    expect(j.faults.filter((f: { documented: boolean }) => f.documented).every((f: { recall: number }) => f.recall >= 0.99)).toBe(true);
    const { readFileSync } = await import('node:fs');
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/<title>tinyqa eval faults — pump<\/title>/);
    expect(html).toContain('uPlot');
  });

  it('calibrate refuses a CSV too short to calibrate on, naming what it needs', async () => {
    const csv = join(dir, 'short.csv');
    writeFileSync(csv, 'timestamp,a\n' + Array.from({ length: 50 }, (_, i) => `${1_700_000_000 + i},${Math.sin(i)}`).join('\n') + '\n');
    const r = await runCli(['calibrate', '--csv', csv, '--out', join(dir, 'p.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/calibration needs at least 2000 records/);
  });

  it('store read names an unknown kind', async () => {
    const r = await runCli(['store', 'read', '--kind', 'trash']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--kind must be one of quarantine, divert/);
  });
});

describe('tinyqa model run', () => {
  const fixtures = join(REPO, '..', 'shared', 'fixtures', 'models');
  const have = (() => {
    try {
      return existsSync(fixtures);
    } catch {
      return false;
    }
  })();

  it.skipIf(!have)('runs a bare int8 .tflite and a bare .onnx model on JSON input and prints outputs, engine and time', async () => {
    const t = await runCli(['model', 'run', join(fixtures, 'tflm_hello_world_int8', 'hello_world_int8.tflite'), '--input', '[1.5707963]', '--json']);
    expect(t.code, t.stderr).toBe(0);
    const tr = JSON.parse(t.stdout);
    expect(Math.abs((Object.values(tr.outputs)[0] as number[])[0]! - 1)).toBeLessThan(0.13);
    expect(tr.engine).toMatch(/tflite/);
    expect(tr.us).toBeGreaterThan(0);
    const input = JSON.stringify(Array.from({ length: 60 }, (_, i) => i - 30));
    const o = await runCli(['model', 'run', join(fixtures, 'onnx_backend_node_float', 'test_relu', 'model.onnx'), '--input', input, '--json']);
    expect(o.code, o.stderr).toBe(0);
    const or = JSON.parse(o.stdout);
    expect(or.outputs.y).toEqual(Array.from({ length: 60 }, (_, i) => Math.max(0, i - 30)));
    expect(or.engine).toMatch(/onnxruntime-web/);
  });

  it.skipIf(!have)('names the missing input and the model’s inputs when the JSON does not fit', async () => {
    const r = await runCli(['model', 'run', join(fixtures, 'tfjs_tflite_add4', 'add4.tflite'), '--input', '[1,2,3,4]']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E7006 .*no values for input "serving_default_input_2:0"/);
  });
});
