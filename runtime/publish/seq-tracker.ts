/**
 * The subscriber's half of end-to-end delivery (DESIGN §6; used by `tinyqa watch`, and the recipe
 * for any other subscriber). Every message a device publishes carries a durable sequence number
 * `seq` (the outbox's, strictly increasing, never reused across restarts). QoS 1 to the broker
 * is at-least-once and a broker that dies loses what it held in memory, so a subscriber:
 *   1. drops duplicates: (device, seq) seen before → counted, not delivered again;
 *   2. delivers in seq order: a message above a gap waits in a bounded reorder buffer;
 *   3. asks for what is missing: each gap below the highest seq seen, and a tail the device announces
 *      (its status/health carries `last_seq`), is requested with a replay command
 *      (`<prefix>/<device>/cmd/replay {from, to}`), served from the device's retention window;
 *   4. gives up on a gap after `holdMs`, or at once when the device answers that the range is gone
 *      (older than its retention window, or dropped by a full outbox — the device counts those):
 *      the buffered messages are delivered and the gap is reported as lost, so output never stalls.
 *
 * A gap keeps its identity while it is filled from either end or split by a replayed message in its
 * middle: its age and its last request time stay, so a replay arriving one record at a time does not
 * restart the hold clock nor trigger a new request per record (which would make the device replay
 * the rest of the range again each time: quadratic traffic).
 *
 * Memory: per device, the reorder buffer is bounded by `maxBuffered` messages, and the gap list by
 * the buffer (every gap but the announced tail lies below a buffered message).
 */

export interface TrackerOptions<T> {
  /** How long a gap may hold back later messages before it is given up (ms). */
  holdMs: number;
  /** Messages held per device at most; beyond, the oldest gap is given up at once. */
  maxBuffered: number;
  /**
   * How long a tail the device announced (no message above it seen yet) waits before it is first
   * requested (ms, default 0). An announcement can overtake records the device has queued but not
   * sent yet; asking for those at once makes the device send them twice.
   */
  tailGraceMs?: number;
  /** Called with each message in seq order, once. */
  deliver: (device: string, seq: number, msg: T) => void;
  /** Called when a range is missing and should be replayed: once per gap, then at most every holdMs/4 while it lasts. */
  request: (device: string, from: number, to: number) => void;
  /** Called when a range is given up: after holdMs, on the buffer bound, or because the device said it is gone. */
  lost?: (device: string, from: number, to: number) => void;
  /** Called by `finish()` for each range still missing when the subscriber stops waiting. */
  unresolved?: (device: string, from: number, to: number) => void;
}

export interface TrackerCounters {
  delivered: number;
  /** Messages whose (device, seq) was delivered, held or given up before. */
  duplicates: number;
  /** Gaps opened (a range of missing seqs; one gap split by a replayed message still counts once). */
  gaps: number;
  /** Replay requests made. */
  requests: number;
  /** Messages that filled part of a gap (replayed, or overtaken on the way). */
  recovered: number;
  /** Seqs given up while running. */
  lost: number;
  /** Seqs still missing at `finish()`. */
  unresolved: number;
  /** Messages in the reorder buffer now. */
  held: number;
}

interface Gap {
  from: number;
  to: number;
  /** When the gap opened (a split keeps the original's). */
  since: number;
  /** When it was last requested; NaN before the first request. */
  requestedAt: number;
  /** Given up already (the device said the range is gone): skipped when delivery reaches it. */
  gone: boolean;
}

interface DeviceState<T> {
  /** Next seq to deliver; undefined until the first message (a subscriber may join mid-stream). */
  next: number | undefined;
  /** Highest seq received. */
  seen: number;
  /** Highest seq known to exist: received, or announced by the device. */
  top: number;
  /** Highest `last_seq` the device announced (kept from before the first message too). */
  announced: number;
  held: Map<number, T>;
  /**
   * The missing ranges, sorted and disjoint, all within [next, top]. Invariant: every seq in
   * [next, top] is either held or in exactly one gap; after `drain`, the first gap (if any) starts
   * at `next` and is not gone.
   */
  gaps: Gap[];
  counters: TrackerCounters;
}

/** Requests made per device in one call at most: a burst of losses asks in a few rounds, not all at once. */
const MAX_REQUESTS_PER_CALL = 8;

export function newTrackerCounters(): TrackerCounters {
  return { delivered: 0, duplicates: 0, gaps: 0, requests: 0, recovered: 0, lost: 0, unresolved: 0, held: 0 };
}

export class SeqTracker<T> {
  /** Totals over all devices. */
  readonly counters: TrackerCounters = newTrackerCounters();
  private readonly devices = new Map<string, DeviceState<T>>();

  constructor(private readonly o: TrackerOptions<T>) {}

  /** The devices seen so far, in order of first appearance. */
  deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  /** One device's counters (a live object; undefined for a device never seen). */
  deviceCounters(device: string): Readonly<TrackerCounters> | undefined {
    return this.devices.get(device)?.counters;
  }

  private state(device: string): DeviceState<T> {
    let s = this.devices.get(device);
    if (!s) {
      s = { next: undefined, seen: -1, top: -1, announced: -1, held: new Map(), gaps: [], counters: newTrackerCounters() };
      this.devices.set(device, s);
    }
    return s;
  }

  private add(s: DeviceState<T>, key: keyof TrackerCounters, n = 1): void {
    s.counters[key] += n;
    this.counters[key] += n;
  }

  /** A message arrived (original or replayed). */
  accept(device: string, seq: number, msg: T, now: number): void {
    const s = this.state(device);
    if (s.next === undefined) {
      s.next = seq;
      s.top = seq - 1;
    }
    if (seq < s.next || s.held.has(seq)) {
      this.add(s, 'duplicates');
      return;
    }
    let opened = false;
    if (seq > s.top) {
      if (seq > s.top + 1) opened = this.open(s, s.top + 1, seq - 1, now);
      s.top = seq;
    } else {
      const i = s.gaps.findIndex((g) => g.from <= seq && seq <= g.to);
      // Not in a live gap: given up already (the device said it was gone) — too late to deliver.
      if (i < 0 || s.gaps[i]!.gone) {
        this.add(s, 'duplicates');
        return;
      }
      this.fill(s, i, seq);
      this.add(s, 'recovered');
    }
    if (seq > s.seen) s.seen = seq;
    if (seq === s.next) {
      this.emit(device, s, seq, msg);
      this.drain(device, s);
    } else {
      s.held.set(seq, msg);
      this.add(s, 'held');
    }
    // An announcement that came before our first message: its tail is known now.
    if (s.announced > s.top) {
      opened = this.open(s, s.top + 1, s.announced, now) || opened;
      s.top = s.announced;
    }
    while (s.held.size > this.o.maxBuffered && s.gaps.length > 0) this.giveUpHead(device, s);
    if (opened) this.ask(device, s, now);
  }

  /** The device says it has published up to `lastSeq` (birth, health): a missing tail becomes a gap. */
  announce(device: string, lastSeq: number, now: number): void {
    const s = this.state(device);
    if (lastSeq > s.announced) s.announced = lastSeq;
    if (s.next === undefined || lastSeq <= s.top) return;
    this.open(s, s.top + 1, lastSeq, now);
    s.top = lastSeq;
    this.ask(device, s, now);
  }

  /**
   * The device says the seqs [from, to] are gone (a replay result's `gone`): the missing ones among
   * them are given up at once, instead of after holdMs. Held messages in the range are still delivered.
   */
  giveUp(device: string, from: number, to: number, _now: number): void {
    const s = this.devices.get(device);
    if (!s || s.next === undefined) return;
    const lo = Math.max(from, s.next);
    const hi = Math.min(to, s.top);
    if (hi < lo) return;
    const out: Gap[] = [];
    for (const g of s.gaps) {
      if (g.gone || g.to < lo || g.from > hi) {
        out.push(g);
        continue;
      }
      const a = Math.max(g.from, lo);
      const b = Math.min(g.to, hi);
      if (g.from < a) out.push({ ...g, to: a - 1 });
      out.push({ ...g, from: a, to: b, gone: true });
      this.add(s, 'lost', b - a + 1);
      this.o.lost?.(device, a, b);
      if (b < g.to) out.push({ ...g, from: b + 1 });
    }
    s.gaps = out;
    this.drain(device, s);
  }

  /**
   * Something changed that may have lost our requests or the answers (the device came back online,
   * our own connection was re-established): every live gap of `device` (or of every device) is
   * asked for again now, instead of after holdMs/4.
   */
  reask(device: string | undefined, now: number): void {
    for (const [d, s] of this.devices) {
      if (device !== undefined && d !== device) continue;
      for (const g of s.gaps) if (!g.gone && !Number.isNaN(g.requestedAt)) g.requestedAt = -Infinity;
      this.ask(d, s, now);
    }
  }

  /** Call periodically: gives up the gaps older than holdMs and re-asks for the others. */
  tick(now: number): void {
    for (const [device, s] of this.devices) {
      // Gaps open in seq order and a split keeps its age, so the oldest is always at the head.
      while (s.gaps.length > 0 && now - s.gaps[0]!.since > this.o.holdMs) this.giveUpHead(device, s);
      this.ask(device, s, now);
    }
  }

  /**
   * The subscriber stops waiting (it exits): every held message is delivered, and the ranges still
   * missing are reported as unresolved — not as lost: they may only have been on their way.
   */
  finish(_now: number): void {
    for (const [device, s] of this.devices) {
      while (s.gaps.length > 0) {
        const g = s.gaps.shift()!;
        this.add(s, 'unresolved', g.to - g.from + 1);
        this.o.unresolved?.(device, g.from, g.to);
        s.next = g.to + 1;
        this.drain(device, s);
      }
    }
  }

  private open(s: DeviceState<T>, from: number, to: number, now: number): boolean {
    s.gaps.push({ from, to, since: now, requestedAt: NaN, gone: false });
    this.add(s, 'gaps');
    return true;
  }

  /** Takes `seq` out of gap `i`: shrinks it, removes it, or splits it in two that keep its age. */
  private fill(s: DeviceState<T>, i: number, seq: number): void {
    const g = s.gaps[i]!;
    if (g.from === g.to) s.gaps.splice(i, 1);
    else if (seq === g.from) g.from++;
    else if (seq === g.to) g.to--;
    else {
      s.gaps.splice(i + 1, 0, { ...g, from: seq + 1 });
      g.to = seq - 1;
    }
  }

  private emit(device: string, s: DeviceState<T>, seq: number, msg: T): void {
    s.next = seq + 1;
    this.add(s, 'delivered');
    this.o.deliver(device, seq, msg);
  }

  /** Delivers what is held from `next` on, stepping over ranges given up as gone. */
  private drain(device: string, s: DeviceState<T>): void {
    for (;;) {
      const next = s.next!;
      if (s.held.has(next)) {
        const m = s.held.get(next)!;
        s.held.delete(next);
        this.add(s, 'held', -1);
        this.emit(device, s, next, m);
        continue;
      }
      const g = s.gaps[0];
      if (g?.gone && g.from === next) {
        s.gaps.shift();
        s.next = g.to + 1;
        continue;
      }
      return;
    }
  }

  private giveUpHead(device: string, s: DeviceState<T>): void {
    const g = s.gaps.shift()!;
    this.add(s, 'lost', g.to - g.from + 1);
    this.o.lost?.(device, g.from, g.to);
    s.next = g.to + 1;
    this.drain(device, s);
  }

  private ask(device: string, s: DeviceState<T>, now: number): void {
    let made = 0;
    for (const g of s.gaps) {
      if (made >= MAX_REQUESTS_PER_CALL) return;
      if (g.gone) continue;
      if (Number.isNaN(g.requestedAt)) {
        if (g.from > s.seen && now - g.since < (this.o.tailGraceMs ?? 0)) continue;
      } else if (now - g.requestedAt < this.o.holdMs / 4) continue;
      g.requestedAt = now;
      made++;
      this.add(s, 'requests');
      this.o.request(device, g.from, g.to);
    }
  }
}
