/**
 * Eclipse Sparkplug B (Sparkplug 3.0.0) edge-node encoding for the MQTT uplink (DESIGN §6): topics,
 * the birth/death sequence (bdSeq) kept across restarts, the per-session message seq, and the
 * protobuf payloads. The gateway is the Sparkplug Edge Node, the serial device behind it a Sparkplug
 * Device. Pure apart from the small bdSeq state file; the MQTT client is someone else's (mqtt.ts).
 * The only file that imports `protobufjs`.
 *
 * Order of calls for every MQTT connection N (the first one included):
 *   1. `nextSession()`   — bdSeq_N = bdSeq_{N−1} + 1 (mod 256), written to disk *before* anything
 *                          carries it, so a crash or restart can never hand the same value out again;
 *   2. `death()`         — NDEATH(bdSeq_N), registered as the CONNECT's will (QoS 1, retain false:
 *                          ch. 6 "NDEATH", tck-id-payloads-ndeath-will-message-qos/-retain);
 *   3. CONNECT … CONNACK;
 *   4. `nodeBirth()`     — NBIRTH, seq 0, bdSeq_N: the same value the will carries (tck-id-payloads-
 *                          ndeath-bdseq), which is how a host pairs a late NDEATH with its NBIRTH;
 *   5. `deviceBirth()`   — DBIRTH, right after the NBIRTH (tck-id-payloads-dbirth-order);
 *   6. `verdictData()` / `actionData()` — DDATA; `deviceDeath()` when the serial device is lost;
 *   7. on a deliberate disconnect, publish `death(ts)` before DISCONNECT (ch. 5 "Edge Node Session
 *      Termination"). A host's rebirth request (NCMD `Node Control/Rebirth` = true) is answered with
 *      steps 4–5 again, in the same session.
 * NBIRTH, DBIRTH, DDATA and DDEATH go out at QoS 0, retain false (ch. 6,
 * tck-id-payloads-{nbirth,dbirth,ddata}-qos/-retain).
 */

import { dirname } from 'node:path';
import protobuf from 'protobufjs/light.js';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Action } from '../policy/policy.js';
import { KNOWN_CHILDREN } from '../qa/catalog.js';
import { type Verdict, verdictFails } from '../qa/types.js';
import { nodeOutboxFs, type OutboxFs } from './outbox-fs.js';

export const SPARKPLUG_NAMESPACE = 'spBv1.0';

/** Sparkplug B data type codes (spec ch. 6 "Data Types"), the ones tinyqa sends. */
export const DataType = { Int32: 3, Int64: 4, UInt32: 7, UInt64: 8, Float: 9, Double: 10, Boolean: 11, String: 12 } as const;

/**
 * Values of the metric property "Quality" (spec ch. 6 "Quality Codes", under PropertyValue: 0 BAD,
 * 192 GOOD, 500 STALE; the PropertyValue type MUST be 3, Int32, and the value an int_value —
 * tck-id-payloads-propertyset-quality-value-type/-value). 192 is 0xC0, the OPC DA "good" quality
 * that Ignition and other SCADA hosts show per tag.
 */
export const Quality = { Bad: 0, Good: 192, Stale: 500 } as const;

// The subset of the Sparkplug B schema tinyqa uses, declared from the field numbers and types of the
// spec's sparkplug_b.proto (ch. 6 "Google Protocol Buffer Schema"; proto2, so a present false or 0
// is still written). Unused fields (Metric.metadata 8, dataset/template/extension values 17–19,
// nested property sets) are left out: a decoder skips unknown fields, so payloads from other edge
// nodes still decode.
type FieldSpec = readonly [name: string, id: number, type: string, repeated?: true];
function message(name: string, fields: readonly FieldSpec[], oneof?: string[]): protobuf.Type {
  const t = new protobuf.Type(name);
  for (const [n, id, type, repeated] of fields) t.add(new protobuf.Field(n, id, type, repeated ? 'repeated' : 'optional'));
  if (oneof) t.add(new protobuf.OneOf('value', oneof));
  return t;
}
const VALUE_NAMES = ['int_value', 'long_value', 'float_value', 'double_value', 'boolean_value', 'string_value'];
const PROPERTY_VALUE: FieldSpec[] = [
  ['type', 1, 'uint32'], ['is_null', 2, 'bool'],
  // oneof value
  ['int_value', 3, 'uint32'], ['long_value', 4, 'uint64'], ['float_value', 5, 'float'], ['double_value', 6, 'double'],
  ['boolean_value', 7, 'bool'], ['string_value', 8, 'string'],
];
const PROPERTY_SET: FieldSpec[] = [['keys', 1, 'string', true], ['values', 2, 'PropertyValue', true]];
const METRIC: FieldSpec[] = [
  ['name', 1, 'string'], ['alias', 2, 'uint64'], ['timestamp', 3, 'uint64'], ['datatype', 4, 'uint32'],
  ['is_historical', 5, 'bool'], ['is_transient', 6, 'bool'], ['is_null', 7, 'bool'], ['properties', 9, 'PropertySet'],
  // oneof value
  ['int_value', 10, 'uint32'], ['long_value', 11, 'uint64'], ['float_value', 12, 'float'], ['double_value', 13, 'double'],
  ['boolean_value', 14, 'bool'], ['string_value', 15, 'string'], ['bytes_value', 16, 'bytes'],
];
const PAYLOAD: FieldSpec[] = [['timestamp', 1, 'uint64'], ['metrics', 2, 'Metric', true], ['seq', 3, 'uint64'], ['uuid', 4, 'string'], ['body', 5, 'bytes']];
const root = new protobuf.Root()
  .add(message('PropertyValue', PROPERTY_VALUE, VALUE_NAMES))
  .add(message('PropertySet', PROPERTY_SET))
  .add(message('Metric', METRIC, [...VALUE_NAMES, 'bytes_value']))
  .add(message('Payload', PAYLOAD));
root.resolveAll();
const PayloadType = root.lookupType('Payload');

export interface SparkplugPropertyValue {
  type?: number;
  is_null?: boolean;
  int_value?: number;
  long_value?: number;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
}
export interface SparkplugPropertySet {
  keys?: string[];
  values?: SparkplugPropertyValue[];
}
export interface SparkplugMetric {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype?: number;
  is_historical?: boolean;
  is_transient?: boolean;
  is_null?: boolean;
  properties?: SparkplugPropertySet;
  int_value?: number;
  long_value?: number;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
  bytes_value?: Uint8Array;
}
/** A Sparkplug B payload as a plain object; 64-bit fields as numbers (exact up to 2^53). */
export interface SparkplugPayload {
  timestamp?: number;
  metrics?: SparkplugMetric[];
  seq?: number;
  uuid?: string;
  body?: Uint8Array;
}

export function encodeSparkplug(payload: SparkplugPayload): Uint8Array {
  return PayloadType.encode(payload).finish();
}

/** Decodes a Sparkplug B payload (for `tinyqa watch` and tests). Throws E5009 on bytes that are not one. */
export function decodeSparkplug(bytes: Uint8Array): SparkplugPayload {
  try {
    return PayloadType.toObject(PayloadType.decode(bytes), { longs: Number }) as SparkplugPayload;
  } catch (e) {
    throw new TinyqaError(ErrorCode.PayloadInvalid, `Sparkplug B payload of ${bytes.length} bytes does not decode: ${errorMessage(e)}`, { cause: e });
  }
}

export interface SparkplugTopics {
  nbirth: string;
  ndeath: string;
  ndata: string;
  ncmd: string;
  dbirth: string;
  ddeath: string;
  ddata: string;
  dcmd: string;
}

/** Characters an id cannot hold: the topic separator and wildcards, NUL (MQTT §4.7.3), and lone surrogates (not UTF-8). */
const BAD_ID = /[/+#\u0000]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkId(key: string, id: string): void {
  const bad = id === '' ? 'is empty' : BAD_ID.test(id) ? `"${id}" holds "/", "+", "#", NUL or a lone surrogate` : undefined;
  if (bad) {
    // Spec ch. 4 §4.1.2, §4.1.4, §4.1.5 (tck-id-topic-structure-namespace-valid-group-id, -edge-node-id, -device-id).
    throw new TinyqaError(ErrorCode.ConfigInvalid, `Sparkplug ${key} ${bad}`, { hint: `a Sparkplug ${key} is a non-empty UTF-8 string without the MQTT topic characters / + #` });
  }
}

/** `spBv1.0/<group>/<VERB>/<edge node>[/<device>]` (spec ch. 4 §4.1); throws E1001 naming a bad id. */
export function sparkplugTopics(group: string, edgeNode: string, device: string): SparkplugTopics {
  checkId('group_id', group);
  checkId('edge_node_id', edgeNode);
  checkId('device_id', device);
  const n = (verb: string) => `${SPARKPLUG_NAMESPACE}/${group}/${verb}/${edgeNode}`;
  const d = (verb: string) => `${n(verb)}/${device}`;
  return { nbirth: n('NBIRTH'), ndeath: n('NDEATH'), ndata: n('NDATA'), ncmd: n('NCMD'), dbirth: d('DBIRTH'), ddeath: d('DDEATH'), ddata: d('DDATA'), dcmd: d('DCMD') };
}

export interface SparkplugMessage {
  topic: string;
  bytes: Uint8Array;
}

/** NBIRTH node properties, each sent as the String metric `Properties/<key>`. */
export interface NodeInfo {
  /** tinyqa's version. */
  version: string;
  /** The serial device's id (from its HELLO). */
  device: string;
  [key: string]: string;
}

/** Where a session stands; data may only follow births (spec ch. 6: tck-id-payloads-dbirth-order, tck-id-payloads-ddata-order). */
type Phase = 'no-session' | 'connecting' | 'node-born' | 'device-born';

export interface SparkplugSessionOptions {
  group: string;
  edgeNode: string;
  device: string;
  /** File that keeps the last bdSeq handed out, so that a restart does not reuse it (its directory is made if missing). */
  bdSeqPath: string;
  log?: Logger;
  /** File layer (tests inject faults); the real one by default. */
  fs?: Pick<OutboxFs, 'readFile' | 'writeFileAtomic' | 'mkdirp'>;
}

const BDSEQ_METRIC = 'bdSeq';
const REBIRTH_METRIC = 'Node Control/Rebirth';
const SEQ_METRIC = 'tinyqa/seq';

function quality(good: boolean): SparkplugPropertySet {
  return { keys: ['Quality'], values: [{ type: DataType.Int32, int_value: good ? Quality.Good : Quality.Bad }] };
}

/** A metric's capture time: the window's end when the device clock gave one, else the publish time. */
function captured(t: number, ts: number): number {
  return Number.isFinite(t) && t >= 0 ? t : ts;
}

/**
 * One edge node's Sparkplug state: bdSeq across MQTT sessions (and restarts), seq within one, and
 * which births are out. Not thread-safe, not async: call from the publisher's event-loop turn.
 */
export class SparkplugSession {
  readonly topics: SparkplugTopics;
  private readonly fs: Pick<OutboxFs, 'readFile' | 'writeFileAtomic' | 'mkdirp'>;
  private readonly log: Logger | undefined;
  /** bdSeq of the latest session started (by this process or, read from disk, an earlier one). */
  private last: number | undefined;
  private phase: Phase = 'no-session';
  private seq = 0;
  /** Metric names the current DBIRTH declared; a host asks for a rebirth on others (spec ch. 6 "NCMD"). */
  private declared = new Set<string>();
  private rebirth = false;
  /** Latest values per metric, so a (re)birth can carry current values (tck-id-operational-behavior-data-publish-dbirth-values). */
  private readonly current = new Map<string, SparkplugMetric>();
  private readonly streams = new Set<string>();
  private readonly children = new Set<string>();

  constructor(private readonly o: SparkplugSessionOptions) {
    this.topics = sparkplugTopics(o.group, o.edgeNode, o.device);
    this.fs = o.fs ?? nodeOutboxFs;
    this.log = o.log;
    this.last = this.load();
  }

  /** bdSeq of the current MQTT session; undefined before the first `nextSession()`. */
  get bdSeq(): number | undefined {
    return this.phase === 'no-session' ? undefined : this.last;
  }

  /** True once a DDATA carried a metric the DBIRTH did not declare: send NBIRTH and DBIRTH again. */
  get needsRebirth(): boolean {
    return this.rebirth;
  }

  /**
   * Starts the next MQTT session: bdSeq + 1 (255 wraps to 0; 0 for the very first), persisted before
   * it is returned (spec ch. 5, tck-id-message-flow-edge-node-birth-publish-will-message-payload-bdSeq:
   * +1 on every CONNECT; ch. 6, tck-id-payloads-nbirth-bdseq-inc). A failed write is logged and the
   * session goes on with the value: refusing to connect would cost data, and only a restart before
   * the next good write could repeat it.
   */
  nextSession(): number {
    const bd = this.last === undefined ? 0 : (this.last + 1) & 0xff;
    this.last = bd;
    this.phase = 'connecting';
    this.declared = new Set();
    try {
      this.fs.mkdirp(dirname(this.o.bdSeqPath));
      this.fs.writeFileAtomic(this.o.bdSeqPath, Buffer.from(JSON.stringify({ v: 1, bdSeq: bd }) + '\n'), true);
    } catch (e) {
      this.log?.error?.(`sparkplug: could not save bdSeq ${bd} to ${this.o.bdSeqPath} (${errorMessage(e)}); a restart may reuse it`);
    }
    return bd;
  }

  /**
   * NDEATH: only the bdSeq metric (Int64) and no seq (tck-id-payloads-ndeath-seq). Without `ts` (the
   * will, built before CONNECT and fired whenever the broker loses us) it carries no timestamp;
   * with `ts` it is the one published before a deliberate DISCONNECT.
   */
  death(ts?: number): SparkplugMessage {
    const bd = this.require(['connecting', 'node-born', 'device-born'], 'NDEATH');
    // Int64 (4), not UInt64: Sparkplug 3.0 ch. 5 "Edge Node Session Establishment" (tck-id-message-flow-
    // edge-node-birth-publish-will-message-payload-bdSeq) says "the datatype of INT64"; the ch. 6 examples
    // still show UInt64, which eclipse-sparkplug/sparkplug#317 corrected. The wire field is the same.
    const metric: SparkplugMetric = { name: BDSEQ_METRIC, datatype: DataType.Int64, long_value: bd };
    if (ts === undefined) return { topic: this.topics.ndeath, bytes: encodeSparkplug({ metrics: [metric] }) };
    return { topic: this.topics.ndeath, bytes: encodeSparkplug({ timestamp: ts, metrics: [{ ...metric, timestamp: ts }] }) };
  }

  /** NBIRTH: seq 0 (tck-id-payloads-nbirth-seq), bdSeq, `Node Control/Rebirth` = false, node properties. */
  nodeBirth(ts: number, info: NodeInfo): SparkplugMessage {
    const bd = this.require(['connecting', 'node-born', 'device-born'], 'NBIRTH');
    this.seq = 0;
    this.phase = 'node-born';
    this.declared = new Set();
    const metrics: SparkplugMetric[] = [
      { name: BDSEQ_METRIC, timestamp: ts, datatype: DataType.Int64, long_value: bd },
      { name: REBIRTH_METRIC, timestamp: ts, datatype: DataType.Boolean, boolean_value: false },
    ];
    for (const [key, value] of Object.entries(info)) metrics.push({ name: `Properties/${key}`, timestamp: ts, datatype: DataType.String, string_value: value });
    return this.payload(this.topics.nbirth, ts, metrics);
  }

  /**
   * DBIRTH declaring every metric DDATA will carry, per stream: `<s>/pass` (Boolean), `<s>/failed`
   * (String), `<s>/<child>/score` (Double) for each child, `<s>/action` (String), and `tinyqa/seq`
   * (UInt64). Values are the latest known, or is_null before the first. `children` defaults to every
   * child tinyqa knows, so that enabling one later does not force a rebirth; streams and children seen
   * in earlier verdicts of this process are declared too.
   */
  deviceBirth(ts: number, streams: readonly string[], children: readonly string[] = KNOWN_CHILDREN): SparkplugMessage {
    this.require(['node-born'], 'DBIRTH');
    for (const s of streams) this.streams.add(s);
    for (const c of children) this.children.add(c);
    const metrics: SparkplugMetric[] = [];
    const declare = (name: string, datatype: number) => {
      const known = this.current.get(name);
      metrics.push(known ? { ...known, name, datatype } : { name, timestamp: ts, datatype, is_null: true });
    };
    for (const s of this.streams) {
      declare(`${s}/pass`, DataType.Boolean);
      declare(`${s}/failed`, DataType.String);
      for (const c of this.children) declare(`${s}/${c}/score`, DataType.Double);
      declare(`${s}/action`, DataType.String);
    }
    declare(SEQ_METRIC, DataType.UInt64);
    this.declared = new Set(metrics.map((m) => m.name!));
    this.rebirth = false;
    this.phase = 'device-born';
    return this.payload(this.topics.dbirth, ts, metrics);
  }

  /** DDEATH: the serial device is gone (spec ch. 5 "Device Session Termination"); DDATA waits for a new DBIRTH. */
  deviceDeath(ts: number): SparkplugMessage {
    this.require(['device-born'], 'DDEATH');
    this.phase = 'node-born';
    return this.payload(this.topics.ddeath, ts, []);
  }

  /**
   * DDATA for one verdict: `<stream>/pass`, `<stream>/failed` (comma-joined child names) and each
   * child's `<stream>/<child>/score`, each with a Quality property (GOOD when the verdict or child
   * passed, BAD when it failed), plus `tinyqa/seq`: the outbox's durable per-device sequence number,
   * which, unlike Sparkplug's seq (mod 256, per session), lets a subscriber dedup end to end.
   */
  verdictData(ts: number, verdict: Verdict, durableSeq: number): SparkplugMessage {
    this.require(['device-born'], 'DDATA');
    const t = captured(verdict.t1, ts);
    const s = verdict.stream;
    const ok = !verdictFails(verdict);
    const metrics: SparkplugMetric[] = [
      { name: `${s}/pass`, timestamp: t, boolean_value: ok, properties: quality(ok) },
      { name: `${s}/failed`, timestamp: t, string_value: verdict.failed.join(','), properties: quality(ok) },
    ];
    for (const [c, r] of Object.entries(verdict.children)) {
      metrics.push({ name: `${s}/${c}/score`, timestamp: t, double_value: r.score, properties: quality(r.pass) });
    }
    return this.data(ts, metrics, durableSeq, s, Object.keys(verdict.children));
  }

  /** DDATA for one policy action: `<stream>/action` (the action as JSON) and `tinyqa/seq`. */
  actionData(ts: number, action: Action, durableSeq: number): SparkplugMessage {
    this.require(['device-born'], 'DDATA');
    const metric: SparkplugMetric = { name: `${action.stream}/action`, timestamp: captured(action.t1, ts), string_value: JSON.stringify(action) };
    return this.data(ts, [metric], durableSeq, action.stream, []);
  }

  private data(ts: number, metrics: SparkplugMetric[], durableSeq: number, stream: string, children: string[]): SparkplugMessage {
    metrics.push({ name: SEQ_METRIC, timestamp: ts, long_value: durableSeq });
    this.streams.add(stream);
    for (const c of children) this.children.add(c);
    for (const m of metrics) {
      this.current.set(m.name!, m);
      if (!this.declared.has(m.name!)) this.rebirth = true;
    }
    // Datatypes are declared in the birth only (tck-id-payloads-metric-datatype-not-req).
    return this.payload(this.topics.ddata, ts, metrics);
  }

  /** A seq-carrying payload: NBIRTH has 0, each later one +1, 255 wraps to 0 (tck-id-payloads-sequence-num-incrementing). */
  private payload(topic: string, ts: number, metrics: SparkplugMetric[]): SparkplugMessage {
    const seq = this.seq;
    this.seq = (seq + 1) & 0xff;
    return { topic, bytes: encodeSparkplug({ timestamp: ts, metrics, seq }) };
  }

  private require(allowed: Phase[], what: string): number {
    if (!allowed.includes(this.phase) || this.last === undefined) {
      throw new TinyqaError(ErrorCode.Internal, `Sparkplug ${what} asked for in state "${this.phase}"`, {
        hint: 'order per connection: nextSession, death (will), connect, nodeBirth, deviceBirth, then data',
      });
    }
    return this.last;
  }

  /** The last bdSeq handed out before this process, or undefined (missing or unreadable file: start at 0). */
  private load(): number | undefined {
    const path = this.o.bdSeqPath;
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.fs.readFile(path);
    } catch (e) {
      this.log?.warn?.(`sparkplug: cannot read the bdSeq file ${path} (${errorMessage(e)}); bdSeq starts at 0`);
      return undefined;
    }
    if (bytes === undefined) {
      this.log?.info?.(`sparkplug: no bdSeq file at ${path} yet; bdSeq starts at 0`);
      return undefined;
    }
    try {
      const state = JSON.parse(Buffer.from(bytes).toString('utf8')) as { v?: unknown; bdSeq?: unknown };
      const bd = state.bdSeq;
      if (state.v === 1 && typeof bd === 'number' && Number.isInteger(bd) && bd >= 0 && bd <= 255) return bd;
    } catch {
      // reported below
    }
    this.log?.warn?.(`sparkplug: the bdSeq file ${path} is corrupt (${bytes.length} bytes, not {"v":1,"bdSeq":0..255}); bdSeq starts at 0`);
    return undefined;
  }
}
