/**
 * The budget governor in the running device (DESIGN §7): every `tick_s` it measures the process's
 * CPU time (process.cpuUsage: every thread, so the inference worker counts too), reads battery and
 * SoC temperature from sysfs, and lets the Governor (runtime/governor) pick the mode. The pipeline
 * reads the mode's decisions here at every window:
 *   full         every child, the model on every window, adaptation on
 *   reduced      the model on every `reduced_model_every`-th window set (the others are judged without
 *                the anomaly child), the children in `reduced_off` switched off, adaptation on
 *   minimal      only the `minimal_on` children (rules), no model, no adaptation
 *   duty_cycled  as minimal, and windows are judged only in the on-part of each duty period; the
 *                others are skipped and counted (windows_skipped_duty)
 * Mode changes are logged and handed to `onChange` (the root publishes a health report and a
 * `budget` action, so subscribers see the mode at once).
 */

import type { Clock } from './core/clock.js';
import type { Logger } from './core/log.js';
import type { TinyqaConfig } from './config/schema.js';
import { Governor, type GovernorConfig, MODES, type Mode } from './governor/governor.js';
import { readPowerSupply, readSocTemp } from './governor/power.js';
import type { BudgetPort } from './pipeline/pipeline.js';
import { KNOWN_CHILDREN } from './qa/catalog.js';

export interface BudgetCounters {
  /** Index of the current mode in full, reduced, minimal, duty_cycled. */
  budget_mode_index: number;
  budget_transitions: number;
  /** The last tick's measured CPU share (per mille of one core, to stay an integer counter). */
  budget_cpu_share_permille: number;
}

export interface BudgetTick {
  atMs: number;
  mode: Mode;
  cpuShare: number;
  batteryPct?: number;
  charging?: boolean;
  tempC?: number;
}

export function governorConfig(g: Readonly<TinyqaConfig['governor']>): GovernorConfig {
  return {
    cpu_share: g.cpu_share,
    tick_s: g.tick_s,
    headroom: g.headroom,
    min_hold_s: g.min_hold_s,
    battery: { ...g.battery },
    thermal: { ...g.thermal },
    duty: { ...g.duty },
  };
}

export class BudgetControl implements BudgetPort {
  readonly governor: Governor;
  readonly counters: BudgetCounters = { budget_mode_index: 0, budget_transitions: 0, budget_cpu_share_permille: 0 };
  private readonly reduced: ReadonlySet<string>;
  private readonly minimal: ReadonlySet<string>;
  private turn = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastCpu = process.cpuUsage();
  private lastWall: number;

  constructor(
    private readonly cfg: Readonly<TinyqaConfig['governor']>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onChange: (mode: Mode, reason: string) => void = () => {},
    /** Every tick's inputs and mode (evaluations record them). */
    private readonly onTick?: (t: BudgetTick) => void,
  ) {
    this.governor = new Governor(governorConfig(cfg), clock.monotonic());
    const off = new Set<string>(cfg.reduced_off);
    this.reduced = new Set(KNOWN_CHILDREN.filter((c) => !off.has(c)));
    this.minimal = new Set(cfg.minimal_on);
    this.lastWall = clock.monotonic();
  }

  get mode(): Mode {
    return this.governor.mode;
  }

  judging(): boolean {
    return this.governor.dutyOn(this.clock.monotonic());
  }

  modelTurn(): boolean {
    const m = this.governor.mode;
    if (m === 'full') return true;
    if (m !== 'reduced') return false;
    this.turn = (this.turn + 1) % this.cfg.reduced_model_every;
    return this.turn === 0;
  }

  children(): ReadonlySet<string> | undefined {
    const m = this.governor.mode;
    return m === 'full' ? undefined : m === 'reduced' ? this.reduced : this.minimal;
  }

  adapting(): boolean {
    const m = this.governor.mode;
    return m === 'full' || m === 'reduced';
  }

  start(): void {
    this.lastCpu = process.cpuUsage();
    this.lastWall = this.clock.monotonic();
    this.timer = setInterval(() => this.tick(), this.cfg.tick_s * 1000);
    this.timer.unref();
  }

  /** One control step: measure, read the sensors, decide. Public so tests and evaluations can drive it. */
  tick(): void {
    const now = this.clock.monotonic();
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    const wallS = Math.max(1e-3, (now - this.lastWall) / 1000);
    this.lastWall = now;
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const power = this.cfg.power_supply_dir === '' ? {} : readPowerSupply(this.cfg.power_supply_dir);
    const tempC = this.cfg.thermal_path === '' ? undefined : readSocTemp(this.cfg.thermal_path);
    const before = this.governor.mode;
    const r = this.governor.tick({
      nowMs: now,
      cpuS,
      wallS,
      ...(power.batteryPct !== undefined ? { batteryPct: power.batteryPct } : {}),
      ...(power.charging !== undefined || power.onMains !== undefined ? { charging: power.charging === true || power.onMains === true } : {}),
      ...(tempC !== undefined ? { tempC } : {}),
    });
    this.counters.budget_cpu_share_permille = Math.round((1000 * cpuS) / wallS);
    this.counters.budget_mode_index = MODES.indexOf(r.mode);
    this.onTick?.({
      atMs: now,
      mode: r.mode,
      cpuShare: cpuS / wallS,
      ...(power.batteryPct !== undefined ? { batteryPct: power.batteryPct } : {}),
      ...(power.charging !== undefined ? { charging: power.charging } : {}),
      ...(tempC !== undefined ? { tempC } : {}),
    });
    if (r.mode !== before) {
      this.counters.budget_transitions++;
      const reason = r.reason ?? 'no reason given';
      this.log.info?.(`budget mode ${before} → ${r.mode}: ${reason}`);
      this.onChange(r.mode, reason);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
