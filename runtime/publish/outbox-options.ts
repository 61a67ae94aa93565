/**
 * The outbox's options, declared once with the reason for each default (STYLE §7) and validated at
 * open with errors that name the key; and its counters. See outbox.ts for what they govern.
 */

import type { Clock } from '../core/clock.js';
import { ErrorCode, TinyqaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { OutboxFs } from './outbox-fs.js';
import { FRAMING_BYTES } from './outbox-format.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export const OUTBOX_DEFAULTS = {
  /** Survives tinyqa crashing at any point; a power loss costs at most one interval. */
  fsync: 'interval' as FsyncPolicy,
  /** A fifth of a second of verdicts at risk on power loss; 5 fsyncs/s is nothing for an SD card. */
  fsyncIntervalMs: 200,
  /** Bounds the records at risk in a burst too. */
  fsyncEveryRecords: 256,
  /** Unacked records: ~1 h of one verdict per second on 25 streams. */
  maxRecords: 100_000,
  /** Unacked bytes: 64 MiB, a small share of the smallest SD card a gateway ships with. */
  maxBytes: 64 * 1024 * 1024,
  /** Acked records kept for replay requests: minutes of output at typical rates. */
  retainRecords: 20_000,
  retainBytes: 16 * 1024 * 1024,
  /** Unit of deletion: small enough that retention is close to its window, large enough for few files. */
  segmentBytes: 1024 * 1024,
  /** Largest record; the resync scan also uses it as the sanity bound on a length field. */
  maxRecordBytes: 256 * 1024,
  /** Acks persisted at most once a second: each is an atomic replace with two fsyncs. */
  stateIntervalMs: 1000,
  /** Seqs handed out per persisted lease ('interval'/'never'): one state write per 16 384 appends. */
  seqLease: 16_384,
};

export interface OutboxOptions extends Partial<typeof OUTBOX_DEFAULTS> {
  dir: string;
  clock?: Clock;
  log?: Logger;
  /** The file layer; tests inject `LimitedOutboxFs` to run out of space. */
  fs?: OutboxFs;
  /** This boot's id; default: Linux's /proc/sys/kernel/random/boot_id (undefined elsewhere). */
  bootId?: string;
}

export interface OutboxCounters {
  /** Records appended since open, plus unacked records recovered at open. */
  produced: number;
  /** Records acknowledged (PUBACK). */
  delivered: number;
  dropped_full_verdicts: number;
  /** Dropped only when nothing but actions was left to drop; each said on the error log. */
  dropped_full_actions: number;
  dropped_full_other: number;
  /** Unacked records whose bytes failed their CRC when read back to be sent. */
  dropped_corrupt: number;
  /** Unacked records (in flight included). */
  queued: number;
  queued_bytes: number;
  inflight: number;
  bytes_on_disk: number;
  segments: number;
  /** Intact records found at open. */
  recovered_records: number;
  /** Bytes cut from segment tails at open (a record torn by a crash). */
  torn_bytes_cut: number;
  /** Records lost to damage between intact records at open (seqs missing), and the bytes skipped. */
  corrupt_records: number;
  corrupt_bytes: number;
  /** Seqs never used: numbering resumed at the lease end after an unclean reboot. */
  seq_skipped: number;
  /** Appends refused (write or fsync error, disk full, record too large); their seq is not used. */
  refused_appends: number;
  /** PUBACKs for seqs not in flight (duplicates, unknown), and for records dropped while in flight. */
  acks_unknown: number;
  acks_after_drop: number;
  /** Failed fsyncs of the journal and failed state-file writes (retried; said on the log). */
  sync_errors: number;
  state_write_errors: number;
}

export function outboxDropped(c: OutboxCounters): number {
  return c.dropped_full_verdicts + c.dropped_full_actions + c.dropped_full_other + c.dropped_corrupt;
}

export type Resolved = typeof OUTBOX_DEFAULTS & { dir: string };

export function resolveOptions(o: OutboxOptions): Resolved {
  const r: Resolved = { ...OUTBOX_DEFAULTS, dir: o.dir };
  for (const key of Object.keys(OUTBOX_DEFAULTS) as (keyof typeof OUTBOX_DEFAULTS)[]) {
    const v = o[key];
    if (v === undefined) continue;
    if (key === 'fsync') {
      if (v !== 'always' && v !== 'interval' && v !== 'never') throw new TinyqaError(ErrorCode.ConfigInvalid, `outbox.fsync must be "always", "interval" or "never", got ${JSON.stringify(v)}`);
      r.fsync = v;
      continue;
    }
    const min = key === 'retainRecords' || key === 'retainBytes' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new TinyqaError(ErrorCode.ConfigInvalid, `outbox.${key} must be an integer ≥ ${min}, got ${String(v)}`);
    (r as Record<string, unknown>)[key] = v;
  }
  if (r.maxRecordBytes > r.maxBytes) throw new TinyqaError(ErrorCode.ConfigInvalid, `outbox.maxRecordBytes (${r.maxRecordBytes}) must not exceed outbox.maxBytes (${r.maxBytes})`, { hint: 'one record must fit in the bound' });
  if (r.maxRecordBytes < FRAMING_BYTES + 1) throw new TinyqaError(ErrorCode.ConfigInvalid, `outbox.maxRecordBytes must be at least ${FRAMING_BYTES + 1}`);
  return r;
}

