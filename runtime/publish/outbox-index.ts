/**
 * The outbox's in-memory index and its delivery state machine (STYLE §8). Pure, no `node:*`.
 *
 * The index holds, per seq still on disk, where the record is (offset and length within its segment)
 * and its kind and delivery state — 9 bytes a record in typed arrays, no payloads (they are read back
 * from disk when sent). Its size is bounded by the records on disk: unacked (≤ maxRecords), retained
 * (≤ retainRecords, plus one segment), and seqs that hold nothing (lost to damage, or skipped after an
 * unclean reboot — at most one seq lease).
 */

import { KIND_CODE, KINDS, type OutboxKind } from './outbox-format.js';

/** Delivery state of one seq. `absent`: no record (lost to damage, or a seq never used). */
export const State = { queued: 0, inflight: 1, acked: 2, dropped: 3, absent: 4 } as const;
export type State = (typeof State)[keyof typeof State];
export type DeliveryEvent = 'send' | 'ack' | 'requeue' | 'drop';

/**
 * The whole delivery life of a record: queued → inflight (published) → acked (PUBACK); inflight →
 * queued after a disconnect; queued or inflight → dropped when the outbox is full. Returns undefined
 * for a transition that does not exist (e.g. an ack for a record never sent, a duplicate PUBACK).
 */
export function deliveryStep(s: State, e: DeliveryEvent): State | undefined {
  switch (s) {
    case State.queued:
      return e === 'send' ? State.inflight : e === 'drop' ? State.dropped : undefined;
    case State.inflight:
      return e === 'ack' ? State.acked : e === 'requeue' ? State.queued : e === 'drop' ? State.dropped : undefined;
    default:
      return undefined;
  }
}

/** Acked, dropped and absent seqs are finished: the "delivered up to" watermark passes over them. */
export function isDone(s: State): boolean {
  return s >= State.acked;
}

export class SeqIndex {
  private off = new Uint32Array(256);
  private len = new Uint32Array(256);
  private meta = new Uint8Array(256);
  /** Array slot of `base`. */
  private head = 0;
  /** Seq of the first entry. */
  private baseSeq = 0;
  private count = 0;

  get base(): number {
    return this.baseSeq;
  }
  /** One past the last seq held: the next seq to append. */
  get end(): number {
    return this.baseSeq + this.count;
  }

  reset(base: number): void {
    this.baseSeq = base;
    this.head = 0;
    this.count = 0;
  }

  has(seq: number): boolean {
    return seq >= this.baseSeq && seq < this.end;
  }

  push(offset: number, length: number, kind: OutboxKind, state: State): void {
    if (this.head + this.count === this.off.length) this.makeRoom();
    const i = this.head + this.count++;
    this.off[i] = offset;
    this.len[i] = length;
    this.meta[i] = KIND_CODE[kind] | (state << 2);
  }

  pushAbsent(): void {
    this.push(0, 0, 'other', State.absent);
  }

  /** Forgets every seq below `seq` (their segment was deleted). */
  dropBefore(seq: number): void {
    const n = Math.min(this.count, Math.max(0, seq - this.baseSeq));
    this.head += n;
    this.count -= n;
    this.baseSeq += n;
    if (this.count === 0) this.head = 0;
  }

  private slot(seq: number): number {
    return this.head + (seq - this.baseSeq);
  }
  offset(seq: number): number {
    return this.off[this.slot(seq)]!;
  }
  length(seq: number): number {
    return this.len[this.slot(seq)]!;
  }
  kind(seq: number): OutboxKind {
    return KINDS[this.meta[this.slot(seq)]! & 3]!;
  }
  isAction(seq: number): boolean {
    return (this.meta[this.slot(seq)]! & 3) === KIND_CODE.action;
  }
  state(seq: number): State {
    return (this.meta[this.slot(seq)]! >> 2) as State;
  }
  setState(seq: number, s: State): void {
    const i = this.slot(seq);
    this.meta[i] = (this.meta[i]! & 3) | (s << 2);
  }

  /** Slides live entries to the front, or doubles the arrays when they are more than half full. */
  private makeRoom(): void {
    const cap = this.off.length;
    const next = this.count * 2 > cap ? cap * 2 : cap;
    const grow = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = next === cap ? a : make(next);
      if (b === a) a.copyWithin(0, this.head, this.head + this.count);
      else b.set(a.subarray(this.head, this.head + this.count));
      return b;
    };
    this.off = grow(this.off, (n) => new Uint32Array(n));
    this.len = grow(this.len, (n) => new Uint32Array(n));
    this.meta = grow(this.meta, (n) => new Uint8Array(n));
    this.head = 0;
  }
}
