/**
 * The durable outbox between the pipeline and the MQTT client (DESIGN §6, issue 6): ordered, bounded
 * by bytes and by count, records leave only on PUBACK, every drop counted with its reason, and the
 * `seq` subscribers dedup on (device, seq) is assigned here and never repeats, across crashes too.
 *
 * Store: an append-only journal of segment files with a CRC-32C per record, not SQLite.
 *  - No native build on the gateway: better-sqlite3 compiles from source when no prebuilt binary
 *    matches (ARM, offline installs), which a gateway in the field cannot do.
 *  - Crash-safe by construction: a record is only appended, never rewritten; a crash mid-write leaves
 *    a torn tail record whose CRC fails, and recovery cuts it. Nothing else can be half-written
 *    (the small state file is replaced atomically: temp, fsync, rename, directory fsync).
 *  - Sequential writes, whole-segment deletes: what SD cards and their wear levelling handle best.
 *
 * On disk, in `dir`:
 *   <first seq, 16 digits>.seg  records (format: outbox-format.ts), seqs strictly increasing; a new
 *                               segment starts when one passes `segmentBytes`.
 *   state.json                  "<crc32c> {json}": acked_through (the durable "delivered up to"
 *                               watermark), dropped_{verdicts,actions}_through (drop watermarks),
 *                               lease_end, boot_id, clean. Written lazily (every `stateIntervalMs`),
 *                               before a segment is deleted, and at close.
 *   LOCK                        pid of the process that has the outbox open.
 *
 * What "accepted" (append returned a seq) means per `fsync` policy:
 *  - 'always':   the record is on stable storage (written and fsynced) before append returns; it
 *                survives a process crash and a power loss. An fsync per record: ms each on an SD card.
 *  - 'interval': (default) written to the OS before append returns — survives a crash of tinyqa —
 *                and fsynced within `fsyncIntervalMs` or `fsyncEveryRecords`; a power loss can lose
 *                the records of that last interval. Their seqs are never reused: seqs are leased in
 *                blocks (`seqLease`, the lease end persisted before a seq past it is handed out), and
 *                after an unclean shutdown followed by a reboot (Linux boot_id changed, or unknown)
 *                numbering resumes at the lease end. Subscribers then see a gap of unused seqs
 *                (counted here as `seq_skipped`), never a reused one.
 *  - 'never':    written to the OS only, fsynced at close: survives a process crash, not a power
 *                loss; for tests and tmpfs.
 * Acks and drops are persisted lazily: after a crash, records acked in the last `stateIntervalMs`
 * are sent again (at-least-once; subscribers dedup), and records dropped in it may come back and be
 * sent or dropped again. Acks above a gap (out of order) are listed in the state file (acked_above).
 *
 * Counters: within one open, `produced = delivered + dropped + queued` holds exactly after every call,
 * where produced counts appends plus the unacked records recovered at open, and dropped is the sum of
 * the dropped_* counters (`outboxDropped`).
 *
 * Memory: the index holds 9 bytes per seq on disk (outbox-index.ts), never payloads; payloads are read
 * back when sent or replayed. Disk: unacked bytes ≤ maxBytes, done records kept ≤ the retention window
 * plus one segment; a segment holding an old unacked action (actions are dropped last) stays until
 * that action is acked, with the dropped verdicts around it (no compaction yet).
 *
 * I/O is synchronous: append must return its seq, and a record is durable before the call returns.
 * With 'interval', the event loop is blocked for one fsync per interval, not per record.
 */

import type { Clock, TimerHandle } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { crc32c } from '../framing/crc32c.js';
import { nodeOutboxFs, type OutboxFs } from './outbox-fs.js';
import { FRAMING_BYTES, KINDS, decodeRecord, encodeRecord, maxEncodedSize, parseRecordAt, scanSegment, type OutboxKind, type OutboxRecord } from './outbox-format.js';
import { SeqIndex, State, deliveryStep, isDone } from './outbox-index.js';

import { resolveOptions, type OutboxCounters, type OutboxOptions, type Resolved } from './outbox-options.js';

export type { OutboxKind, OutboxRecord } from './outbox-format.js';
export { OUTBOX_DEFAULTS, outboxDropped, type FsyncPolicy, type OutboxCounters, type OutboxOptions } from './outbox-options.js';
export { LimitedOutboxFs, nodeOutboxFs, type OutboxFs } from './outbox-fs.js';

interface Segment {
  path: string;
  firstSeq: number;
  /** One past its last record's seq. */
  endSeq: number;
  /** File length. */
  bytes: number;
  records: number;
  recordBytes: number;
}

interface PersistedState {
  acked_through: number;
  /** Acked seqs above acked_through (out-of-order PUBACKs): at most the in-flight window. */
  acked_above?: number[];
  dropped_verdicts_through: number;
  dropped_actions_through: number;
  lease_end: number;
  boot_id: string | null;
  clean: boolean;
}

const SEGMENT_RE = /^(\d{16})\.seg$/;
const STATE_FILE = 'state.json';
const LOCK_FILE = 'LOCK';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.seg`;
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: unknown }).code === 'EPERM';
  }
}

export class Outbox {
  readonly counters: OutboxCounters = {
    produced: 0, delivered: 0, dropped_full_verdicts: 0, dropped_full_actions: 0, dropped_full_other: 0, dropped_corrupt: 0,
    queued: 0, queued_bytes: 0, inflight: 0, bytes_on_disk: 0, segments: 0, recovered_records: 0, torn_bytes_cut: 0,
    corrupt_records: 0, corrupt_bytes: 0, seq_skipped: 0, refused_appends: 0, acks_unknown: 0, acks_after_drop: 0,
    sync_errors: 0, state_write_errors: 0,
  };
  private readonly fs: OutboxFs;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leased: boolean;
  private readonly bootId: string | undefined;
  private readonly index = new SeqIndex();
  private readonly segments: Segment[] = [];
  private readonly inflightSeqs = new Set<number>();
  private activeFd = -1;
  private readFd = -1;
  private readSeg: Segment | undefined;
  /** Every seq ≤ this is done (acked, dropped or absent): the "delivered up to" watermark. */
  private watermark = -1;
  private persistedWatermark = -1;
  /** Every non-action (resp. action) record ≤ this is done; recovery treats those above the watermark as dropped. */
  private droppedVerdictsThrough = -1;
  private droppedActionsThrough = -1;
  private dropCursorVerdicts = 0;
  private dropCursorActions = 0;
  private sendCursor = 0;
  private leaseEnd = 0;
  private retainedRecords = 0;
  private retainedBytes = 0;
  /**
   * Records acked since the state file last recorded it. After a crash they come back as unacked; an append that would leave no room for them
   * under the bounds writes the state first, so that recovery never has to drop a record that was
   * accepted and not finished to make room for one that was in fact delivered.
   */
  private ackedAbovePersisted = 0;
  private ackedAbovePersistedBytes = 0;
  private maxAckedSeq = -1;
  private scratch = new Uint8Array(4096);
  private readBuf = new Uint8Array(4096);
  private unsynced = 0;
  private syncTimer: TimerHandle | undefined;
  private stateTimer: TimerHandle | undefined;
  private stateDirty = false;
  private closed = false;

  private constructor(private readonly o: Resolved, options: OutboxOptions) {
    this.fs = options.fs ?? nodeOutboxFs;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    this.leased = o.fsync !== 'always';
    this.bootId = options.bootId ?? this.readBootId();
  }

  /** Opens (creating if needed) and recovers the outbox in `options.dir`. Throws E5007 if another live process has it open. */
  static open(options: OutboxOptions): Outbox {
    const outbox = new Outbox(resolveOptions(options), options);
    outbox.recover();
    return outbox;
  }

  /** The seq the next append gets. */
  get nextSeq(): number {
    return this.index.end;
  }

  /** Every seq ≤ this is acked, dropped or absent (the persisted "delivered up to" watermark, once synced). */
  get ackedThrough(): number {
    return this.watermark;
  }

  // ---- appending --------------------------------------------------------------------------------

  /**
   * Appends a record and returns its seq once it is accepted in the sense of the fsync policy (see
   * the file header). When the bound is passed, the oldest unacked verdicts are dropped (then other
   * records, then actions, said on the log). Throws E5005 on a write or fsync error — the record is
   * refused, its seq not used, records already accepted are kept — and E5006 if it is too large.
   */
  append(kind: OutboxKind, topic: string, payload: Uint8Array): number {
    this.assertOpen();
    if (!KINDS.includes(kind)) throw new TinyqaError(ErrorCode.Internal, `outbox: unknown record kind ${JSON.stringify(kind)}`);
    const limit = Math.min(this.o.maxRecordBytes, this.o.maxBytes);
    if (payload.length + FRAMING_BYTES > limit) return this.refuseTooLarge(payload.length + FRAMING_BYTES, limit);
    const need = maxEncodedSize(topic, payload.length);
    if (need > this.scratch.length) this.scratch = new Uint8Array(Math.max(need, this.scratch.length * 2));
    const seq = this.index.end;
    const len = encodeRecord(this.scratch, seq, kind, topic, payload);
    if (len < 0 || len > limit) return this.refuseTooLarge(len < 0 ? Infinity : len, limit);
    if (
      this.ackedAbovePersisted > 0 &&
      (this.counters.queued + this.ackedAbovePersisted + 1 > this.o.maxRecords || this.counters.queued_bytes + this.ackedAbovePersistedBytes + len > this.o.maxBytes)
    ) {
      try {
        this.writeState(false);
      } catch (e) {
        this.noteStateError(e);
      }
    }

    if (this.leased && seq >= this.leaseEnd) {
      const old = this.leaseEnd;
      this.leaseEnd = seq + this.o.seqLease;
      try {
        this.writeState(false);
      } catch (e) {
        this.leaseEnd = old;
        throw this.refuse(e, 'persist the seq lease');
      }
    }
    let seg = this.active();
    if (seg.bytes > 0 && seg.bytes + len > this.o.segmentBytes) {
      try {
        seg = this.roll(seq);
      } catch (e) {
        throw this.refuse(e, 'start a new segment');
      }
    }
    const at = seg.bytes;
    try {
      this.fs.write(this.activeFd, this.scratch, len, at);
      if (this.o.fsync === 'always') this.fs.fsync(this.activeFd);
    } catch (e) {
      // Cut what a failed write left (a partial record, or a whole one whose fsync failed) so that
      // nothing appears in the journal under a seq the next append will use.
      try {
        this.fs.truncate(this.activeFd, at);
      } catch {
        // The partial record fails its CRC and is cut at recovery; its seq is re-used only if it never returned.
      }
      throw this.refuse(e, 'write a record');
    }
    this.index.push(at, len, kind, State.queued);
    seg.bytes += len;
    seg.records++;
    seg.recordBytes += len;
    seg.endSeq = seq + 1;
    const c = this.counters;
    c.produced++;
    c.queued++;
    c.queued_bytes += len;
    c.bytes_on_disk += len;
    if (this.o.fsync === 'interval') {
      if (++this.unsynced >= this.o.fsyncEveryRecords) this.syncData();
      else if (!this.syncTimer) this.syncTimer = this.clock.setTimeout(() => ((this.syncTimer = undefined), this.syncData()), this.o.fsyncIntervalMs);
    } else if (this.o.fsync === 'never') this.unsynced++;
    this.enforceBounds();
    return seq;
  }

  private refuseTooLarge(bytes: number, limit: number): never {
    this.counters.refused_appends++;
    throw new TinyqaError(ErrorCode.OutboxRecordTooLarge, `outbox: a record of ${bytes} bytes is larger than the ${limit} bytes one record may take`, { hint: 'raise outbox.maxRecordBytes, or publish less per message' });
  }

  private refuse(e: unknown, what: string): TinyqaError {
    this.counters.refused_appends++;
    const code = (e as { code?: unknown } | null)?.code;
    const full = code === 'ENOSPC' || code === 'EDQUOT';
    const err = new TinyqaError(ErrorCode.OutboxWriteFailed, `outbox: cannot ${what} in ${this.o.dir}: ${errorMessage(e)}; the record was refused (its seq is not used), records accepted before are kept`, {
      cause: e,
      hint: full ? 'free space on that filesystem, or lower outbox.maxBytes and outbox.retainBytes' : 'check the storage device (dmesg) and the permissions of the outbox directory',
    });
    // Said on the first refusal and every 1024th, not per record: a full disk refuses thousands a second.
    if (this.counters.refused_appends === 1 || (this.counters.refused_appends & 1023) === 0) this.log.error?.(`${err.describe()} (${this.counters.refused_appends} refused so far)`);
    return err;
  }

  private active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Starts the segment whose first record will be `seq`, closing the current one (fsynced). */
  private roll(seq: number, retention = true): Segment {
    const path = join(this.o.dir, segmentName(seq));
    const fd = this.fs.open(path, true);
    if (this.o.fsync !== 'never') {
      try {
        this.fs.fsyncDir(this.o.dir);
        if (this.activeFd >= 0) this.fs.fsync(this.activeFd);
      } catch (e) {
        this.fs.close(fd);
        throw e;
      }
    }
    if (this.activeFd >= 0) this.fs.close(this.activeFd);
    this.activeFd = fd;
    this.unsynced = 0;
    const seg: Segment = { path, firstSeq: seq, endSeq: seq, bytes: 0, records: 0, recordBytes: 0 };
    this.segments.push(seg);
    this.counters.segments = this.segments.length;
    if (retention) this.applyRetention();
    return seg;
  }

  // ---- bounds and drops -------------------------------------------------------------------------

  /** Drops until the bounds hold, looking only at seqs below `end` (recovery replays the appends in order). */
  private enforceBounds(end = this.index.end): void {
    const c = this.counters;
    while ((c.queued > this.o.maxRecords || c.queued_bytes > this.o.maxBytes) && this.dropOldest(end));
  }

  /** Oldest unacked non-action first; an action only when nothing else is left. */
  private dropOldest(end: number): boolean {
    const idx = this.index;
    let s = Math.max(this.dropCursorVerdicts, this.watermark + 1);
    while (s < end && (isDone(idx.state(s)) || idx.isAction(s))) s++;
    this.dropCursorVerdicts = s;
    if (s < end) {
      this.drop(s, idx.kind(s) === 'verdict' ? 'dropped_full_verdicts' : 'dropped_full_other');
      this.droppedVerdictsThrough = s;
      this.dropCursorVerdicts = s + 1;
      return true;
    }
    s = Math.max(this.dropCursorActions, this.watermark + 1);
    while (s < end && (isDone(idx.state(s)) || !idx.isAction(s))) s++;
    this.dropCursorActions = s;
    if (s >= end) return false;
    this.log.error?.(`outbox full (${this.counters.queued} records, ${this.counters.queued_bytes} bytes unacked) with nothing but actions left: DROPPING ACTION seq ${s} (${this.counters.dropped_full_actions + 1} actions dropped so far) — the broker has been unreachable too long, or outbox.maxRecords/maxBytes are too small`);
    this.drop(s, 'dropped_full_actions');
    this.droppedActionsThrough = s;
    this.dropCursorActions = s + 1;
    return true;
  }

  private drop(seq: number, reason: 'dropped_full_verdicts' | 'dropped_full_other' | 'dropped_full_actions' | 'dropped_corrupt'): void {
    const idx = this.index;
    const from = idx.state(seq);
    const to = deliveryStep(from, 'drop');
    if (to === undefined) return;
    idx.setState(seq, to);
    if (from === State.inflight) {
      this.inflightSeqs.delete(seq);
      this.counters.inflight--;
    }
    this.counters.queued--;
    this.counters.queued_bytes -= idx.length(seq);
    this.counters[reason]++;
    this.markStateDirty();
    this.advanceWatermark();
  }

  // ---- sending ----------------------------------------------------------------------------------

  /**
   * Up to `max` records not yet sent, in seq order, payloads read back from disk. Does not change
   * their state: call `markSent` for each one handed to the client. The caller bounds `max` by its
   * in-flight window (the broker's receive maximum minus `counters.inflight`).
   */
  nextToSend(max: number): OutboxRecord[] {
    this.assertOpen();
    const out: OutboxRecord[] = [];
    const idx = this.index;
    const end = idx.end;
    let s = Math.max(this.sendCursor, idx.base);
    while (s < end && idx.state(s) !== State.queued) s++;
    this.sendCursor = s;
    for (; s < end && out.length < max; s++) {
      if (idx.state(s) !== State.queued) continue;
      const r = this.readRecord(s);
      if (r) out.push(r);
      else {
        this.log.error?.(`outbox: record seq ${s} fails its CRC on disk (storage damage); dropped`);
        this.drop(s, 'dropped_corrupt');
      }
    }
    return out;
  }

  /** The record was handed to the MQTT client. False if it is not waiting to be sent. */
  markSent(seq: number): boolean {
    if (!this.index.has(seq)) return false;
    const to = deliveryStep(this.index.state(seq), 'send');
    if (to === undefined) return false;
    this.index.setState(seq, to);
    this.inflightSeqs.add(seq);
    this.counters.inflight++;
    return true;
  }

  /**
   * PUBACK for `seq`. Acks may arrive in any order; the watermark advances over contiguous finished
   * records and is persisted lazily. False (and counted) for an ack of a record not in flight.
   */
  ack(seq: number): boolean {
    const idx = this.index;
    if (!idx.has(seq)) {
      this.counters.acks_unknown++;
      return false;
    }
    const from = idx.state(seq);
    const to = deliveryStep(from, 'ack');
    if (to === undefined) {
      if (from === State.dropped) this.counters.acks_after_drop++;
      else this.counters.acks_unknown++;
      return false;
    }
    idx.setState(seq, to);
    this.inflightSeqs.delete(seq);
    const c = this.counters;
    c.inflight--;
    c.queued--;
    c.queued_bytes -= idx.length(seq);
    c.delivered++;
    this.ackedAbovePersisted++;
    this.ackedAbovePersistedBytes += idx.length(seq);
    if (seq > this.maxAckedSeq) this.maxAckedSeq = seq;
    this.advanceWatermark();
    return true;
  }

  /** After a disconnect: every record sent and not acked is to be sent again, same seq. Returns how many. */
  requeueInflight(): number {
    let n = 0;
    for (const seq of this.inflightSeqs) {
      this.index.setState(seq, State.queued);
      if (seq < this.sendCursor) this.sendCursor = seq;
      n++;
    }
    this.inflightSeqs.clear();
    this.counters.inflight = 0;
    return n;
  }

  /**
   * Records with from ≤ seq ≤ to still on disk (acked ones within the retention window, and unacked
   * ones), at most `max`, in seq order: what a subscriber's replay request is served from. Dropped
   * records still on disk are returned too — a replay is better served late than not at all.
   */
  readRange(from: number, to: number, max = 1000): OutboxRecord[] {
    this.assertOpen();
    const out: OutboxRecord[] = [];
    const idx = this.index;
    const last = Math.min(to, idx.end - 1);
    for (let s = Math.max(from, idx.base); s <= last && out.length < max; s++) {
      if (idx.length(s) === 0) continue;
      const r = this.readRecord(s);
      if (r) out.push(r);
    }
    return out;
  }

  /** Where record `seq` stands (for diagnostics and tests); 'gone' below what is still on disk. */
  stateOf(seq: number): 'queued' | 'inflight' | 'acked' | 'dropped' | 'absent' | 'gone' {
    if (!this.index.has(seq)) return seq < this.index.base ? 'gone' : 'absent';
    const st = this.index.state(seq);
    return st === State.queued ? 'queued' : st === State.inflight ? 'inflight' : st === State.acked ? 'acked' : st === State.dropped ? 'dropped' : 'absent';
  }

  /** Whether the record `seq` is still on disk (unacked, or acked within the retention window). */
  present(seq: number): boolean {
    return this.index.has(seq) && this.index.length(seq) > 0;
  }

  private readRecord(seq: number): OutboxRecord | undefined {
    const seg = this.segmentOf(seq);
    const len = this.index.length(seq);
    if (!seg || len === 0) return undefined;
    if (len > this.readBuf.length) this.readBuf = new Uint8Array(len);
    let fd: number;
    if (seg === this.active()) fd = this.activeFd;
    else {
      if (this.readSeg !== seg) {
        this.closeReadFd();
        this.readFd = this.fs.open(seg.path, false);
        this.readSeg = seg;
      }
      fd = this.readFd;
    }
    const n = this.fs.read(fd, this.readBuf, len, this.index.offset(seq));
    const head = parseRecordAt(this.readBuf, 0, n, this.o.maxRecordBytes);
    return head && head.seq === seq ? decodeRecord(this.readBuf, 0, head) : undefined;
  }

  private segmentOf(seq: number): Segment | undefined {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    const s = segs[lo];
    return s && s.firstSeq <= seq && seq < s.endSeq ? s : undefined;
  }

  private closeReadFd(): void {
    if (this.readFd >= 0) this.fs.close(this.readFd);
    this.readFd = -1;
    this.readSeg = undefined;
  }

  // ---- watermark, retention, state ---------------------------------------------------------------

  private advanceWatermark(): void {
    const idx = this.index;
    const end = idx.end;
    let w = this.watermark;
    while (w + 1 < end && isDone(idx.state(w + 1))) {
      w++;
      const len = idx.length(w);
      if (len > 0) {
        this.retainedRecords++;
        this.retainedBytes += len;
      }
    }
    if (w === this.watermark) return;
    this.watermark = w;
    this.markStateDirty();
    if (this.segments.length > 1 && this.segments[0]!.endSeq - 1 <= w) this.applyRetention();
  }

  /** Deletes the oldest segments whose records are all finished and all outside the retention window. */
  private applyRetention(): void {
    while (this.segments.length > 1) {
      const s = this.segments[0]!;
      if (s.endSeq - 1 > this.watermark) return;
      const outside = this.retainedRecords - s.records >= this.o.retainRecords || this.retainedBytes - s.recordBytes >= this.o.retainBytes;
      if (!outside) return;
      // The watermark must be durable before the records under it vanish, or a reopen would start below them.
      if (this.persistedWatermark < s.endSeq - 1) {
        try {
          this.writeState(false);
        } catch (e) {
          this.noteStateError(e);
          return;
        }
      }
      if (this.readSeg === s) this.closeReadFd();
      try {
        this.fs.unlink(s.path);
      } catch (e) {
        this.log.warn?.(`outbox: cannot delete ${s.path}: ${errorMessage(e)}; retried later`);
        return;
      }
      this.segments.shift();
      this.retainedRecords -= s.records;
      this.retainedBytes -= s.recordBytes;
      this.counters.bytes_on_disk -= s.bytes;
      this.counters.segments = this.segments.length;
      this.index.dropBefore(this.segments[0]!.firstSeq);
    }
  }

  private markStateDirty(): void {
    this.stateDirty = true;
    if (this.stateTimer || this.closed) return;
    this.stateTimer = this.clock.setTimeout(() => {
      this.stateTimer = undefined;
      if (!this.stateDirty || this.closed) return;
      try {
        this.writeState(false);
      } catch (e) {
        this.noteStateError(e);
        this.markStateDirty();
      }
    }, this.o.stateIntervalMs);
  }

  private noteStateError(e: unknown): void {
    if (this.counters.state_write_errors++ === 0) this.log.warn?.(`outbox: cannot write ${join(this.o.dir, STATE_FILE)}: ${errorMessage(e)}; acks stay in memory and are retried (after a crash, acked records would be sent again)`);
  }

  private writeState(clean: boolean): void {
    const above: number[] = [];
    const idx = this.index;
    for (let q = Math.max(this.watermark + 1, idx.base); q <= this.maxAckedSeq && q < idx.end; q++) if (idx.state(q) === State.acked) above.push(q);
    const s: PersistedState = {
      acked_through: this.watermark,
      ...(above.length > 0 ? { acked_above: above } : {}),
      dropped_verdicts_through: this.droppedVerdictsThrough,
      dropped_actions_through: this.droppedActionsThrough,
      lease_end: this.leaseEnd,
      boot_id: this.bootId ?? null,
      clean,
    };
    const body = JSON.stringify(s);
    const bytes = encoder.encode(body);
    this.fs.writeFileAtomic(join(this.o.dir, STATE_FILE), encoder.encode(`${crc32c(bytes)} ${body}\n`), this.o.fsync !== 'never');
    this.stateDirty = false;
    this.persistedWatermark = s.acked_through;
    this.ackedAbovePersisted = 0;
    this.ackedAbovePersistedBytes = 0;
  }

  private readState(): PersistedState | undefined {
    const raw = this.fs.readFile(join(this.o.dir, STATE_FILE));
    if (!raw) return undefined;
    const text = decoder.decode(raw).trimEnd();
    const sp = text.indexOf(' ');
    const body = text.slice(sp + 1);
    if (sp > 0 && Number(text.slice(0, sp)) === crc32c(encoder.encode(body))) {
      try {
        const s = JSON.parse(body) as PersistedState;
        if (Number.isSafeInteger(s.acked_through) && Number.isSafeInteger(s.lease_end)) return s;
      } catch {
        // fall through: damaged
      }
    }
    this.log.warn?.(`outbox: ${join(this.o.dir, STATE_FILE)} is damaged; starting from the journal alone (acked records still on disk are sent again)`);
    return undefined;
  }

  private readBootId(): string | undefined {
    try {
      const b = this.fs.readFile('/proc/sys/kernel/random/boot_id');
      return b ? decoder.decode(b).trim() : undefined;
    } catch {
      return undefined;
    }
  }

  /** fsyncs the journal now. An fsync error is said and counted; the data may be lost on power loss. */
  private syncData(): void {
    this.syncTimer?.cancel();
    this.syncTimer = undefined;
    if (this.unsynced === 0 || this.activeFd < 0) return;
    try {
      this.fs.fsync(this.activeFd);
      this.unsynced = 0;
    } catch (e) {
      if (this.counters.sync_errors++ === 0) this.log.error?.(`outbox: fsync of the journal in ${this.o.dir} failed: ${errorMessage(e)}; records since the last sync may not survive a power loss`);
    }
  }

  /** Makes everything durable now: journal fsync and state file. */
  sync(): void {
    this.assertOpen();
    this.syncData();
    try {
      this.writeState(false);
    } catch (e) {
      this.noteStateError(e);
    }
  }

  /** Syncs, records a clean shutdown (no seq skipped at the next open), and releases the directory. */
  close(): void {
    if (this.closed) return;
    this.syncData();
    if (this.leased) this.leaseEnd = this.index.end;
    try {
      this.writeState(true);
    } catch (e) {
      this.noteStateError(e);
    }
    this.release();
    this.fs.unlink(join(this.o.dir, LOCK_FILE));
  }

  /** Test hook: stops like a SIGKILL would — no sync, no state write, the lock left behind. */
  simulateCrash(): void {
    this.release();
  }

  private release(): void {
    this.closed = true;
    this.syncTimer?.cancel();
    this.stateTimer?.cancel();
    this.syncTimer = this.stateTimer = undefined;
    this.closeReadFd();
    if (this.activeFd >= 0) this.fs.close(this.activeFd);
    this.activeFd = -1;
  }

  private assertOpen(): void {
    if (this.closed) throw new TinyqaError(ErrorCode.Internal, `outbox in ${this.o.dir} used after close`);
  }

  // ---- recovery ---------------------------------------------------------------------------------

  private recover(): void {
    const { dir } = this.o;
    let names: string[];
    try {
      this.fs.mkdirp(dir);
      names = this.fs.list(dir);
      this.lock();
    } catch (e) {
      if (e instanceof TinyqaError) throw e;
      throw new TinyqaError(ErrorCode.OutboxOpenFailed, `outbox: cannot open ${dir}: ${errorMessage(e)}`, { cause: e, hint: 'check that the directory is writable by tinyqa' });
    }
    const st = this.readState();
    const c = this.counters;
    const segNames = names.filter((n) => SEGMENT_RE.test(n)).sort();
    for (let i = 0; i < segNames.length; i++) {
      const name = segNames[i]!;
      const path = join(dir, name);
      const firstSeq = Number(name.slice(0, 16));
      let buf: Uint8Array;
      try {
        buf = this.fs.readFile(path) ?? new Uint8Array(0);
      } catch (e) {
        throw new TinyqaError(ErrorCode.OutboxOpenFailed, `outbox: cannot read ${path}: ${errorMessage(e)}`, { cause: e });
      }
      if (this.segments.length === 0) this.index.reset(firstSeq);
      const seg: Segment = { path, firstSeq, endSeq: firstSeq, bytes: 0, records: 0, recordBytes: 0 };
      const scan = scanSegment(buf, Math.max(firstSeq, this.index.end), this.o.maxRecordBytes, (seq, offset, length, kind) => {
        while (this.index.end < seq) this.index.pushAbsent();
        this.index.push(offset, length, kind, State.queued);
        seg.records++;
        seg.recordBytes += length;
      });
      c.recovered_records += seg.records;
      c.corrupt_records += scan.corruptRecords;
      c.corrupt_bytes += scan.corruptBytes;
      if (scan.corruptBytes > 0) this.log.warn?.(`outbox: ${path} is damaged: ${scan.corruptBytes} bytes skipped, ${scan.corruptRecords} records lost`);
      if (scan.tailBytes > 0) {
        this.cutTail(path, scan.validEnd);
        c.torn_bytes_cut += scan.tailBytes;
        this.log.info?.(`outbox: cut a torn record (${scan.tailBytes} bytes) at the end of ${path}`);
      }
      seg.bytes = scan.validEnd;
      seg.endSeq = Math.max(firstSeq, scan.lastSeq + 1);
      if (seg.records === 0 && i < segNames.length - 1) {
        this.fs.unlink(path);
        continue;
      }
      this.segments.push(seg);
    }

    // The next seq: above every record, every acked seq, and — after an unclean reboot, when records
    // handed out but not yet fsynced may be gone — above every seq the lease allowed.
    const last = this.segments[this.segments.length - 1];
    this.watermark = Math.max(st?.acked_through ?? -1, this.segments.length > 0 ? this.index.base - 1 : -1);
    let next = Math.max(last ? Math.max(this.index.end, last.endSeq) : 0, this.watermark + 1);
    if (this.leased && st && !st.clean && (this.bootId === undefined || st.boot_id !== this.bootId) && st.lease_end > next) {
      c.seq_skipped = st.lease_end - next;
      this.log.warn?.(`outbox: unclean shutdown across a reboot; numbering resumes at seq ${st.lease_end} (${c.seq_skipped} seqs skipped, never reused)`);
      next = st.lease_end;
    }
    if (this.segments.length === 0) {
      this.index.reset(next);
      this.watermark = next - 1;
    }
    while (this.index.end < next) this.index.pushAbsent();
    try {
      if (last && last.endSeq === next) this.activeFd = this.fs.open(last.path, true);
      else {
        if (last && last.records === 0) {
          this.fs.unlink(last.path);
          this.segments.pop();
        }
        this.roll(next, false);
      }
    } catch (e) {
      throw new TinyqaError(ErrorCode.OutboxOpenFailed, `outbox: cannot open a segment in ${dir}: ${errorMessage(e)}`, { cause: e });
    }

    this.droppedVerdictsThrough = st?.dropped_verdicts_through ?? -1;
    this.droppedActionsThrough = st?.dropped_actions_through ?? -1;
    this.persistedWatermark = st?.acked_through ?? -1;
    this.sendCursor = this.dropCursorVerdicts = this.dropCursorActions = this.watermark + 1;
    const idx = this.index;
    const acked = this.watermark;
    const ackedAbove = new Set((st?.acked_above ?? []).filter((q) => Number.isSafeInteger(q) && q > acked));
    // Drops the state file had not recorded yet are made again, in the order the appends made them:
    // the bounds are enforced after each record, as append did.
    for (let s = idx.base; s < next; s++) {
      if (idx.state(s) === State.absent) continue;
      const len = idx.length(s);
      if (ackedAbove.has(s)) {
        idx.setState(s, State.acked);
        if (s > this.maxAckedSeq) this.maxAckedSeq = s;
      } else if (s <= acked) {
        idx.setState(s, State.acked);
        this.retainedRecords++;
        this.retainedBytes += len;
      } else if (s <= (idx.isAction(s) ? this.droppedActionsThrough : this.droppedVerdictsThrough)) {
        idx.setState(s, State.dropped);
      } else {
        c.produced++;
        c.queued++;
        c.queued_bytes += len;
        this.enforceBounds(s + 1);
      }
    }
    c.bytes_on_disk = this.segments.reduce((n, s) => n + s.bytes, 0);
    c.segments = this.segments.length;
    this.advanceWatermark();
    this.leaseEnd = next;
    if (this.leased) this.leaseEnd = next + this.o.seqLease;
    try {
      this.writeState(false);
    } catch (e) {
      // Without a persisted lease, the first append retries it (and is refused while it fails).
      if (this.leased) this.leaseEnd = next;
      this.noteStateError(e);
    }
    this.applyRetention();
  }

  private cutTail(path: string, length: number): void {
    const fd = this.fs.open(path, false);
    try {
      this.fs.truncate(fd, length);
      if (this.o.fsync !== 'never') this.fs.fsync(fd);
    } finally {
      this.fs.close(fd);
    }
  }

  /** One process per outbox directory: two writers would interleave records under the same seqs. */
  private lock(): void {
    const path = join(this.o.dir, LOCK_FILE);
    const raw = this.fs.readFile(path);
    const pid = raw ? Number(decoder.decode(raw).trim()) : NaN;
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new TinyqaError(ErrorCode.OutboxLocked, `outbox: ${this.o.dir} is in use by process ${pid}`, { hint: 'stop the other tinyqa, or give this one its own outbox directory' });
    }
    this.fs.writeFileAtomic(path, encoder.encode(`${process.pid}\n`), false);
  }
}
