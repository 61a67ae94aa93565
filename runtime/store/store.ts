/**
 * The local store for diverted and quarantined windows (DESIGN §4, paper §3.2: "route elsewhere /
 * offline storage"). One JSON-lines file per kind, rotated by size and bounded in total: when
 * `<kind>.jsonl` would pass `max_bytes / files`, it becomes `<kind>.1.jsonl` (older ones shift up and
 * the oldest is deleted). A full disk or a read-only folder never stops the runtime: the write is
 * counted as failed and said once on the log.
 */

import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';

export const STORE_KINDS = ['quarantine', 'divert', 'retrain'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface StoreRecord {
  kind: StoreKind;
  device: string;
  stream: string;
  verdict_seq: number;
  t0: number;
  t1: number;
  reason: string;
  /** The window's values in time order; null where a value was missing. */
  values: (number | null)[];
}

export interface StoreOptions {
  dir: string;
  maxBytes: number;
  files: number;
}

export interface StoreCounters {
  stored: number;
  store_bytes: number;
  store_rotations: number;
  store_failed: number;
}

export class WindowStore {
  readonly counters: StoreCounters = { stored: 0, store_bytes: 0, store_rotations: 0, store_failed: 0 };
  private readonly sizes = new Map<StoreKind, number>();
  private warned = false;

  constructor(
    private readonly o: StoreOptions,
    private readonly log: Logger,
  ) {}

  private path(kind: StoreKind, generation = 0): string {
    return join(this.o.dir, generation === 0 ? `${kind}.jsonl` : `${kind}.${generation}.jsonl`);
  }

  append(r: StoreRecord): boolean {
    const line = JSON.stringify(r) + '\n';
    const bytes = Buffer.byteLength(line);
    try {
      mkdirSync(this.o.dir, { recursive: true });
      const cap = Math.max(1, Math.floor(this.o.maxBytes / this.o.files));
      let size = this.sizes.get(r.kind);
      if (size === undefined) size = existsSync(this.path(r.kind)) ? statSync(this.path(r.kind)).size : 0;
      if (size > 0 && size + bytes > cap) {
        this.rotate(r.kind);
        size = 0;
      }
      appendFileSync(this.path(r.kind), line);
      this.sizes.set(r.kind, size + bytes);
      this.counters.stored++;
      this.counters.store_bytes += bytes;
      return true;
    } catch (e) {
      this.counters.store_failed++;
      if (!this.warned) this.log.warn?.(`cannot write the ${r.kind} store in ${this.o.dir}: ${errorMessage(e)}; windows are counted as store_failed until it works again`);
      this.warned = true;
      return false;
    }
  }

  private rotate(kind: StoreKind): void {
    const last = this.o.files - 1;
    if (last < 1) {
      rmSync(this.path(kind), { force: true });
      return;
    }
    rmSync(this.path(kind, last), { force: true });
    for (let g = last - 1; g >= 0; g--) if (existsSync(this.path(kind, g))) renameSync(this.path(kind, g), this.path(kind, g + 1));
    this.counters.store_rotations++;
  }
}

/** Reads back what a store holds for `kind`, oldest first; a torn last line (power cut) is skipped. */
export function readStore(dir: string, kind: StoreKind, files = 16): { records: StoreRecord[]; skipped: number } {
  const records: StoreRecord[] = [];
  let skipped = 0;
  for (let g = files - 1; g >= 0; g--) {
    const p = join(dir, g === 0 ? `${kind}.jsonl` : `${kind}.${g}.jsonl`);
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        records.push(JSON.parse(line) as StoreRecord);
      } catch {
        skipped++;
      }
    }
  }
  return { records, skipped };
}
