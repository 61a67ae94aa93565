import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../../runtime/core/errors.js';
import { decodeTensorProto } from '../../runtime/inference/onnx/tensor-proto.js';
import { loadAny } from '../../runtime/inference/registry.js';
import type { QMlp } from '../ir.js';
import { EXPORT_CASES } from './cases.js';
import { toOnnx } from './onnx.js';
import { randomInputs, randomQMlp } from './random-qmlp.js';
import { runQMlpReference } from './reference.js';
import { runRows, stepsOff } from './testing.js';

// ---- a test-side protobuf walker, independent of the writer, to read the model back ----

type PbField = { field: number; wire: number; int?: bigint; bytes?: Uint8Array };

function walk(b: Uint8Array): PbField[] {
  const out: PbField[] = [];
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let s = 0n; ; s += 7n) {
      const x = b[p++]!;
      v |= BigInt(x & 0x7f) << s;
      if (x < 0x80) return v;
    }
  };
  while (p < b.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) out.push({ field, wire, int: varint() });
    else if (wire === 2) {
      const n = Number(varint());
      out.push({ field, wire, bytes: b.subarray(p, p + n) });
      p += n;
    } else if (wire === 5) {
      out.push({ field, wire, bytes: b.subarray(p, p + 4) });
      p += 4;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const all = (m: PbField[], f: number) => m.filter((x) => x.field === f);
const one = (m: PbField[], f: number): PbField => {
  const xs = all(m, f);
  if (xs.length !== 1) throw new Error(`field ${f} appears ${xs.length} times`);
  return xs[0]!;
};
const str = (x: PbField) => new TextDecoder().decode(x.bytes);

/** Model → { header fields, nodes [op_type, inputs, outputs, attributes], initializers by name, I/O }. */
function readBack(bytes: Uint8Array) {
  const model = walk(bytes);
  const graph = walk(one(model, 7).bytes!);
  const nodes = all(graph, 1).map((n) => {
    const f = walk(n.bytes!);
    const attrs = Object.fromEntries(all(f, 5).map((a) => { const af = walk(a.bytes!); return [str(one(af, 1)), Number(one(af, 3).int)]; }));
    return { op: str(one(f, 4)), inputs: all(f, 1).map(str), outputs: all(f, 2).map(str), attrs };
  });
  const inits = Object.fromEntries(all(graph, 5).map((t) => {
    const d = decodeTensorProto(t.bytes!);
    if (!d.ok) throw new Error(d.reason);
    return [d.tensor.name, d.tensor];
  }));
  const valueInfo = (v: PbField) => {
    const f = walk(v.bytes!);
    const tensor = walk(one(walk(one(f, 2).bytes!), 1).bytes!);
    const dims = all(walk(one(tensor, 2).bytes!), 1).map((d) => { const df = walk(d.bytes!); return df[0]!.field === 1 ? Number(df[0]!.int) : str(df[0]!); });
    return { name: str(one(f, 1)), elemType: Number(one(tensor, 1).int), dims };
  };
  return {
    irVersion: Number(one(model, 1).int),
    producer: str(one(model, 2)),
    opsets: all(model, 8).map((o) => Number(one(walk(o.bytes!), 2).int)),
    graphName: str(one(graph, 2)),
    nodes, inits,
    inputs: all(graph, 11).map(valueInfo),
    outputs: all(graph, 12).map(valueInfo),
  };
}

const perAxis = () => randomQMlp({ seed: 21, dims: [64, 48, 32, 10], activations: ['relu', 'relu', 'none'] });
const outScaleOf = (q: QMlp) => q.layers[q.layers.length - 1]!.outScale;

describe('ONNX export: the ModelProto read back', () => {
  it('declares ir_version 7, opset 13, producer tinyqa, and float I/O with a symbolic batch', () => {
    const m = readBack(toOnnx(perAxis()));
    expect([m.irVersion, m.opsets, m.producer, m.graphName]).toEqual([7, [13], 'tinyqa', 'random_21']);
    expect(m.inputs).toEqual([{ name: 'x', elemType: 1, dims: ['N', 64] }]);
    expect(m.outputs).toEqual([{ name: 'y', elemType: 1, dims: ['N', 10] }]);
  });

  it('picks the IR version that came with the opset', () => {
    expect([13, 14, 15, 18, 19, 21].map((opset) => readBack(toOnnx(perAxis(), { opset })).irVersion)).toEqual([7, 7, 8, 8, 9, 10]);
  });

  it('wraps the input and every layer output in QuantizeLinear/DequantizeLinear around MatMul, Add and Relu', () => {
    const m = readBack(toOnnx(perAxis()));
    const ops = m.nodes.filter((n) => !n.outputs[0]!.endsWith('/W') && !n.outputs[0]!.endsWith('/B')).map((n) => n.op);
    const layer = (relu: boolean) => ['MatMul', 'Add', ...(relu ? ['Relu'] : []), 'QuantizeLinear', 'DequantizeLinear'];
    expect(ops).toEqual(['QuantizeLinear', 'DequantizeLinear', ...layer(true), ...layer(true), ...layer(false)]);
    expect(m.nodes.at(-1)!.outputs).toEqual(['y']);
  });

  it('stores weights int8 transposed to [in, out] with per-axis scales on axis 1, biases int32 with scales inScale·wScale on axis 0', () => {
    const q = perAxis();
    const m = readBack(toOnnx(q));
    const l = q.layers[1]!;
    const w = m.inits['dense_1/W_quantized']!;
    expect([w.type, w.dims]).toEqual(['int8', [48, 32]]);
    // [in][out] in the file is [out][in] in the QMlp.
    expect((w.data as Int8Array)[5 * 32 + 7]).toBe(l.weights[7 * 48 + 5]);
    expect(Array.from(m.inits['dense_1/W_scale']!.data as Float32Array)).toEqual(Array.from(l.weightScales));
    expect(Array.from(m.inits['dense_1/W_zero_point']!.data as Int8Array)).toEqual(new Array(32).fill(0));
    expect(m.nodes.find((n) => n.outputs[0] === 'dense_1/W')!.attrs).toEqual({ axis: 1 });
    const b = m.inits['dense_1/B_quantized']!;
    expect([b.type, b.dims, Array.from(b.data as Int32Array)]).toEqual(['int32', [32], Array.from(l.bias)]);
    const inS = Math.fround(q.layers[0]!.outScale);
    expect(Array.from(m.inits['dense_1/B_scale']!.data as Float32Array)).toEqual(Array.from(l.weightScales, (s) => Math.fround(inS * s)));
    const bNode = m.nodes.find((n) => n.outputs[0] === 'dense_1/B')!;
    expect([bNode.inputs, bNode.attrs]).toEqual([['dense_1/B_quantized', 'dense_1/B_scale'], { axis: 0 }]);
  });

  it('uses scalar scales and no axis when every unit shares one weight scale', () => {
    const m = readBack(toOnnx(randomQMlp({ seed: 3, dims: [6, 5], activations: ['relu'], perTensor: true })));
    expect(m.inits['dense_0/W_scale']!.dims).toEqual([]);
    expect(m.nodes.find((n) => n.outputs[0] === 'dense_0/W')!.attrs).toEqual({});
  });

  it('refuses opsets without per-axis DequantizeLinear (below 13) or newer than 21 with ModelUnsupported', () => {
    for (const opset of [10, 12, 22, 13.5]) {
      try {
        toOnnx(perAxis(), { opset });
        expect.unreachable(`opset ${opset} accepted`);
      } catch (e) {
        expect(isTinyqaError(e, ErrorCode.ModelUnsupported)).toBe(true);
      }
    }
  });
});

describe('ONNX export on onnxruntime-web against the integer reference', () => {
  it.each(EXPORT_CASES)('$label: every output within one quantization step', async ({ label, spec, rows }) => {
    const q = randomQMlp(spec);
    const x = randomInputs(spec, rows, spec.seed + 100);
    const ref = runQMlpReference(q, x, rows);
    const y = await runRows(toOnnx(q), `${q.name}.onnx`, 'x', 'y', x, rows);
    const off = stepsOff(y, ref.real, outScaleOf(q));
    console.log(`[onnx] ${label}: max ${off.max.toFixed(3)} steps, ${off.differing}/${y.length} outputs differ`);
    expect(off.max).toBeLessThanOrEqual(1);
  });

  it('runs opsets 17 and 21 the same way', async () => {
    const q = perAxis();
    const x = randomInputs({ seed: 0, dims: [64], activations: [] }, 40, 17);
    const ref = runQMlpReference(q, x, 40).real;
    for (const opset of [17, 21]) {
      const y = await runRows(toOnnx(q, { opset }), `opset${opset}.onnx`, 'x', 'y', x, 40);
      expect(stepsOff(y, ref, outScaleOf(q)).max).toBeLessThanOrEqual(1);
    }
  });

  it('takes a whole batch in one engine call on the symbolic batch dimension, row for row equal to single calls', async () => {
    const q = perAxis();
    const x = randomInputs({ seed: 0, dims: [64], activations: [] }, 30, 23);
    const m = await loadAny(toOnnx(q), 'batch.onnx');
    try {
      expect(m.inputs).toEqual([{ name: 'x', size: 64, shape: 'N×64' }]);
      expect(m.batching).toBe('native');
      const whole = (await m.run({ x }, 30)).y!;
      const single = new Float64Array(300);
      for (let b = 0; b < 30; b++) single.set((await m.run({ x: x.slice(64 * b, 64 * b + 64) })).y!, 10 * b);
      expect(Array.from(whole)).toEqual(Array.from(single));
      expect(stepsOff(whole, runQMlpReference(q, x, 30).real, outScaleOf(q)).max).toBeLessThanOrEqual(1);
    } finally {
      await m.dispose();
    }
  });
});
