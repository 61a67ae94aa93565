/**
 * Reads, from an ONNX ModelProto, the per-tensor quantization at the graph's boundary: for each
 * integer graph input consumed only by DequantizeLinear nodes, their x_scale / x_zero_point; for each
 * integer graph output produced by a QuantizeLinear node, its y_scale / y_zero_point. With these the
 * registry takes and gives real values for such models, as it does for TFLite int8 models.
 *
 * Pure: no Node built-in, no protobuf library. It walks only what it needs of the protobuf wire format
 * (https://protobuf.dev/programming-guides/encoding/) and skips every other field, as protobuf
 * requires. Field numbers are those of onnx/onnx.proto:
 *   ModelProto      graph = 7
 *   GraphProto      node = 1, initializer = 5, input = 11, output = 12
 *   NodeProto       input = 1, output = 2, op_type = 4, attribute = 5, domain = 7
 *   AttributeProto  name = 1, f = 2, t = 5, g = 6, graphs = 11
 *   ValueInfoProto  name = 1, type = 2;  TypeProto tensor_type = 1;  TypeProto.Tensor elem_type = 1, shape = 2
 *   TensorShapeProto dim = 1;  Dimension dim_value = 1, dim_param = 2
 * Scale and zero-point tensors (initializers, or Constant nodes' `value` / `value_float`) are decoded
 * with tensor-proto.ts.
 *
 * Only per-tensor parameters (one scale, one zero point) are used. Anything else at the boundary —
 * per-axis or blocked scales, parameters computed at run time or fed as graph inputs, an input also
 * used raw by another node — leaves that input/output raw (integers in, integers out, today's
 * behaviour) with a note saying why.
 *
 * Never throws on bytes: a malformed model yields `{ ok: false, reason }`, and the caller keeps every
 * input/output raw.
 */

import { decodeTensorProto, type DecodedTensor } from './tensor-proto.js';

/** Integer element types the engine feeds and returns, that boundary quantization applies to. */
export type OnnxQuantType = 'int8' | 'uint8' | 'int32';

export interface OnnxTensorQuant {
  /** The integer element type the model declares for this input/output. */
  type: OnnxQuantType;
  scale: number;
  zeroPoint: number;
}

export interface OnnxBoundaryTensor {
  name: string;
  /** Element type from the graph's ValueInfoProto: 'float32', 'int8', … or 'DataType(n)'; undefined when not declared. */
  elemType: string | undefined;
  /** Declared dimensions (a string is symbolic); undefined when the graph declares no shape. */
  shape: (number | string)[] | undefined;
  /** Per-tensor quantization applied at the boundary; undefined = values pass raw. */
  quant: OnnxTensorQuant | undefined;
  /** Why an integer input/output that meets a DequantizeLinear/QuantizeLinear is nevertheless left raw. */
  note: string | undefined;
}

export interface OnnxBoundary {
  /** Graph inputs, initializers excluded (IR < 4 lists them among the inputs). */
  inputs: OnnxBoundaryTensor[];
  outputs: OnnxBoundaryTensor[];
}

export type OnnxBoundaryResult = { ok: true; boundary: OnnxBoundary } | { ok: false; reason: string };

/** onnx.proto field numbers used here. */
const F = {
  Model: { graph: 7 },
  Graph: { node: 1, initializer: 5, input: 11, output: 12 },
  Node: { input: 1, output: 2, opType: 4, attribute: 5, domain: 7 },
  Attribute: { name: 1, f: 2, t: 5, g: 6, graphs: 11 },
  ValueInfo: { name: 1, type: 2 },
  Type: { tensorType: 1 },
  TypeTensor: { elemType: 1, shape: 2 },
  Shape: { dim: 1 },
  Dim: { value: 1, param: 2 },
  Tensor: { name: 8 },
} as const;

/** Protobuf wire types. */
const W = { varint: 0, i64: 1, len: 2, i32: 5 } as const;

/** `TensorProto.DataType` names (onnx.proto), as the engine spells element types. */
const ELEM_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
};

const RANGE: Record<OnnxQuantType, [number, number]> = { int8: [-128, 127], uint8: [0, 255], int32: [-(2 ** 31), 2 ** 31 - 1] };

/** Domains whose DequantizeLinear/QuantizeLinear have the ai.onnx semantics (com.microsoft's are the contrib twins). */
const QDQ_DOMAINS: ReadonlySet<string> = new Set(['', 'ai.onnx', 'com.microsoft']);

/** Subgraph nesting (If/Loop/Scan bodies) deeper than this is refused rather than recursed into. */
const MAX_DEPTH = 64;

class Malformed extends Error {}

interface Field {
  no: number;
  wire: number;
  /** The value of a varint field (exact below 2^53, which covers every field read here). */
  value: number;
  /** Payload range: the bytes of a length-delimited or fixed-size field. */
  at: number;
  end: number;
}

function varint(b: Uint8Array, r: { pos: number }, end: number): number {
  const at = r.pos;
  let v = 0;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= end) throw new Malformed(`varint at byte ${at} runs past the end`);
    const byte = b[r.pos++]!;
    v += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return v;
  }
  throw new Malformed(`varint at byte ${at} is longer than 10 bytes`);
}

/** The fields of the message in b[start, end), each bounds-checked. */
function* fields(b: Uint8Array, start: number, end: number): Generator<Field> {
  const r = { pos: start };
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = varint(b, r, end);
    const no = Math.floor(tag / 8);
    const wire = tag % 8;
    if (no === 0) throw new Malformed(`field number 0 at byte ${tagAt}`);
    const at = r.pos;
    switch (wire) {
      case W.varint: {
        const value = varint(b, r, end);
        yield { no, wire, value, at, end: r.pos };
        break;
      }
      case W.len: {
        const len = varint(b, r, end);
        if (len > end - r.pos) throw new Malformed(`field ${no} at byte ${tagAt} claims ${len} bytes, only ${end - r.pos} left`);
        const payload = r.pos;
        r.pos += len;
        yield { no, wire, value: len, at: payload, end: r.pos };
        break;
      }
      case W.i64:
      case W.i32: {
        const size = wire === W.i64 ? 8 : 4;
        if (size > end - r.pos) throw new Malformed(`fixed field ${no} at byte ${tagAt} runs past the end`);
        r.pos += size;
        yield { no, wire, value: 0, at, end: r.pos };
        break;
      }
      default:
        throw new Malformed(`field ${no} at byte ${tagAt} has unsupported wire type ${wire}`);
    }
  }
}

const utf8 = new TextDecoder('utf-8');
function text(b: Uint8Array, f: Field): string {
  if (f.wire !== W.len) throw new Malformed(`string field ${f.no} at byte ${f.at} has wire type ${f.wire}`);
  return utf8.decode(b.subarray(f.at, f.end));
}

function expectLen(f: Field, what: string): void {
  if (f.wire !== W.len) throw new Malformed(`${what} (field ${f.no}) has wire type ${f.wire}, expected 2`);
}

interface NodeInfo {
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** Constant nodes: the `value` tensor's byte range, or `value_float`. */
  constant?: { at: number; end: number } | { float: number };
}

interface ValueInfo {
  name: string;
  elemType: number | undefined;
  shape: (number | string)[] | undefined;
}

interface Graph {
  nodes: NodeInfo[];
  /** Initializer name → its TensorProto's byte range. */
  initializers: Map<string, { at: number; end: number }>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Names read by nodes of nested subgraphs (If/Loop/Scan bodies may read outer-scope values). */
  nestedReads: Set<string>;
}

function readGraph(b: Uint8Array, start: number, end: number): Graph {
  const g: Graph = { nodes: [], initializers: new Map(), inputs: [], outputs: [], nestedReads: new Set() };
  for (const f of fields(b, start, end)) {
    switch (f.no) {
      case F.Graph.node:
        expectLen(f, 'GraphProto.node');
        g.nodes.push(readNode(b, f.at, f.end, g.nestedReads, 0));
        break;
      case F.Graph.initializer: {
        expectLen(f, 'GraphProto.initializer');
        let name = '';
        for (const t of fields(b, f.at, f.end)) if (t.no === F.Tensor.name) name = text(b, t);
        g.initializers.set(name, { at: f.at, end: f.end });
        break;
      }
      case F.Graph.input:
      case F.Graph.output:
        expectLen(f, 'GraphProto.input/output');
        (f.no === F.Graph.input ? g.inputs : g.outputs).push(readValueInfo(b, f.at, f.end));
        break;
      default:
    }
  }
  return g;
}

function readNode(b: Uint8Array, start: number, end: number, nestedReads: Set<string>, depth: number): NodeInfo {
  const n: NodeInfo = { opType: '', domain: '', inputs: [], outputs: [] };
  for (const f of fields(b, start, end)) {
    switch (f.no) {
      case F.Node.input:
        n.inputs.push(text(b, f));
        break;
      case F.Node.output:
        n.outputs.push(text(b, f));
        break;
      case F.Node.opType:
        n.opType = text(b, f);
        break;
      case F.Node.domain:
        n.domain = text(b, f);
        break;
      case F.Node.attribute: {
        expectLen(f, 'NodeProto.attribute');
        let name = '';
        let t: { at: number; end: number } | undefined;
        let fl: number | undefined;
        for (const a of fields(b, f.at, f.end)) {
          if (a.no === F.Attribute.name) name = text(b, a);
          else if (a.no === F.Attribute.t) {
            expectLen(a, 'AttributeProto.t');
            t = { at: a.at, end: a.end };
          } else if (a.no === F.Attribute.f && a.wire === W.i32) fl = new DataView(b.buffer, b.byteOffset + a.at, 4).getFloat32(0, true);
          else if (a.no === F.Attribute.g || a.no === F.Attribute.graphs) {
            expectLen(a, 'AttributeProto.g/graphs');
            collectReads(b, a.at, a.end, nestedReads, depth + 1);
          }
        }
        if (name === 'value' && t) n.constant = t;
        else if (name === 'value_float' && fl !== undefined) n.constant = { float: fl };
        break;
      }
      default:
    }
  }
  return n;
}

/** Adds every name read by a node of the subgraph in b[start, end) (and of its own subgraphs) to `into`. */
function collectReads(b: Uint8Array, start: number, end: number, into: Set<string>, depth: number): void {
  if (depth > MAX_DEPTH) throw new Malformed(`subgraphs nested deeper than ${MAX_DEPTH}`);
  for (const f of fields(b, start, end)) {
    if (f.no !== F.Graph.node) continue;
    expectLen(f, 'GraphProto.node');
    for (const name of readNode(b, f.at, f.end, into, depth).inputs) into.add(name);
  }
}

function readValueInfo(b: Uint8Array, start: number, end: number): ValueInfo {
  const v: ValueInfo = { name: '', elemType: undefined, shape: undefined };
  for (const f of fields(b, start, end)) {
    if (f.no === F.ValueInfo.name) v.name = text(b, f);
    else if (f.no === F.ValueInfo.type) {
      expectLen(f, 'ValueInfoProto.type');
      for (const t of fields(b, f.at, f.end)) {
        if (t.no !== F.Type.tensorType) continue; // sequence/map/optional types: not tensors
        expectLen(t, 'TypeProto.tensor_type');
        for (const tt of fields(b, t.at, t.end)) {
          if (tt.no === F.TypeTensor.elemType && tt.wire === W.varint) v.elemType = tt.value;
          else if (tt.no === F.TypeTensor.shape) {
            expectLen(tt, 'TypeProto.Tensor.shape');
            v.shape = [];
            for (const d of fields(b, tt.at, tt.end)) {
              if (d.no !== F.Shape.dim) continue;
              expectLen(d, 'TensorShapeProto.dim');
              let dim: number | string = '?';
              for (const x of fields(b, d.at, d.end)) {
                if (x.no === F.Dim.value && x.wire === W.varint) dim = x.value;
                else if (x.no === F.Dim.param) dim = text(b, x);
              }
              v.shape.push(dim);
            }
          }
        }
      }
    }
  }
  return v;
}

function readModelGraph(b: Uint8Array): Graph {
  let graph: { at: number; end: number } | undefined;
  for (const f of fields(b, 0, b.length)) {
    if (f.no === F.Model.graph) {
      expectLen(f, 'ModelProto.graph');
      graph = { at: f.at, end: f.end };
    }
  }
  if (!graph) throw new Malformed('the model has no graph (ModelProto field 7)');
  return readGraph(b, graph.at, graph.end);
}

// ---- the boundary analysis ----

type Constant = { ok: true; tensor: DecodedTensor } | { ok: false; reason: string };

function elemName(t: number | undefined): string | undefined {
  return t === undefined ? undefined : (ELEM_NAMES[t] ?? `DataType(${t})`);
}

function isQuantType(t: string | undefined): t is OnnxQuantType {
  return t === 'int8' || t === 'uint8' || t === 'int32';
}

/** Per-tensor (scale, zero point) from a DequantizeLinear/QuantizeLinear node's inputs 1 and 2, or why not. */
function params(node: NodeInfo, constant: (name: string) => Constant, type: OnnxQuantType, role: 'x' | 'y'): { quant: OnnxTensorQuant } | { note: string } {
  const scaleName = node.inputs[1];
  if (!scaleName) return { note: `${node.opType} has no ${role}_scale` };
  const s = constant(scaleName);
  if (!s.ok) return { note: `its ${role}_scale "${scaleName}" ${s.reason}` };
  if (s.tensor.type !== 'float32') return { note: `its ${role}_scale "${scaleName}" is ${s.tensor.type}, not float32` };
  if (s.tensor.data.length !== 1) return { note: `it is quantized per axis (${s.tensor.data.length} scales, dims [${s.tensor.dims.join(', ')}]); only per-tensor quantization is applied` };
  const scale = Number(s.tensor.data[0]!);
  if (!Number.isFinite(scale) || scale === 0) return { note: `its ${role}_scale is ${scale}` };
  let zeroPoint = 0;
  const zpName = node.inputs[2];
  if (zpName) {
    const z = constant(zpName);
    if (!z.ok) return { note: `its ${role}_zero_point "${zpName}" ${z.reason}` };
    if (z.tensor.data.length !== 1) return { note: `it is quantized per axis (${z.tensor.data.length} zero points); only per-tensor quantization is applied` };
    if (z.tensor.type !== type) return { note: `its ${role}_zero_point is ${z.tensor.type} but the tensor is ${type}` };
    zeroPoint = Number(z.tensor.data[0]!);
  }
  if (type === 'int32' && zeroPoint !== 0) return { note: `int32 with zero point ${zeroPoint} (DequantizeLinear allows only 0 for int32)` };
  return { quant: { type, scale, zeroPoint } };
}

function analyse(b: Uint8Array, g: Graph): OnnxBoundary {
  const consumers = new Map<string, NodeInfo[]>();
  const producers = new Map<string, NodeInfo>();
  for (const n of g.nodes) {
    for (const i of new Set(n.inputs)) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
    for (const o of n.outputs) if (o) producers.set(o, n);
  }
  const constants = new Map<string, Constant>();
  const constant = (name: string): Constant => {
    let c = constants.get(name);
    if (c) return c;
    const init = g.initializers.get(name);
    const node = producers.get(name);
    if (init) {
      const r = decodeTensorProto(b.subarray(init.at, init.end));
      c = r.ok ? r : { ok: false, reason: `cannot be read: ${r.reason}` };
    } else if (node?.opType === 'Constant' && node.constant) {
      if ('float' in node.constant) c = { ok: true, tensor: { name, dims: [], type: 'float32', data: Float32Array.of(node.constant.float) } };
      else {
        const r = decodeTensorProto(b.subarray(node.constant.at, node.constant.end));
        c = r.ok ? r : { ok: false, reason: `cannot be read: ${r.reason}` };
      }
    } else if (g.inputs.some((v) => v.name === name)) c = { ok: false, reason: 'is a graph input, known only at run time' };
    else c = { ok: false, reason: `is computed${node ? ` by ${node.opType}` : ''}, not a constant` };
    constants.set(name, c);
    return c;
  };
  const isQdq = (n: NodeInfo, op: string) => n.opType === op && QDQ_DOMAINS.has(n.domain);
  const outputNames = new Set(g.outputs.map((v) => v.name));

  const inputs = g.inputs
    .filter((v) => !g.initializers.has(v.name))
    .map((v): OnnxBoundaryTensor => {
      const elemType = elemName(v.elemType);
      const base = { name: v.name, elemType, shape: v.shape, quant: undefined, note: undefined };
      const users = consumers.get(v.name) ?? [];
      const dqs = users.filter((n) => isQdq(n, 'DequantizeLinear') && n.inputs[0] === v.name);
      if (!isQuantType(elemType) || dqs.length === 0) return base;
      const others = users.filter((n) => !dqs.includes(n)).map((n) => n.opType);
      if (g.nestedReads.has(v.name)) others.push('a subgraph');
      if (outputNames.has(v.name)) others.push('the graph output of that name');
      if (others.length > 0) return { ...base, note: `left raw: it is also used as integers by ${[...new Set(others)].join(', ')}` };
      let found: OnnxTensorQuant | undefined;
      for (const dq of dqs) {
        const p = params(dq, constant, elemType, 'x');
        if ('note' in p) return { ...base, note: `left raw: ${p.note}` };
        if (found && (found.scale !== p.quant.scale || found.zeroPoint !== p.quant.zeroPoint)) return { ...base, note: 'left raw: its DequantizeLinear nodes disagree on scale/zero point' };
        found = p.quant;
      }
      return { ...base, quant: found };
    });

  const outputs = g.outputs.map((v): OnnxBoundaryTensor => {
    const elemType = elemName(v.elemType);
    const base = { name: v.name, elemType, shape: v.shape, quant: undefined, note: undefined };
    const q = producers.get(v.name);
    // QuantizeLinear writes int8/uint8 (int16/uint16/4-bit/float8 from opset 21, which the engine cannot return).
    if ((elemType !== 'int8' && elemType !== 'uint8') || !q || !isQdq(q, 'QuantizeLinear') || q.outputs[0] !== v.name) return base;
    const p = params(q, constant, elemType, 'y');
    return 'note' in p ? { ...base, note: `left raw: ${p.note}` } : { ...base, quant: p.quant };
  });
  return { inputs, outputs };
}

/** The graph's inputs and outputs with the per-tensor quantization at its boundary. Never throws. */
export function readOnnxBoundary(bytes: Uint8Array): OnnxBoundaryResult {
  try {
    return { ok: true, boundary: analyse(bytes, readModelGraph(bytes)) };
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, reason: e.message };
    return { ok: false, reason: `internal reader error: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * ONNX QuantizeLinear for one value: saturate(round(x / scale) + zero_point), the division in float32
 * (as onnxruntime computes it) and round half to even (onnx/docs/Operators.md, QuantizeLinear) — not
 * TFLite's half away from zero. NaN maps to the zero point.
 */
export function quantizeLinear(x: number, q: OnnxTensorQuant): number {
  const [lo, hi] = RANGE[q.type];
  if (Number.isNaN(x)) return Math.min(hi, Math.max(lo, q.zeroPoint));
  const v = Math.fround(x / q.scale);
  let r = Math.round(v); // ties go up (toward +∞) …
  if (r - v === 0.5 && r % 2 !== 0) r -= 1; // … so a tie that went to an odd number goes down to the even one
  const y = r + q.zeroPoint + 0; // + 0: no −0 (Math.round(−0.4) is −0)
  return y < lo ? lo : y > hi ? hi : y;
}

/** ONNX DequantizeLinear for one value: (q − zero_point) · scale, in float32 as the operator computes it. */
export function dequantizeLinear(v: number, q: OnnxTensorQuant): number {
  return Math.fround((v - q.zeroPoint) * q.scale);
}
