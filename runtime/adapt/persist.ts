/**
 * The adaptation state across restarts: loaded from the newest checkpoint generation that verifies
 * at start, saved atomically (./checkpoint.ts) every `intervalS` when something was learned, and at
 * stop. A checkpoint that cannot be read or restored is said once and the adapter starts from its
 * seed — the runtime never stops for it; a failed save keeps the previous generation and is retried
 * at the next interval (a full disk loses learning, never judging).
 */

import { errorMessage, isTinyqaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { type Adapter, type AdapterState, checkState } from './adapter.js';
import { Checkpointer } from './checkpoint.js';

export interface PersistCounters {
  adapt_checkpoints: number;
  adapt_checkpoint_failures: number;
  /** Generation of the last checkpoint written or loaded (0: none). */
  adapt_checkpoint_generation: number;
}

export class AdaptPersistence {
  readonly counters: PersistCounters = { adapt_checkpoints: 0, adapt_checkpoint_failures: 0, adapt_checkpoint_generation: 0 };
  private readonly store: Checkpointer;
  private timer: ReturnType<typeof setInterval> | undefined;
  private savedAt = -1;
  private lastError = '';

  constructor(
    private readonly adapter: Adapter,
    private readonly o: { dir: string; intervalS: number },
    private readonly log: Logger,
  ) {
    this.store = new Checkpointer({ dir: o.dir, name: 'adapt', log: (m) => log.warn?.(m) });
  }

  /** Restores the newest usable checkpoint, if any; returns its generation (0: none). */
  load(): number {
    let got: ReturnType<Checkpointer['load']>;
    try {
      got = this.store.load();
    } catch (e) {
      this.log.warn?.(`adaptation checkpoint in ${this.o.dir} not usable (${errorMessage(e)}); starting from the seed state${isTinyqaError(e) && e.hint ? ` — ${e.hint}` : ''}`);
      return 0;
    }
    if (!got) return 0;
    let state: unknown;
    try {
      state = JSON.parse(new TextDecoder().decode(got.payload));
    } catch (e) {
      this.log.warn?.(`adaptation checkpoint generation ${got.generation} is not JSON (${errorMessage(e)}); starting from the seed state`);
      return 0;
    }
    const problem = checkState(state);
    if (problem) {
      this.log.warn?.(`adaptation checkpoint generation ${got.generation} does not fit this version (${problem}); starting from the seed state`);
      return 0;
    }
    this.adapter.restore(state as AdapterState);
    this.counters.adapt_checkpoint_generation = got.generation;
    this.savedAt = this.progress();
    this.log.info?.(`adaptation state restored from checkpoint generation ${got.generation}${got.fellBack ? ` (the newest was unusable: ${got.skipped.join(', ')}; the previous generation was loaded)` : ''}`);
    return got.generation;
  }

  start(): void {
    this.timer = setInterval(() => this.save(), this.o.intervalS * 1000);
    this.timer.unref();
  }

  /** How much the adapter has learned: a checkpoint is written only when this moved. */
  private progress(): number {
    const c = this.adapter.counters;
    return this.adapter.revision * 1e9 + c.adapt_windows_learned;
  }

  /** Writes a checkpoint now if anything changed since the last one; returns whether one was written. */
  save(force = false): boolean {
    const p = this.progress();
    if (!force && p === this.savedAt) return false;
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(this.adapter.snapshot()));
      this.counters.adapt_checkpoint_generation = this.store.save(bytes);
      this.counters.adapt_checkpoints++;
      this.savedAt = p;
      if (this.lastError) this.log.info?.(`adaptation checkpoints are written again (generation ${this.counters.adapt_checkpoint_generation})`);
      this.lastError = '';
      return true;
    } catch (e) {
      this.counters.adapt_checkpoint_failures++;
      const msg = errorMessage(e);
      // Said once per kind of failure, not at every interval of a full disk.
      if (msg !== this.lastError) this.log.warn?.(`adaptation checkpoint not written: ${msg}; the previous generation is kept, retrying every ${this.o.intervalS} s`);
      this.lastError = msg;
      return false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.save();
  }
}
