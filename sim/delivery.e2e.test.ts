/**
 * DESIGN §8 reliability, "Broker killed repeatedly during a long replay": the real `tinyqa sim` and
 * `tinyqa watch` on a private Mosquitto (persistence on, autosave every second) that is SIGKILLed 20
 * times and restarted on its port. The engine is `tinyqa eval delivery`'s (sim/eval/delivery.ts).
 */

import { describe, expect, it } from 'vitest';
import { formatDelivery, runDelivery } from './eval/delivery.js';
import { mosquittoSkipReason } from './testing/mosquitto.js';

const skip = mosquittoSkipReason();

describe.skipIf(skip !== undefined)(`delivery through broker kills${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('delivers every one of ≥ 100 000 verdicts to watch once and in order while the broker is SIGKILLed 20 times, and counts the wire duplicates', async () => {
    const r = await runDelivery({ verdicts: 100_000, kills: 20, seed: 1 });
    // The figures, in the test output.
    console.log(formatDelivery(r) + JSON.stringify({ ...r, sim_summary: undefined }));

    expect(r.broker_kills).toBe(20);
    expect(r.produced).toBeGreaterThanOrEqual(100_000);
    expect(r.missing_ranges).toEqual([]);
    expect(r.missing).toBe(0);
    expect(r.received).toBe(r.produced);
    expect(r.duplicates_after_dedup).toBe(0);
    expect(r.order_kept).toBe(true);
    expect(r.lost).toBe(0);
    // Twenty kills resend in-flight records and bring back saved broker state: watch saw copies
    // on the wire and dropped them; the device kept nothing back and dropped nothing.
    expect(r.wire_duplicates).toBeGreaterThan(0);
    expect(r.outbox).toMatchObject({ dropped: 0, queued: 0 });
    expect(r.outbox.produced).toBe(r.outbox.delivered);
    expect(r.ok).toBe(true);
  }, 600_000);
});
