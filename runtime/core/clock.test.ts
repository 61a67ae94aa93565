import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';

describe('ManualClock', () => {
  it('starts at the given epoch with monotonic time 0 and moves both only on advance', () => {
    const clock = new ManualClock(5_000);
    expect([clock.now(), clock.monotonic()]).toEqual([5_000, 0]);
    clock.advance(250);
    expect([clock.now(), clock.monotonic()]).toEqual([5_250, 250]);
  });

  it('fires timers in due order regardless of the order they were set', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('c'), 30);
    clock.setTimeout(() => fired.push('a'), 10);
    clock.setTimeout(() => fired.push('b'), 20);
    clock.advance(100);
    expect(fired).toEqual(['a', 'b', 'c']);
  });

  it('fires timers due at the same time in creation order', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    for (let i = 0; i < 5; i++) clock.setTimeout(() => fired.push(i), 10);
    clock.advance(10);
    expect(fired).toEqual([0, 1, 2, 3, 4]);
  });

  it('shows each timer the clock at its own due time', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.monotonic()), 7);
    clock.setTimeout(() => seen.push(clock.now()), 3);
    clock.advance(10);
    expect(seen).toEqual([3, 7]);
    expect(clock.monotonic()).toBe(10);
  });

  it('does not fire a timer before it is due, and fires it exactly when due', () => {
    const clock = new ManualClock();
    let fired = 0;
    clock.setTimeout(() => fired++, 10);
    clock.advance(9);
    expect(fired).toBe(0);
    clock.advance(1);
    expect(fired).toBe(1);
    clock.advance(100);
    expect(fired).toBe(1);
  });

  it('never fires a cancelled timer', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const t = clock.setTimeout(() => fired.push('cancelled'), 5);
    clock.setTimeout(() => fired.push('kept'), 5);
    t.cancel();
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(10);
    expect(fired).toEqual(['kept']);
  });

  it('lets a timer cancel a later timer that falls due in the same advance', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const later = clock.setTimeout(() => fired.push('later'), 20);
    clock.setTimeout(() => {
      fired.push('first');
      later.cancel();
    }, 10);
    clock.advance(30);
    expect(fired).toEqual(['first']);
  });

  it('fires timers set inside a callback when they fall due within the same advance, and keeps the rest pending', () => {
    const clock = new ManualClock();
    const fired: [string, number][] = [];
    clock.setTimeout(() => {
      fired.push(['outer', clock.monotonic()]);
      clock.setTimeout(() => fired.push(['inner-due', clock.monotonic()]), 5);
      clock.setTimeout(() => fired.push(['inner-now', clock.monotonic()]), 0);
      clock.setTimeout(() => fired.push(['inner-late', clock.monotonic()]), 50);
    }, 10);
    clock.advance(20);
    expect(fired).toEqual([
      ['outer', 10],
      ['inner-now', 10],
      ['inner-due', 15],
    ]);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(40);
    expect(fired.at(-1)).toEqual(['inner-late', 60]);
  });

  it('fires a chain of zero-delay timers all at the current time', () => {
    const clock = new ManualClock(0);
    let depth = 0;
    const step = () => {
      if (++depth < 100) clock.setTimeout(step, 0);
    };
    clock.setTimeout(step, 0);
    clock.advance(0);
    expect(depth).toBe(100);
    expect(clock.monotonic()).toBe(0);
  });

  it('treats a negative delay as zero', () => {
    const clock = new ManualClock();
    let fired = false;
    clock.setTimeout(() => (fired = true), -50);
    clock.advance(0);
    expect(fired).toBe(true);
  });
});
