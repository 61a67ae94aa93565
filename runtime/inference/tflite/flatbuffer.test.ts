import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTinyqaError } from '../../core/errors.js';
import { TfliteErrorCode } from './codes.js';
import { fixtureBytes, haveFixture } from './fixtures.js';
import { readTfliteModel } from './flatbuffer.js';

const HW_INT8 = 'tflm_hello_world_int8';
const AD01 = 'mlperf_tiny_ad01_int8';
const KWS = 'tflm_keyword_scrambled_8bit';
const ADD4 = 'tfjs_tflite_add4';

/** Runs `f` and returns its outcome: 'ok', or the code of the TinyqaError; any other throw fails. */
function outcome(f: () => unknown): 'ok' | number {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (isTinyqaError(e)) return e.code;
    throw e;
  }
}

describe.skipIf(!haveFixture(HW_INT8))('TFLite flatbuffer reader on hello_world_int8', () => {
  // Read lazily: a skipped suite's body is still collected.
  let cached: Uint8Array | undefined;
  const model = (): Uint8Array => (cached ??= fixtureBytes(HW_INT8, 'hello_world_int8.tflite'));

  it('reports schema version 3, the converter description and 10 tensors', () => {
    const m = readTfliteModel(model());
    expect(m.version).toBe(3);
    expect(m.description).toBe('MLIR Converted.');
    expect(m.tensors).toHaveLength(10);
  });

  it('reports the documented int8 input and output scale and zero point (SOURCE.md)', () => {
    const { inputs, outputs } = readTfliteModel(model());
    expect(inputs).toHaveLength(1);
    expect(outputs).toHaveLength(1);
    const [i, o] = [inputs[0]!, outputs[0]!];
    expect(i).toMatchObject({ index: 0, name: 'serving_default_dense_input:0', shape: [1, 1], shapeSignature: [-1, 1], type: 'INT8' });
    expect(i.quantization?.scale[0]).toBeCloseTo(0.0244801156, 9);
    expect(i.quantization?.zeroPoint).toEqual([-128]);
    expect(o).toMatchObject({ index: 9, name: 'StatefulPartitionedCall:0', shape: [1, 1], type: 'INT8' });
    expect(o.quantization?.scale[0]).toBeCloseTo(0.00829095673, 10);
    expect(o.quantization?.zeroPoint).toEqual([5]);
  });

  it('refuses the model cut in half with code 7001', () => {
    const bytes = model();
    expect(outcome(() => readTfliteModel(bytes.subarray(0, bytes.length >> 1)))).toBe(TfliteErrorCode.ModelInvalid);
  });

  it('never throws anything but a TinyqaError 7001 on any truncation', () => {
    const bytes = model();
    for (let n = 0; n < bytes.length; n++) {
      const r = outcome(() => readTfliteModel(bytes.subarray(0, n)));
      if (r !== 'ok') expect(r).toBe(TfliteErrorCode.ModelInvalid);
    }
  });

  it('never throws anything but a TinyqaError 7001 when bytes of the model are corrupted', () => {
    const bytes = model();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const copy = bytes.slice();
        for (const [at, v] of edits) copy[at] = v;
        const r = outcome(() => readTfliteModel(copy));
        return r === 'ok' || r === TfliteErrorCode.ModelInvalid;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('TFLite flatbuffer reader on garbage', () => {
  it('refuses empty, short and wrong-identifier buffers with code 7001 and says why', () => {
    expect(outcome(() => readTfliteModel(new Uint8Array(0)))).toBe(TfliteErrorCode.ModelInvalid);
    expect(outcome(() => readTfliteModel(Uint8Array.of(1, 2, 3)))).toBe(TfliteErrorCode.ModelInvalid);
    const onnxLike = new TextEncoder().encode('\x08\x07\x12\x07pytorch model bytes....');
    expect(() => readTfliteModel(onnxLike)).toThrow(/E7001 .*file identifier/);
  });

  it('refuses a "TFL3" header whose root offset points outside the buffer', () => {
    const b = Uint8Array.of(0xff, 0xff, 0, 0, 0x54, 0x46, 0x4c, 0x33);
    expect(() => readTfliteModel(b)).toThrow(/E7001 .*outside the 8-byte buffer/);
  });

  it('never throws anything but a TinyqaError 7001 on arbitrary bytes, with or without the identifier', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (raw, tag) => {
        const b = raw.slice();
        if (tag && b.length >= 8) b.set([0x54, 0x46, 0x4c, 0x33], 4);
        const r = outcome(() => readTfliteModel(b));
        return r === 'ok' || r === TfliteErrorCode.ModelInvalid;
      }),
      { numRuns: 2000 },
    );
  });
});

describe.skipIf(!haveFixture(AD01))('TFLite flatbuffer reader on the MLPerf Tiny AD01 int8 model', () => {
  it('reports input_1 int8 [1,640] scale 0.391015232 zp 89 and Identity scale 0.364498466 zp 96', () => {
    const m = readTfliteModel(fixtureBytes(AD01, 'ad01_int8.tflite'));
    const [i, o] = [m.inputs[0]!, m.outputs[0]!];
    expect(i).toMatchObject({ name: 'input_1', shape: [1, 640], type: 'INT8' });
    expect(i.quantization?.scale[0]).toBeCloseTo(0.391015232, 8);
    expect(i.quantization?.zeroPoint).toEqual([89]);
    expect(o).toMatchObject({ name: 'Identity', shape: [1, 640], type: 'INT8' });
    expect(o.quantization?.scale[0]).toBeCloseTo(0.364498466, 8);
    expect(o.quantization?.zeroPoint).toEqual([96]);
  });
});

describe.skipIf(!haveFixture(KWS))('TFLite flatbuffer reader on keyword_scrambled_8bit', () => {
  it('reports the unnamed int16 input and int32 output with their scales', () => {
    const m = readTfliteModel(fixtureBytes(KWS, 'keyword_scrambled_8bit.tflite'));
    expect(m.description).toBeUndefined();
    expect(m.inputs[0]).toMatchObject({ name: '', shape: [1, 96], type: 'INT16' });
    expect(m.inputs[0]!.quantization?.scale[0]).toBeCloseTo(0.000625, 9);
    expect(m.outputs[0]).toMatchObject({ name: '', shape: [1, 2], type: 'INT32' });
    expect(m.outputs[0]!.quantization?.scale[0]).toBeCloseTo(3.05185e-5, 9);
  });
});

describe.skipIf(!haveFixture(ADD4))('TFLite flatbuffer reader on add4', () => {
  it('reports two float32 [1,4] inputs without quantization and one output', () => {
    const m = readTfliteModel(fixtureBytes(ADD4, 'add4.tflite'));
    expect(m.inputs.map((t) => [t.name, t.type, t.shape, t.quantization])).toEqual([
      ['serving_default_input_1:0', 'FLOAT32', [1, 4], undefined],
      ['serving_default_input_2:0', 'FLOAT32', [1, 4], undefined],
    ]);
    expect(m.outputs.map((t) => t.name)).toEqual(['PartitionedCall:0']);
  });
});
