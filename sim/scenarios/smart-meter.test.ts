import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../runtime/config/schema.js';
import { verdictFails } from '../../runtime/qa/types.js';
import { judgeReplay, type Replay } from '../eval/faults.js';
import { generate, type Generated } from './generate.js';
import { getScenario } from './index.js';
import { FAULT_KINDS, parseFaults, type FaultKind } from './scenario.js';
import { clearSkyKw, createSmartMeter, isWeekend, occupancy, SAMPLES_PER_DAY, smartMeter, SOLAR_DAY } from './smart-meter.js';

const D = SAMPLES_PER_DAY;
const C = 2;
const [IMP, V] = [0, 1] as const;
const at = (g: Generated, i: number, c: number) => g.values[i * C + c]!;
const all = parseFaults('default') as Set<FaultKind>;
const control = createSmartMeter({ solarDay: Infinity });

/** Mean of channel c over minutes [from, to) of day d. */
function mean(g: Generated, c: number, d: number, from: number, to: number): number {
  let s = 0;
  for (let m = from; m < to; m++) s += at(g, d * D + m, c);
  return s / (to - from);
}

describe('the smart-meter scenario', () => {
  it('is registered, plays one sample per household minute, and its episodes fill whole hours', () => {
    expect(getScenario('smart-meter')).toBe(smartMeter);
    expect(smartMeter.rateHz).toBe(1);
    expect(smartMeter.cycleS).toBe(D);
    expect(D).toBe(1440);
    expect(SOLAR_DAY).toBe(7);
    expect(smartMeter.channels.map((c) => c.name)).toEqual(['import_kw', 'voltage_v']);
    expect(smartMeter.channels[IMP]!.min).toBeLessThan(0); // export is physical
    expect(new Set(smartMeter.episodes.map((e) => e.fault))).toEqual(new Set(FAULT_KINDS.filter((k) => k !== 'leak')));
    for (const e of smartMeter.episodes) {
      expect(e.startS % 60).toBe(0);
      expect(e.endS % 60).toBe(0);
      expect(e.endS).toBeGreaterThan(e.startS);
      // Out of the 10:00–16:00 solar core.
      expect(e.endS <= 10 * 60 || e.startS >= 16 * 60).toBe(true);
    }
    expect(smartMeter.description).toMatch(/PV.*benign drift/);
    expect(control.description).toMatch(/no PV/);
    expect(() => createSmartMeter({ solarDay: Number.NaN })).toThrow(/solarDay/);
    expect(() => createSmartMeter({ solarDay: -1 })).toThrow(/solarDay/);
    // No leak episode: asking for one changes nothing.
    expect(generate(smartMeter, 3, 600, new Set(['leak'])).values).toEqual(generate(smartMeter, 3, 600).values);
    // The profiles behind the load and the PV.
    expect(occupancy(3 * 60, false)).toBeLessThan(0.1);
    expect(occupancy(19 * 60, false)).toBe(1);
    expect(occupancy(11 * 60, true)).toBeGreaterThan(3 * occupancy(11 * 60, false));
    expect([0, 4, 5, 6, 7].map(isWeekend)).toEqual([false, false, true, true, false]);
    expect(clearSkyKw(6 * 60)).toBe(0);
    expect(clearSkyKw(20 * 60)).toBe(0);
    expect(clearSkyKw(13 * 60)).toBeCloseTo(4, 6);
  });

  it('replays the same samples from the same seed and different ones from another seed', () => {
    const a = generate('smart-meter', 42, 2 * D, all);
    const b = generate('smart-meter', 42, 2 * D, all);
    const c = generate('smart-meter', 43, 2 * D, all);
    expect(a.samples).toBe(2 * D);
    expect(a.values).toEqual(b.values);
    expect(a.values).not.toEqual(c.values);
    expect(a.times[60]).toBe(60_000);
  });

  it('keeps every clean value finite and inside its channel range, in plausible household bands', () => {
    for (const seed of [1, 2, 3]) {
      const g = generate(smartMeter, seed, 21 * D);
      expect(g.values.every(Number.isFinite)).toBe(true);
      const lo = [Infinity, Infinity];
      const hi = [-Infinity, -Infinity];
      for (let i = 0; i < g.samples; i++) {
        for (let c = 0; c < C; c++) {
          lo[c] = Math.min(lo[c]!, at(g, i, c));
          hi[c] = Math.max(hi[c]!, at(g, i, c));
        }
      }
      smartMeter.channels.forEach((ch, c) => {
        expect(lo[c]).toBeGreaterThan(ch.min);
        expect(hi[c]).toBeLessThan(ch.max);
      });
      // Export no more than the 4.6 kW inverter; appliances stacked stay well under a 63 A supply.
      expect(lo[IMP]).toBeGreaterThan(-4.7);
      expect(hi[IMP]).toBeLessThan(9);
      // EN 50160: 230 V ± 10 %; this feeder stays within ± 4 %.
      expect(lo[V]).toBeGreaterThan(220);
      expect(hi[V]).toBeLessThan(245);
      for (let d = 0; d < SOLAR_DAY; d++) {
        // Before the panels: 7–17 kWh a day, never exporting, the small hours near the base load.
        const kwh = mean(g, IMP, d, 0, D) * 24;
        expect(kwh).toBeGreaterThan(7);
        expect(kwh).toBeLessThan(17);
        expect(mean(g, IMP, d, 2 * 60, 5 * 60)).toBeLessThan(0.4);
        expect(mean(g, IMP, d, 18 * 60, 21 * 60)).toBeGreaterThan(2 * mean(g, IMP, d, 2 * 60, 5 * 60));
        for (let m = 0; m < D; m++) expect(at(g, d * D + m, IMP)).toBeGreaterThan(0);
      }
    }
  });

  it('the PV is the only difference from the control: identical nights and pre-PV days, a midday import far lower and often negative', () => {
    const days = 21;
    const seed = 1;
    const pv = generate(smartMeter, seed, days * D);
    const ctl = generate(control, seed, days * D);
    // Sunrise 06:30, sunset 19:30: nothing differs outside daylight, nor on any day before SOLAR_DAY.
    for (let d = 0; d < days; d++) {
      for (let m = 0; m < D; m++) {
        const i = d * D + m;
        if (d < SOLAR_DAY || m <= 6.5 * 60 || m >= 19.5 * 60) {
          expect(at(pv, i, IMP)).toBe(at(ctl, i, IMP));
          expect(at(pv, i, V)).toBe(at(ctl, i, V));
        }
      }
    }
    // Midday (11:00–15:00) means per day, and the voltage rise with them.
    const rows: string[] = [];
    const drop: number[] = [];
    let negative = 0;
    for (let d = SOLAR_DAY; d < days; d++) {
      const a = mean(pv, IMP, d, 11 * 60, 15 * 60);
      const b = mean(ctl, IMP, d, 11 * 60, 15 * 60);
      const dv = mean(pv, V, d, 11 * 60, 15 * 60) - mean(ctl, V, d, 11 * 60, 15 * 60);
      rows.push(`day ${d}${isWeekend(d) ? ' (weekend)' : ''}: midday import ${a.toFixed(2)} kW with PV vs ${b.toFixed(2)} kW without, voltage +${dv.toFixed(1)} V`);
      drop.push(b - a);
      if (a < 0) negative++;
      expect(b).toBeGreaterThan(0);
      expect(a).toBeLessThan(b);
      expect(dv).toBeGreaterThan(0);
    }
    const avgDrop = drop.reduce((s, x) => s + x, 0) / drop.length;
    console.log(`smart-meter seed ${seed}, panels from day ${SOLAR_DAY}:\n  ${rows.join('\n  ')}\n  mean midday drop ${avgDrop.toFixed(2)} kW; ${negative}/${drop.length} days export at midday`);
    expect(avgDrop).toBeGreaterThan(1.5);
    expect(negative).toBeGreaterThanOrEqual(5);
    // Sunny days export several kW; no day loses less than the overcast minimum.
    expect(Math.max(...drop)).toBeGreaterThan(3);
    expect(Math.min(...drop)).toBeGreaterThan(0.3);
    // Installing later only moves the start of the difference.
    const later = generate(createSmartMeter({ solarDay: 10 }), seed, 11 * D);
    expect(later.values.subarray(0, 10 * D * C)).toEqual(ctl.values.subarray(0, 10 * D * C));
    expect(later.values.subarray(10 * D * C)).toEqual(pv.values.subarray(10 * D * C, 11 * D * C));
  });

  it('places every fault where its episode says, and changes nothing else', () => {
    const days = 3;
    for (const s of [smartMeter, control]) {
      const clean = generate(s, 9, days * D);
      const g = generate(s, 9, days * D, all);
      expect(g.episodes.map((e) => `${e.fault}@${e.startS}`)).toEqual(
        [0, 1, 2].flatMap((d) => ['stuck', 'missing', 'spikes', 'range'].map((f, j) => `${f}@${d * D + [120, 300, 1020, 1260][j]!}`)),
      );
      const inside = (fault: FaultKind, i: number) => g.episodes.some((e) => e.fault === fault && i >= e.start && i < e.end);
      let spikes = 0;
      for (let i = 0; i < g.samples; i++) {
        const [ci, cv, fi, fv] = [at(clean, i, IMP), at(clean, i, V), at(g, i, IMP), at(g, i, V)];
        if (inside('stuck', i)) expect(fi).toBe(at(g, g.episodes.find((e) => e.fault === 'stuck' && i >= e.start && i < e.end)!.start, IMP));
        else if (inside('range', i)) {
          expect(fi).toBeCloseTo(1000 * ci, 9);
          expect(fi).toBeGreaterThan(smartMeter.channels[IMP]!.max);
        } else expect(fi).toBe(ci);
        if (inside('missing', i)) expect(Number.isNaN(fv)).toBe(true);
        else if (inside('spikes', i) && i % 6 === 0) {
          expect([10, 20, 40]).toContain(Math.round(Math.abs(fv - cv)));
          spikes++;
        } else expect(fv).toBe(cv);
      }
      expect(spikes).toBe(3 * 20);
    }
  });

  it('fails each fault on its own child (default graph, 60-sample windows); clean windows pass but for rare appliance overlaps', () => {
    const s = smartMeter;
    const judge = (g: Generated) => {
      const replay: Replay = {
        hello: { type: 'hello', fw: s.fw, device: s.device, channels: s.channels, rate_hz: s.rateHz, batch: 10, heartbeat_ms: 1000, commands: [], proto_min: 1 },
        times: g.times.map((t) => 1_700_000_000_000 + t),
        values: s.channels.map((_, c) => Float64Array.from({ length: g.samples }, (_, i) => Math.fround(at(g, i, c)))),
        periodMs: 1000 / s.rateHz,
      };
      return judgeReplay(replay, validateConfig({ device: s.device, serial: { path: '/dev/null' }, window: { size: 60, hop: 60 }, log: { level: 'silent' } }));
    };
    const W = 60;
    const days = 14;
    const g = generate(s, 3, days * D, all);
    const verdicts = judge(g);
    let clean = 0;
    let falseAlarms = 0;
    for (const ch of s.channels) {
      const list = verdicts.get(ch.name)!;
      expect(list).toHaveLength(days * 24);
      list.forEach((v, j) => {
        const [a, b] = [j * W, (j + 1) * W];
        const within = g.episodes.find((e) => e.channel === ch.name && a >= e.start && b <= e.end);
        if (within) expect(v.failed, `${within.fault} on ${ch.name} at hour ${j}`).toContain(within.expectedChild);
        else {
          clean++;
          if (verdictFails(v)) {
            // Two appliances' edges a minute or two apart make a short level the spike child flags.
            expect(v.failed, `${ch.name} at hour ${j}`).toEqual(['spike']);
            falseAlarms++;
          }
        }
      });
    }
    console.log(`smart-meter seed 3, ${days} days with every fault: ${falseAlarms}/${clean} clean windows fail (spike)`);
    expect(clean).toBe(days * (48 - 6));
    expect(falseAlarms / clean).toBeLessThan(0.02);
  });
});
