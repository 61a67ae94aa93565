import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isTinyqaError } from '../../core/errors.js';
import { loadOnnxModel, OnnxErrorCode, type OnnxData, type OnnxModel } from './engine.js';
import { readTensorProto, type DecodedTensor } from './tensor-proto.js';

/** Fixtures live beside the repository: <repo>/../shared/fixtures/models (this file is <repo>/runtime/inference/onnx/). */
/** Elements as plain numbers, for comparisons (int64 values here are small). */
const values = (d: OnnxData): number[] => Array.from(d as ArrayLike<number | bigint>, (v) => Number(v));

const MODELS = fileURLToPath(new URL('../../../../shared/fixtures/models/', import.meta.url));
const present = existsSync(join(MODELS, 'onnx_backend_node_quant'));
if (!present) console.warn(`ONNX conformance tests skipped: fixtures not found at ${MODELS}`);

/** Nothing may be downloaded at run time: any fetch (e.g. of the .wasm) fails the test that caused it. */
const fetches: string[] = [];
vi.stubGlobal('fetch', (url: unknown) => {
  fetches.push(String(url));
  return Promise.reject(new Error(`network access attempted: ${String(url)}`));
});
afterAll(() => {
  vi.unstubAllGlobals();
});

/** ONNX backend test tolerance (onnx/backend/test/runner: np.testing.assert_allclose(rtol=1e-3, atol=1e-7)). */
const RTOL = 1e-3;
const ATOL = 1e-7;

function tests(folder: string): string[] {
  return present ? readdirSync(join(MODELS, folder)).filter((t) => t.startsWith('test_')).sort() : [];
}

function dataSet(dir: string, kind: 'input' | 'output'): DecodedTensor[] {
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${kind}_`) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(kind.length + 1, -3)) - Number(b.slice(kind.length + 1, -3)));
  return files.map((f) => readTensorProto(new Uint8Array(readFileSync(join(dir, f))), join(dir, f)));
}

/** Largest violation of |got − want| ≤ atol + rtol·|want|; 0 when all elements pass. Integers must match exactly. */
function mismatch(got: OnnxData, want: DecodedTensor['data'], float: boolean): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = Number(got[i]!);
    const w = Number(want[i]!);
    const excess = float ? Math.abs(g - w) - (ATOL + RTOL * Math.abs(w)) : g === w ? 0 : Math.abs(g - w);
    if (!(excess <= 0)) worst = Math.max(worst, Number.isNaN(excess) ? Infinity : excess);
  }
  return worst;
}

async function conformance(folder: string, test: string): Promise<void> {
  const dir = join(MODELS, folder, test);
  const model = await loadOnnxModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), `${folder}/${test}`);
  try {
    const inputs = dataSet(join(dir, 'test_data_set_0'), 'input');
    const expected = dataSet(join(dir, 'test_data_set_0'), 'output');
    expect(model.inputs.map((i) => i.name)).toEqual(inputs.map((t) => t.name));
    const feeds = Object.fromEntries(inputs.map((t) => [t.name, { data: t.data, dims: t.dims }]));
    const got = await model.run(feeds);
    for (const want of expected) {
      const out = got[want.name];
      expect(out, `output ${want.name}`).toBeDefined();
      expect(out!.type).toBe(want.type);
      expect(out!.dims).toEqual(want.dims);
      expect(out!.data.length).toBe(want.data.length);
      expect(mismatch(out!.data, want.data, want.type === 'float32'), `output ${want.name}`).toBe(0);
    }
  } finally {
    await model.dispose();
  }
}

describe('the reference comparison', () => {
  it('accepts float error within atol + rtol·|want| and rejects beyond it; integers must be equal', () => {
    expect(mismatch(new Float32Array([100.09]), new Float32Array([100]), true)).toBe(0);
    expect(mismatch(new Float32Array([100.2]), new Float32Array([100]), true)).toBeGreaterThan(0);
    expect(mismatch(new Float32Array([Number.NaN]), new Float32Array([0]), true)).toBe(Infinity);
    expect(mismatch(new Int8Array([3]), new Int8Array([4]), false)).toBe(1);
  });
});

describe.skipIf(!present)('ONNX engine on the backend conformance fixtures', () => {
  describe('quantized single-op tests match the reference outputs exactly', () => {
    const names = tests('onnx_backend_node_quant');
    it('finds all 8 quantized tests', () => expect(names).toHaveLength(8));
    for (const t of names) it(`${t} gives output_N.pb`, () => conformance('onnx_backend_node_quant', t));
  });

  describe('float single-op tests match within rtol 1e-3, atol 1e-7', () => {
    const names = tests('onnx_backend_node_float');
    it('finds all 4 float tests', () => expect(names).toHaveLength(4));
    for (const t of names) it(`${t} gives output_N.pb`, () => conformance('onnx_backend_node_float', t));
  });

  it('refuses the opset-6 pytorch Linear model with a coded error naming the model and the engine reason', async () => {
    const bytes = new Uint8Array(readFileSync(join(MODELS, 'onnx_pytorch_converted_linear_float', 'model.onnx')));
    const err = await loadOnnxModel(bytes, 'pytorch_linear_opset6').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTinyqaError(err, OnnxErrorCode.ModelInvalid)).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(/^E7001 /);
    expect(message).toContain('pytorch_linear_opset6');
    expect(message).toContain('Gemm(6)');
  });
});

describe.skipIf(!present)('ONNX model lifecycle and feeds', () => {
  let model: OnnxModel | undefined;
  const load = async (): Promise<OnnxModel> =>
    (model ??= await loadOnnxModel(new Uint8Array(readFileSync(join(MODELS, 'onnx_backend_node_float', 'test_relu', 'model.onnx'))), 'relu'));
  afterAll(async () => {
    await model?.dispose();
  });

  it('exposes input and output names, types and shapes from the session metadata', async () => {
    const m = await load();
    expect(m.inputs).toEqual([{ name: 'x', type: 'float32', shape: [3, 4, 5] }]);
    expect(m.outputs).toEqual([{ name: 'y', type: 'float32', shape: [3, 4, 5] }]);
  });

  it('runs repeatedly and returns copies the caller owns', async () => {
    const m = await load();
    const x = new Float32Array(60).map((_, i) => i - 30);
    const a = await m.run({ x: { data: x, dims: [3, 4, 5] } });
    const b = await m.run({ x: { data: x, dims: [3, 4, 5] } });
    expect(values(a['y']!.data)).toEqual(Array.from(x, (v) => Math.max(0, v)));
    expect(a['y']!.data).not.toBe(b['y']!.data);
    expect(values(a['y']!.data)).toEqual(values(b['y']!.data));
  });

  it('refuses missing, unknown and mis-sized inputs with InputMismatch before running', async () => {
    const m = await load();
    await expect(m.run({})).rejects.toMatchObject({ code: OnnxErrorCode.InputMismatch });
    await expect(m.run({ x: { data: new Float32Array(60), dims: [3, 4, 5] }, z: { data: new Float32Array(1), dims: [1] } })).rejects.toMatchObject({
      code: OnnxErrorCode.InputMismatch,
    });
    await expect(m.run({ x: { data: new Float32Array(59), dims: [3, 4, 5] } })).rejects.toMatchObject({ code: OnnxErrorCode.InputMismatch });
  });

  it('reports an engine failure (wrong element type) as EngineFailed, and the model stays usable', async () => {
    const m = await load();
    await expect(m.run({ x: { data: new Int32Array(60), dims: [3, 4, 5] } })).rejects.toMatchObject({ code: OnnxErrorCode.EngineFailed });
    const ok = await m.run({ x: { data: new Float32Array(60).fill(-1), dims: [3, 4, 5] } });
    expect(ok['y']!.data.every((v) => v === 0)).toBe(true);
  });

  it('refuses run() after dispose(), and dispose() twice is harmless', async () => {
    const m = await loadOnnxModel(new Uint8Array(readFileSync(join(MODELS, 'onnx_backend_node_float', 'test_relu', 'model.onnx'))), 'relu-2');
    await m.dispose();
    await m.dispose();
    await expect(m.run({ x: { data: new Float32Array(60), dims: [3, 4, 5] } })).rejects.toMatchObject({ code: OnnxErrorCode.ModelNotUsable });
  });
});

describe('ONNX engine on bytes that are not a model', () => {
  it('starts the WASM engine from local files without any fetch', async () => {
    const err = await loadOnnxModel(new Uint8Array([8, 7]), 'probe').catch((e: unknown) => e);
    expect(isTinyqaError(err, OnnxErrorCode.ModelInvalid)).toBe(true); // the engine ran and judged the bytes
    expect(fetches).toEqual([]);
  });

  it('refuses empty bytes without starting the engine', async () => {
    await expect(loadOnnxModel(new Uint8Array(0), 'empty')).rejects.toMatchObject({ code: OnnxErrorCode.ModelInvalid });
  });

  it('refuses garbage bytes with ModelInvalid naming the model', async () => {
    const err = await loadOnnxModel(new TextEncoder().encode('definitely not protobuf'), 'garbage.onnx').catch((e: unknown) => e);
    expect(isTinyqaError(err, OnnxErrorCode.ModelInvalid)).toBe(true);
    expect((err as Error).message).toContain('garbage.onnx');
  });
});
