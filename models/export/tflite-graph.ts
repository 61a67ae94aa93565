/**
 * Reads the parts of a .tflite model that runtime/inference/tflite/flatbuffer.ts leaves out because
 * the inference runtime needs only I/O metadata: operator codes, subgraph 0's operators (inputs,
 * outputs, FULLY_CONNECTED options) and each tensor's constant data (Tensor.buffer → Model.buffers).
 * Tensor names, shapes, types and quantization still come from that reader (`readTfliteModel`).
 *
 * Same wire rules and the same refusal style as that reader: every read is bounds-checked and bad
 * bytes raise TinyqaError(ModelInvalid), never a RangeError. Field ids: ./tflite-schema.ts.
 */
import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import { BUILTIN_NAMES, T } from './tflite-schema.js';

export interface TfliteOperator {
  index: number;
  /** BuiltinOperator code: max(deprecated_builtin_code, builtin_code), as TFLite's GetBuiltinCode. */
  builtin: number;
  /** Printable op name: schema name, `CUSTOM(<custom_code>)`, or `BUILTIN(<n>)`. */
  opName: string;
  version: number;
  inputs: number[];
  outputs: number[];
  /** Union tag of builtin_options (schema.fbs BuiltinOptions; 0 = NONE). */
  optionsType: number;
  /** Position of the options table, for `readFullyConnectedOptions`. */
  optionsAt: number | undefined;
}

export interface FullyConnectedOptions {
  /** ActivationFunctionType. */
  fusedActivation: number;
  /** FullyConnectedOptionsWeightsFormat (0 = DEFAULT). */
  weightsFormat: number;
  keepNumDims: boolean;
}

export interface TfliteGraph {
  operators: TfliteOperator[];
  /** Constant bytes of tensor i (a view into the model bytes), undefined for activations. */
  tensorData(tensor: number): Uint8Array | undefined;
  fullyConnectedOptions(op: TfliteOperator): FullyConnectedOptions;
}

class Bytes {
  private readonly view: DataView;
  constructor(readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  fail(what: string): never {
    throw new TinyqaError(ErrorCode.ModelInvalid, `TFLite flatbuffer is malformed: ${what}`, {
      hint: 'the file is truncated or not a .tflite model; re-export or re-copy it',
    });
  }

  private need(pos: number, n: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || pos + n > this.b.length) this.fail(`${what} at byte ${pos} (+${n}) is outside the ${this.b.length}-byte buffer`);
  }
  u8(p: number, what: string): number { this.need(p, 1, what); return this.view.getUint8(p); }
  i8(p: number, what: string): number { this.need(p, 1, what); return this.view.getInt8(p); }
  u16(p: number, what: string): number { this.need(p, 2, what); return this.view.getUint16(p, true); }
  i32(p: number, what: string): number { this.need(p, 4, what); return this.view.getInt32(p, true); }
  u32(p: number, what: string): number { this.need(p, 4, what); return this.view.getUint32(p, true); }

  /** Where field `id` of the table at `table` lies, or undefined when absent (vtable slot 0 / past the end). */
  field(table: number, id: number, what: string): number | undefined {
    const vt = table - this.i32(table, `${what} soffset`);
    const vtBytes = this.u16(vt, `${what} vtable`);
    const slot = 4 + 2 * id;
    if (slot + 2 > vtBytes) return undefined;
    const off = this.u16(vt + slot, `${what} vtable slot ${id}`);
    return off === 0 ? undefined : table + off;
  }

  deref(p: number, what: string): number {
    const t = p + this.u32(p, what);
    this.need(t, 4, what);
    return t;
  }

  /** [first element, count] of a vector field, checked to fit. */
  vector(table: number, id: number, elem: number, what: string): [number, number] | undefined {
    const p = this.field(table, id, what);
    if (p === undefined) return undefined;
    const v = this.deref(p, what);
    const n = this.u32(v, `${what} length`);
    this.need(v + 4, n * elem, `${what} (${n} elements)`);
    return [v + 4, n];
  }

  tables(table: number, id: number, what: string): number[] {
    const v = this.vector(table, id, 4, what);
    return v === undefined ? [] : Array.from({ length: v[1] }, (_, i) => this.deref(v[0] + 4 * i, `${what}[${i}]`));
  }

  ints(table: number, id: number, what: string): number[] {
    const v = this.vector(table, id, 4, what);
    return v === undefined ? [] : Array.from({ length: v[1] }, (_, i) => this.i32(v[0] + 4 * i, what));
  }

  string(table: number, id: number, what: string): string | undefined {
    const v = this.vector(table, id, 1, what);
    return v === undefined ? undefined : new TextDecoder().decode(this.b.subarray(v[0], v[0] + v[1]));
  }

  scalar(table: number, id: number, read: 'u8' | 'i8' | 'i32' | 'u32', fallback: number, what: string): number {
    const p = this.field(table, id, what);
    return p === undefined ? fallback : this[read](p, what);
  }
}

/** Reads operators and constant data of subgraph 0. Throws TinyqaError(ModelInvalid) on bad bytes. */
export function readTfliteGraph(bytes: Uint8Array): TfliteGraph {
  const r = new Bytes(bytes);
  if (bytes.length < 8) r.fail(`only ${bytes.length} bytes`);
  const model = r.deref(0, 'root table offset');

  const codes = r.tables(model, T.Model.operator_codes, 'Model.operator_codes').map((c, i) => {
    const what = `operator_codes[${i}]`;
    const deprecated = r.scalar(c, T.OperatorCode.deprecated_builtin_code, 'i8', 0, what);
    const extended = r.scalar(c, T.OperatorCode.builtin_code, 'i32', 0, what);
    const builtin = Math.max(deprecated, extended);
    const custom = r.string(c, T.OperatorCode.custom_code, `${what}.custom_code`);
    const opName = builtin === 32 && custom !== undefined ? `CUSTOM(${custom})` : BUILTIN_NAMES[builtin] ?? `BUILTIN(${builtin})`;
    return { builtin, opName, version: r.scalar(c, T.OperatorCode.version, 'i32', 1, what) };
  });

  const subgraphs = r.tables(model, T.Model.subgraphs, 'Model.subgraphs');
  if (subgraphs.length === 0) r.fail('the model has no subgraph');
  const sg = subgraphs[0]!;
  const operators = r.tables(sg, T.SubGraph.operators, 'SubGraph.operators').map((op, index): TfliteOperator => {
    const what = `operator ${index}`;
    const codeIndex = r.scalar(op, T.Operator.opcode_index, 'u32', 0, what);
    const code = codes[codeIndex] ?? r.fail(`${what} uses operator code ${codeIndex} of ${codes.length}`);
    const optionsField = r.field(op, T.Operator.builtin_options, what);
    return {
      index,
      ...code,
      inputs: r.ints(op, T.Operator.inputs, `${what}.inputs`),
      outputs: r.ints(op, T.Operator.outputs, `${what}.outputs`),
      optionsType: r.scalar(op, T.Operator.builtin_options_type, 'u8', 0, what),
      optionsAt: optionsField === undefined ? undefined : r.deref(optionsField, `${what}.builtin_options`),
    };
  });

  const tensors = r.tables(sg, T.SubGraph.tensors, 'SubGraph.tensors');
  const buffers = r.tables(model, T.Model.buffers, 'Model.buffers');

  return {
    operators,
    tensorData(tensor) {
      const t = tensors[tensor];
      if (t === undefined) return undefined;
      const b = r.scalar(t, T.Tensor.buffer, 'u32', 0, `tensor ${tensor}`);
      const buf = buffers[b];
      if (b === 0 || buf === undefined) return undefined;
      // Buffer.offset/size (data stored after the flatbuffer, for models over 2 GB) are not handled:
      // such a buffer has no `data` and reads as "no constant data".
      const v = r.vector(buf, T.Buffer.data, 1, `buffer ${b}`);
      return v === undefined || v[1] === 0 ? undefined : bytes.subarray(v[0], v[0] + v[1]);
    },
    fullyConnectedOptions(op) {
      const at = op.optionsAt;
      const what = `operator ${op.index} FullyConnectedOptions`;
      if (at === undefined) return { fusedActivation: 0, weightsFormat: 0, keepNumDims: false };
      return {
        fusedActivation: r.scalar(at, T.FullyConnectedOptions.fused_activation_function, 'i8', 0, what),
        weightsFormat: r.scalar(at, T.FullyConnectedOptions.weights_format, 'i8', 0, what),
        keepNumDims: r.scalar(at, T.FullyConnectedOptions.keep_num_dims, 'u8', 0, what) !== 0,
      };
    },
  };
}
