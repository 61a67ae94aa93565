/**
 * Time is injected (STYLE §9). Production code asks a `Clock` for the time and for timers; tests and
 * the simulator's virtual-time replays use `ManualClock`, which only moves when told to.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock time, milliseconds since the Unix epoch. */
  now(): number;
  /** Monotonic time in milliseconds, for durations and timeouts; unrelated to the epoch. */
  monotonic(): number;
  /** Runs `fn` once after `ms` milliseconds of this clock's time. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

interface PendingTimer {
  due: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that advances only through `advance()`; timers fire in due order, ties in creation order. */
export class ManualClock implements Clock {
  private mono = 0;
  private epochOffset: number;
  private timers: PendingTimer[] = [];
  private order = 0;

  constructor(startEpochMs = 1_700_000_000_000) {
    this.epochOffset = startEpochMs;
  }

  now(): number {
    return this.epochOffset + this.mono;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { due: this.mono + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: PendingTimer | undefined;
      for (const t of this.timers) {
        if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.order < next.order))) next = t;
      }
      if (!next) break;
      this.mono = next.due;
      next.cancelled = true;
      next.fn();
    }
    this.mono = target;
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
