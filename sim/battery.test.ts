import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBattery } from '../runtime/publish/health.js';
import { BatteryModel, CHARGER_W, CONVERTER_EFFICIENCY, PI4_IDLE_W, PI4_PER_CORE_W, SysfsBatteryWriter } from './battery.js';

const DAY_S = 86_400;

/** Plays `simS` simulated seconds in real steps of `dtS` at a fixed CPU share. */
function run(b: BatteryModel, simS: number, cpuShare: number, dtS = 0.25): void {
  const steps = Math.round(simS / b.timeScale / dtS);
  for (let i = 0; i < steps; i++) b.step(dtS, cpuShare);
}

describe('BatteryModel', () => {
  it('discharges over a simulated day at a fixed CPU share to the closed-form level', () => {
    // A day in a minute: 1440 simulated seconds per second.
    const b = new BatteryModel({ capacityWh: 100, timeScale: 1440 });
    expect(b.percent).toBe(100);
    expect(b.status).toBe('Full');
    run(b, DAY_S, 0.5);
    expect(b.elapsedS).toBeCloseTo(DAY_S, 6);
    const loadW = PI4_IDLE_W + PI4_PER_CORE_W * 0.5;
    // E(T) = E0 − load / η · T
    const expected = 100 * (1 - (loadW / CONVERTER_EFFICIENCY) * 24 / 100);
    expect(b.loadW(0.5)).toBeCloseTo(3.15, 12);
    expect(b.percent).toBeCloseTo(expected, 9);
    expect(b.percent).toBeCloseTo(16, 9);
    expect(b.status).toBe('Discharging');
    expect(b.charging).toBe(false);
    expect(b.online).toBe(false);
  });

  it('drains faster the more CPU it burns, and stops at empty', () => {
    const level = (share: number) => {
      const b = new BatteryModel({ capacityWh: 60, timeScale: 3600 });
      run(b, 8 * 3600, share);
      return b.percent;
    };
    const idle = level(0);
    const one = level(1);
    const all = level(4);
    expect(idle).toBeGreaterThan(one);
    expect(one).toBeGreaterThan(all);
    // Linear in the share: one busy core costs PI4_PER_CORE_W / η for 8 h.
    expect(idle - one).toBeCloseTo((100 * 8 * PI4_PER_CORE_W) / CONVERTER_EFFICIENCY / 60, 9);
    // More than all cores is clamped to all cores.
    expect(level(9)).toBeCloseTo(all, 12);
    // 6.4 W / 0.9 empties 60 Wh in ≈ 8.4 h; 48 h is far past it.
    const b = new BatteryModel({ capacityWh: 60, timeScale: 3600 });
    run(b, 48 * 3600, 4);
    expect(b.percent).toBe(0);
    expect(b.empty).toBe(true);
  });

  it('charges while the charger is connected, caps at 100 %, and discharges again after', () => {
    // Discharge for 6 h, charge from 6 h to 12 h at 15 W, then run on the battery.
    const b = new BatteryModel({ capacityWh: 40, timeScale: 600, charger: { fromS: 6 * 3600, untilS: 12 * 3600 } });
    const load = b.loadW(1);
    run(b, 6 * 3600, 1);
    const low = b.percent;
    expect(low).toBeCloseTo(100 * (1 - ((load / CONVERTER_EFFICIENCY) * 6) / 40), 9);
    expect(b.online).toBe(true); // exactly at the window's start
    b.step(60, 1); // 60 s × 600 = 10 simulated hours, past the window's end
    // One coarse step crossing both edges is split exactly: the charger filled the battery and then 4 h ran on it.
    const surplus = (CHARGER_W - load) * CONVERTER_EFFICIENCY; // W into the battery
    const full = 40 * (1 - low / 100) / surplus; // hours to fill
    expect(full).toBeLessThan(6);
    expect(b.elapsedS).toBeCloseTo(16 * 3600, 6);
    expect(b.percent).toBeCloseTo(100 * (1 - ((load / CONVERTER_EFFICIENCY) * 4) / 40), 9);
    expect(b.online).toBe(false);
    expect(b.status).toBe('Discharging');

    // Stepping finely through the window: rising at the surplus rate while charging, then Full.
    const c = new BatteryModel({ capacityWh: 40, initialPercent: 50, timeScale: 60, charger: { powerW: 10 } });
    expect(c.online).toBe(true);
    c.step(10, 0.5); // 10 simulated minutes
    expect(c.charging).toBe(true);
    expect(c.status).toBe('Charging');
    expect(c.percent).toBeCloseTo(50 + (100 * (10 - c.loadW(0.5)) * CONVERTER_EFFICIENCY * (10 / 60)) / 40, 9);
    for (let i = 0; i < 100; i++) c.step(10, 0.5);
    expect(c.percent).toBe(100);
    expect(c.status).toBe('Full');
    expect(c.charging).toBe(false);

    // A charger weaker than the load slows the discharge but does not charge.
    const weak = new BatteryModel({ capacityWh: 40, initialPercent: 50, timeScale: 60, charger: { powerW: 2 } });
    weak.step(60, 1);
    expect(weak.online).toBe(true);
    expect(weak.charging).toBe(false);
    expect(weak.status).toBe('Discharging');
    expect(weak.percent).toBeCloseTo(50 - (100 * ((weak.loadW(1) - 2) / CONVERTER_EFFICIENCY)) / 40, 9);
  });

  it('rejects impossible settings', () => {
    expect(() => new BatteryModel({ capacityWh: 0 })).toThrow(/capacityWh/);
    expect(() => new BatteryModel({ capacityWh: 10, initialPercent: 120 })).toThrow(/initialPercent/);
    expect(() => new BatteryModel({ capacityWh: 10, efficiency: 1.5 })).toThrow(/efficiency/);
    expect(() => new BatteryModel({ capacityWh: 10, timeScale: -1 })).toThrow(/timeScale/);
    expect(() => new BatteryModel({ capacityWh: 10 }).step(Number.NaN, 0)).toThrow(/dtS/);
  });
});

describe('SysfsBatteryWriter', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tinyqa-battery-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const read = (...p: string[]) => readFileSync(join(dir, ...p), 'utf8');

  it('lays the battery out like /sys/class/power_supply, and the health reader finds it', () => {
    const b = new BatteryModel({ capacityWh: 20, initialPercent: 87.9, timeScale: 60, charger: { fromS: 3600, powerW: 15 } });
    const w = new SysfsBatteryWriter(dir);
    w.write(b);
    expect(read('BAT0', 'type')).toBe('Battery\n');
    expect(read('BAT0', 'present')).toBe('1\n');
    expect(read('BAT0', 'capacity')).toBe('87\n');
    expect(read('BAT0', 'status')).toBe('Discharging\n');
    expect(read('AC', 'type')).toBe('Mains\n');
    expect(read('AC', 'online')).toBe('0\n');
    expect(readBattery(dir)).toBe(87);

    // An hour on the battery, then the charger.
    b.step(60, 0);
    b.step(1, 0);
    w.write(b);
    expect(read('AC', 'online')).toBe('1\n');
    expect(read('BAT0', 'status')).toBe('Charging\n');
    expect(Number(read('BAT0', 'capacity'))).toBe(Math.floor(b.percent));
    for (let i = 0; i < 200 && b.percent < 100; i++) b.step(10, 0);
    w.write(b);
    expect(read('BAT0', 'capacity')).toBe('100\n');
    expect(read('BAT0', 'status')).toBe('Full\n');
    expect(readBattery(dir)).toBe(100);

    w.writeTemperature(51.234);
    expect(read('thermal_zone0', 'temp')).toBe('51234\n');
    expect(read('thermal_zone0', 'type')).toBe('cpu-thermal\n');
    expect(w.thermalPath).toBe(join(dir, 'thermal_zone0', 'temp'));
    // The thermal zone has a type that is not Battery: the reader still finds BAT0.
    expect(readBattery(dir)).toBe(100);
    // Only the files: every temporary was renamed away.
    expect(readdirSync(join(dir, 'BAT0')).sort()).toEqual(['capacity', 'present', 'status', 'type']);
    expect(readdirSync(join(dir, 'AC')).sort()).toEqual(['online', 'type']);
  });

  it('writes the capacity as a whole number clamped to 0–100, under other directory names too', () => {
    const w = new SysfsBatteryWriter(dir, { battery: 'BAT1', mains: 'ADP1' });
    w.write({ percent: -3, status: 'Discharging', online: false });
    expect(read('BAT1', 'capacity')).toBe('0\n');
    const seen = new Set<string>();
    for (let i = 0; i <= 1000; i++) {
      w.write({ percent: i / 10, status: 'Charging', online: true });
      seen.add(read('BAT1', 'capacity'));
    }
    expect([...seen].every((s) => /^(\d|[1-9]\d|100)\n$/.test(s))).toBe(true);
    expect(seen.size).toBe(101);
    expect(read('ADP1', 'online')).toBe('1\n');
    expect(readdirSync(join(dir, 'BAT1')).sort()).toEqual(['capacity', 'present', 'status', 'type']);
  });
});
