import { describe, expect, it } from 'vitest';
import { WindowRing } from './window.js';

/** Pushes samples value = i, time = 1000 + 10·i for i in [from, to); returns the windows emitted, copied. */
function pushRange(ring: WindowRing, from: number, to: number) {
  const out: { at: number; values: number[]; t0: number; t1: number }[] = [];
  for (let i = from; i < to; i++) {
    if (ring.push(i, 1000 + 10 * i)) out.push({ at: i, values: [...ring.view.values], t0: ring.view.t0, t1: ring.view.t1 });
  }
  return out;
}

describe('WindowRing', () => {
  it('emits nothing until size samples are held, then one window every hop samples', () => {
    const ring = new WindowRing(5, 2);
    const windows = pushRange(ring, 0, 12);
    expect(windows.map((w) => w.at)).toEqual([4, 6, 8, 10]);
  });

  it('hands out values in time order across the ring wrap', () => {
    const ring = new WindowRing(5, 2);
    const windows = pushRange(ring, 0, 12);
    expect(windows.map((w) => w.values)).toEqual([
      [0, 1, 2, 3, 4],
      [2, 3, 4, 5, 6],
      [4, 5, 6, 7, 8],
      [6, 7, 8, 9, 10],
    ]);
  });

  it('sets t0 and t1 to the times of the oldest and newest sample in the window', () => {
    const ring = new WindowRing(5, 2);
    const windows = pushRange(ring, 0, 12);
    expect(windows.map((w) => [w.t0, w.t1])).toEqual([
      [1000, 1040],
      [1020, 1060],
      [1040, 1080],
      [1060, 1100],
    ]);
  });

  it('makes tumbling windows when hop equals size', () => {
    const ring = new WindowRing(4, 4);
    const windows = pushRange(ring, 0, 13);
    expect(windows.map((w) => w.values)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
  });

  it('emits on every sample once full when hop is 1, with the newest sample last', () => {
    const ring = new WindowRing(3, 1);
    const windows = pushRange(ring, 0, 7);
    expect(windows.map((w) => w.values)).toEqual([
      [0, 1, 2],
      [1, 2, 3],
      [2, 3, 4],
      [3, 4, 5],
      [4, 5, 6],
    ]);
    expect(windows.at(-1)).toMatchObject({ t0: 1040, t1: 1060 });
  });

  it('keeps NaN samples in place as missing values', () => {
    const ring = new WindowRing(3, 3);
    ring.push(1, 0);
    ring.push(NaN, 1);
    expect(ring.push(3, 2)).toBe(true);
    expect([...ring.view.values]).toEqual([1, NaN, 3]);
  });

  it('reuses one view for every window', () => {
    const ring = new WindowRing(2, 1);
    const view = ring.view;
    const values = ring.view.values;
    pushRange(ring, 0, 5);
    expect(ring.view).toBe(view);
    expect(ring.view.values).toBe(values);
  });

  it('needs size fresh samples again after reset', () => {
    const ring = new WindowRing(4, 2);
    pushRange(ring, 0, 6);
    ring.reset();
    const windows = pushRange(ring, 100, 106);
    expect(windows.map((w) => w.values)).toEqual([
      [100, 101, 102, 103],
      [102, 103, 104, 105],
    ]);
    expect(windows[0]!.t0).toBe(2000);
  });

  it.each([
    [1, 1],
    [0, 1],
    [-4, 1],
    [4.5, 1],
    [NaN, 1],
    [4, 0],
    [4, 5],
    [4, 1.5],
    [4, NaN],
  ])('refuses size %d with hop %d', (size, hop) => {
    expect(() => new WindowRing(size, hop)).toThrow(RangeError);
  });

  it('accepts the smallest window, size 2', () => {
    const ring = new WindowRing(2, 2);
    expect(pushRange(ring, 0, 4).map((w) => w.values)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});

describe('WindowRing times and freshness', () => {
  it('hands out the timestamps in the same order as the values, across the ring wrap', () => {
    const ring = new WindowRing(5, 2);
    const seen: number[][] = [];
    for (let i = 0; i < 12; i++) if (ring.push(i, 1000 + 10 * i)) seen.push([...ring.view.times]);
    expect(seen).toEqual([
      [1000, 1010, 1020, 1030, 1040],
      [1020, 1030, 1040, 1050, 1060],
      [1040, 1050, 1060, 1070, 1080],
      [1060, 1070, 1080, 1090, 1100],
    ]);
  });

  it('keeps times in arrival order, so a backward or repeated time stays where it arrived', () => {
    const ring = new WindowRing(4, 4);
    for (const t of [10, 20, 20, 15]) ring.push(0, t);
    expect([...ring.view.times]).toEqual([10, 20, 20, 15]);
    expect(ring.view).toMatchObject({ t0: 10, t1: 15 });
  });

  it('counts the samples that are new since the previous window: size first, then hop, and size again after reset', () => {
    const ring = new WindowRing(5, 2);
    const fresh: number[] = [];
    for (let i = 0; i < 10; i++) if (ring.push(i, i)) fresh.push(ring.view.fresh);
    expect(fresh).toEqual([5, 2, 2]);
    ring.reset();
    for (let i = 0; i < 5; i++) ring.push(i, i);
    expect(ring.view.fresh).toBe(5);
  });
});
