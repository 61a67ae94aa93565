import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import { MemoryLogSink, createLogger } from '../core/log.js';
import type { Action } from '../policy/policy.js';
import type { Verdict } from '../qa/types.js';
import { sampleVerdict } from './publisher.contract.js';
import { DataType, Quality, SparkplugSession, type SparkplugMetric, type SparkplugSessionOptions, decodeSparkplug, encodeSparkplug, sparkplugTopics } from './sparkplug.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function statePath(content?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tinyqa-sparkplug-'));
  dirs.push(dir);
  const path = join(dir, 'sparkplug-bdseq.json');
  if (content !== undefined) writeFileSync(path, content);
  return path;
}

function session(path = statePath(), extra: Partial<SparkplugSessionOptions> = {}): SparkplugSession {
  return new SparkplugSession({ group: 'plant-3', edgeNode: 'gw-01', device: 'dev-7', bdSeqPath: path, ...extra });
}

/** A session with NBIRTH and DBIRTH out (seq 0 and 1), ready for DDATA. */
function born(path?: string): SparkplugSession {
  const s = session(path);
  s.nextSession();
  s.death();
  s.nodeBirth(1000, { version: '0.1.0', device: 'dev-7' });
  s.deviceBirth(1000, ['pressure'], ['completeness', 'spike']);
  return s;
}

/** Window 1767225600000..+990 of "pressure": completeness passes, spike fails, so intrinsic fails. */
function failingVerdict(): Verdict {
  return {
    ...sampleVerdict('dev-7', 1_767_225_600, 'pressure'),
    parents: { intrinsic: 'fail' },
    children: {
      completeness: { score: 0, threshold: 0.02, pass: true, severity: 'critical', parent: 'intrinsic', code: 'completeness.ok', reason: '0/100 missing' },
      spike: { score: 0.75, threshold: 0.1, pass: false, severity: 'critical', parent: 'intrinsic', code: 'spike.found', reason: '3 spikes > 6σ' },
    },
    failed: ['spike'],
  };
}

const action: Action = {
  v: 1, device: 'dev-7', stream: 'pressure', kind: 'alert', state: 'raised', parent: 'intrinsic', child: 'spike',
  reason: '3 of the last 5 windows failed intrinsic', verdict_seq: 1_767_225_600, t0: 1_767_225_600_000, t1: 1_767_225_600_990,
};

function metric(payload: { metrics?: SparkplugMetric[] }, name: string): SparkplugMetric {
  const m = payload.metrics?.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name} in ${JSON.stringify(payload.metrics?.map((x) => x.name))}`);
  return m;
}

function qualityOf(m: SparkplugMetric): number | undefined {
  const i = m.properties?.keys?.indexOf('Quality') ?? -1;
  const v = i >= 0 ? m.properties?.values?.[i] : undefined;
  expect(v?.type).toBe(DataType.Int32);
  return v?.int_value;
}

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('Sparkplug B topics', () => {
  it('builds the spBv1.0 node and device topics', () => {
    const t = sparkplugTopics('plant-3', 'gw-01', 'dev-7');
    expect(t.nbirth).toBe('spBv1.0/plant-3/NBIRTH/gw-01');
    expect(t.ndeath).toBe('spBv1.0/plant-3/NDEATH/gw-01');
    expect(t.ndata).toBe('spBv1.0/plant-3/NDATA/gw-01');
    expect(t.ncmd).toBe('spBv1.0/plant-3/NCMD/gw-01');
    expect(t.dbirth).toBe('spBv1.0/plant-3/DBIRTH/gw-01/dev-7');
    expect(t.ddeath).toBe('spBv1.0/plant-3/DDEATH/gw-01/dev-7');
    expect(t.ddata).toBe('spBv1.0/plant-3/DDATA/gw-01/dev-7');
    expect(t.dcmd).toBe('spBv1.0/plant-3/DCMD/gw-01/dev-7');
    expect(sparkplugTopics('Sparkplug B Devices', 'Raspberry Pi', 'Pibrella').dbirth).toBe('spBv1.0/Sparkplug B Devices/DBIRTH/Raspberry Pi/Pibrella');
  });

  it('refuses ids with / + # NUL or nothing, naming the id', () => {
    const cases: [string, string, string, string][] = [
      ['a/b', 'n', 'd', 'group_id'],
      ['g', 'n+', 'd', 'edge_node_id'],
      ['g', 'n', '#', 'device_id'],
      ['', 'n', 'd', 'group_id'],
      ['g', 'n\u0000', 'd', 'edge_node_id'],
      ['g', 'n', 'd\ud800', 'device_id'],
    ];
    for (const [g, n, d, key] of cases) {
      const e = errorOf(() => sparkplugTopics(g, n, d));
      expect(isTinyqaError(e, ErrorCode.ConfigInvalid), String(e)).toBe(true);
      expect((e as Error).message).toContain(`Sparkplug ${key}`);
    }
  });
});

describe('Sparkplug B payload bytes (field numbers of the spec\'s sparkplug_b.proto)', () => {
  it('encodes the will exactly as hand-computed', () => {
    // bdSeq 5 (the file says 4 was the last). Tag = field << 3 | wire type (0 varint, 1 fixed64, 2 length).
    //   12 0b                 Payload.metrics (2, LEN), 11 bytes:
    //     0a 05 62 64 53 65 71    Metric.name (1, LEN) "bdSeq"
    //     20 04                   Metric.datatype (4, varint) 4 = Int64
    //     58 05                   Metric.long_value (11 → 0x58, varint) 5
    // No Payload.timestamp (the will fires at an unknown time) and no Payload.seq (NDEATH has none).
    const s = session(statePath('{"v":1,"bdSeq":4}\n'));
    expect(s.nextSession()).toBe(5);
    expect(Buffer.from(s.death().bytes).toString('hex')).toBe('120b' + '0a056264536571' + '2004' + '5805');
    // With a time (the NDEATH sent before a deliberate DISCONNECT): Payload.timestamp (1) and
    // Metric.timestamp (3), 1000 = 0b111_1101000 → varint e8 07.
    expect(Buffer.from(s.death(1000).bytes).toString('hex')).toBe('08e807' + '120e' + '0a056264536571' + '18e807' + '2004' + '5805');
  });

  it('encodes seq, is_null, properties and the value fields as hand-computed', () => {
    const bytes = encodeSparkplug({
      timestamp: 1,
      seq: 255,
      metrics: [
        { name: 'p', boolean_value: true, properties: { keys: ['Quality'], values: [{ type: 3, int_value: 192 }] } },
        { name: 's', double_value: 0.5 },
        { name: 'f', string_value: 'x' },
        { name: 'n', datatype: 12, is_null: true },
      ],
    });
    const expected = [
      '0801', //                                  Payload.timestamp (1, varint) 1
      '1217', //                                  Payload.metrics (2, LEN) 23 bytes:
      '0a0170', //                                  Metric.name "p"
      '4a10', //                                    Metric.properties (9 → 0x4a, LEN) 16 bytes:
      '0a075175616c697479', //                        PropertySet.keys (1, LEN) "Quality"
      '1205', //                                      PropertySet.values (2, LEN) 5 bytes:
      '0803', //                                        PropertyValue.type (1) 3 = Int32
      '18c001', //                                      PropertyValue.int_value (3 → 0x18) 192 = 0b1_1000000 → c0 01
      '7001', //                                    Metric.boolean_value (14 → 0x70, varint) true
      '120c', //                                  Payload.metrics, 12 bytes:
      '0a0173', //                                  Metric.name "s"
      '69000000000000e03f', //                      Metric.double_value (13, fixed64 → 0x69) 0.5 little-endian
      '1206', //                                  Payload.metrics, 6 bytes:
      '0a0166', //                                  Metric.name "f"
      '7a0178', //                                  Metric.string_value (15, LEN → 0x7a) "x"
      '1207', //                                  Payload.metrics, 7 bytes:
      '0a016e', //                                  Metric.name "n"
      '200c', //                                    Metric.datatype (4) 12 = String
      '3801', //                                    Metric.is_null (7 → 0x38) true
      '18ff01', //                                Payload.seq (3, varint) 255 → ff 01
    ].join('');
    expect(Buffer.from(bytes).toString('hex')).toBe(expected);
  });
});

describe('Sparkplug B edge node session', () => {
  it('builds every message type in the order of a connection, with seq counting from the NBIRTH', () => {
    const s = session();
    expect(s.bdSeq).toBeUndefined();
    expect(s.nextSession()).toBe(0);

    const will = s.death();
    expect(will.topic).toBe('spBv1.0/plant-3/NDEATH/gw-01');
    const ndeath = decodeSparkplug(will.bytes);
    expect(ndeath).toEqual({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, long_value: 0 }] });

    const nbirth = s.nodeBirth(1000, { version: '0.1.0', device: 'dev-7' });
    expect(nbirth.topic).toBe('spBv1.0/plant-3/NBIRTH/gw-01');
    expect(decodeSparkplug(nbirth.bytes)).toEqual({
      timestamp: 1000,
      seq: 0,
      metrics: [
        { name: 'bdSeq', timestamp: 1000, datatype: DataType.Int64, long_value: 0 },
        { name: 'Node Control/Rebirth', timestamp: 1000, datatype: DataType.Boolean, boolean_value: false },
        { name: 'Properties/version', timestamp: 1000, datatype: DataType.String, string_value: '0.1.0' },
        { name: 'Properties/device', timestamp: 1000, datatype: DataType.String, string_value: 'dev-7' },
      ],
    });

    const dbirth = decodeSparkplug(s.deviceBirth(1001, ['pressure'], ['completeness', 'spike']).bytes);
    expect(dbirth.seq).toBe(1);
    expect(dbirth.timestamp).toBe(1001);
    expect(dbirth.metrics?.map((m) => [m.name, m.datatype, m.is_null])).toEqual([
      ['pressure/pass', DataType.Boolean, true],
      ['pressure/failed', DataType.String, true],
      ['pressure/completeness/score', DataType.Double, true],
      ['pressure/spike/score', DataType.Double, true],
      ['pressure/action', DataType.String, true],
      ['tinyqa/seq', DataType.UInt64, true],
    ]);
    for (const m of dbirth.metrics ?? []) expect(m.timestamp).toBe(1001);

    const v = failingVerdict();
    const vd = s.verdictData(2000, v, 42);
    expect(vd.topic).toBe('spBv1.0/plant-3/DDATA/gw-01/dev-7');
    const ddata = decodeSparkplug(vd.bytes);
    expect(ddata.seq).toBe(2);
    expect(ddata.timestamp).toBe(2000);
    expect(metric(ddata, 'pressure/pass')).toMatchObject({ boolean_value: false, timestamp: v.t1 });
    expect(metric(ddata, 'pressure/failed')).toMatchObject({ string_value: 'spike', timestamp: v.t1 });
    expect(metric(ddata, 'pressure/completeness/score')).toMatchObject({ double_value: 0 });
    expect(metric(ddata, 'pressure/spike/score')).toMatchObject({ double_value: 0.75 });
    expect(metric(ddata, 'tinyqa/seq')).toEqual({ name: 'tinyqa/seq', timestamp: 2000, long_value: 42 });
    for (const m of ddata.metrics ?? []) expect(m.datatype).toBeUndefined(); // declared in the birth only

    const ad = decodeSparkplug(s.actionData(2001, action, 43).bytes);
    expect(ad.seq).toBe(3);
    expect(JSON.parse(metric(ad, 'pressure/action').string_value!)).toEqual(action);
    expect(metric(ad, 'tinyqa/seq').long_value).toBe(43);

    const dd = s.deviceDeath(3000);
    expect(dd.topic).toBe('spBv1.0/plant-3/DDEATH/gw-01/dev-7');
    expect(decodeSparkplug(dd.bytes)).toEqual({ timestamp: 3000, seq: 4 });
    expect(s.needsRebirth).toBe(false);
  });

  it('marks each verdict metric GOOD (192) when it passed and BAD (0) when it failed', () => {
    const s = born();
    const ok = { ...failingVerdict(), parents: { intrinsic: 'pass' as const }, failed: [] };
    ok.children = { ...ok.children, spike: { ...ok.children.spike!, score: 0.01, pass: true } };

    const bad = decodeSparkplug(s.verdictData(2000, failingVerdict(), 1).bytes);
    expect(qualityOf(metric(bad, 'pressure/pass'))).toBe(Quality.Bad);
    expect(qualityOf(metric(bad, 'pressure/failed'))).toBe(Quality.Bad);
    expect(qualityOf(metric(bad, 'pressure/spike/score'))).toBe(Quality.Bad);
    expect(qualityOf(metric(bad, 'pressure/completeness/score'))).toBe(Quality.Good);

    const good = decodeSparkplug(s.verdictData(3000, ok, 2).bytes);
    expect(metric(good, 'pressure/pass').boolean_value).toBe(true);
    expect(metric(good, 'pressure/failed').string_value).toBe('');
    for (const m of good.metrics ?? []) if (m.name !== 'tinyqa/seq') expect(qualityOf(m)).toBe(Quality.Good);
  });

  it('carries durable seqs beyond 32 bits exactly', () => {
    const s = born();
    expect(metric(decodeSparkplug(s.verdictData(2000, failingVerdict(), 5_000_000_000).bytes), 'tinyqa/seq').long_value).toBe(5_000_000_000);
  });

  it('wraps seq from 255 to 0 and restarts it at 0 with every NBIRTH', () => {
    const s = born(); // NBIRTH 0, DBIRTH 1
    const seqs: number[] = [];
    for (let i = 0; i < 256; i++) seqs.push(decodeSparkplug(s.verdictData(2000 + i, failingVerdict(), i).bytes).seq!);
    expect(seqs.slice(0, 2)).toEqual([2, 3]);
    expect(seqs.slice(252)).toEqual([254, 255, 0, 1]);
    // A rebirth (host's Node Control/Rebirth) in the same session: NBIRTH 0 again, then DBIRTH 1.
    expect(decodeSparkplug(s.nodeBirth(9000, { version: '0.1.0', device: 'dev-7' }).bytes).seq).toBe(0);
    expect(decodeSparkplug(s.deviceBirth(9000, ['pressure']).bytes).seq).toBe(1);
    expect(decodeSparkplug(s.actionData(9001, action, 300).bytes).seq).toBe(2);
    // A new connection: NBIRTH 0 as well.
    s.nextSession();
    expect(decodeSparkplug(s.nodeBirth(9100, { version: '0.1.0', device: 'dev-7' }).bytes).seq).toBe(0);
  });

  it('gives the will and the NBIRTH of each connection the same bdSeq, one more per connection', () => {
    const s = session();
    for (let n = 0; n < 3; n++) {
      expect(s.nextSession()).toBe(n);
      const will = decodeSparkplug(s.death().bytes); // built before CONNECT
      const birth = decodeSparkplug(s.nodeBirth(1000 * n, { version: '0.1.0', device: 'dev-7' }).bytes); // after CONNACK
      expect(metric(will, 'bdSeq').long_value).toBe(n);
      expect(metric(birth, 'bdSeq').long_value).toBe(n);
      expect(s.bdSeq).toBe(n);
    }
  });

  it('persists bdSeq before handing it out, so a restart continues after it', () => {
    const path = statePath();
    const a = session(path);
    expect(a.nextSession()).toBe(0);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ v: 1, bdSeq: 0 });
    expect(readdirSync(dirname(path))).toEqual(['sparkplug-bdseq.json']); // the temp file was renamed over it
    expect(a.nextSession()).toBe(1);
    // The process restarts: a new session object on the same file.
    const b = session(path);
    expect(b.bdSeq).toBeUndefined();
    expect(b.nextSession()).toBe(2);
    expect(metric(decodeSparkplug(b.death().bytes), 'bdSeq').long_value).toBe(2);
    expect(session(statePath('{"v":1,"bdSeq":255}')).nextSession()).toBe(0); // 255 wraps to 0
  });

  it('makes the state file\'s directory when it is missing', () => {
    const path = join(dirname(statePath()), 'state', 'sparkplug', 'bdseq.json');
    const sink = new MemoryLogSink();
    expect(session(path, { log: createLogger('warn', sink) }).nextSession()).toBe(0);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ v: 1, bdSeq: 0 });
    expect(sink.lines).toEqual([]);
  });

  it('starts at bdSeq 0 when the file is missing or corrupt, and says so', () => {
    for (const [content, said] of [
      [undefined, /info: sparkplug: no bdSeq file at .* bdSeq starts at 0/],
      ['{"v":1,"bdSeq":', /warn: sparkplug: the bdSeq file .* is corrupt \(15 bytes/],
      ['{"v":1,"bdSeq":256}', /warn: .* is corrupt/],
      ['{"v":2,"bdSeq":3}', /warn: .* is corrupt/],
      ['\u0000\u0000\u0000', /warn: .* is corrupt/],
    ] as const) {
      const sink = new MemoryLogSink();
      const s = session(statePath(content), { log: createLogger('info', sink) });
      expect(s.nextSession()).toBe(0);
      expect(sink.lines.join('\n')).toMatch(said);
    }
  });

  it('goes on with the new bdSeq when the file cannot be written, and says so', () => {
    const sink = new MemoryLogSink();
    const fs = {
      readFile: () => new TextEncoder().encode('{"v":1,"bdSeq":7}'),
      mkdirp: () => {},
      writeFileAtomic: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    };
    const s = session('/nonexistent/bdseq.json', { fs, log: createLogger('warn', sink) });
    expect(s.nextSession()).toBe(8);
    expect(sink.lines.join('\n')).toMatch(/error: sparkplug: could not save bdSeq 8 .*ENOSPC/);
    expect(metric(decodeSparkplug(s.death().bytes), 'bdSeq').long_value).toBe(8);
  });

  it('refuses messages out of the Sparkplug order as an internal error', () => {
    const s = session();
    const internal = (f: () => unknown) => isTinyqaError(errorOf(f), ErrorCode.Internal);
    expect(internal(() => s.death())).toBe(true); // no nextSession yet
    s.nextSession();
    expect(internal(() => s.deviceBirth(1, ['pressure']))).toBe(true); // before NBIRTH
    s.nodeBirth(1, { version: '0.1.0', device: 'dev-7' });
    expect(internal(() => s.verdictData(2, failingVerdict(), 1))).toBe(true); // before DBIRTH
    s.deviceBirth(2, ['pressure']);
    expect(internal(() => s.deviceBirth(3, ['pressure']))).toBe(true); // a second DBIRTH needs a DDEATH or NBIRTH first
    s.deviceDeath(4);
    expect(internal(() => s.actionData(5, action, 1))).toBe(true); // after DDEATH
    s.nextSession();
    expect(internal(() => s.verdictData(6, failingVerdict(), 1))).toBe(true); // new connection, no births yet
  });

  it('asks for a rebirth when data carries a metric the DBIRTH did not declare, and declares it next time with its value', () => {
    const s = born(); // declared: pressure × {completeness, spike}
    const v = { ...failingVerdict(), stream: 'flow' };
    s.verdictData(2000, v, 1);
    expect(s.needsRebirth).toBe(true);
    s.nodeBirth(3000, { version: '0.1.0', device: 'dev-7' });
    const dbirth = decodeSparkplug(s.deviceBirth(3000, ['pressure'], []).bytes);
    expect(s.needsRebirth).toBe(false);
    // Current values ride in the birth (with their capture time and quality); unknown ones are null.
    expect(metric(dbirth, 'flow/spike/score')).toMatchObject({ datatype: DataType.Double, double_value: 0.75, timestamp: v.t1 });
    expect(qualityOf(metric(dbirth, 'flow/spike/score'))).toBe(Quality.Bad);
    expect(metric(dbirth, 'tinyqa/seq')).toMatchObject({ datatype: DataType.UInt64, long_value: 1 });
    expect(metric(dbirth, 'pressure/pass')).toMatchObject({ datatype: DataType.Boolean, is_null: true });
  });

  it('refuses bytes that are not a Sparkplug payload with E5009, and nothing else', () => {
    const e = errorOf(() => decodeSparkplug(Uint8Array.from([0x12, 0x20, 0x0a])));
    expect(isTinyqaError(e, ErrorCode.PayloadInvalid), String(e)).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeSparkplug(bytes);
        } catch (err) {
          expect(isTinyqaError(err, ErrorCode.PayloadInvalid), String(err)).toBe(true);
        }
      }),
    );
  });
});
