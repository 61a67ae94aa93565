import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeqTracker } from './seq-tracker.js';

function rig(holdMs = 1000, maxBuffered = 1000) {
  const out: number[] = [];
  const requests: [number, number][] = [];
  const lost: [number, number][] = [];
  const t = new SeqTracker<string>({
    holdMs,
    maxBuffered,
    deliver: (_d, seq) => out.push(seq),
    request: (_d, a, b) => requests.push([a, b]),
    lost: (_d, a, b) => lost.push([a, b]),
  });
  return { t, out, requests, lost };
}

describe('subscriber sequence tracking (dedup, order, replay requests)', () => {
  it('delivers in order, drops duplicates, and asks for the gap', () => {
    const r = rig();
    for (const s of [1, 2, 5, 3, 3, 6]) r.t.accept('d', s, `m${s}`, 0);
    expect(r.out).toEqual([1, 2, 3]);
    expect(r.requests[0]).toEqual([3, 4]);
    expect(r.t.counters.duplicates).toBe(1);
    r.t.accept('d', 4, 'm4', 10); // the replay arrives
    expect(r.out).toEqual([1, 2, 3, 4, 5, 6]);
    r.t.accept('d', 5, 'again', 11);
    expect(r.t.counters.duplicates).toBe(2);
  });

  it('asks for a tail the device announces, and re-asks while it is missing', () => {
    const r = rig(1000);
    r.t.accept('d', 10, 'x', 0);
    r.t.announce('d', 14, 0);
    expect(r.requests).toEqual([[11, 14]]);
    r.t.tick(100);
    expect(r.requests).toHaveLength(1);
    r.t.tick(300);
    expect(r.requests).toEqual([[11, 14], [11, 14]]);
    for (const s of [11, 12, 13, 14]) r.t.accept('d', s, 'y', 400);
    expect(r.out).toEqual([10, 11, 12, 13, 14]);
    r.t.tick(2000);
    expect(r.lost).toEqual([]);
  });

  it('gives a gap up after holdMs, reports it lost, and goes on in order', () => {
    const r = rig(1000);
    for (const s of [1, 2, 4, 5]) r.t.accept('d', s, '', 0);
    r.t.tick(999);
    expect(r.out).toEqual([1, 2]);
    r.t.tick(1001);
    expect(r.out).toEqual([1, 2, 4, 5]);
    expect(r.lost).toEqual([[3, 3]]);
    expect(r.t.counters.lost).toBe(1);
  });

  it('bounds the reorder buffer', () => {
    const r = rig(1e9, 3);
    r.t.accept('d', 1, '', 0);
    for (const s of [3, 4, 5, 6]) r.t.accept('d', s, '', 0);
    expect(r.out).toEqual([1, 3, 4, 5, 6]);
    expect(r.lost).toEqual([[2, 2]]);
  });

  it('any shuffle with duplicates and losses that are replayed yields every seq once, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 200 }), fc.integer(), (n, seed) => {
        let x = seed >>> 0 || 1;
        const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
        const r = rig(1e9);
        const seqs = Array.from({ length: n }, (_, i) => i + 1);
        // Shuffle locally (messages overtake a few others), duplicate some, lose some.
        for (let i = 0; i < n; i++) {
          const j = Math.min(n - 1, i + Math.floor(rnd() * 4));
          [seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!];
        }
        const lostSet = new Set<number>();
        let now = 0;
        r.t.accept('d', 1, '', now); // the subscriber joined at the start
        for (const s of seqs) {
          if (s !== 1 && rnd() < 0.1) lostSet.add(s);
          else r.t.accept('d', s, '', now++);
          if (rnd() < 0.1) r.t.accept('d', s, '', now++);
        }
        r.t.announce('d', n, now);
        // Serve every request from the "retention window", as the device would.
        for (let k = 0; k < 50 && r.out.length < n; k++) {
          const reqs = r.requests.splice(0);
          for (const [a, b] of reqs) for (let s = a; s <= b; s++) r.t.accept('d', s, '', now++);
          now += 1e6;
          r.t.tick(now);
        }
        expect(r.out).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        expect(r.lost).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
