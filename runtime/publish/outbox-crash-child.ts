/**
 * The process the outbox crash test SIGKILLs (outbox.test.ts): opens the outbox with fsync 'always',
 * prints what recovery found, then appends as fast as it can — and acks out of order, requeues — and
 * prints each seq once append has returned it. Stdout to a pipe is synchronous on Linux, so a printed
 * seq was accepted before the kill. Run as `node --import tsx outbox-crash-child.ts <dir> <seed>`.
 */

import { fileURLToPath } from 'node:url';
import { Outbox } from './outbox.js';

/** The payload of seq `seq`: its length and bytes follow from the seq, so the parent can check it intact. */
export function crashPayload(seq: number): Uint8Array {
  const n = (seq * 7919) % 3000;
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seq * 31 + i * 17) & 0xff;
  return b;
}

export const CRASH_OPTIONS = { fsync: 'always', segmentBytes: 64 * 1024, retainRecords: 1e9, retainBytes: 1e12, maxRecords: 1e9, maxBytes: 1e12, stateIntervalMs: 20 } as const;

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  let rng = Number(process.argv[3] ?? 1) >>> 0 || 1;
  const rand = (): number => ((rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const ob = Outbox.open({ dir, ...CRASH_OPTIONS });
  const c = ob.counters;
  process.stdout.write(`ready ${ob.nextSeq} ${c.recovered_records} ${c.torn_bytes_cut} ${c.queued}\n`);
  for (let n = 1; ; n++) {
    // Yield now and then so the lazy state write (acks, drops) runs on its timer as in production.
    if (n % 16 === 0) await new Promise((r) => setImmediate(r));
    const seq = ob.nextSeq;
    const got = ob.append(seq % 10 === 0 ? 'action' : 'verdict', `tinyqa/v1/dev/verdict/s${seq % 4}`, crashPayload(seq));
    if (got !== seq) throw new Error(`append returned ${got}, expected ${seq}`);
    process.stdout.write(`${got}\n`);
    const r = rand();
    if (r < 0.3) for (const rec of ob.nextToSend(8)) ob.markSent(rec.seq);
    else if (r < 0.6) {
      // Acks out of order: some in-flight records are skipped, so acks land above gaps.
      for (let s = ob.ackedThrough + 1; s < ob.nextSeq; s += 1 + Math.floor(rand() * 3)) ob.ack(s);
    } else if (r < 0.62) ob.requeueInflight();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
