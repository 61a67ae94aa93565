/**
 * Train → fit thresholds → quantize, for one shipped model spec (models/specs.ts). Pure of file I/O;
 * models/build.ts writes the package.
 */

import { ProfileBuilder, type ReferenceProfile } from '../runtime/qa/profile.js';
import { layoutSizes, prepareWindow, windowErrors, type WindowModelLayout } from '../runtime/inference/window-model.js';
import { getScenario } from '../sim/scenarios/index.js';
import { channelStats, cutWindows, scenarioSeries } from './data.js';
import type { FloatMlp, QMlp } from './ir.js';
import { runQMlpReference } from './export/reference.js';
import { quantizeMlp } from './quantize.js';
import type { ShippedModelSpec } from './specs.js';
import { trainMlp } from './train.js';

export interface Fitted {
  spec: ShippedModelSpec;
  layout: WindowModelLayout;
  float: FloatMlp;
  quant: QMlp;
  profile: ReferenceProfile;
  loss: number[];
  trainMs: number;
  trainWindows: number;
  /** Validation windows (clean, another seed): model inputs, truths, int8-model errors per scored channel. */
  valid: { input: Float32Array; truth: Float32Array; count: number; errors: Record<string, number[]> };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Model inputs and truths for a list of windows. */
export function batchOf(layout: WindowModelLayout, windows: ArrayLike<ArrayLike<number>>[]): { input: Float32Array; truth: Float32Array; count: number } {
  const sz = layoutSizes(layout);
  const input = new Float32Array(windows.length * sz.input);
  const truth = new Float32Array(windows.length * sz.truth);
  windows.forEach((w, i) => prepareWindow(layout, w, input, truth, i));
  return { input, truth, count: windows.length };
}

export async function fitModel(spec: ShippedModelSpec, seed: number, progress: (m: string) => void = () => {}): Promise<Fitted> {
  const scenario = getScenario(spec.scenario);
  const train = scenarioSeries(scenario, seed, spec.trainSeconds);
  const valid = scenarioSeries(scenario, seed + 7919, spec.validSeconds);
  const layout: WindowModelLayout = {
    kind: spec.kind,
    channels: spec.channels,
    window: spec.window,
    ...(spec.kind === 'forecaster' ? { context: spec.context!, horizon: spec.horizon!, target: spec.target! } : {}),
    normalization: channelStats(train, spec.channels),
    thresholds: {},
  };
  const trainWindows = cutWindows(train, spec.channels, spec.window, spec.trainHop);
  const tb = batchOf(layout, trainWindows);
  const sz = layoutSizes(layout);
  progress(`${spec.name}: ${tb.count} training windows of ${sz.input} values from ${spec.trainSeconds} s of clean ${spec.scenario} (seed ${seed})`);
  const t = await trainMlp(
    { name: spec.name, inDim: sz.input, layers: spec.layers, epochs: spec.epochs, batchSize: spec.batchSize, learningRate: spec.learningRate, seed },
    tb.input,
    tb.truth,
    (e, l) => progress(`${spec.name}: epoch ${e}/${spec.epochs} loss ${l.toFixed(5)}`),
  );
  // Calibrate int8 ranges on (a sample of) the training windows.
  const calCount = Math.min(tb.count, 2000);
  const quant = quantizeMlp(t.model, tb.input.subarray(0, calCount * sz.input), calCount, {
    name: spec.name.replace(/-/g, '_'),
    description: `${spec.name} ${spec.version}: ${spec.description}`,
    inputName: 'window',
    outputName: spec.kind === 'autoencoder' ? 'reconstruction' : 'forecast',
    // One weight scale per layer: the TFLite engine's int8 FULLY_CONNECTED runs per-axis weights on a
    // slow reference path (about 8× slower on pump-ae), and per-tensor keeps the int8 output within
    // a few % of the float one for these models (the build reports it).
    perAxis: spec.perAxisWeights ?? false,
  });
  // Thresholds from validation windows (another seed, never the training windows), scored by the int8
  // model exactly as the engines compute it (the integer reference) — that is what runs on the device.
  const vWindows = cutWindows(valid, spec.channels, spec.window, Math.max(1, Math.floor(spec.window / 4)));
  const vb = batchOf(layout, vWindows);
  const out = runQMlpReference(quant, vb.input, vb.count).real;
  const errors: Record<string, number[]> = {};
  for (let i = 0; i < vb.count; i++) for (const [c, e] of Object.entries(windowErrors(layout, vb.truth, out, i))) (errors[c] ??= []).push(e);
  for (const [c, es] of Object.entries(errors)) layout.thresholds[c] = quantile(es, spec.thresholdQuantile) * spec.thresholdMargin;
  const pb = new ProfileBuilder();
  for (const w of trainWindows) spec.channels.forEach((c, i) => pb.add(c, w[i]!));
  return { spec, layout, float: t.model, quant, profile: pb.build(spec.window, `${spec.name} ${spec.version} training data: ${spec.trainSeconds} s of clean ${spec.scenario}, seed ${seed}`), loss: t.loss, trainMs: t.ms, trainWindows: tb.count, valid: { ...vb, errors } };
}
