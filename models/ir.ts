/**
 * The toolchain's one model representation between training and export: a stack of int8-quantized
 * dense layers (the shape of every model tinyqa ships, and of the MLPerf Tiny autoencoder).
 *
 * Quantization follows the TFLite int8 scheme, which ONNX QDQ expresses the same way:
 *   real = scale · (q − zero_point)
 *   - activations (the input and every layer's output): int8, asymmetric, one scale/zero point per tensor
 *   - weights: int8, symmetric (zero point 0), one scale per output unit (per-axis, axis 0)
 *   - biases: int32, zero point 0, scale = input scale · weight scale of that output unit
 * A layer computes  y = act(W · x + b)  with W stored [out][in] row-major.
 */

export type Activation = 'none' | 'relu';

export interface QDense {
  inDim: number;
  outDim: number;
  /** int8 weights, [outDim][inDim] row-major. */
  weights: Int8Array;
  /** Per output unit (length outDim). */
  weightScales: Float32Array;
  /** int32 biases with scale inputScale · weightScales[o] and zero point 0. */
  bias: Int32Array;
  activation: Activation;
  /** Quantization of this layer's output (the next layer's input). */
  outScale: number;
  outZeroPoint: number;
}

export interface QMlp {
  /** Graph and tensor name prefix, e.g. "pump_ae". */
  name: string;
  description: string;
  inputName: string;
  outputName: string;
  inDim: number;
  inScale: number;
  inZeroPoint: number;
  layers: QDense[];
}

/** The float model the quantizer starts from: weights [out][in] row-major, biases per output unit. */
export interface FloatDense {
  inDim: number;
  outDim: number;
  weights: Float32Array;
  bias: Float32Array;
  activation: Activation;
}

export interface FloatMlp {
  name: string;
  inDim: number;
  layers: FloatDense[];
}
