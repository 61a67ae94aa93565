import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/log.js';
import { generate } from '../../sim/scenarios/generate.js';
import { REPO } from '../../sim/testing/cli.js';
import { ModelService, type ModelServiceOptions } from './model-service.js';
import { generateKeys, MANIFEST, SIGNATURE, signPackage } from './package.js';

const SHIPPED = join(REPO, 'models/pump-ae/1.0.0');
const OTHER = join(REPO, 'models/air-forecaster/1.0.0');

/** Clean pump windows, per channel, in the model's channel order (pressure, flow, motor_temp). */
function pumpWindows(count: number, seed = 5): Float64Array[][] {
  const g = generate('pump', seed, (count * 100) / 100 + 1);
  const C = g.channels.length;
  return Array.from({ length: count }, (_, w) => g.channels.map((_, c) => Float64Array.from({ length: 100 }, (_, t) => g.values[(w * 100 + t) * C + c]!)));
}

let root: string;
let keys: { privatePem: string; publicPem: string };
let pubPath: string;

/** A fresh signed copy of the shipped package (re-signed with the test key), optionally edited first. */
function copyPackage(name: string, edit?: (dir: string, manifest: Record<string, unknown>) => void, sign = true): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(SHIPPED, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Record<string, unknown>;
  edit?.(dir, m);
  writeFileSync(join(dir, MANIFEST), JSON.stringify(m, null, 2) + '\n');
  unlinkSync(join(dir, SIGNATURE));
  if (sign) signPackage(dir, keys.privatePem);
  return dir;
}

function options(dir: string, o: Partial<ModelServiceOptions> = {}): ModelServiceOptions {
  return { dir, publicKeyPath: pubPath, statePath: join(root, 'state.json'), engine: 'auto', windowSize: 100, maxBatch: 32, reloadS: 0, ...o };
}

const log = createLogger('silent');

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tinyqa-model-service-'));
  keys = generateKeys();
  pubPath = join(root, 'test.pub');
  writeFileSync(pubPath, keys.publicPem);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ModelService on the shipped pump autoencoder (real worker, real engines)', () => {
  it('scores clean windows below the threshold and a broken one far above, on both engines alike', async () => {
    const results: Record<string, number[]> = {};
    for (const engine of ['tflite', 'onnx'] as const) {
      const s = new ModelService(options(SHIPPED, { publicKeyPath: join(REPO, 'models/keys/tinyqa-models.pub'), statePath: '', engine }), log);
      try {
        await s.start();
        expect(s.label).toBe('pump-ae@1.0.0');
        expect(s.channels).toEqual(['pressure', 'flow', 'motor_temp']);
        expect(s.referenceProfile?.streams.pressure).toBeDefined();
        const ws = pumpWindows(40);
        const clean = await Promise.all(ws.map((w) => s.score(w)));
        const ratios = clean.map((r) => Math.max(...Object.values(r!.ratios)));
        // Thresholds sit at the 99.9th percentile of clean validation windows per channel: nearly all
        // clean windows pass (the simulator run measures the rate over 1 800 windows; here ≤ 5 %).
        expect(ratios.filter((x) => x > 1).length).toBeLessThanOrEqual(2);
        expect([...ratios].sort((a, b) => a - b)[20]!).toBeLessThan(0.75);
        // Flow over-ranging at 312 L/min (the pump scenario's range fault) for the whole window.
        const broken = ws[0]!.map((x, c) => (c === 1 ? new Float64Array(100).fill(312) : x));
        const r = await s.score(broken);
        expect(r!.ratios.flow!).toBeGreaterThan(10);
        results[engine] = ratios;
      } finally {
        await s.close();
      }
    }
    // Same int8 model on two engines: the same window errors (both match the integer reference exactly).
    results.tflite!.forEach((x, i) => expect(results.onnx![i]!).toBeCloseTo(x, 4));
  });

  it('micro-batches windows that arrive while the engine is busy, with the same scores as one at a time', async () => {
    const s = new ModelService(options(SHIPPED, { statePath: '', publicKeyPath: '', engine: 'onnx' }), log);
    try {
      await s.start();
      const ws = pumpWindows(64, 9);
      const one: number[] = [];
      for (const w of ws) one.push((await s.score(w))!.ratios.pressure!);
      expect(s.counters.model_calls).toBe(64);
      const all = await Promise.all(ws.map((w) => s.score(w)));
      expect(s.counters.model_calls).toBeLessThan(64 + 64);
      expect(s.counters.model_batch_max).toBeGreaterThan(1);
      expect(s.counters.model_batch_max).toBeLessThanOrEqual(32);
      all.forEach((r, i) => expect(r!.ratios.pressure!).toBeCloseTo(one[i]!, 6));
    } finally {
      await s.close();
    }
  });

  it('keeps judging through an engine crash: windows in flight go unscored, the model comes back in a fresh worker', async () => {
    const s = new ModelService(options(SHIPPED, { statePath: '', publicKeyPath: '' }), log);
    try {
      await s.start();
      const ws = pumpWindows(8);
      expect(await s.score(ws[0]!)).toBeDefined();
      const inFlight = ws.map((w) => s.score(w));
      await s.crashForTest();
      const during = await Promise.all(inFlight);
      // Whatever was not answered before the crash resolves without a score (judged by rules alone), never rejects.
      expect(during.some((r) => r === undefined)).toBe(true);
      let after: Awaited<ReturnType<typeof s.score>>;
      const t0 = Date.now();
      do after = await s.score(ws[1]!);
      while (after === undefined && Date.now() - t0 < 20_000 && (await new Promise((r) => setTimeout(r, 50)), true));
      expect(after?.name).toBe('pump-ae@1.0.0');
      expect(s.counters.model_failures).toBeGreaterThanOrEqual(1);
      expect(s.counters.model_restarts).toBe(1);
    } finally {
      await s.close();
    }
  });
});

describe('model updates: every tampered package is refused and the last good model stays active', () => {
  const tampered: [string, () => string][] = [
    ['unsigned while a key is configured', () => copyPackage('unsigned', undefined, false)],
    ['one bit flipped in the model file', () => copyPackage('bitflip', (d) => {
      const f = join(d, 'model.tflite');
      const b = readFileSync(f);
      b[b.length >> 1] = b[b.length >> 1]! ^ 0x10;
      writeFileSync(f, b);
    })],
    ['one bit flipped in the alternate (ONNX) file', () => copyPackage('bitflip-onnx', (d) => {
      const f = join(d, 'model.onnx');
      const b = readFileSync(f);
      b[100] = b[100]! ^ 0x01;
      writeFileSync(f, b);
    })],
    ['the manifest changed after signing', () => {
      const d = copyPackage('manifest-edit');
      const f = join(d, MANIFEST);
      writeFileSync(f, readFileSync(f, 'utf8').replace('"version": "1.0.0"', '"version": "1.0.9"'));
      return d;
    }],
    ['signed by another key', () => {
      const d = copyPackage('wrong-key', undefined, false);
      signPackage(d, generateKeys().privatePem);
      return d;
    }],
    ['a truncated model file', () => copyPackage('truncated', (d) => {
      const f = join(d, 'model.tflite');
      writeFileSync(f, readFileSync(f).subarray(0, 1000));
    })],
    ['the manifest of another package beside this model', () => {
      const d = copyPackage('mix');
      cpSync(join(OTHER, MANIFEST), join(d, MANIFEST));
      unlinkSync(join(d, SIGNATURE));
      signPackage(d, keys.privatePem);
      return d;
    }],
    ['an older security version than the one accepted', () => copyPackage('older', (_d, m) => {
      m.version = '0.9.0';
      m.security_version = 0;
    })],
    ['a model for another window size', () => copyPackage('window', (_d, m) => {
      (m.layout as { window: number }).window = 64;
    })],
  ];

  it.each(tampered)('%s', async (_why, make) => {
    const live = copyPackage('live');
    const s = new ModelService(options(live), log);
    try {
      await s.start();
      const w = pumpWindows(1)[0]!;
      const before = await s.score(w);
      // Replace the live package's files with the tampered ones, as an update would.
      const bad = make();
      rmSync(live, { recursive: true });
      cpSync(bad, live, { recursive: true });
      const r = await s.reload();
      expect(r.accepted).toBe(false);
      expect(r.reason).toMatch(/refused/);
      expect(s.counters.model_refused).toBe(1);
      expect(s.label).toBe('pump-ae@1.0.0');
      const after = await s.score(w);
      expect(after!.name).toBe('pump-ae@1.0.0');
      expect(after!.ratios.pressure).toBeCloseTo(before!.ratios.pressure!, 9);
    } finally {
      await s.close();
    }
  });

  it('accepts a newer signed package, swaps it in, and persists its security version across restarts', async () => {
    const state = join(root, 'state-accept.json');
    const live = copyPackage('live-accept');
    const s = new ModelService(options(live, { statePath: state }), log);
    try {
      await s.start();
      const next = copyPackage('next', (_d, m) => {
        m.version = '1.1.0';
        m.security_version = 2;
      });
      rmSync(live, { recursive: true });
      cpSync(next, live, { recursive: true });
      expect(await s.reload()).toEqual({ accepted: true });
      expect(s.label).toBe('pump-ae@1.1.0');
      expect(s.counters.model_updates).toBe(1);
      expect((await s.score(pumpWindows(1)[0]!))!.name).toBe('pump-ae@1.1.0');
    } finally {
      await s.close();
    }
    expect(JSON.parse(readFileSync(state, 'utf8'))).toEqual({ 'pump-ae': 2 });
    // After a restart the old version (security 1) is refused at start: no downgrade by rebooting.
    const old = copyPackage('old-again');
    const s2 = new ModelService(options(old, { statePath: state }), log);
    await expect(s2.start()).rejects.toThrow(/security_version 1 is older than 2/);
    await s2.close();
  });

  it('notices an update on its own when reload_s is set', async () => {
    const live = copyPackage('live-poll');
    const s = new ModelService(options(live, { statePath: '', reloadS: 1 }), log);
    try {
      await s.start();
      const f = join(live, 'model.tflite');
      const b = readFileSync(f);
      b[10] = b[10]! ^ 1;
      writeFileSync(f, b);
      // Only the manifest and signature are watched: touch the manifest as a real update would rewrite it.
      writeFileSync(join(live, MANIFEST), readFileSync(join(live, MANIFEST)));
      const t0 = Date.now();
      while (s.counters.model_refused === 0 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 50));
      expect(s.counters.model_refused).toBe(1);
      expect(s.lastRefusal).toMatch(/sha256/);
      expect(existsSync(live)).toBe(true);
      expect(s.label).toBe('pump-ae@1.0.0');
    } finally {
      await s.close();
    }
  });
});
