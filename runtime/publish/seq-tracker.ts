/**
 * The subscriber's half of end-to-end delivery (DESIGN §6; used by `tinyqa watch`, and the recipe
 * for any other subscriber). Every message a device publishes carries a durable sequence number
 * `seq` (the outbox's, strictly increasing, never reused across restarts). QoS 1 to the broker
 * is at-least-once and a broker that dies loses what it held in memory, so a subscriber:
 *   1. drops duplicates: (device, seq) seen before → counted, not delivered again;
 *   2. delivers in seq order: a message above a gap waits in a bounded reorder buffer;
 *   3. asks for what is missing: a gap below the highest seq seen, or a tail the device announces
 *      (its status/health carries `last_seq`) is requested with a replay command
 *      (`<prefix>/<device>/cmd/replay {from, to}`), served from the device's retention window;
 *   4. gives up on a gap after `holdMs` (the records are older than the retention window, or were
 *      dropped by a full outbox — the device counts those): the buffered messages are delivered
 *      and the gap is reported as lost, so output never stalls forever.
 * Memory: per device, the reorder buffer is bounded by `maxBuffered` messages.
 */

export interface TrackerOptions<T> {
  /** How long a gap may hold back later messages before it is given up (ms). */
  holdMs: number;
  /** Messages held per device at most; beyond, the oldest gap is given up at once. */
  maxBuffered: number;
  /** Called with each message in seq order, once. */
  deliver: (device: string, seq: number, msg: T) => void;
  /** Called when a range is missing and should be replayed (at most once per range per holdMs). */
  request: (device: string, from: number, to: number) => void;
  /** Called when a gap is given up. */
  lost?: (device: string, from: number, to: number) => void;
}

interface DeviceState<T> {
  /** Next seq to deliver; undefined until the first message (a subscriber may join mid-stream). */
  next: number | undefined;
  held: Map<number, T>;
  /** Highest seq the device said it has published (status/health `last_seq`). */
  announced: number;
  /** When the current head gap was first seen, and when it was last requested. */
  gapSince: number;
  requestedAt: number;
}

export interface TrackerCounters {
  delivered: number;
  duplicates: number;
  gaps: number;
  requests: number;
  lost: number;
  held: number;
}

export class SeqTracker<T> {
  readonly counters: TrackerCounters = { delivered: 0, duplicates: 0, gaps: 0, requests: 0, lost: 0, held: 0 };
  private readonly devices = new Map<string, DeviceState<T>>();

  constructor(private readonly o: TrackerOptions<T>) {}

  private state(device: string): DeviceState<T> {
    let s = this.devices.get(device);
    if (!s) {
      s = { next: undefined, held: new Map(), announced: -1, gapSince: NaN, requestedAt: NaN };
      this.devices.set(device, s);
    }
    return s;
  }

  /** A message arrived (original or replayed). */
  accept(device: string, seq: number, msg: T, now: number): void {
    const s = this.state(device);
    if (s.next === undefined) s.next = seq;
    if (seq < s.next || s.held.has(seq)) {
      this.counters.duplicates++;
      return;
    }
    if (seq === s.next) {
      this.emit(device, s, seq, msg);
      this.drain(device, s, now);
    } else {
      s.held.set(seq, msg);
      this.counters.held++;
      this.noteGap(s, now);
    }
    if (s.held.size > this.o.maxBuffered) this.giveUp(device, s, now);
    this.ask(device, s, now);
  }

  /** The device says it has published up to `lastSeq` (birth, health): a missing tail is asked for. */
  announce(device: string, lastSeq: number, now: number): void {
    const s = this.state(device);
    if (lastSeq > s.announced) s.announced = lastSeq;
    this.noteGap(s, now);
    this.ask(device, s, now);
  }

  /** Call periodically: re-asks for gaps and gives up the ones older than holdMs. */
  tick(now: number): void {
    for (const [device, s] of this.devices) {
      if (!Number.isNaN(s.gapSince) && now - s.gapSince > this.o.holdMs) this.giveUp(device, s, now);
      this.ask(device, s, now);
    }
  }

  private emit(device: string, s: DeviceState<T>, seq: number, msg: T): void {
    s.next = seq + 1;
    this.counters.delivered++;
    this.o.deliver(device, seq, msg);
  }

  private drain(device: string, s: DeviceState<T>, now: number): void {
    for (let m = s.held.get(s.next!); m !== undefined; m = s.held.get(s.next!)) {
      s.held.delete(s.next!);
      this.counters.held--;
      this.emit(device, s, s.next!, m);
    }
    s.gapSince = NaN;
    s.requestedAt = NaN;
    this.noteGap(s, now);
  }

  /** Starts the clock on a head gap when one opens. */
  private noteGap(s: DeviceState<T>, now: number): void {
    if (Number.isNaN(s.gapSince) && this.headGap(s)) {
      this.counters.gaps++;
      s.gapSince = now;
    }
  }

  /** The missing range at the head: from `next` to just below the first held seq (or the announced tail). */
  private headGap(s: DeviceState<T>): [number, number] | undefined {
    if (s.next === undefined) return undefined;
    if (s.held.size > 0) return [s.next, Math.min(...s.held.keys()) - 1];
    if (s.announced >= s.next) return [s.next, s.announced];
    return undefined;
  }

  private ask(device: string, s: DeviceState<T>, now: number): void {
    const gap = this.headGap(s);
    if (!gap) return;
    // Once per gap, then again every holdMs/4 while it lasts (a lost request or a lost replay).
    if (!Number.isNaN(s.requestedAt) && now - s.requestedAt < this.o.holdMs / 4) return;
    s.requestedAt = now;
    this.counters.requests++;
    this.o.request(device, gap[0], gap[1]);
  }

  private giveUp(device: string, s: DeviceState<T>, now: number): void {
    const gap = this.headGap(s);
    if (!gap) return;
    this.counters.lost += gap[1] - gap[0] + 1;
    this.o.lost?.(device, gap[0], gap[1]);
    s.next = gap[1] + 1;
    this.drain(device, s, now);
  }
}
