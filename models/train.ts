/**
 * Trains a dense network with TensorFlow.js on its pure-JavaScript CPU backend (no native addon, so
 * training runs wherever `npm ci` ran). Reproducible: weights start from seeded Glorot initialisers,
 * batches are shuffled by our own seeded generator, and the CPU kernels are deterministic — the same
 * seed and data give the same float weights, bit for bit, on the same Node version.
 */

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../sim/random.js';
import type { Activation, FloatMlp } from './ir.js';

export interface TrainSpec {
  name: string;
  inDim: number;
  /** Widths and activations of every dense layer, the last one being the output. */
  layers: { units: number; activation: Activation }[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export interface TrainResult {
  model: FloatMlp;
  /** Mean squared error on the training set after each epoch. */
  loss: number[];
  ms: number;
}

let ready: Promise<void> | undefined;
function backend(): Promise<void> {
  // PROD silences tfjs's console advice to install its native backend (we use the JS one on purpose).
  ready ??= tf.setBackend('cpu').then(() => tf.env().set('PROD', true));
  return ready;
}

/** Fits x → y (rows of inDim and outDim values) by mean squared error with Adam. */
export async function trainMlp(spec: TrainSpec, x: Float32Array, y: Float32Array, onEpoch?: (epoch: number, loss: number) => void): Promise<TrainResult> {
  await backend();
  const n = x.length / spec.inDim;
  const outDim = spec.layers.at(-1)!.units;
  if (!Number.isInteger(n) || y.length !== n * outDim) throw new Error(`training data: ${x.length} inputs and ${y.length} targets do not make whole rows of ${spec.inDim} and ${outDim}`);
  const t0 = performance.now();
  const net = tfl.sequential();
  spec.layers.forEach((l, i) =>
    net.add(
      tfl.layers.dense({
        units: l.units,
        activation: l.activation === 'relu' ? 'relu' : 'linear',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: spec.seed * 1000 + i }),
        biasInitializer: 'zeros',
        ...(i === 0 ? { inputShape: [spec.inDim] } : {}),
      }),
    ),
  );
  net.compile({ optimizer: tf.train.adam(spec.learningRate), loss: 'meanSquaredError' });
  const rng = new Rng(spec.seed);
  const order = Array.from({ length: n }, (_, i) => i);
  const loss: number[] = [];
  const xb = new Float32Array(n * spec.inDim);
  const yb = new Float32Array(n * outDim);
  for (let epoch = 0; epoch < spec.epochs; epoch++) {
    // Fisher–Yates with our generator: tfjs's own shuffle uses Math.random.
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.forEach((r, k) => {
      xb.set(x.subarray(r * spec.inDim, (r + 1) * spec.inDim), k * spec.inDim);
      yb.set(y.subarray(r * outDim, (r + 1) * outDim), k * outDim);
    });
    const xt = tf.tensor2d(xb, [n, spec.inDim]);
    const yt = tf.tensor2d(yb, [n, outDim]);
    const h = await net.fit(xt, yt, { epochs: 1, batchSize: spec.batchSize, shuffle: false, verbose: 0 });
    xt.dispose();
    yt.dispose();
    const l = h.history.loss![0] as number;
    loss.push(l);
    onEpoch?.(epoch + 1, l);
  }
  const model: FloatMlp = {
    name: spec.name,
    inDim: spec.inDim,
    layers: net.layers.map((layer, i) => {
      const [kernel, bias] = layer.getWeights();
      const inDim = kernel!.shape[0]!;
      const outDimL = kernel!.shape[1]!;
      const k = kernel!.dataSync() as Float32Array; // [in][out]
      const weights = new Float32Array(inDim * outDimL);
      for (let o = 0; o < outDimL; o++) for (let j = 0; j < inDim; j++) weights[o * inDim + j] = k[j * outDimL + o]!;
      return { inDim, outDim: outDimL, weights, bias: Float32Array.from(bias!.dataSync() as Float32Array), activation: spec.layers[i]!.activation };
    }),
  };
  net.dispose();
  return { model, loss, ms: performance.now() - t0 };
}
