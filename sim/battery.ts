/**
 * A battery-powered gateway for the budget evaluation: how fast does tinyqa's CPU use drain it, and
 * what does the runtime's health monitor see of it?
 *
 * BatteryModel — energy bookkeeping of a battery (a UPS HAT or power bank) feeding a Raspberry Pi
 * 4-class board through a boost converter:
 *   load_W   = base_W + per_core_W · cpu_share            cpu_share as `health` reports it: process
 *                                                          CPU time over wall time, 1 = one busy core
 *                                                          (clamped to 0..cores)
 *   battery  dE/dt = −load_W / η                           discharging (the converter's losses)
 *            dE/dt = (charger_W − load_W) · η              while the charger is connected and out-
 *                                                          powers the load; capped at the capacity
 *   percent  = 100 · E / capacity_Wh
 * Board figures (approximate, from published bench measurements of a Raspberry Pi 4 Model B at the
 * USB-C input, no peripherals but Ethernet): ≈ 2.7 W idle and ≈ 6.4 W with `stress --cpu 4`, i.e.
 * ≈ 0.9 W more per busy core. Firmware, clock, USB devices and Wi-Fi move these by ±30 %; pass your
 * own board's figures for anything quantitative.
 * Time compression: `timeScale` simulated seconds pass per second given to step(), so a day of
 * discharge plays in a minute at timeScale 1440. The charger window (fromS/untilS) is in simulated
 * seconds since the model was created; step() splits at its edges, so the result is exact
 * (piecewise linear) at any step size. Not modelled: the CC/CV taper near full, the voltage curve,
 * temperature and ageing.
 *
 * SysfsBatteryWriter — mirrors a model into a directory laid out like Linux's
 * /sys/class/power_supply (and a thermal zone), so the runtime's health monitor reads it with
 * `powerSupplyDir`/`thermalPath` pointed there:
 *   <dir>/BAT0/type = Battery, present = 1, capacity = integer %, status = Charging | Discharging | Full
 *   <dir>/AC/type = Mains, online = 0 | 1
 *   <dir>/thermal_zone0/type = cpu-thermal, temp = millidegrees Celsius (writeTemperature)
 * Each file is written to a temporary name in the same directory and renamed over the old one, so a
 * reader sees the old or the new content, never half a number. Unchanged files are not rewritten.
 */

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Raspberry Pi 4 Model B at idle (W, approximate: see the header). */
export const PI4_IDLE_W = 2.7;
/** Extra power per fully busy Cortex-A72 core (W, approximate: (6.4 − 2.7) / 4). */
export const PI4_PER_CORE_W = 0.9;
export const PI4_CORES = 4;
/** A boost converter from one Li-ion cell to 5 V: ≈ 90 % at 1 A. */
export const CONVERTER_EFFICIENCY = 0.9;
/** A 5 V 3 A USB-C supply. */
export const CHARGER_W = 15;

export type BatteryStatus = 'Charging' | 'Discharging' | 'Full';

export interface ChargerOptions {
  /** Supply power (W). Default CHARGER_W. */
  powerW?: number;
  /** Connected over [fromS, untilS) of simulated time since the model was created. Defaults 0 and Infinity. */
  fromS?: number;
  untilS?: number;
}

export interface BatteryOptions {
  capacityWh: number;
  /** State of charge at the start (%). Default 100. */
  initialPercent?: number;
  baseW?: number;
  perCoreW?: number;
  cores?: number;
  /** Converter efficiency, applied on discharge (load / η) and on charge (surplus · η). Default CONVERTER_EFFICIENCY. */
  efficiency?: number;
  /** Simulated seconds per second passed to step(). Default 1. */
  timeScale?: number;
  /** No charger when absent. */
  charger?: ChargerOptions;
}

/** What a sysfs mirror needs of a battery. */
export interface BatteryView {
  readonly percent: number;
  readonly status: BatteryStatus;
  /** Mains connected. */
  readonly online: boolean;
}

const positive = (name: string, x: number) => {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${name} must be a positive finite number, got ${x}`);
  return x;
};
const nonNegative = (name: string, x: number) => {
  if (!(x >= 0) || !Number.isFinite(x)) throw new RangeError(`${name} must be a finite number ≥ 0, got ${x}`);
  return x;
};

export class BatteryModel implements BatteryView {
  readonly capacityWh: number;
  readonly baseW: number;
  readonly perCoreW: number;
  readonly cores: number;
  readonly efficiency: number;
  readonly timeScale: number;
  private readonly chargerW: number;
  private readonly chargeFrom: number;
  private readonly chargeUntil: number;
  private energy: number;
  private sim = 0;
  private lastLoad: number;

  constructor(o: BatteryOptions) {
    this.capacityWh = positive('capacityWh', o.capacityWh);
    const initial = o.initialPercent ?? 100;
    if (!(initial >= 0 && initial <= 100)) throw new RangeError(`initialPercent must be in 0..100, got ${initial}`);
    this.energy = (this.capacityWh * initial) / 100;
    this.baseW = nonNegative('baseW', o.baseW ?? PI4_IDLE_W);
    this.perCoreW = nonNegative('perCoreW', o.perCoreW ?? PI4_PER_CORE_W);
    this.cores = positive('cores', o.cores ?? PI4_CORES);
    this.efficiency = o.efficiency ?? CONVERTER_EFFICIENCY;
    if (!(this.efficiency > 0 && this.efficiency <= 1)) throw new RangeError(`efficiency must be in (0, 1], got ${this.efficiency}`);
    this.timeScale = positive('timeScale', o.timeScale ?? 1);
    this.chargerW = o.charger ? nonNegative('charger.powerW', o.charger.powerW ?? CHARGER_W) : 0;
    this.chargeFrom = o.charger ? (o.charger.fromS ?? 0) : Infinity;
    this.chargeUntil = o.charger ? (o.charger.untilS ?? Infinity) : Infinity;
    if (Number.isNaN(this.chargeFrom) || Number.isNaN(this.chargeUntil)) throw new RangeError('charger fromS/untilS must be numbers');
    this.lastLoad = this.baseW;
  }

  /** Board power (W) at a CPU share (1 = one busy core). */
  loadW(cpuShare: number): number {
    const s = Number.isFinite(cpuShare) ? Math.min(this.cores, Math.max(0, cpuShare)) : 0;
    return this.baseW + this.perCoreW * s;
  }

  /** Advances `dtS` seconds (× timeScale of simulated time) at a CPU share. */
  step(dtS: number, cpuShare: number): void {
    nonNegative('dtS', dtS);
    const load = this.loadW(cpuShare);
    this.lastLoad = load;
    let left = dtS * this.timeScale;
    while (left > 0) {
      // Up to the next edge of the charger window, so each piece has one charger state.
      const edge = this.sim < this.chargeFrom ? this.chargeFrom : this.sim < this.chargeUntil ? this.chargeUntil : Infinity;
      const piece = Math.min(left, edge - this.sim);
      const net = this.connectedAt(this.sim) ? this.chargerW - load : -load;
      const dE = ((net > 0 ? net * this.efficiency : net / this.efficiency) * piece) / 3600;
      this.energy = Math.min(this.capacityWh, Math.max(0, this.energy + dE));
      // Land exactly on the edge so the next piece sees the new state.
      this.sim = piece === edge - this.sim ? edge : this.sim + piece;
      left -= piece;
    }
  }

  private connectedAt(s: number): boolean {
    return s >= this.chargeFrom && s < this.chargeUntil;
  }

  /** Simulated seconds since the model was created. */
  get elapsedS(): number {
    return this.sim;
  }

  get energyWh(): number {
    return this.energy;
  }

  /** State of charge, 0–100 (not rounded). */
  get percent(): number {
    return (100 * this.energy) / this.capacityWh;
  }

  get empty(): boolean {
    return this.energy <= 0;
  }

  /** The charger is connected now. */
  get online(): boolean {
    return this.connectedAt(this.sim);
  }

  /** Energy is flowing in: the charger is connected, out-powers the load (as of the last step), and the battery is not full. */
  get charging(): boolean {
    return this.online && this.chargerW > this.lastLoad && this.energy < this.capacityWh;
  }

  get status(): BatteryStatus {
    if (this.energy >= this.capacityWh) return 'Full';
    return this.charging ? 'Charging' : 'Discharging';
  }
}

export interface SysfsWriterOptions {
  /** Name of the battery's directory. Default BAT0. */
  battery?: string;
  /** Name of the mains supply's directory. Default AC. */
  mains?: string;
}

/** Mirrors a battery into a /sys/class/power_supply-like directory (see the header). */
export class SysfsBatteryWriter {
  readonly batteryDir: string;
  readonly mainsDir: string;
  readonly thermalDir: string;
  private readonly last = new Map<string, string>();

  constructor(
    readonly dir: string,
    o: SysfsWriterOptions = {},
  ) {
    this.batteryDir = join(dir, o.battery ?? 'BAT0');
    this.mainsDir = join(dir, o.mains ?? 'AC');
    this.thermalDir = join(dir, 'thermal_zone0');
    mkdirSync(this.batteryDir, { recursive: true });
    mkdirSync(this.mainsDir, { recursive: true });
    this.put(join(this.batteryDir, 'type'), 'Battery');
    this.put(join(this.batteryDir, 'present'), '1');
    this.put(join(this.mainsDir, 'type'), 'Mains');
  }

  /** Where the SoC temperature goes (for the health monitor's `thermalPath`). */
  get thermalPath(): string {
    return join(this.thermalDir, 'temp');
  }

  write(b: BatteryView): void {
    const capacity = Math.min(100, Math.max(0, Math.floor(b.percent)));
    this.put(join(this.batteryDir, 'capacity'), String(capacity));
    this.put(join(this.batteryDir, 'status'), b.status);
    this.put(join(this.mainsDir, 'online'), b.online ? '1' : '0');
  }

  /** Writes thermal_zone0/temp in millidegrees Celsius, as Linux does. */
  writeTemperature(celsius: number): void {
    if (!Number.isFinite(celsius)) throw new RangeError(`temperature must be finite, got ${celsius}`);
    if (!this.last.has(join(this.thermalDir, 'type'))) {
      mkdirSync(this.thermalDir, { recursive: true });
      this.put(join(this.thermalDir, 'type'), 'cpu-thermal');
    }
    this.put(this.thermalPath, String(Math.round(celsius * 1000)));
  }

  /** Atomic replace: write a temporary file beside the target, then rename over it. */
  private put(path: string, value: string): void {
    const text = `${value}\n`;
    if (this.last.get(path) === text) return;
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
    this.last.set(path, text);
  }
}
