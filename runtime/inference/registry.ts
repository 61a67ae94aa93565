/**
 * Engines are registered, not imported everywhere (STYLE §10): the model's format picks the engine,
 * and each engine module is loaded only when a model of its format is, so a device pays only for the
 * engines its models use (DESIGN §8, memory).
 */

import { ErrorCode, TinyqaError } from '../core/errors.js';
import type { OnnxTensorQuant } from './onnx/quant-params.js';

export type ModelFormat = 'tflite' | 'onnx';

export interface RunResult {
  outputs: Record<string, number[]>;
  engine: string;
  /** Microseconds of the inference call alone (no load). */
  us: number;
}

/** The format of model bytes, from their content (TFLite's "TFL3" identifier) or the file name. */
export function detectFormat(bytes: Uint8Array, fileName = ''): ModelFormat {
  if (bytes.length >= 8 && String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!) === 'TFL3') return 'tflite';
  if (/\.onnx$/i.test(fileName)) return 'onnx';
  if (/\.tflite$/i.test(fileName)) return 'tflite';
  // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
  if (bytes[0] === 0x08) return 'onnx';
  throw new TinyqaError(ErrorCode.ModelInvalid, `cannot tell the format of ${fileName || 'the model'}: neither a TFLite flatbuffer ("TFL3") nor an ONNX model`, { hint: 'name the file .tflite or .onnx' });
}

const product = (dims: ReadonlyArray<number | string>, fallback: number) => dims.reduce<number>((a, d) => a * (typeof d === 'number' && d > 0 ? d : 1), 1) || fallback;

/**
 * Runs a model once on real-valued inputs: an array for the first (or only) input, or an object from
 * input name to array. TFLite int8/uint8 inputs are quantized with the model's own scale and zero
 * point and outputs dequantized; so are ONNX integer inputs consumed by DequantizeLinear and integer
 * outputs produced by QuantizeLinear (per-tensor scale/zero point from the graph's constants); other
 * ONNX inputs are passed as raw values of the element type the model declares.
 */
export async function runModel(bytes: Uint8Array, name: string, input: number[] | Record<string, number[]>, format = detectFormat(bytes, name)): Promise<RunResult> {
  const m = await loadAny(bytes, name, format);
  try {
    const feeds: Record<string, Float32Array> = {};
    m.inputs.forEach((io, i) => {
      const given = Array.isArray(input) ? (i === 0 ? input : undefined) : input[io.name];
      if (!given) throw new TinyqaError(ErrorCode.InputMismatch, `model ${name}: no values for input "${io.name}"`, { hint: `inputs: ${m.inputs.map((x) => `${x.name} [${x.shape}]`).join(', ')}` });
      feeds[io.name] = Float32Array.from(given);
    });
    const t0 = performance.now();
    const out = await m.run(feeds);
    const us = Math.round((performance.now() - t0) * 1000);
    return { outputs: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v)])), engine: m.engine, us };
  } finally {
    await m.dispose();
  }
}

/** A loaded model behind one interface, whatever its engine: real-valued inputs by name, outputs by name. */
export interface LoadedModel {
  engine: string;
  /** Each input's name, element count (0 when the model leaves it open) and shape for messages. */
  inputs: { name: string; size: number; shape: string }[];
  /**
   * Runs `batch` windows at once (default 1): each input holds `batch` rows back to back, and so does
   * each output. Outputs as real values: float32 from TFLite (dequantized), float64 from ONNX (exact
   * for raw integer outputs; outputs of a boundary QuantizeLinear are dequantized, see `quantization`).
   */
  run(inputs: Record<string, Float32Array>, batch?: number): Promise<Record<string, Float32Array | Float64Array>>;
  /** How a batch runs: one engine call for the whole batch, or one call per row (the engine has fixed shapes). */
  readonly batching: 'native' | 'loop';
  dispose(): Promise<void>;
  /**
   * The per-tensor quantization applied at the model's boundary, by input/output name (real values
   * in, real values out for these), and notes on integer inputs/outputs left raw. Set by the ONNX
   * engine; TFLite models carry theirs in the engine (tflite/engine.ts).
   */
  readonly quantization?: BoundaryQuantization;
}

export interface IoQuantization {
  scale: number;
  zeroPoint: number;
}

export interface BoundaryQuantization {
  inputs: Record<string, IoQuantization>;
  outputs: Record<string, IoQuantization>;
  /** Why an integer input/output met by a DequantizeLinear/QuantizeLinear stays raw, one line each. */
  notes: string[];
}

export async function loadAny(bytes: Uint8Array, name: string, format = detectFormat(bytes, name)): Promise<LoadedModel> {
  if (format === 'tflite') {
    const { loadTfliteModel } = await import('./tflite/engine.js');
    const m = await loadTfliteModel(bytes, name);
    return {
      engine: 'tflite-wasm (tfjs-tflite)',
      inputs: m.inputs.map((io) => ({ name: io.name, size: io.size, shape: io.shape.join('×') })),
      // The TFLite web runner has no input resize: its shapes are fixed at conversion, so a batch is
      // one invoke per row, all inside one worker message (the message cost is still paid once).
      batching: 'loop',
      async run(inputs, batch = 1) {
        const arrays = m.inputs.map((io) => {
          const x = inputs[io.name];
          if (!x) throw new TinyqaError(ErrorCode.InputMismatch, `model ${name}: no values for input "${io.name}"`);
          if (x.length !== io.size * batch) throw new TinyqaError(ErrorCode.InputMismatch, `model ${name}: input "${io.name}" needs ${io.size} values (${io.shape.join('×')}) per row × ${batch}; got ${x.length}`);
          return x;
        });
        if (batch === 1) {
          const out = m.run(arrays);
          return Object.fromEntries(m.outputs.map((io, i) => [io.name, out[i]!]));
        }
        const outs = m.outputs.map((io) => new Float32Array(io.size * batch));
        const rows = m.inputs.map((io) => new Float32Array(io.size));
        const into = m.outputs.map((io) => new Float32Array(io.size));
        for (let b = 0; b < batch; b++) {
          m.inputs.forEach((io, i) => rows[i]!.set(arrays[i]!.subarray(b * io.size, (b + 1) * io.size)));
          const out = m.run(rows, into);
          m.outputs.forEach((io, i) => outs[i]!.set(out[i]!, b * io.size));
        }
        return Object.fromEntries(m.outputs.map((io, i) => [io.name, outs[i]!]));
      },
      async dispose() {
        m.dispose();
      },
    };
  }
  const { loadOnnxModel } = await import('./onnx/engine.js');
  const { readOnnxBoundary, quantizeLinear, dequantizeLinear } = await import('./onnx/quant-params.js');
  const m = await loadOnnxModel(bytes, name);
  // Quantization at the boundary, matched to the session's inputs/outputs by name and element type;
  // a graph the reader cannot follow (the engine loaded it, so this is rare) keeps everything raw.
  const boundary = readOnnxBoundary(bytes);
  const quant: BoundaryQuantization = { inputs: {}, outputs: {}, notes: boundary.ok ? [] : [`quantization not read (${boundary.reason}): integer inputs and outputs are raw`] };
  const inQ = new Map<string, OnnxTensorQuant>();
  const outQ = new Map<string, OnnxTensorQuant>();
  if (boundary.ok) {
    for (const [kind, ios, tensors, into] of [['input', m.inputs, boundary.boundary.inputs, inQ], ['output', m.outputs, boundary.boundary.outputs, outQ]] as const) {
      for (const t of tensors) {
        const io = ios.find((x) => x.name === t.name);
        if (!io) continue;
        if (t.note) quant.notes.push(`${kind} "${t.name}": ${t.note}`);
        if (t.quant && io.type === t.quant.type) {
          into.set(t.name, t.quant);
          quant[kind === 'input' ? 'inputs' : 'outputs'][t.name] = { scale: t.quant.scale, zeroPoint: t.quant.zeroPoint };
        }
      }
    }
  }
  // A symbolic (or -1) first dimension takes the whole batch in one call.
  const batching: 'native' | 'loop' = m.inputs.every((io) => io.shape && io.shape.length > 0 && !(typeof io.shape[0] === 'number' && io.shape[0] > 0)) ? 'native' : 'loop';
  return {
    engine: 'onnxruntime-web (wasm, 1 thread)',
    inputs: m.inputs.map((io) => ({ name: io.name, size: io.shape ? product(io.shape, 0) : 0, shape: io.shape ? io.shape.join('×') : '?' })),
    batching,
    quantization: quant,
    async run(inputs, batch = 1) {
      if (batch !== 1 && batching === 'loop') throw new TinyqaError(ErrorCode.InputMismatch, `model ${name}: its first input dimension is fixed, so it cannot take a batch of ${batch}`, { hint: 'export it with a symbolic batch dimension, or run one window per call' });
      const feeds: Record<string, { data: Float32Array | Int8Array | Uint8Array | Int32Array; dims: number[] }> = {};
      for (const io of m.inputs) {
        const x = inputs[io.name];
        if (!x) throw new TinyqaError(ErrorCode.InputMismatch, `model ${name}: no values for input "${io.name}"`);
        const dims = io.shape ? io.shape.map((d, i) => (i === 0 && batch !== 1 ? batch : typeof d === 'number' && d > 0 ? d : 1)) : [x.length];
        if (product(dims, x.length) !== x.length) throw new TinyqaError(ErrorCode.InputMismatch, `model ${name}: input "${io.name}" needs ${product(dims, 0)} values (${dims.join('×')}); got ${x.length}`);
        const q = inQ.get(io.name);
        const convert = q ? (v: number) => quantizeLinear(v, q) : Math.round;
        const data = io.type === 'int8' ? Int8Array.from(x, convert) : io.type === 'uint8' ? Uint8Array.from(x, convert) : io.type === 'int32' ? Int32Array.from(x, convert) : x;
        feeds[io.name] = { data, dims };
      }
      const out = await m.run(feeds);
      return Object.fromEntries(
        Object.entries(out).map(([k, v]) => {
          const q = outQ.get(k);
          return [k, q && v.type === q.type ? Float64Array.from(v.data as ArrayLike<number>, (e) => dequantizeLinear(e, q)) : v.data instanceof BigInt64Array || v.data instanceof BigUint64Array ? Float64Array.from(v.data, Number) : new Float64Array(v.data as ArrayLike<number>)];
        }),
      );
    },
    dispose: () => m.dispose(),
  };
}
