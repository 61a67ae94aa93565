/**
 * Power and temperature readings for the budget governor (DESIGN §7), from the Linux sysfs classes
 * (Documentation/ABI/testing/sysfs-class-power, sysfs-class-thermal):
 *   <dir>/<supply>/type        Battery | Mains | USB | USB_C | USB_PD | … (one per supply)
 *   <dir>/<supply>/scope       Device = a peripheral's own battery (a wireless mouse): not ours
 *   <dir>/<supply>/capacity    0..100 (%)
 *   <dir>/<supply>/status      Charging | Full | Discharging | Not charging | Unknown
 *   <dir>/<supply>/online      1 = an external supply is connected
 *   thermal_zone0/temp         millidegrees Celsius
 * Richer than publish/health.ts's `readBattery`: it also reports charging and mains, and when a
 * fuel gauge has no `capacity` it computes it as 100·charge_now/charge_full (µAh) or
 * 100·energy_now/energy_full (µWh).
 *   batteryPct  of the first system battery (supplies in name order, scope ≠ Device) with a
 *               readable level, clamped to [0, 100]; values outside [0, 110] are garbage
 *   charging    that battery's status is Charging or Full (not draining); false for Discharging and
 *               Not charging; absent for Unknown or an unreadable status
 *   onMains     any Mains or USB* supply reports online = 1; false when such supplies exist and none
 *               is online; absent when there is none (a battery-less Pi powered over its USB-C port
 *               often lists nothing at all)
 * Absent, unreadable or garbage files give undefined fields, never a throw (sysfs reads can fail
 * with EIO or ENODATA while a battery is being removed). Plain synchronous reads of a few small
 * files: cheap enough for one call per governor tick.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PowerReading {
  batteryPct?: number;
  charging?: boolean;
  onMains?: boolean;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A finite number from a whole file, or undefined ("", "abc", "12abc" are garbage). */
function readNumber(path: string): number | undefined {
  const s = readText(path);
  if (s === undefined || s === '') return undefined;
  const x = Number(s);
  return Number.isFinite(x) ? x : undefined;
}

function ratioPct(dir: string, now: string, full: string): number | undefined {
  const n = readNumber(join(dir, now));
  const f = readNumber(join(dir, full));
  return n !== undefined && f !== undefined && f > 0 && n >= 0 ? (100 * n) / f : undefined;
}

function batteryLevel(dir: string): number | undefined {
  const c = readNumber(join(dir, 'capacity')) ?? ratioPct(dir, 'charge_now', 'charge_full') ?? ratioPct(dir, 'energy_now', 'energy_full');
  if (c === undefined || c < 0 || c > 110) return undefined;
  return Math.min(100, c);
}

const EXTERNAL = /^(Mains|USB.*)$/;

/** Battery level, charging state and external power from a power_supply class directory. */
export function readPowerSupply(dir = '/sys/class/power_supply'): PowerReading {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return {};
  }
  const out: PowerReading = {};
  let sawExternal = false;
  for (const n of names) {
    const d = join(dir, n);
    const type = readText(join(d, 'type'));
    if (type === undefined) continue;
    if (type === 'Battery') {
      if (out.batteryPct !== undefined || readText(join(d, 'scope')) === 'Device') continue;
      const pct = batteryLevel(d);
      if (pct === undefined) continue;
      out.batteryPct = pct;
      const status = readText(join(d, 'status'));
      if (status === 'Charging' || status === 'Full') out.charging = true;
      else if (status === 'Discharging' || status === 'Not charging') out.charging = false;
    } else if (EXTERNAL.test(type)) {
      const online = readNumber(join(d, 'online'));
      if (online === undefined) continue;
      sawExternal = true;
      if (online === 1) out.onMains = true;
    }
  }
  if (sawExternal && out.onMains === undefined) out.onMains = false;
  return out;
}

/** SoC temperature in °C from a thermal zone's `temp` (millidegrees); undefined when absent or outside −60..200 °C. */
export function readSocTemp(path = '/sys/class/thermal/thermal_zone0/temp'): number | undefined {
  const m = readNumber(path);
  if (m === undefined) return undefined;
  const c = m / 1000;
  return c >= -60 && c <= 200 ? c : undefined;
}
