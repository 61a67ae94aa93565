import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ErrorCode, TinyqaError, errorMessage } from '../../core/errors.js';
import { acceptSecurityVersion, generateKeys, MANIFEST, signPackage, verifyPackage } from '../../inference/package.js';
import { parse } from '../args.js';

export const MODEL_HELP = `Usage: tinyqa model <verb> [options]

Model packages (DESIGN §5): a folder with the model file, manifest.json (name, semver version,
monotonic security_version, the model file's sha256 and size, inputs/outputs…) and a detached ed25519
signature over the manifest. The runtime refuses unsigned packages when a key is configured, any
changed bit, a wrong key, truncation, a manifest paired with another package's model, and a
security version older than one already accepted.

Verbs:
  keygen --out NAME                 write NAME.pem (private, mode 600) and NAME.pub.pem
  sign DIR --key NAME.pem           sign DIR/manifest.json → DIR/signature.ed25519
  verify DIR [--pub NAME.pub.pem] [--state FILE] [--accept]
                                    check a package; with --state, refuse a security downgrade and
                                    (with --accept) record its security version as accepted
  info DIR|FILE                     print the manifest (of a package) and the model's inputs and
                                    outputs: type, shape and, when the model declares it, the
                                    per-tensor scale/zero point with which run quantizes real inputs
                                    and dequantizes outputs (TFLite int8/uint8; ONNX integer I/O met
                                    by DequantizeLinear/QuantizeLinear); others are raw values
  run FILE|DIR --input JSON [--pub K] run a bare .tflite/.onnx file or a package once: JSON is an array
                                    of numbers (the first input) or an object from input name to array;
                                    prints {"outputs": {name: [numbers]}, "engine", "us"} with --json;
                                    --worker runs it in the inference worker thread, as the runtime does
Options: --json (verify, info), -h/--help
`;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TinyqaError(ErrorCode.UsageInvalid, `cannot read ${what} ${path}: ${errorMessage(e)}`);
  }
}

export async function modelCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '-h' || verb === '--help') {
    process.stdout.write(MODEL_HELP);
    return verb === undefined ? 2 : 0;
  }
  const positional = rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
  const flags = positional ? rest.slice(1) : rest;
  const a = parse(`model ${verb}`, flags, { out: { type: 'string' }, key: { type: 'string' }, pub: { type: 'string' }, state: { type: 'string' }, accept: { type: 'boolean' }, json: { type: 'boolean' }, input: { type: 'string' }, worker: { type: 'boolean' } });
  if (a.help) {
    process.stdout.write(MODEL_HELP);
    return 0;
  }
  switch (verb) {
    case 'keygen': {
      if (typeof a.out !== 'string') throw new TinyqaError(ErrorCode.UsageInvalid, 'model keygen: --out NAME is required');
      if (existsSync(`${a.out}.pem`)) throw new TinyqaError(ErrorCode.UsageInvalid, `model keygen: ${a.out}.pem exists; refusing to overwrite a private key`);
      const k = generateKeys();
      writeFileSync(`${a.out}.pem`, k.privatePem, { mode: 0o600 });
      chmodSync(`${a.out}.pem`, 0o600);
      writeFileSync(`${a.out}.pub.pem`, k.publicPem);
      process.stdout.write(`wrote ${a.out}.pem (private: keep it off the gateway) and ${a.out}.pub.pem\n`);
      return 0;
    }
    case 'sign': {
      if (!positional || typeof a.key !== 'string') throw new TinyqaError(ErrorCode.UsageInvalid, 'model sign: DIR and --key NAME.pem are required');
      signPackage(positional, readText(a.key, 'private key'), a.key);
      process.stdout.write(`signed ${positional}/${MANIFEST}\n`);
      return 0;
    }
    case 'verify': {
      if (!positional) throw new TinyqaError(ErrorCode.UsageInvalid, 'model verify: DIR is required');
      const p = verifyPackage(positional, {
        ...(typeof a.pub === 'string' ? { publicPem: readText(a.pub, 'public key'), keyPath: a.pub } : {}),
        ...(typeof a.state === 'string' ? { state: a.state } : {}),
      });
      if (a.accept && typeof a.state === 'string') acceptSecurityVersion(a.state, p.manifest.name, p.manifest.security_version);
      const out = { ok: true, name: p.manifest.name, version: p.manifest.version, security_version: p.manifest.security_version, signed: p.signed, sha256: p.manifest.model.sha256 };
      process.stdout.write(a.json ? JSON.stringify(out) + '\n' : `ok: ${out.name} ${out.version} (security ${out.security_version}), ${out.signed ? 'signature valid' : 'NOT signed (no --pub given)'}, model sha256 ${out.sha256.slice(0, 16)}…\n`);
      return 0;
    }
    case 'info': {
      if (!positional) throw new TinyqaError(ErrorCode.UsageInvalid, 'model info: DIR or FILE is required');
      const { statSync } = await import('node:fs');
      if (statSync(positional, { throwIfNoEntry: false })?.isFile()) {
        const io = await describeIo(readModelBytes(positional), positional);
        process.stdout.write(a.json ? JSON.stringify({ file: positional, io }) + '\n' : formatIo(io));
        return 0;
      }
      const text = readText(`${positional}/${MANIFEST}`, 'manifest');
      const manifest = JSON.parse(text) as { model?: { file?: unknown; format?: unknown } };
      let io: ModelIo | { error: string };
      try {
        const file = manifest.model?.file;
        if (typeof file !== 'string') throw new Error(`${MANIFEST} names no model file`);
        const format = manifest.model?.format === 'tflite' || manifest.model?.format === 'onnx' ? manifest.model.format : undefined;
        io = await describeIo(readModelBytes(`${positional}/${file}`), file, format);
      } catch (e) {
        io = { error: errorMessage(e) };
      }
      if (a.json) process.stdout.write(JSON.stringify({ ...manifest, io }) + '\n');
      else process.stdout.write(text + (text.endsWith('\n') ? '' : '\n') + ('error' in io ? `model I/O: not read: ${io.error}\n` : formatIo(io)));
      return 0;
    }
    case 'run': {
      if (!positional || typeof a.input !== 'string') throw new TinyqaError(ErrorCode.UsageInvalid, 'model run: FILE|DIR and --input JSON are required', { hint: 'e.g. tinyqa model run model.tflite --input "[1,2,3,4]" --json' });
      let input: number[] | Record<string, number[]>;
      try {
        input = JSON.parse(a.input) as number[] | Record<string, number[]>;
      } catch (e) {
        throw new TinyqaError(ErrorCode.UsageInvalid, `model run: --input is not JSON: ${errorMessage(e)}`);
      }
      const numbers = (x: unknown) => Array.isArray(x) && x.every((v) => typeof v === 'number' && Number.isFinite(v));
      if (!(numbers(input) || (typeof input === 'object' && input !== null && Object.values(input).every(numbers)))) {
        throw new TinyqaError(ErrorCode.UsageInvalid, 'model run: --input must be an array of finite numbers, or an object from input name to such an array');
      }
      const { statSync } = await import('node:fs');
      const { runModel } = await import('../../inference/registry.js');
      let bytes: Uint8Array;
      let name = positional;
      let format: 'tflite' | 'onnx' | undefined;
      if (statSync(positional).isDirectory()) {
        const p = verifyPackage(positional, typeof a.pub === 'string' ? { publicPem: readText(a.pub, 'public key'), keyPath: a.pub } : {});
        bytes = p.modelBytes;
        name = `${p.manifest.name}@${p.manifest.version}`;
        format = p.manifest.model.format;
      } else bytes = new Uint8Array(readFileSync(positional));
      let r: { outputs: Record<string, number[]>; engine: string; us: number };
      if (a.worker) {
        const { InferenceWorker } = await import('../../inference/worker-host.js');
        const w = new InferenceWorker();
        try {
          const m = await w.load(bytes, name, format);
          const feeds: Record<string, Float32Array> = {};
          m.inputs.forEach((io, i) => {
            const given = Array.isArray(input) ? (i === 0 ? input : undefined) : input[io.name];
            if (given) feeds[io.name] = Float32Array.from(given);
          });
          const out = await w.run(m, feeds);
          r = { outputs: Object.fromEntries(Object.entries(out.outputs).map(([k, v]) => [k, Array.from(v)])), engine: `${m.engine}, in a worker thread`, us: out.us };
        } finally {
          await w.close();
        }
      } else r = await runModel(bytes, name, input, format);
      if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        for (const [k, v] of Object.entries(r.outputs)) process.stdout.write(`${k}: [${v.slice(0, 16).map((x) => Number(x.toPrecision(6))).join(', ')}${v.length > 16 ? `, … ${v.length} values` : ''}]\n`);
        process.stdout.write(`${r.engine}, ${r.us} µs\n`);
      }
      return 0;
    }
    default:
      throw new TinyqaError(ErrorCode.UsageInvalid, `model: unknown verb "${verb}"`, { hint: 'verbs: keygen, sign, verify, info, run' });
  }
}

/** One model input/output as `model info` shows it. */
export interface IoInfo {
  name: string;
  type: string;
  shape: (number | string)[] | undefined;
  /** Per-tensor quantization that `model run` applies (real values in/out); absent = raw values. */
  scale?: number;
  zero_point?: number;
  /** Why an integer input/output is left raw, when the model suggests it is quantized. */
  note?: string;
}

export interface ModelIo {
  format: 'tflite' | 'onnx';
  inputs: IoInfo[];
  outputs: IoInfo[];
  /** Set when the model's graph could not be read for I/O details. */
  error?: string;
}

function readModelBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new TinyqaError(ErrorCode.UsageInvalid, `cannot read model ${path}: ${errorMessage(e)}`);
  }
}

/** The model's inputs and outputs from its own bytes (no engine is started): types, shapes, boundary quantization. */
export async function describeIo(bytes: Uint8Array, fileName: string, format?: 'tflite' | 'onnx'): Promise<ModelIo> {
  const { detectFormat } = await import('../../inference/registry.js');
  const fmt = format ?? detectFormat(bytes, fileName);
  if (fmt === 'tflite') {
    const { readTfliteModel } = await import('../../inference/tflite/flatbuffer.js');
    const meta = readTfliteModel(bytes);
    const one = (t: (typeof meta.inputs)[number]): IoInfo => {
      const base: IoInfo = { name: t.name, type: t.type.toLowerCase(), shape: [...t.shape] };
      const q = t.quantization;
      if (!q || t.type === 'FLOAT32') return base;
      // As tflite/engine.ts: per-tensor quantization is applied; per-channel I/O is refused at load.
      if (q.scale.length !== 1 || q.zeroPoint.length !== 1) return { ...base, note: `quantized per channel (${q.scale.length} scales on axis ${q.quantizedDimension}); the TFLite engine refuses such I/O` };
      return { ...base, scale: q.scale[0]!, zero_point: q.zeroPoint[0]! };
    };
    return { format: fmt, inputs: meta.inputs.map(one), outputs: meta.outputs.map(one) };
  }
  const { readOnnxBoundary } = await import('../../inference/onnx/quant-params.js');
  const r = readOnnxBoundary(bytes);
  if (!r.ok) return { format: fmt, inputs: [], outputs: [], error: r.reason };
  const one = (t: (typeof r.boundary.inputs)[number]): IoInfo => ({
    name: t.name,
    type: t.elemType ?? '?',
    shape: t.shape,
    ...(t.quant ? { scale: t.quant.scale, zero_point: t.quant.zeroPoint } : {}),
    ...(t.note ? { note: t.note } : {}),
  });
  return { format: fmt, inputs: r.boundary.inputs.map(one), outputs: r.boundary.outputs.map(one) };
}

/** `model info`'s text: one line per input/output (scales to 7 significant digits, float32's precision; --json has them exact). */
export function formatIo(io: ModelIo): string {
  if (io.error) return `model I/O (${io.format}): graph not read: ${io.error}\n`;
  const line = (kind: 'input' | 'output', t: IoInfo): string => {
    const shape = t.shape ? `[${t.shape.join('×')}]` : '[?]';
    const how =
      t.scale !== undefined
        ? `scale ${Number(t.scale.toPrecision(7))} zero point ${t.zero_point ?? 0}: ${kind === 'input' ? 'takes' : 'gives'} real values`
        : /^u?int/.test(t.type)
          ? `raw integers${t.note ? ` (${t.note})` : ''}`
          : `${t.note ? `(${t.note})` : ''}`;
    return `  ${kind.padEnd(6)} ${t.name}: ${t.type} ${shape}${how ? `, ${how}` : ''}\n`;
  };
  return `model I/O (${io.format}):\n${io.inputs.map((t) => line('input', t)).join('')}${io.outputs.map((t) => line('output', t)).join('')}`;
}
