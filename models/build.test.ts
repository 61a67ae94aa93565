/**
 * The model toolchain's promises (DESIGN §5): a package is a pure function of its spec and seed —
 * the same bytes on every build — and the packages we ship verify with the committed public key and
 * reproduce their golden outputs on both engines.
 */

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeys, MANIFEST, SIGNATURE, verifyPackage, type Manifest } from '../runtime/inference/package.js';
import { loadAny } from '../runtime/inference/registry.js';
import { layoutSizes, parseLayout } from '../runtime/inference/window-model.js';
import { parseProfile } from '../runtime/qa/profile.js';
import { buildPackage, GOLDEN, type BuildReport } from './build.js';
import { SHIPPED, type ShippedModelSpec } from './specs.js';

const MODELS = fileURLToPath(new URL('.', import.meta.url));
const PUBLIC_KEY = join(MODELS, 'keys', 'tinyqa-models.pub');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * A shipped spec cut down to seconds of training: the same scenario, layout and pipeline, 25 s of
 * data, two epochs and one narrow hidden layer (the output width is the layout's, so it stays).
 */
function tiny(spec: ShippedModelSpec): ShippedModelSpec {
  return { ...spec, trainSeconds: 25, validSeconds: 20, epochs: 2, layers: [{ units: 8, activation: 'relu' }, spec.layers.at(-1)!] };
}

describe('npm run models: reproducible builds', () => {
  const roots: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'tinyqa-build-'));
    roots.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of roots) rmSync(d, { recursive: true, force: true });
  });

  const files = (r: BuildReport) => ({
    tflite: readFileSync(join(r.dir, 'model.tflite')),
    onnx: readFileSync(join(r.dir, 'model.onnx')),
    manifest: JSON.parse(readFileSync(join(r.dir, MANIFEST), 'utf8')) as Manifest,
    signature: readFileSync(join(r.dir, SIGNATURE), 'utf8'),
  });

  it.each(SHIPPED.map((s) => [s.name, s] as const))('builds byte-identical %s packages from the same seed and different ones from another seed', async (_name, spec) => {
    const keys = generateKeys();
    const build = (seed: number) => buildPackage(tiny(spec), { seed, outRoot: tmp(), privatePem: keys.privatePem });
    const a = await build(5);
    const b = await build(5);
    const c = await build(6);
    const [fa, fb, fc] = [files(a), files(b), files(c)];

    expect(a.dir).not.toBe(b.dir);
    expect(sha256(fa.tflite)).toBe(sha256(fb.tflite));
    expect(sha256(fa.onnx)).toBe(sha256(fb.onnx));
    expect(fa.manifest.model.sha256).toBe(fb.manifest.model.sha256);
    expect(fa.manifest.alternates).toEqual(fb.manifest.alternates);
    expect(fa.manifest).toEqual(fb.manifest);
    // ed25519 signatures are deterministic: the same manifest bytes, the same signature.
    expect(fa.signature).toBe(fb.signature);
    expect(readFileSync(join(a.dir, GOLDEN), 'utf8')).toBe(readFileSync(join(b.dir, GOLDEN), 'utf8'));

    expect(sha256(fc.tflite)).not.toBe(sha256(fa.tflite));
    expect(sha256(fc.onnx)).not.toBe(sha256(fa.onnx));
    expect(fc.manifest.model.sha256).not.toBe(fa.manifest.model.sha256);
    expect(fc.manifest.training).toMatchObject({ seed: 6, command: `npm run models -- --seed 6 --only ${spec.name}` });

    for (const r of [a, b, c]) {
      // Both engines agree with the integer reference to within one output quantization step.
      expect(r.steps.tflite).toBeLessThanOrEqual(1);
      expect(r.steps.onnx).toBeLessThanOrEqual(1);
      expect(r.signed).toBe(true);
      expect(Object.keys(r.thresholds).length).toBeGreaterThan(0);
      // The package verifies with the key it was signed with, in either format.
      expect(verifyPackage(r.dir, { publicPem: keys.publicPem, format: 'tflite' }).file.format).toBe('tflite');
      expect(verifyPackage(r.dir, { publicPem: keys.publicPem, format: 'onnx' }).file.format).toBe('onnx');
    }
  }, 60_000);
});

interface Golden {
  input: string;
  output: string;
  tolerance: number;
  inputs: number[][];
  expected: number[][];
  float: number[][];
}

/** Runs every golden row as one batch on the engine of `bytes` (the registry: STYLE §10). */
async function runGolden(bytes: Uint8Array, file: string, g: Golden): Promise<Float64Array> {
  const m = await loadAny(bytes, file);
  try {
    const out = await m.run({ [g.input]: Float32Array.from(g.inputs.flat()) }, g.inputs.length);
    const y = out[g.output];
    if (!y) throw new Error(`${file}: no output "${g.output}" (it has ${Object.keys(out).join(', ')})`);
    return Float64Array.from(y);
  } finally {
    await m.dispose();
  }
}

describe.each(SHIPPED.map((s) => [`${s.name} ${s.version}`, s] as const))('the shipped package %s', (_label, spec) => {
  const dir = join(MODELS, spec.name, spec.version);
  const publicPem = readFileSync(PUBLIC_KEY, 'utf8');

  it('verifies with the committed public key, and its manifest describes the spec it was built from', () => {
    const pkg = verifyPackage(dir, { publicPem, keyPath: PUBLIC_KEY });
    expect(pkg.signed).toBe(true);
    expect(pkg.file.format).toBe('tflite');
    expect(pkg.manifest.alternates?.map((f) => f.format)).toEqual(['onnx']);
    expect(verifyPackage(dir, { publicPem, format: 'onnx' }).file.file).toBe('model.onnx');
    const m = pkg.manifest;
    expect([m.name, m.version, m.security_version]).toEqual([spec.name, spec.version, spec.securityVersion]);
    expect(m.training).toMatchObject({ scenario: spec.scenario, train_seconds: spec.trainSeconds, valid_seconds: spec.validSeconds, epochs: spec.epochs, layers: spec.layers });

    const layout = parseLayout(m.layout, `${dir}/${MANIFEST}`);
    expect(layout.kind).toBe(spec.kind);
    expect(layout.channels).toEqual(spec.channels);
    expect(layout.window).toBe(spec.window);
    expect(Object.keys(layout.thresholds)).toEqual(spec.kind === 'forecaster' ? [spec.target] : spec.channels);
    const profile = parseProfile(m.reference_profile, `${dir}/${MANIFEST} reference_profile`);
    expect(Object.keys(profile.streams).sort()).toEqual([...spec.channels].sort());
    expect(profile.window).toBe(spec.window);
  });

  it("carries golden windows whose sha256 is the manifest's, and both engines give their expected outputs within one step", async () => {
    const pkg = verifyPackage(dir, { publicPem, format: 'tflite' });
    const onnx = verifyPackage(dir, { publicPem, format: 'onnx' });
    const golden = pkg.manifest.golden as { file: string; sha256: string };
    expect(golden.file).toBe(GOLDEN);
    const text = readFileSync(join(dir, golden.file));
    expect(sha256(text)).toBe(golden.sha256);
    const g = JSON.parse(text.toString('utf8')) as Golden;

    const layout = parseLayout(pkg.manifest.layout, dir);
    const sz = layoutSizes(layout);
    const rows = g.inputs.length;
    expect(rows).toBeGreaterThanOrEqual(8);
    expect(g.inputs.every((r) => r.length === sz.input)).toBe(true);
    expect(g.expected.every((r) => r.length === sz.output)).toBe(true);
    expect(g.float).toHaveLength(rows);
    // The tolerance is one output quantization step (the manifest's output scale).
    expect(g.tolerance).toBe((pkg.manifest.outputs as { quantization: { scale: number } }[])[0]!.quantization.scale);

    const expected = g.expected.flat();
    for (const [file, bytes] of [[pkg.file.file, pkg.modelBytes], [onnx.file.file, onnx.modelBytes]] as const) {
      const y = await runGolden(bytes, file, g);
      expect(y.length, file).toBe(expected.length);
      let worst = 0;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i]! - expected[i]!));
      // float32 rounding of the stored values aside, within one step.
      expect(worst / g.tolerance, `${file}: largest deviation in output steps`).toBeLessThanOrEqual(1 + 1e-4);
    }

    // The int8 model tracks the float one it was quantized from (measured on the golden
    // rows: pump-ae 1.7 %, air-forecaster 6.7 % of the float output's RMS; both engines 0 steps off).
    const float = g.float.flat();
    let se = 0;
    let ss = 0;
    for (let i = 0; i < float.length; i++) {
      se += (expected[i]! - float[i]!) ** 2;
      ss += float[i]! ** 2;
    }
    expect(Math.sqrt(se / ss), 'relative RMSE of the int8 outputs against the float model').toBeLessThan(0.1);
  });
});
