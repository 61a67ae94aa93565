import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPowerSupply, readSocTemp } from './power.js';

const root = mkdtempSync(join(tmpdir(), 'tinyqa-power-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A power_supply directory laid out like sysfs: { supply: { file: contents } }. */
function sysfs(supplies: Record<string, Record<string, string>>): string {
  const dir = join(root, `ps${n++}`);
  mkdirSync(dir);
  for (const [name, files] of Object.entries(supplies)) {
    mkdirSync(join(dir, name));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, name, f), text);
  }
  return dir;
}

describe('readPowerSupply', () => {
  it('reads the battery level, its charging state and mains the way Linux lays them out', () => {
    const dir = sysfs({ AC: { type: 'Mains\n', online: '1\n' }, BAT0: { type: 'Battery\n', capacity: '57\n', status: 'Discharging\n' } });
    expect(readPowerSupply(dir)).toEqual({ batteryPct: 57, charging: false, onMains: true });
    for (const [status, charging] of [
      ['Charging', true],
      ['Full', true],
      ['Not charging', false],
    ] as const) {
      expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', capacity: '80', status } }))).toEqual({ batteryPct: 80, charging });
    }
    // Unknown status: no claim about charging.
    expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', capacity: '80', status: 'Unknown' } }))).toEqual({ batteryPct: 80 });
  });

  it('reports onMains false when external supplies exist but none is online, and absent when there are none', () => {
    expect(readPowerSupply(sysfs({ AC: { type: 'Mains', online: '0' }, usb: { type: 'USB_PD', online: '0' } }))).toEqual({ onMains: false });
    expect(readPowerSupply(sysfs({ AC: { type: 'Mains', online: '0' }, usb: { type: 'USB_PD', online: '1' } }))).toEqual({ onMains: true });
    expect(readPowerSupply(sysfs({}))).toEqual({});
    expect(readPowerSupply(join(root, 'no-such-dir'))).toEqual({});
  });

  it('takes the first system battery in name order with a readable level, skipping peripherals and garbage', () => {
    const dir = sysfs({
      BAT0: { type: 'Battery', capacity: 'abc', status: 'Charging' },
      BAT1: { type: 'Battery', capacity: '42', status: 'Discharging' },
      BAT2: { type: 'Battery', capacity: '99', status: 'Charging' },
      'hid-mouse': { type: 'Battery', scope: 'Device', capacity: '5' },
      weird: { capacity: '1' }, // no type file
    });
    expect(readPowerSupply(dir)).toEqual({ batteryPct: 42, charging: false });
    const mouse = sysfs({ 'hid-mouse': { type: 'Battery', scope: 'Device', capacity: '5', status: 'Discharging' } });
    expect(readPowerSupply(mouse)).toEqual({});
  });

  it('computes the level from charge or energy counters when capacity is missing, and refuses nonsense', () => {
    expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', charge_now: '1500000', charge_full: '3000000' } })).batteryPct).toBe(50);
    expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', energy_now: '9000', energy_full: '12000' } })).batteryPct).toBe(75);
    expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', charge_now: '5', charge_full: '0' } })).batteryPct).toBeUndefined();
    expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', capacity: '250' } })).batteryPct).toBeUndefined();
    expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', capacity: '103' } })).batteryPct).toBe(100);
    expect(readPowerSupply(sysfs({ BAT0: { type: 'Battery', capacity: '' } })).batteryPct).toBeUndefined();
    expect(readPowerSupply(sysfs({ AC: { type: 'Mains', online: 'yes' } }))).toEqual({});
  });
});

describe('readSocTemp', () => {
  it('reads millidegrees as °C and gives undefined for missing or garbage files', () => {
    const f = (name: string, text: string) => {
      const p = join(root, name);
      writeFileSync(p, text);
      return p;
    };
    expect(readSocTemp(f('t1', '51234\n'))).toBeCloseTo(51.234, 6);
    expect(readSocTemp(f('t2', '-5000\n'))).toBe(-5);
    expect(readSocTemp(f('t3', 'garbage'))).toBeUndefined();
    expect(readSocTemp(f('t4', ''))).toBeUndefined();
    expect(readSocTemp(f('t5', '999999999'))).toBeUndefined();
    expect(readSocTemp(join(root, 'missing'))).toBeUndefined();
    expect(readSocTemp(root)).toBeUndefined(); // a directory: EISDIR
  });
});
