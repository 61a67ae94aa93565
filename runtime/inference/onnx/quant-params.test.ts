import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadAny, runModel, type LoadedModel } from '../registry.js';
import { dequantizeLinear, quantizeLinear, readOnnxBoundary, type OnnxBoundary, type OnnxTensorQuant } from './quant-params.js';
import { readTensorProto, type DecodedTensor } from './tensor-proto.js';

// ---- a minimal ONNX writer (onnx.proto field numbers), to build QDQ models in the test ----
const utf8 = new TextEncoder();
function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x ? b | 0x80 : b);
  } while (x);
  return out;
}
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, v: number | bigint) => [...tag(field, 0), ...varint(v)];
const msg = (field: number, body: number[]) => [...tag(field, 2), ...varint(body.length), ...body];
const str = (field: number, s: string) => msg(field, [...utf8.encode(s)]);
const f32bytes = (xs: number[]) => [...new Uint8Array(Float32Array.from(xs).buffer)];
const fixed32 = (field: number, x: number) => [...tag(field, 5), ...f32bytes([x])];

const DT = { float32: 1, uint8: 2, int8: 3, int32: 6 } as const;
type Elem = keyof typeof DT;

/** TensorProto: dims 1, data_type 2, name 8, raw_data 9 (or int32_data 5 / float_data 4 when `fields`). */
function tensor(name: string, type: Elem, dims: number[], values: number[], encoding: 'raw' | 'fields' = 'raw'): number[] {
  const head = [...dims.flatMap((d) => int(1, d)), ...int(2, DT[type]), ...str(8, name)];
  if (encoding === 'fields') return [...head, ...(type === 'float32' ? msg(4, f32bytes(values)) : msg(5, values.flatMap((v) => varint(v))))];
  const raw = type === 'float32' ? f32bytes(values) : type === 'int32' ? [...new Uint8Array(Int32Array.from(values).buffer)] : values.map((v) => v & 0xff);
  return [...head, ...msg(9, raw)];
}
/** ValueInfoProto { name 1, type 2: TypeProto { tensor_type 1: { elem_type 1, shape 2: { dim 1: { dim_value 1 | dim_param 2 } } } } }. */
const valueInfo = (name: string, type: Elem, dims: (number | string)[]) => [
  ...str(1, name),
  ...msg(2, msg(1, [...int(1, DT[type]), ...msg(2, dims.flatMap((d) => msg(1, typeof d === 'number' ? int(1, d) : str(2, d))))])),
];
/** NodeProto { input 1, output 2, op_type 4, attribute 5 }. AttributeProto { name 1, f 2, i 3, t 5, type 20 }. */
const node = (op: string, inputs: string[], outputs: string[], attrs: number[][] = []) => [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(4, op), ...attrs.flatMap((a) => msg(5, a))];
const attrInt = (name: string, v: number) => [...str(1, name), ...int(3, v), ...int(20, 2)];
const attrTensor = (name: string, t: number[]) => [...str(1, name), ...msg(5, t), ...int(20, 4)];
const attrFloat = (name: string, v: number) => [...str(1, name), ...fixed32(2, v), ...int(20, 1)];

/** ModelProto { ir_version 1, producer_name 2, graph 7: GraphProto { node 1, name 2, initializer 5, input 11, output 12 }, opset_import 8 }. */
function model(g: { nodes: number[][]; inits?: number[][]; inputs: number[][]; outputs: number[][] }, opset = 13): Uint8Array {
  const graph = [...g.nodes.flatMap((n) => msg(1, n)), ...str(2, 'g'), ...(g.inits ?? []).flatMap((t) => msg(5, t)), ...g.inputs.flatMap((v) => msg(11, v)), ...g.outputs.flatMap((v) => msg(12, v))];
  return Uint8Array.from([...int(1, 7), ...str(2, 'tinyqa-test'), ...msg(7, graph), ...msg(8, int(2, opset))]);
}

interface Qdq {
  type: 'int8' | 'uint8';
  inQ: { scale: number; zeroPoint: number };
  outQ: { scale: number; zeroPoint: number };
  op: 'Identity' | 'Relu' | 'Add';
  shape: (number | string)[];
  addend?: number[];
}
/** x (int) → DequantizeLinear → Identity | Relu | Add(·, c) → QuantizeLinear → y (int). */
function qdqModel(q: Qdq): Uint8Array {
  return model({
    nodes: [
      node('DequantizeLinear', ['x', 'x_scale', 'x_zero_point'], ['xf']),
      node(q.op, q.op === 'Add' ? ['xf', 'c'] : ['xf'], ['yf']),
      node('QuantizeLinear', ['yf', 'y_scale', 'y_zero_point'], ['y']),
    ],
    inits: [
      tensor('x_scale', 'float32', [], [q.inQ.scale]),
      tensor('x_zero_point', q.type, [], [q.inQ.zeroPoint]),
      tensor('y_scale', 'float32', [], [q.outQ.scale]),
      tensor('y_zero_point', q.type, [], [q.outQ.zeroPoint]),
      ...(q.addend ? [tensor('c', 'float32', [q.addend.length], q.addend)] : []),
    ],
    inputs: [valueInfo('x', q.type, q.shape)],
    outputs: [valueInfo('y', q.type, q.shape)],
  });
}

function boundary(bytes: Uint8Array): OnnxBoundary {
  const r = readOnnxBoundary(bytes);
  if (!r.ok) throw new Error(`reader refused: ${r.reason}`);
  return r.boundary;
}

async function withModel<T>(bytes: Uint8Array, name: string, f: (m: LoadedModel) => Promise<T>): Promise<T> {
  const m = await loadAny(bytes, name);
  try {
    return await f(m);
  } finally {
    await m.dispose();
  }
}

/** Values across and beyond a quantized range, ties and near-ties included (deterministic). */
function probe(q: { scale: number; zeroPoint: number }, lo: number, hi: number, n: number): Float32Array {
  const min = (lo - q.zeroPoint) * q.scale;
  const max = (hi - q.zeroPoint) * q.scale;
  const xs: number[] = [0, min, max, min - 1, max + 1, 0.5 * q.scale, -0.5 * q.scale, 1.5 * q.scale, -2.5 * q.scale];
  let s = 12345;
  while (xs.length < n) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    xs.push(min + (max - min) * (s / 2 ** 31));
  }
  return Float32Array.from(xs);
}

const I8 = { lo: -128, hi: 127 };
const U8 = { lo: 0, hi: 255 };

describe('quantizeLinear / dequantizeLinear (ONNX semantics)', () => {
  const q: OnnxTensorQuant = { type: 'int8', scale: 0.5, zeroPoint: 0 };
  it('rounds half to even, unlike TFLite (half away from zero)', () => {
    expect([0.25, 0.75, 1.25, -0.25, -0.75, -1.25].map((x) => quantizeLinear(x, q))).toEqual([0, 2, 2, 0, -2, -2]);
    expect(quantizeLinear(0.26, q)).toBe(1);
  });
  it('adds the zero point after rounding and saturates to the type', () => {
    const u: OnnxTensorQuant = { type: 'uint8', scale: 2, zeroPoint: 128 };
    // test_quantizelinear's reference: x [0, 2, 3, 1000, -254, -1000] → [128, 129, 130, 255, 1, 0]
    expect([0, 2, 3, 1000, -254, -1000].map((x) => quantizeLinear(x, u))).toEqual([128, 129, 130, 255, 1, 0]);
    expect(quantizeLinear(Infinity, q)).toBe(127);
    expect(quantizeLinear(-Infinity, q)).toBe(-128);
    expect(quantizeLinear(Number.NaN, u)).toBe(128);
  });
  it('dequantizes as (q − zp)·scale in float32', () => {
    // test_dequantizelinear's reference: x [0, 3, 128, 255], scale 2, zp 128 → [-256, -250, 0, 254]
    expect([0, 3, 128, 255].map((v) => dequantizeLinear(v, { type: 'uint8', scale: 2, zeroPoint: 128 }))).toEqual([-256, -250, 0, 254]);
    expect(dequantizeLinear(1, { type: 'int8', scale: 0.1, zeroPoint: 0 })).toBe(Math.fround(0.1));
  });
});

describe('readOnnxBoundary', () => {
  it('finds per-tensor scale/zero point of a DequantizeLinear input and a QuantizeLinear output', () => {
    const b = boundary(qdqModel({ type: 'int8', inQ: { scale: 0.05, zeroPoint: -3 }, outQ: { scale: 0.1, zeroPoint: 7 }, op: 'Relu', shape: [1, 4] }));
    expect(b.inputs).toEqual([{ name: 'x', elemType: 'int8', shape: [1, 4], quant: { type: 'int8', scale: Math.fround(0.05), zeroPoint: -3 }, note: undefined }]);
    expect(b.outputs).toEqual([{ name: 'y', elemType: 'int8', shape: [1, 4], quant: { type: 'int8', scale: Math.fround(0.1), zeroPoint: 7 }, note: undefined }]);
  });

  it('reads parameters from Constant nodes (value tensor, value_float) and from typed (non-raw) fields', () => {
    const bytes = model({
      nodes: [
        node('Constant', [], ['s'], [attrFloat('value_float', 0.25)]),
        node('Constant', [], ['z'], [attrTensor('value', tensor('', 'uint8', [], [130], 'fields'))]),
        node('DequantizeLinear', ['x', 's', 'z'], ['xf']),
        node('QuantizeLinear', ['xf', 'ys'], ['y']),
      ],
      inits: [tensor('ys', 'float32', [1], [0.5], 'fields')],
      inputs: [valueInfo('x', 'uint8', ['N', 3])],
      outputs: [valueInfo('y', 'uint8', ['N', 3])],
    });
    const b = boundary(bytes);
    expect(b.inputs[0]!.quant).toEqual({ type: 'uint8', scale: 0.25, zeroPoint: 130 });
    // No y_zero_point: 0, and uint8 (QuantizeLinear's default output type).
    expect(b.outputs[0]!.quant).toEqual({ type: 'uint8', scale: 0.5, zeroPoint: 0 });
    expect(b.inputs[0]!.shape).toEqual(['N', 3]);
  });

  it('leaves per-axis, run-time and shared inputs raw, with a note saying why', () => {
    const perAxis = model({
      nodes: [node('DequantizeLinear', ['x', 's', 'z'], ['y'], [attrInt('axis', 1)])],
      inits: [tensor('s', 'float32', [2], [0.1, 0.2]), tensor('z', 'int8', [2], [0, 0])],
      inputs: [valueInfo('x', 'int8', [1, 2])],
      outputs: [valueInfo('y', 'float32', [1, 2])],
    });
    expect(boundary(perAxis).inputs[0]).toMatchObject({ quant: undefined, note: expect.stringMatching(/per axis \(2 scales/) });

    const runTime = model({
      nodes: [node('DequantizeLinear', ['x', 's'], ['y'])],
      inputs: [valueInfo('x', 'int8', [2]), valueInfo('s', 'float32', [])],
      outputs: [valueInfo('y', 'float32', [2])],
    });
    expect(boundary(runTime).inputs[0]).toMatchObject({ quant: undefined, note: expect.stringMatching(/graph input, known only at run time/) });

    const shared = model({
      nodes: [node('DequantizeLinear', ['x', 's'], ['y']), node('Cast', ['x'], ['z'], [attrInt('to', 1)])],
      inits: [tensor('s', 'float32', [], [0.1])],
      inputs: [valueInfo('x', 'int8', [2])],
      outputs: [valueInfo('y', 'float32', [2]), valueInfo('z', 'float32', [2])],
    });
    expect(boundary(shared).inputs[0]).toMatchObject({ quant: undefined, note: expect.stringMatching(/also used as integers by Cast/) });
  });

  it('gives no quantization (and no note) where no DequantizeLinear/QuantizeLinear meets the boundary', () => {
    const b = boundary(model({ nodes: [node('Identity', ['x'], ['y'])], inputs: [valueInfo('x', 'int8', [2])], outputs: [valueInfo('y', 'int8', [2])] }));
    expect(b.inputs[0]).toMatchObject({ quant: undefined, note: undefined });
    expect(b.outputs[0]).toMatchObject({ quant: undefined, note: undefined });
  });

  it('refuses malformed bytes without throwing', () => {
    const good = qdqModel({ type: 'int8', inQ: { scale: 1, zeroPoint: 0 }, outQ: { scale: 1, zeroPoint: 0 }, op: 'Identity', shape: [1] });
    for (const cut of [3, 10, good.length - 5]) expect(readOnnxBoundary(good.subarray(0, cut)).ok).toBe(false);
    expect(readOnnxBoundary(utf8.encode('definitely not protobuf'))).toMatchObject({ ok: false });
    expect(readOnnxBoundary(new Uint8Array(0))).toEqual({ ok: false, reason: 'the model has no graph (ModelProto field 7)' });
    expect(readOnnxBoundary(Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f))).toMatchObject({ ok: false, reason: expect.stringMatching(/claims/) });
  });
});

describe('ONNX int8/uint8 I/O through loadAny (real onnxruntime-web)', () => {
  it('int8 Identity: real inputs come back within half a quantization step, exactly as QuantizeLinear∘DequantizeLinear', async () => {
    const qp = { scale: 0.05, zeroPoint: -3 };
    const bytes = qdqModel({ type: 'int8', inQ: qp, outQ: qp, op: 'Identity', shape: [1, 256] });
    const x = probe(qp, I8.lo, I8.hi, 256);
    const q: OnnxTensorQuant = { type: 'int8', scale: Math.fround(qp.scale), zeroPoint: qp.zeroPoint };
    await withModel(bytes, 'identity_int8.onnx', async (m) => {
      expect(m.quantization).toEqual({ inputs: { x: { scale: q.scale, zeroPoint: -3 } }, outputs: { y: { scale: q.scale, zeroPoint: -3 } }, notes: [] });
      const y = (await m.run({ x }))['y']!;
      expect(y).toHaveLength(256);
      const min = (I8.lo - qp.zeroPoint) * q.scale;
      const max = (I8.hi - qp.zeroPoint) * q.scale;
      let worst = 0;
      for (let i = 0; i < x.length; i++) {
        expect(y[i], `x[${i}] = ${x[i]}`).toBe(dequantizeLinear(quantizeLinear(x[i]!, q), q));
        const clamped = Math.min(max, Math.max(min, x[i]!));
        worst = Math.max(worst, Math.abs(y[i]! - clamped) / q.scale);
      }
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-5);
      // Ties go to even: 0.5 and 1.5 steps above the zero point's real value (0).
      expect([y[5], y[6], y[7], y[8]].map((v) => Math.round(v! / q.scale))).toEqual([0, 0, 2, -2]);
    });
  });

  it('int8 Relu with different in/out parameters gives max(0, x) within half an output step (plus the input step)', async () => {
    const inQ = { scale: 0.02, zeroPoint: 10 };
    const outQ = { scale: 0.015, zeroPoint: -128 };
    const x = probe(inQ, I8.lo, I8.hi, 200);
    const y = (await runModel(qdqModel({ type: 'int8', inQ, outQ, op: 'Relu', shape: [200] }), 'relu_int8.onnx', Array.from(x))).outputs['y']!;
    const qi: OnnxTensorQuant = { type: 'int8', scale: Math.fround(inQ.scale), zeroPoint: inQ.zeroPoint };
    const qo: OnnxTensorQuant = { type: 'int8', scale: Math.fround(outQ.scale), zeroPoint: outQ.zeroPoint };
    const outMax = (I8.hi - outQ.zeroPoint) * qo.scale;
    for (let i = 0; i < x.length; i++) {
      const xi = Math.min((I8.hi - inQ.zeroPoint) * qi.scale, Math.max((I8.lo - inQ.zeroPoint) * qi.scale, x[i]!));
      const want = Math.min(outMax, Math.max(0, xi));
      expect(Math.abs(y[i]! - want), `x[${i}] = ${x[i]}: got ${y[i]}, want ≈ ${want}`).toBeLessThanOrEqual(qi.scale / 2 + qo.scale / 2 + 1e-6);
      expect(y[i]).toBe(dequantizeLinear(quantizeLinear(Math.max(0, dequantizeLinear(quantizeLinear(x[i]!, qi), qi)), qo), qo));
    }
  });

  it('uint8 Add (zero point 128) with a symbolic batch dimension runs a batch in one call', async () => {
    const inQ = { scale: 0.02, zeroPoint: 128 };
    const outQ = { scale: 0.04, zeroPoint: 100 };
    const c = [0.5, -0.5, 1, -1];
    const bytes = qdqModel({ type: 'uint8', inQ, outQ, op: 'Add', shape: ['N', 4], addend: c });
    await withModel(bytes, 'add_uint8.onnx', async (m) => {
      expect(m.batching).toBe('native');
      const x = Float32Array.from([0, 0.013, -1.3, 2.5, 0.01, -0.01, 0.03, -2.56]);
      const y = (await m.run({ x }, 2))['y']!;
      const qi: OnnxTensorQuant = { type: 'uint8', scale: Math.fround(inQ.scale), zeroPoint: 128 };
      const qo: OnnxTensorQuant = { type: 'uint8', scale: Math.fround(outQ.scale), zeroPoint: 100 };
      for (let i = 0; i < x.length; i++) {
        const want = x[i]! + c[i % 4]!;
        expect(Math.abs(y[i]! - want), `row ${Math.floor(i / 4)} col ${i % 4}`).toBeLessThanOrEqual(qi.scale / 2 + qo.scale / 2 + 1e-6);
        expect(y[i]).toBe(dequantizeLinear(quantizeLinear(Math.fround(dequantizeLinear(quantizeLinear(x[i]!, qi), qi) + Math.fround(c[i % 4]!)), qo), qo));
      }
    });
  });

  it("onnxruntime's own QuantizeLinear rounds ties as quantizeLinear does (float input, quantized output)", async () => {
    const bytes = model({
      nodes: [node('QuantizeLinear', ['x', 's', 'z'], ['y'])],
      inits: [tensor('s', 'float32', [], [0.5]), tensor('z', 'int8', [], [1])],
      inputs: [valueInfo('x', 'float32', [8])],
      outputs: [valueInfo('y', 'int8', [8])],
    });
    const x = [0.25, 0.75, 1.25, -0.25, -0.75, -1.25, 100, -100];
    const q: OnnxTensorQuant = { type: 'int8', scale: 0.5, zeroPoint: 1 };
    const y = (await runModel(bytes, 'q.onnx', x)).outputs['y']!;
    expect(y).toEqual(x.map((v) => dequantizeLinear(quantizeLinear(v, q), q)));
    expect(y).toEqual([0, 1, 1, 0, -1, -1, 63, -64.5]);
  });

  it('keeps raw integer I/O where no DequantizeLinear/QuantizeLinear meets the boundary', async () => {
    const bytes = model({ nodes: [node('Identity', ['x'], ['y'])], inputs: [valueInfo('x', 'int8', [4])], outputs: [valueInfo('y', 'int8', [4])] });
    await withModel(bytes, 'raw.onnx', async (m) => {
      expect(m.quantization).toEqual({ inputs: {}, outputs: {}, notes: [] });
      expect(Array.from((await m.run({ x: Float32Array.from([1.4, -2.6, 127, -128]) }))['y']!)).toEqual([1, -3, 127, -128]);
    });
  });

  it('leaves a per-axis input raw with a note, and still dequantizes a per-tensor output', async () => {
    const bytes = model({
      nodes: [node('DequantizeLinear', ['x', 's', 'z'], ['xf'], [attrInt('axis', 1)]), node('QuantizeLinear', ['xf', 'ys', 'yz'], ['y'])],
      inits: [tensor('s', 'float32', [2], [0.5, 0.25]), tensor('z', 'int8', [2], [0, 0]), tensor('ys', 'float32', [], [0.25]), tensor('yz', 'int8', [], [0])],
      inputs: [valueInfo('x', 'int8', [1, 2])],
      outputs: [valueInfo('y', 'int8', [1, 2])],
    });
    await withModel(bytes, 'per_axis.onnx', async (m) => {
      expect(m.quantization?.inputs).toEqual({});
      expect(m.quantization?.outputs).toEqual({ y: { scale: 0.25, zeroPoint: 0 } });
      expect(m.quantization?.notes).toEqual([expect.stringMatching(/^input "x": left raw: it is quantized per axis/)]);
      // x is raw integers: [4, 4] → [4·0.5, 4·0.25] = [2, 1].
      expect(Array.from((await m.run({ x: Float32Array.from([4, 4]) }))['y']!)).toEqual([2, 1]);
    });
  });
});

// ---- the conformance fixtures: nothing changes for them through the registry ----

const MODELS = fileURLToPath(new URL('../../../../shared/fixtures/models/', import.meta.url));
const QUANT = join(MODELS, 'onnx_backend_node_quant');
const present = existsSync(QUANT);

function dataSet(dir: string, kind: 'input' | 'output'): DecodedTensor[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(`${kind}_`) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(kind.length + 1, -3)) - Number(b.slice(kind.length + 1, -3)))
    .map((f) => readTensorProto(new Uint8Array(readFileSync(join(dir, f))), join(dir, f)));
}

describe.skipIf(!present)('the quantized ONNX conformance fixtures through loadAny', () => {
  const names = present ? readdirSync(QUANT).filter((t) => t.startsWith('test_')).sort() : [];
  it('finds all 8', () => expect(names).toHaveLength(8));
  for (const t of names) {
    it(`${t}: no boundary quantization is applied, and the outputs still match output_N.pb`, async () => {
      const dir = join(QUANT, t);
      const bytes = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
      // Their scales and zero points are graph inputs, so every integer input/output stays raw.
      const b = boundary(bytes);
      expect([...b.inputs, ...b.outputs].filter((x) => x.quant)).toEqual([]);
      const inputs = dataSet(join(dir, 'test_data_set_0'), 'input');
      const expected = dataSet(join(dir, 'test_data_set_0'), 'output');
      await withModel(bytes, t, async (m) => {
        expect(m.quantization?.inputs).toEqual({});
        expect(m.quantization?.outputs).toEqual({});
        const out = await m.run(Object.fromEntries(inputs.map((x) => [x.name, Float32Array.from(x.data as ArrayLike<number>)])));
        for (const want of expected) {
          const got = out[want.name]!;
          const w = Array.from(want.data as ArrayLike<number | bigint>, Number);
          if (want.type === 'float32') w.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(1e-7 + 1e-3 * Math.abs(v)));
          else expect(Array.from(got)).toEqual(w);
        }
      });
    });
  }
});

// ---- `tinyqa model info` shows the boundary quantization ----

describe('tinyqa model info', () => {
  async function info(args: string[]): Promise<string> {
    const { modelCommand } = await import('../../cli/commands/model.js');
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      expect(await modelCommand(['info', ...args])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    return out;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tinyqa-info-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints scale and zero point of each quantized input/output of a bare .onnx file, and notes for raw ones', async () => {
    const file = join(dir, 'relu_int8.onnx');
    writeFileSync(file, qdqModel({ type: 'int8', inQ: { scale: 0.05, zeroPoint: -3 }, outQ: { scale: 0.1, zeroPoint: 7 }, op: 'Relu', shape: ['N', 4] }));
    expect(await info([file])).toBe('model I/O (onnx):\n  input  x: int8 [N×4], scale 0.05 zero point -3: takes real values\n  output y: int8 [N×4], scale 0.1 zero point 7: gives real values\n');
    expect(JSON.parse(await info([file, '--json']))).toEqual({
      file,
      io: {
        format: 'onnx',
        inputs: [{ name: 'x', type: 'int8', shape: ['N', 4], scale: Math.fround(0.05), zero_point: -3 }],
        outputs: [{ name: 'y', type: 'int8', shape: ['N', 4], scale: Math.fround(0.1), zero_point: 7 }],
      },
    });
    if (present) expect(await info([join(QUANT, 'test_dequantizelinear', 'model.onnx')])).toMatch(/input  x: uint8 \[4\], raw integers \(left raw: its x_scale "x_scale" is a graph input/);
  });

  it('appends the I/O to a package manifest (text and --json), TFLite included', async () => {
    const tflite = join(MODELS, 'tflm_hello_world_int8', 'hello_world_int8.tflite');
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    const manifest = { format: 'tinyqa-model/1', name: 'hello', version: '1.0.0', security_version: 1, model: { file: 'm.tflite', format: 'tflite', sha256: '0'.repeat(64), bytes: 0 } };
    writeFileSync(join(pkg, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    if (existsSync(tflite)) {
      writeFileSync(join(pkg, 'm.tflite'), readFileSync(tflite));
      const text = await info([pkg]);
      expect(text.startsWith(JSON.stringify(manifest, null, 2) + '\n')).toBe(true);
      expect(text).toMatch(/model I\/O \(tflite\):\n  input  serving_default_dense_input:0: int8 \[1×1\], scale 0\.02448012 zero point -128: takes real values\n  output .*: int8 \[1×1\], scale 0\.008290957 zero point 5: gives real values\n$/);
      expect(JSON.parse(await info([pkg, '--json']))).toMatchObject({ ...manifest, io: { format: 'tflite', inputs: [{ type: 'int8', zero_point: -128 }], outputs: [{ zero_point: 5 }] } });
    } else {
      // Without the fixture the model file is missing: the manifest is still printed, with the reason.
      expect(await info([pkg])).toMatch(/model I\/O: not read: .*m\.tflite/);
    }
  });
});
