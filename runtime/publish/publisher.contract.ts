/** The behaviour every Publisher must show (STYLE §1): run against the MQTT and the memory publisher. */

import { expect, it } from 'vitest';
import type { Verdict } from '../qa/types.js';
import type { Publisher } from './publisher.js';

export function sampleVerdict(device: string, seq: number, stream = 's'): Verdict {
  return {
    v: 1,
    device,
    stream,
    seq,
    t0: 1000 * seq,
    t1: 1000 * seq + 990,
    n: 100,
    unit: 'bar',
    parents: { intrinsic: seq % 3 === 0 ? 'fail' : 'pass' },
    children: {
      completeness: { score: 0, threshold: 0.02, pass: true, severity: 'critical', parent: 'intrinsic', code: 'completeness.ok', reason: '0/100 missing' },
    },
    failed: [],
    profile: null,
    model: null,
  };
}

export interface PublisherRig {
  publisher: Publisher;
  /** Verdicts that reached the other side, in arrival order. */
  received(): Verdict[];
  dispose(): Promise<void>;
}

export function publisherContract(makeRig: () => Promise<PublisherRig>): void {
  it('delivers every verdict in order and counts each as accepted and acknowledged', async () => {
    const rig = await makeRig();
    await rig.publisher.start();
    const sent = Array.from({ length: 200 }, (_, i) => sampleVerdict('dev', i + 1));
    for (const v of sent) rig.publisher.publishVerdict(v);
    expect(await rig.publisher.flush(10_000)).toBe(true);
    const t0 = Date.now();
    while (rig.received().length < sent.length && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 10));
    // The MQTT publisher numbers records itself (the outbox's durable seq): compare all but seq, and
    // check the seqs are consecutive and in order.
    const got = rig.received();
    const seqs = got.map((v) => v.seq);
    expect(got.map((v) => ({ ...v, seq: 0 }))).toEqual(sent.map((v) => ({ ...v, seq: 0 })));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(rig.publisher.counters.accepted).toBe(200);
    expect(rig.publisher.counters.acked).toBe(200);
    expect(rig.publisher.counters.inflight).toBe(0);
    await rig.publisher.close();
    await rig.dispose();
  });
}
