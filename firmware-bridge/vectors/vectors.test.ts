import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MessageEncoder, MessageReceiver } from '../../runtime/framing/codec.js';
import type { FrameHeader } from '../../runtime/framing/frame.js';
import type { Message } from '../../runtime/framing/messages.js';
import { buildVectors, dumpExpect, files } from './vectors.js';

const here = dirname(fileURLToPath(import.meta.url));
const onDisk = readdirSync(here).filter((f) => f.endsWith('.hex')).map((f) => f.slice(0, -4)).sort();
const readHex = (name: string) => Uint8Array.from(Buffer.from(readFileSync(join(here, `${name}.hex`), 'utf8').replace(/\s+/g, ''), 'hex'));

function decodeAll(bytes: Uint8Array) {
  const got: { h: FrameHeader; m: Message; dump: string }[] = [];
  const rx = new MessageReceiver({ message: (h, m) => got.push({ h: { ...h }, m, dump: dumpExpect(h, m) }) });
  rx.push(bytes);
  return { got, counters: rx.counters };
}

describe('golden vectors', () => {
  it('are what the generator writes (run `npx tsx firmware-bridge/vectors/generate.ts` after changing it)', () => {
    const vectors = buildVectors();
    expect(onDisk).toEqual(vectors.map((v) => v.name).sort());
    for (const v of vectors) for (const [name, text] of Object.entries(files(v))) expect(readFileSync(join(here, name), 'utf8'), name).toBe(text);
  });

  it('cover every message type and every frame-level error', () => {
    const expects = onDisk.map((n) => readFileSync(join(here, `${n}.expect`), 'utf8'));
    for (const t of [1, 2, 3, 4, 5, 7, 16, 17, 32]) expect(expects.some((e) => e.includes(`\ntype ${t}\n`)), `type ${t}`).toBe(true);
    for (const err of ['bad_cobs', 'bad_crc', 'bad_version', 'unknown_flags', 'bad_body', 'runt']) expect(expects).toContain(`valid 0\nerror ${err}\n`);
  });

  it.each(onDisk)('%s decodes to its .expect', (name) => {
    const expected = readFileSync(join(here, `${name}.expect`), 'utf8');
    const { got, counters } = decodeAll(readHex(name));
    if (expected.startsWith('valid 1')) {
      expect(got).toHaveLength(1);
      expect(got[0]!.dump).toBe(expected);
    } else {
      expect(got).toHaveLength(0);
      const error = /error (\w+)/.exec(expected)![1] as keyof typeof counters;
      expect(counters[error], error).toBe(1);
    }
  });

  it.each(onDisk.filter((n) => readFileSync(join(here, `${n}.expect`), 'utf8').startsWith('valid 1')))('%s re-encodes to the same bytes', (name) => {
    const wire = readHex(name);
    const { got } = decodeAll(wire);
    const { h, m } = got[0]!;
    const enc = new MessageEncoder();
    enc.seq = h.seq;
    expect(Buffer.from(enc.frame(m, h.time_ms)).toString('hex')).toBe(Buffer.from(wire).toString('hex'));
  });
});
