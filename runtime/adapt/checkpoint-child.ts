/**
 * The process the checkpoint kill test SIGKILLs (checkpoint.test.ts): loads the store, prints
 * `ready <counter> <generation>`, then saves counters 1 above it as fast as it can, printing
 * `saving <n>` before each save and `saved <n> <generation>` after it returned. Stdout to a pipe is
 * synchronous on Linux, so a printed line happened before the kill.
 * Run as `node --import tsx checkpoint-child.ts <dir>`.
 */

import { fileURLToPath } from 'node:url';
import { Checkpointer } from './checkpoint.js';

/** The payload holding `counter`: its length and bytes follow from the counter, so the parent can check it whole. */
export function killPayload(counter: number): Uint8Array {
  const n = 8 + ((counter * 7919) % 20_000);
  const b = new Uint8Array(n);
  new DataView(b.buffer).setFloat64(0, counter, true);
  for (let i = 8; i < n; i++) b[i] = (counter * 31 + i * 17) & 0xff;
  return b;
}

/** The counter in a payload, or undefined when the bytes are not exactly `killPayload(counter)`. */
export function killCounter(payload: Uint8Array): number | undefined {
  if (payload.length < 8) return undefined;
  const counter = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getFloat64(0, true);
  const want = killPayload(counter);
  return want.length === payload.length && want.every((v, i) => v === payload[i]) ? counter : undefined;
}

function main(): void {
  const cp = new Checkpointer({ dir: process.argv[2]!, name: 'kill' });
  const got = cp.load();
  let counter = got ? killCounter(got.payload) : 0;
  if (counter === undefined) throw new Error('loaded a payload that is not a counter');
  process.stdout.write(`ready ${counter} ${got?.generation ?? 0}\n`);
  for (;;) {
    counter++;
    process.stdout.write(`saving ${counter}\n`);
    const gen = cp.save(killPayload(counter));
    process.stdout.write(`saved ${counter} ${gen}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
