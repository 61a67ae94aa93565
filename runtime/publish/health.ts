/**
 * The `health` report (DESIGN §6, published every N seconds on <prefix>/<device>/health): what a
 * fleet operator needs to tell a sick gateway from a sick sensor.
 *
 *   cpu_share      process CPU time (user + system) over wall time since the previous report;
 *                  1.0 = one core busy (can exceed 1 on several cores)
 *   rss_mb         resident memory; heap_mb: V8 heap in use
 *   loop_lag_ms    event-loop delay over the interval (p50, p99, max) from perf_hooks'
 *                  monitorEventLoopDelay: how late timers and I/O callbacks ran — the serial reader's
 *                  own latency budget
 *   soc_temp_c     /sys/class/thermal/thermal_zone0/temp (millidegrees), when the board has it
 *   battery_pct    capacity of the first power supply of type Battery, when there is one
 *   counters       every counter of every stage (runtime.counters()), as they are
 * Absent readings are omitted, never guessed. O(1) per report apart from copying the counters.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Clock } from '../core/clock.js';

export interface HealthReport {
  v: 1;
  device: string;
  ts: number;
  uptime_s: number;
  cpu_share: number;
  rss_mb: number;
  heap_mb: number;
  loop_lag_ms: { p50: number; p99: number; max: number };
  soc_temp_c?: number;
  battery_pct?: number;
  /** The adaptation governor's mode, once there is one (issue 7). */
  budget_mode?: string;
  counters: Record<string, number>;
}

export interface HealthOptions {
  device: string;
  /** Where the SoC temperature is read (default /sys/class/thermal/thermal_zone0/temp). */
  thermalPath?: string;
  /** Where power supplies are listed (default /sys/class/power_supply). */
  powerSupplyDir?: string;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function readNumber(path: string): number | undefined {
  try {
    const x = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(x) ? x : undefined;
  } catch {
    return undefined;
  }
}

/** The capacity (%) of the first power supply whose type is Battery; undefined when none. */
export function readBattery(dir: string): number | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  for (const n of names) {
    let type = '';
    try {
      type = readFileSync(join(dir, n, 'type'), 'utf8').trim();
    } catch {
      continue;
    }
    if (type !== 'Battery') continue;
    const c = readNumber(join(dir, n, 'capacity'));
    if (c !== undefined) return c;
  }
  return undefined;
}

export class HealthMonitor {
  private readonly lag: IntervalHistogram;
  private lastCpu = process.cpuUsage();
  private lastWall: number;
  private readonly started: number;

  constructor(
    private readonly o: HealthOptions,
    private readonly clock: Clock,
  ) {
    this.lag = monitorEventLoopDelay({ resolution: 10 });
    this.lag.enable();
    this.lastWall = clock.monotonic();
    this.started = this.lastWall;
  }

  /** One report over the interval since the previous one (or since construction). */
  report(counters: Record<string, number>, extra: { budget_mode?: string } = {}): HealthReport {
    const now = this.clock.monotonic();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = Math.max(1, (now - this.lastWall) * 1000);
    this.lastCpu = process.cpuUsage();
    this.lastWall = now;
    const mem = process.memoryUsage();
    const h = this.lag;
    // The histogram is in ns; an interval with no samples reports NaN/huge values: show 0.
    const ms = (ns: number) => (Number.isFinite(ns) && h.count > 0 ? round(ns / 1e6, 2) : 0);
    const lag = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
    const temp = readNumber(this.o.thermalPath ?? '/sys/class/thermal/thermal_zone0/temp');
    const battery = readBattery(this.o.powerSupplyDir ?? '/sys/class/power_supply');
    return {
      v: 1,
      device: this.o.device,
      ts: this.clock.now(),
      uptime_s: round((now - this.started) / 1000, 1),
      cpu_share: round((cpu.user + cpu.system) / wallUs, 4),
      rss_mb: round(mem.rss / 1e6, 1),
      heap_mb: round(mem.heapUsed / 1e6, 1),
      loop_lag_ms: lag,
      ...(temp !== undefined ? { soc_temp_c: round(temp / 1000, 1) } : {}),
      ...(battery !== undefined ? { battery_pct: battery } : {}),
      ...(extra.budget_mode ? { budget_mode: extra.budget_mode } : {}),
      counters: { ...counters },
    };
  }

  close(): void {
    this.lag.disable();
  }
}
