/** The behaviour every Transport implementation must show (STYLE §1): run against real and mock. */

import { expect, it } from 'vitest';
import { until } from '../../sim/testing/until.js';
import type { Transport } from './transport.js';

export interface TransportRig {
  transport: Transport;
  /** Makes bytes arrive on the link from the device side. */
  deliver(bytes: Uint8Array): Promise<void>;
  dispose(): Promise<void>;
}

export function transportContract(makeRig: () => Promise<TransportRig>): void {
  it('reports open after open() and closed after close()', async () => {
    const rig = await makeRig();
    const states: string[] = [];
    rig.transport.onState((s) => states.push(s));
    await rig.transport.open();
    expect(rig.transport.state).toBe('open');
    await rig.transport.close();
    expect(rig.transport.state).toBe('closed');
    expect(states.at(-1)).toBe('closed');
    expect(states).toContain('open');
    await rig.dispose();
  });

  it('delivers every byte in order, including every byte value, and counts them', async () => {
    const rig = await makeRig();
    const got: number[] = [];
    rig.transport.onData((c) => got.push(...c));
    await rig.transport.open();
    const sent = new Uint8Array(20_000);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 8)) & 0xff;
    for (let off = 0; off < sent.length; off += 1000) await rig.deliver(sent.subarray(off, off + 1000));
    await until(() => got.length >= sent.length, 5_000, 'every byte sent');
    expect(got).toEqual(Array.from(sent));
    expect(rig.transport.counters.bytes_in).toBe(sent.length);
    expect(rig.transport.counters.opens).toBe(1);
    await rig.transport.close();
    await rig.dispose();
  });
}
