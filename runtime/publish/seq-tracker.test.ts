import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeqTracker } from './seq-tracker.js';

function rig(holdMs = 1000, maxBuffered = 1000, tailGraceMs = 0) {
  const out: number[] = [];
  const requests: [number, number][] = [];
  const lost: [number, number][] = [];
  const unresolved: [number, number][] = [];
  const t = new SeqTracker<string>({
    holdMs,
    maxBuffered,
    tailGraceMs,
    deliver: (_d, seq) => out.push(seq),
    request: (_d, a, b) => requests.push([a, b]),
    lost: (_d, a, b) => lost.push([a, b]),
    unresolved: (_d, a, b) => unresolved.push([a, b]),
  });
  return { t, out, requests, lost, unresolved };
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

  it('a replay that arrives one record at a time neither restarts the hold clock nor asks again per record', () => {
    const r = rig(1000);
    for (const s of [0, 10]) r.t.accept('d', s, '', 0);
    expect(r.requests).toEqual([[1, 9]]);
    for (let s = 1; s <= 5; s++) r.t.accept('d', s, '', 100 + s);
    r.t.tick(200);
    expect(r.requests).toEqual([[1, 9]]);
    expect(r.t.counters.gaps).toBe(1);
    expect(r.t.counters.recovered).toBe(5);
    // The rest of the replay never comes: the gap is still the one opened at 0.
    r.t.tick(1001);
    expect(r.lost).toEqual([[6, 9]]);
    expect(r.out).toEqual([0, 1, 2, 3, 4, 5, 10]);
  });

  it('asks for every gap at once, not only the one at the head', () => {
    const r = rig();
    for (const s of [0, 2, 5, 9]) r.t.accept('d', s, '', 0);
    expect(r.requests).toEqual([[1, 1], [3, 4], [6, 8]]);
    expect(r.t.counters.gaps).toBe(3);
    // A replayed record in the middle of a gap splits it; both halves keep its age and request time.
    r.t.accept('d', 7, '', 10);
    r.t.tick(300);
    expect(r.requests.slice(3)).toEqual([[1, 1], [3, 4], [6, 6], [8, 8]]);
    expect(r.t.counters.gaps).toBe(3);
  });

  it('gives up at once what the device says is gone, and still delivers the held messages in that range', () => {
    const r = rig(1e9);
    for (const s of [0, 5, 9]) r.t.accept('d', s, '', 0);
    // The device has 1–2 and 7 no more; 3–4 and 6, 8 are on their way.
    r.t.giveUp('d', 1, 2, 1);
    r.t.giveUp('d', 5, 7, 1);
    expect(r.lost).toEqual([[1, 2], [6, 7]]);
    expect(r.out).toEqual([0]);
    for (const s of [3, 4]) r.t.accept('d', s, '', 2);
    expect(r.out).toEqual([0, 3, 4, 5]);
    r.t.accept('d', 7, 'late', 3); // a late copy of a seq given up: not delivered out of place
    r.t.accept('d', 8, '', 4);
    expect(r.out).toEqual([0, 3, 4, 5, 8, 9]);
    expect(r.t.counters.lost).toBe(4);
    expect(r.t.counters.duplicates).toBe(1);
    // Ranges below what was delivered, or never heard of, change nothing.
    r.t.giveUp('d', 0, 100, 5);
    r.t.giveUp('other', 0, 100, 5);
    expect(r.t.counters.lost).toBe(4);
  });

  it('gives up a gone head gap and moves on without waiting for the hold time', () => {
    const r = rig(1e9);
    for (const s of [10, 11, 15, 16]) r.t.accept('d', s, '', 0);
    r.t.giveUp('d', 12, 14, 1);
    expect(r.out).toEqual([10, 11, 15, 16]);
    expect(r.lost).toEqual([[12, 14]]);
  });

  it('waits tailGraceMs before asking for an announced tail, which is often only on its way', () => {
    const r = rig(1000, 1000, 200);
    r.t.accept('d', 0, '', 0);
    r.t.announce('d', 3, 0);
    expect(r.requests).toEqual([]);
    r.t.accept('d', 1, '', 50);
    r.t.tick(150);
    expect(r.requests).toEqual([]);
    r.t.tick(250);
    expect(r.requests).toEqual([[2, 3]]);
    // A gap between received messages is evidence: asked for at once.
    r.t.accept('d', 6, '', 260);
    expect(r.requests).toEqual([[2, 3], [4, 5]]);
  });

  it('remembers a tail announced before the first message', () => {
    const r = rig();
    r.t.announce('d', 7, 0); // a retained birth message arrives before any verdict
    r.t.accept('d', 5, '', 1);
    expect(r.requests).toEqual([[6, 7]]);
    r.t.announce('d', 3, 2); // an older announcement changes nothing
    expect(r.t.counters.gaps).toBe(1);
  });

  it('keeps counters per device, and the totals', () => {
    const r = rig();
    for (const s of [0, 1, 1, 3]) r.t.accept('a', s, '', 0);
    for (const s of [7, 8]) r.t.accept('b', s, '', 0);
    expect(r.t.deviceIds()).toEqual(['a', 'b']);
    expect(r.t.deviceCounters('a')).toMatchObject({ delivered: 2, duplicates: 1, gaps: 1, requests: 1, held: 1 });
    expect(r.t.deviceCounters('b')).toMatchObject({ delivered: 2, duplicates: 0, gaps: 0, requests: 0, held: 0 });
    expect(r.t.counters).toMatchObject({ delivered: 4, duplicates: 1, gaps: 1, requests: 1, held: 1 });
    expect(r.t.deviceCounters('c')).toBeUndefined();
  });

  it('on finish delivers everything held and reports what is still missing as unresolved, not lost', () => {
    const r = rig();
    for (const s of [0, 3, 4, 8]) r.t.accept('d', s, '', 0);
    r.t.announce('d', 10, 0);
    r.t.finish(1);
    expect(r.out).toEqual([0, 3, 4, 8]);
    expect(r.unresolved).toEqual([[1, 2], [5, 7], [9, 10]]);
    expect(r.t.counters).toMatchObject({ unresolved: 7, lost: 0, held: 0 });
  });

  it('a device whose retention lost some records: every other seq once, in order, and exactly the gone ones lost', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 150 }), fc.integer(), (n, seed) => {
        let x = seed >>> 0 || 1;
        const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
        const r = rig(1e9);
        const gone = new Set<number>();
        let now = 0;
        r.t.accept('d', 0, '', now++);
        for (let s = 1; s < n; s++) {
          const fate = rnd();
          if (fate < 0.1) gone.add(s); // dropped on the wire, and no longer on the device
          else if (fate < 0.2) continue; // dropped on the wire, still on the device
          else r.t.accept('d', s, '', now++);
        }
        r.t.announce('d', n - 1, now);
        for (let k = 0; k < 20 && r.t.deviceCounters('d')!.held + r.requests.length > 0; k++) {
          for (const [a, b] of r.requests.splice(0)) {
            // The device replays what it has, then says which ranges are gone.
            for (let s = a; s <= b; s++) if (!gone.has(s)) r.t.accept('d', s, '', now++);
            for (let s = a; s <= b; s++) if (gone.has(s)) r.t.giveUp('d', s, s, now);
          }
          now += 1e6;
          r.t.tick(now);
        }
        expect(r.out).toEqual(Array.from({ length: n }, (_, i) => i).filter((s) => !gone.has(s)));
        expect(r.t.counters.lost).toBe(gone.size);
        expect(r.lost.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i))).toEqual([...gone].sort((p, q) => p - q));
      }),
      { numRuns: 300 },
    );
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

describe('SeqTracker.reask', () => {
  it('asks for every live gap again at once, not after holdMs/4', () => {
    const asked: [string, number, number][] = [];
    const t = new SeqTracker<number>({ holdMs: 40_000, maxBuffered: 100, deliver: () => undefined, request: (d, a, b) => asked.push([d, a, b]) });
    t.accept('d', 0, 0, 0);
    t.accept('d', 3, 3, 1);
    t.accept('d', 7, 7, 2);
    expect(asked).toEqual([['d', 1, 2], ['d', 4, 6]]);
    t.tick(100); // within holdMs/4: nothing new
    expect(asked).toHaveLength(2);
    t.reask('d', 200);
    expect(asked.slice(2)).toEqual([['d', 1, 2], ['d', 4, 6]]);
    t.reask('other', 300);
    expect(asked).toHaveLength(4);
  });
});
