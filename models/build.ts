/**
 * Builds the shipped model packages (DESIGN §5), reproducibly from a seed:
 *   train (tfjs, CPU) → fit thresholds on other clean data → int8 post-training quantization →
 *   export TFLite (full int8) and ONNX (QDQ) → golden inputs/outputs checked on both engines →
 *   manifest.json (+ sha256 of every file) → ed25519 signature.
 *
 *   npm run models -- [--seed N] [--only NAME] [--key PRIVATE.pem] [--out DIR]
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SIGNATURE, signPackage, writeManifest, type Manifest } from '../runtime/inference/package.js';
import { loadAny } from '../runtime/inference/registry.js';
import { layoutSizes, windowErrors } from '../runtime/inference/window-model.js';
import { toOnnx } from './export/onnx.js';
import { runQMlpReference } from './export/reference.js';
import { toTflite } from './export/tflite.js';
import { fitModel, type Fitted } from './fit.js';
import { forwardFloat } from './quantize.js';
import { SHIPPED, type ShippedModelSpec } from './specs.js';

export const GOLDEN = 'golden.json';
const GOLDEN_WINDOWS = 8;

export interface BuildReport {
  name: string;
  version: string;
  dir: string;
  seed: number;
  trainWindows: number;
  trainS: number;
  finalLoss: number;
  thresholds: Record<string, number>;
  bytes: { tflite: number; onnx: number };
  /** Largest difference from the integer reference on the golden windows, in output quantization steps. */
  steps: { tflite: number; onnx: number };
  /** How the int8 model tracks the float one on all validation windows. */
  quantVsFloat: { outputRmse: number; outputRms: number; relative: number; errorRatioMedian: number; errorRatioP95: number };
  signed: boolean;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))]!;
}

async function runEngine(bytes: Uint8Array, file: string, x: Float32Array, batch: number): Promise<Float32Array> {
  const m = await loadAny(bytes, file);
  try {
    const name = m.inputs[0]!.name;
    const out = await m.run({ [name]: x.slice() }, m.batching === 'native' || batch === 1 ? batch : batch);
    return Float32Array.from(Object.values(out)[0]!);
  } finally {
    await m.dispose();
  }
}

function stepsOff(a: ArrayLike<number>, b: ArrayLike<number>, scale: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return Math.round(worst * 1000) / 1000;
}

export async function buildPackage(spec: ShippedModelSpec, o: { seed: number; outRoot: string; privatePem?: string; progress?: (m: string) => void }): Promise<BuildReport> {
  const progress = o.progress ?? (() => {});
  const f: Fitted = await fitModel(spec, o.seed, progress);
  const q = f.quant;
  const dir = join(o.outRoot, spec.name, spec.version);
  mkdirSync(dir, { recursive: true });
  const tflite = toTflite(q);
  const onnx = toOnnx(q);
  writeFileSync(join(dir, 'model.tflite'), tflite);
  writeFileSync(join(dir, 'model.onnx'), onnx);

  // Quantized vs float over every validation window: outputs and the window errors that get scored.
  const sz = layoutSizes(f.layout);
  const v = f.valid;
  const floatOut = forwardFloat(f.float, v.input, v.count).at(-1)!;
  const ref = runQMlpReference(q, v.input, v.count).real;
  let se = 0;
  let ss = 0;
  for (let i = 0; i < floatOut.length; i++) {
    se += (ref[i]! - floatOut[i]!) ** 2;
    ss += floatOut[i]! ** 2;
  }
  const ratios: number[] = [];
  for (let i = 0; i < v.count; i++) {
    const ef = windowErrors(f.layout, v.truth, floatOut, i);
    const eq = windowErrors(f.layout, v.truth, ref, i);
    for (const c of Object.keys(ef)) ratios.push(eq[c]! / Math.max(ef[c]!, 1e-12));
  }
  const outputRmse = Math.sqrt(se / floatOut.length);
  const outputRms = Math.sqrt(ss / floatOut.length);

  // Golden windows: evenly spread validation windows; both engines must match the integer reference.
  const pick = Array.from({ length: GOLDEN_WINDOWS }, (_, i) => Math.floor((i * v.count) / GOLDEN_WINDOWS));
  const gx = new Float32Array(GOLDEN_WINDOWS * sz.input);
  pick.forEach((w, i) => gx.set(v.input.subarray(w * sz.input, (w + 1) * sz.input), i * sz.input));
  const expected = runQMlpReference(q, gx, GOLDEN_WINDOWS).real;
  const gFloat = forwardFloat(f.float, gx, GOLDEN_WINDOWS).at(-1)!;
  const onTflite = await runEngine(tflite, 'model.tflite', gx, GOLDEN_WINDOWS);
  const onOnnx = await runEngine(onnx, 'model.onnx', gx, GOLDEN_WINDOWS);
  const outScale = q.layers.at(-1)!.outScale;
  const steps = { tflite: stepsOff(onTflite, expected, outScale), onnx: stepsOff(onOnnx, expected, outScale) };
  if (steps.tflite > 1 || steps.onnx > 1) throw new Error(`${spec.name}: the engines disagree with the integer reference by more than one step (TFLite ${steps.tflite}, ONNX ${steps.onnx})`);
  const rows = (a: Float32Array, n: number) => Array.from({ length: GOLDEN_WINDOWS }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n), (x) => Math.fround(x)));
  const golden = {
    about: 'golden windows: model inputs (normalised, layout as in manifest.json), the int8 reference output, and the float model output; both engines must give `expected` within `tolerance` (one output quantization step)',
    input: q.inputName,
    output: q.outputName,
    tolerance: outScale,
    inputs: rows(gx, sz.input),
    expected: rows(expected, sz.output),
    float: rows(gFloat, sz.output),
  };
  const goldenText = JSON.stringify(golden) + '\n';
  writeFileSync(join(dir, GOLDEN), goldenText);

  const last = q.layers.at(-1)!;
  const manifest: Omit<Manifest, 'model' | 'format' | 'alternates'> & Record<string, unknown> = {
    name: spec.name,
    version: spec.version,
    security_version: spec.securityVersion,
    description: spec.description,
    inputs: [{ name: q.inputName, shape: [1, q.inDim], dtype: 'int8 in TFLite, float32 in ONNX (QDQ inside)', quantization: { scale: q.inScale, zero_point: q.inZeroPoint } }],
    outputs: [{ name: q.outputName, shape: [1, last.outDim], dtype: 'int8 in TFLite, float32 in ONNX', quantization: { scale: last.outScale, zero_point: last.outZeroPoint } }],
    quantization: {
      scheme: `int8 post-training: activations asymmetric per tensor, weights symmetric ${q.layers.every((l) => l.weightScales.every((x) => x === l.weightScales[0])) ? 'with one scale per layer' : 'with one scale per output unit'}, int32 bias`,
      calibration_windows: Math.min(f.trainWindows, 2000),
    },
    layout: f.layout,
    reference_profile: f.profile,
    golden: { file: GOLDEN, sha256: sha256(Buffer.from(goldenText)) },
    training: {
      command: `npm run models -- --seed ${o.seed} --only ${spec.name}`,
      seed: o.seed,
      scenario: spec.scenario,
      train_seconds: spec.trainSeconds,
      valid_seconds: spec.validSeconds,
      epochs: spec.epochs,
      final_loss: f.loss.at(-1),
      layers: spec.layers,
      threshold: `quantile ${spec.thresholdQuantile} of clean validation-window errors × ${spec.thresholdMargin}`,
    },
  };
  writeManifest(dir, { ...(manifest as Omit<Manifest, 'model' | 'format' | 'alternates'>), model: { file: 'model.tflite', format: 'tflite' }, alternates: [{ file: 'model.onnx', format: 'onnx' }] });
  // A rebuilt manifest invalidates any earlier signature: sign again, or leave the package visibly unsigned.
  rmSync(join(dir, SIGNATURE), { force: true });
  if (o.privatePem) signPackage(dir, o.privatePem);
  return {
    name: spec.name,
    version: spec.version,
    dir,
    seed: o.seed,
    trainWindows: f.trainWindows,
    trainS: Math.round(f.trainMs / 100) / 10,
    finalLoss: f.loss.at(-1)!,
    thresholds: f.layout.thresholds,
    bytes: { tflite: tflite.length, onnx: onnx.length },
    steps,
    quantVsFloat: { outputRmse, outputRms, relative: outputRmse / Math.max(outputRms, 1e-12), errorRatioMedian: quantile(ratios, 0.5), errorRatioP95: quantile(ratios, 0.95) },
    signed: !!o.privatePem,
  };
}

const HELP = `Usage: npm run models -- [options]

Trains, quantizes, exports and signs the shipped QA model packages (models/<name>/<version>/), the
same bytes from the same seed.

Options:
  --seed N        training seed (default: 1)
  --only NAME     build one model (${SHIPPED.map((s) => s.name).join(', ')})
  --key FILE      ed25519 private key (PEM) to sign with; without it packages are left unsigned
  --out DIR       where the packages go (default: models)
  --json          print the build reports as one JSON object
  -h, --help      show this help
`;

async function main(): Promise<number> {
  const { values: a } = parseArgs({ options: { seed: { type: 'string' }, only: { type: 'string' }, key: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (a.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const seed = a.seed === undefined ? 1 : Number(a.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be an integer ≥ 0; got ${a.seed}`);
  const specs = a.only ? SHIPPED.filter((s) => s.name === a.only) : SHIPPED;
  if (specs.length === 0) throw new Error(`--only: no shipped model "${a.only}"; choose one of ${SHIPPED.map((s) => s.name).join(', ')}`);
  const privatePem = a.key ? readFileSync(a.key, 'utf8') : undefined;
  const reports: BuildReport[] = [];
  for (const spec of specs) {
    const r = await buildPackage(spec, { seed, outRoot: a.out ?? 'models', ...(privatePem ? { privatePem } : {}), progress: (m) => process.stderr.write(m + '\n') });
    reports.push(r);
    if (!a.json) {
      process.stdout.write(
        `${r.name} ${r.version} → ${r.dir}: ${r.trainWindows} windows, ${r.trainS} s training, final loss ${r.finalLoss.toFixed(5)}\n` +
          `  files: model.tflite ${r.bytes.tflite} B, model.onnx ${r.bytes.onnx} B; ${r.signed ? 'signed' : 'UNSIGNED (no --key)'}\n` +
          `  engines vs int8 reference on golden windows: TFLite ${r.steps.tflite} steps, onnxruntime-web ${r.steps.onnx} steps (≤ 1 required)\n` +
          `  int8 vs float: output RMSE ${r.quantVsFloat.outputRmse.toFixed(4)} (${(100 * r.quantVsFloat.relative).toFixed(1)} % of output RMS); window error int8/float median ${r.quantVsFloat.errorRatioMedian.toFixed(3)}, p95 ${r.quantVsFloat.errorRatioP95.toFixed(3)}\n` +
          `  thresholds: ${Object.entries(r.thresholds).map(([c, t]) => `${c} ${t.toPrecision(4)}`).join(', ')}\n`,
      );
    }
  }
  if (a.json) process.stdout.write(JSON.stringify({ reports }) + '\n');
  return 0;
}

if (process.argv[1] && /models[\\/]build\.ts$/.test(process.argv[1])) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`models: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
