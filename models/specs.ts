/**
 * The models tinyqa ships, as data: what each learns from which scenario, its layout (how it sees a
 * window: runtime/inference/window-model.ts), its network and its training budget. `npm run models`
 * builds every one of them from these lines and a seed.
 */

import type { Activation } from './ir.js';

export interface ShippedModelSpec {
  name: string;
  version: string;
  securityVersion: number;
  description: string;
  scenario: string;
  kind: 'autoencoder' | 'forecaster';
  channels: string[];
  window: number;
  context?: number;
  horizon?: number;
  target?: string;
  layers: { units: number; activation: Activation }[];
  /** Seconds of clean scenario signal to train on, and to fit thresholds on (another seed). */
  trainSeconds: number;
  validSeconds: number;
  /** Samples between training windows (the runtime's hop is window/2; denser windows = more data). */
  trainHop: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Threshold = this quantile of the validation errors × margin. */
  thresholdQuantile: number;
  thresholdMargin: number;
  /** One int8 weight scale per output unit instead of per layer (default false: see models/fit.ts). */
  perAxisWeights?: boolean;
}

export const SHIPPED: ShippedModelSpec[] = [
  {
    name: 'pump-ae',
    version: '1.0.0',
    securityVersion: 1,
    description: 'pump skid autoencoder: reconstructs 100-sample windows of pressure, flow and motor temperature; per-channel reconstruction error scores anomalies',
    scenario: 'pump',
    kind: 'autoencoder',
    channels: ['pressure', 'flow', 'motor_temp'],
    window: 100,
    layers: [
      { units: 48, activation: 'relu' },
      { units: 12, activation: 'relu' },
      { units: 48, activation: 'relu' },
      { units: 300, activation: 'none' },
    ],
    trainSeconds: 600,
    validSeconds: 300,
    trainHop: 16,
    epochs: 24,
    batchSize: 64,
    learningRate: 0.002,
    thresholdQuantile: 0.999,
    thresholdMargin: 1.0,
  },
  {
    name: 'air-forecaster',
    version: '1.0.0',
    securityVersion: 1,
    description: 'compressed-air header pressure forecaster: predicts the next 2 s of pressure from 8 s of demand flow and compressor power; leaks show as residuals',
    scenario: 'compressed-air',
    kind: 'forecaster',
    channels: ['flow', 'compressor_kw', 'pressure'],
    window: 100,
    context: 80,
    horizon: 20,
    target: 'pressure',
    layers: [
      { units: 32, activation: 'relu' },
      { units: 16, activation: 'relu' },
      { units: 20, activation: 'none' },
    ],
    trainSeconds: 3600,
    validSeconds: 1800,
    trainHop: 5,
    epochs: 30,
    batchSize: 64,
    learningRate: 0.002,
    thresholdQuantile: 0.99,
    thresholdMargin: 1.0,
  },
];
