/**
 * `tinyqa bench inference` produces the documented report. Shapes and sanity only: timings are the
 * bench's business (DESIGN §8: targets are measured by benchmarks, never by timed unit tests).
 */

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toOnnx } from '../../models/export/onnx.js';
import { randomQMlp } from '../../models/export/random-qmlp.js';
import { toTflite } from '../../models/export/tflite.js';
import { writeManifest } from '../../runtime/inference/package.js';
import { benchInference, type InferenceBenchReport } from './inference.js';

const AD01 = new URL('../../../shared/fixtures/models/mlperf_tiny_ad01_int8/ad01_int8.tflite', import.meta.url);
const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** A stand-in for the shipped package (same layer widths as pump-ae), so the test does not depend on `npm run models`. */
function standInPackage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tinyqa-bench-pkg-'));
  const q = randomQMlp({ seed: 7, dims: [300, 48, 12, 48, 300], activations: ['relu', 'relu', 'relu', 'none'], inputRange: [-3, 3] });
  writeFileSync(join(dir, 'model.tflite'), toTflite(q));
  writeFileSync(join(dir, 'model.onnx'), toOnnx(q));
  writeManifest(dir, { name: 'pump-ae', version: '1.0.0', security_version: 1, model: { file: 'model.tflite', format: 'tflite' }, alternates: [{ file: 'model.onnx', format: 'onnx' }] });
  return dir;
}

describe('bench inference', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('reports µs per window per engine and batch, the DESIGN §8 ratios, cold loads and resident memory', async () => {
    const pkg = standInPackage();
    dirs.push(pkg);
    const r: InferenceBenchReport = JSON.parse(JSON.stringify(await benchInference({ runs: 1, runMs: 2, warmupMs: 2, batches: [1, 8], coldRuns: 1, packageDir: pkg, ad01: false })));
    const engines = r.native.available ? ['onnxruntime-node', 'onnxruntime-web', 'tflite-wasm'] : ['onnxruntime-web', 'tflite-wasm'];

    expect(r.rows.map((x) => `${x.model} ${x.engine} ${x.batch}`).sort()).toEqual(engines.flatMap((e) => [`pump-ae ${e} 1`, `pump-ae ${e} 8`]).sort());
    for (const row of r.rows) {
      expect(positive(row.us_per_window), JSON.stringify(row)).toBe(true);
      expect(row.batching).toBe(row.engine === 'tflite-wasm' ? 'loop' : 'native');
    }
    expect(r.ratios?.model).toBe('pump-ae');
    expect(positive(r.ratios?.tflite_vs_web)).toBe(true);
    if (r.native.available) expect(positive(r.ratios?.web_vs_native)).toBe(true);
    else expect(r.notes.join('\n')).toMatch(/onnxruntime-node is not available/);
    // The engines computed the same model (within a few int8 steps of the output scale) before being timed.
    expect(r.models[0]!.agreement.tflite_vs_web).toBeLessThan(0.5);

    expect(r.cold_load.map((c) => c.engine).sort()).toEqual([...engines].sort());
    for (const c of r.cold_load) expect(positive(c.ms) && positive(c.rss_mb)).toBe(true);
    if ('unavailable' in r.memory) throw new Error(`memory not measured: ${r.memory.unavailable}`);
    const m = r.memory;
    for (const x of [m.baseline_mb, m.tflite_active_mb, m.both_engines_mb, m.max_mb, m.worker_first_result_ms.tflite, m.worker_first_result_ms.onnx]) expect(positive(x)).toBe(true);
    expect(m.both_engines_mb).toBeGreaterThan(m.baseline_mb);
    expect(typeof m.meets.tflite_active_mb).toBe('boolean');
    expect(r.targets).toMatchObject({ web_vs_native: 1.5, tflite_vs_web: 1.5 });
  }, 60_000);

  it.skipIf(!existsSync(AD01))('says how to build a missing shipped package and reports AD01 converted by the toolchain instead', async () => {
    const r = await benchInference({ runs: 1, runMs: 2, warmupMs: 2, batches: [1], packageDir: join(tmpdir(), 'tinyqa-no-such-package'), fresh: false });
    expect(r.notes.join('\n')).toMatch(/npm run models/);
    expect(r.ratios?.model).toBe('mlperf-tiny-ad01');
    expect(positive(r.ratios?.tflite_vs_web)).toBe(true);
    expect(r.models[0]!.files.onnx).toMatch(/converted/);
    expect(r.memory).toEqual({ unavailable: expect.stringMatching(/not requested/) });
  }, 30_000);
});
