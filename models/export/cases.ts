/**
 * The random QMlps both exporter suites run on real engines: several depths and widths, RELU and
 * linear layers (including a RELU last layer), per-axis and per-tensor weight scales, a 1-wide input
 * like hello_world's, and an input range that does not contain 0 symmetrically.
 */
import type { RandomQMlpSpec } from './random-qmlp.js';

export interface ExportCase {
  label: string;
  spec: RandomQMlpSpec;
  /** Rows of random input run through each engine. */
  rows: number;
}

export const EXPORT_CASES: readonly ExportCase[] = [
  { label: '16→12→6, relu/none, per-axis', spec: { seed: 7, dims: [16, 12, 6], activations: ['relu', 'none'] }, rows: 100 },
  { label: '64→48→32→10, relu/relu/none, per-axis', spec: { seed: 21, dims: [64, 48, 32, 10], activations: ['relu', 'relu', 'none'] }, rows: 100 },
  { label: '64→48→32→10, relu/relu/none, per-tensor', spec: { seed: 21, dims: [64, 48, 32, 10], activations: ['relu', 'relu', 'none'], perTensor: true }, rows: 100 },
  { label: '40→40→40, relu/relu (relu output), per-tensor', spec: { seed: 5, dims: [40, 40, 40], activations: ['relu', 'relu'], perTensor: true, inputRange: [0, 4] }, rows: 100 },
  { label: '8→3, one linear layer, per-axis', spec: { seed: 99, dims: [8, 3], activations: ['none'], inputRange: [-3, 0.5] }, rows: 100 },
  { label: '1→16→16→1, hello_world shape, per-axis', spec: { seed: 42, dims: [1, 16, 16, 1], activations: ['relu', 'relu', 'none'], inputRange: [0, 6.3] }, rows: 100 },
];
