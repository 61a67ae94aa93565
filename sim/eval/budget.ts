/**
 * `tinyqa eval budget`: does the governor keep the runtime inside its CPU budget, come back to full
 * mode when the budget allows it, and step down as the battery falls — and what does each mode cost
 * in detection? One runtime is built by the composition root (createRuntime: pipeline, QA graph, the
 * pump-ae model in its worker, adaptation, policy, governor) with an in-memory transport and
 * publisher; the pump scenario, with its sensor faults, is fed to the pipeline at `speed`× real time
 * so the workload costs a real share of a core. CPU is the process's (process.cpuUsage: every
 * thread, the model worker and this harness's feeding included), measured by the governor each tick.
 * Phases, on the same runtime:
 *   1 unconstrained  no CPU budget, battery charging: full mode; its mean share is U
 *   2 budget         cpu_share = U · fraction (default ½): the governor must hold the share averaged
 *                    over any minute within budget × 1.1 (measured over every 1-minute span that fits
 *                    in the phase, starting at its first tick: the step-down transient counts)
 *   3 lifted         budget raised to twice the unconstrained cost: time until full mode again (the
 *                    governor climbs rung by rung, each after min_hold_s, on its measured costs)
 *   4 battery        no CPU budget, the simulator's battery (sim/battery.ts) discharging a day's worth
 *                    in the phase, mirrored into a sysfs-like folder the governor reads: the modes
 *                    step down through reduced, minimal, duty_cycled
 * Detection per mode: every fault episode of the pump scenario (stuck, missing, spikes, range; 4 per
 * 30 s cycle) counts toward the mode in force when it started; detected when a window of its channel
 * overlapping it fails any parent. false_alarm_rate_by_mode: windows overlapping no episode (of any
 * channel: the model reads them all) that fail.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../runtime/config/schema.js';
import { createLogger } from '../../runtime/core/log.js';
import type { FrameHeader } from '../../runtime/framing/frame.js';
import { MODES, type Mode } from '../../runtime/governor/governor.js';
import { MemoryPublisher } from '../../runtime/publish/memory.js';
import { verdictFails, type Verdict } from '../../runtime/qa/types.js';
import { createRuntime } from '../../runtime/root.js';
import type { BudgetTick } from '../../runtime/budget.js';
import { MockTransport } from '../../runtime/transport/mock.js';
import { BatteryModel, SysfsBatteryWriter } from '../battery.js';
import { getScenario } from '../scenarios/index.js';
import { FAULT_KINDS } from '../scenarios/scenario.js';
import { scenarioReplay } from './faults.js';

export interface BudgetReport {
  scenario: string;
  speed: number;
  phases_s: { unconstrained: number; budget: number; lifted: number; battery: number };
  unconstrained_cpu_share: number;
  budget_cpu_share: number;
  measured_cpu_share_mean: number;
  measured_cpu_share_max_1min: number;
  /** measured_cpu_share_max_1min / budget_cpu_share − 1 (target ≤ 0.10). */
  budget_overshoot: number;
  /** Mean CPU share of each mode's ticks over the run (a switch's first tick left out). */
  cpu_share_by_mode: Record<string, number>;
  /** Seconds from lifting the budget to full mode again (null: not within the phase). */
  back_to_full_s: number | null;
  /** Seconds in each mode, over the whole run. */
  modes: Record<Mode, number>;
  modes_by_phase: Record<string, Record<Mode, number>>;
  transitions: { at_s: number; phase: string; from: Mode; to: Mode; reason: string; battery_pct?: number }[];
  recall_by_mode: Record<string, { recall: number; episodes: number }>;
  false_alarm_rate_by_mode: Record<string, { rate: number; windows: number }>;
  battery_pct: { start: number; end: number };
  /** The runtime's own counts: verdicts made, windows skipped in duty cycles, window sets kept from the model by the budget. */
  counters: { verdicts: number; windows_skipped_duty: number; model_skipped_budget: number; model_windows: number };
  elapsed_s: number;
}

const REPO = join(import.meta.dirname, '..', '..');
const PUMP_AE = join(REPO, 'models/pump-ae/1.0.0');
const MODEL_KEY = join(REPO, 'models/keys/tinyqa-models.pub');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function evalBudget(o: {
  speed: number;
  unconstrainedS: number;
  budgetS: number;
  liftedS: number;
  batteryS: number;
  fraction: number;
  /** Span of the "any minute" check (s); 60 unless a short test run scales it down. */
  spanS?: number;
  seed: number;
  progress?: (m: string) => void;
}): Promise<BudgetReport> {
  const started = performance.now();
  const span = o.spanS ?? 60;
  const s = getScenario('pump');
  const W = 100;
  const dir = mkdtempSync(join(tmpdir(), 'tinyqa-budget-'));
  const sysfs = new SysfsBatteryWriter(join(dir, 'power_supply'));
  // Phases 1–3 on mains; phase 4 replaces this with a discharging battery.
  let battery = new BatteryModel({ capacityWh: 100, initialPercent: 100, charger: {} });
  sysfs.write(battery);
  const config = validateConfig({
    device: 'pump-budget',
    serial: { path: '/dev/null' },
    window: { size: W, hop: W },
    log: { level: 'silent' },
    health: { interval_s: 0 },
    qa: { anomaly: { enabled: true, severity: 'critical' } },
    model: { package: PUMP_AE, public_key: MODEL_KEY, state: '', reload_s: 0 },
    adapt: { enabled: true, checkpoint_dir: '' },
    governor: { enabled: true, cpu_share: 0, tick_s: 1, min_hold_s: 5, power_supply_dir: join(dir, 'power_supply'), thermal_path: '', duty: { period_s: 10 } },
  });
  // One minute of the scenario with every fault, replayed in a loop with time running on.
  const loop = scenarioReplay(s, 60 * s.rateHz, o.seed, new Set(FAULT_KINDS));
  const C = loop.values.length;
  const ticks: (BudgetTick & { phase: string })[] = [];
  let phase = 'unconstrained';
  const publisher = new MemoryPublisher();
  interface Judged {
    stream: string;
    t0: number;
    t1: number;
    fail: boolean;
    mode: Mode;
  }
  const judged: Judged[] = [];
  let rt: ReturnType<typeof createRuntime> | undefined;
  rt = createRuntime(config, {
    transport: new MockTransport(),
    publisher,
    log: createLogger('silent'),
    onVerdict: (v: Verdict) => judged.push({ stream: v.stream, t0: v.t0, t1: v.t1, fail: verdictFails(v), mode: rt!.budget!.mode }),
    onBudgetTick: (t) => ticks.push({ ...t, phase }),
  });
  const runtime = rt;
  const budget = runtime.budget!;
  await runtime.start();

  // The feed: every 10 ms, the samples due at `speed`× real time, in batches of 10.
  const h: FrameHeader = { version: 1, incompat_flags: 0, compat_flags: 0, type: 1, seq: 0, time_ms: 0 };
  runtime.pipeline.handle(h, loop.hello);
  const rate = s.rateHz * o.speed;
  const t0 = performance.now();
  let sent = 0;
  const buf = new Float32Array(10 * C);
  const n = loop.times.length;
  const periodUs = Math.round(loop.periodMs * 1000);
  const feeder = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    // Never more than a second of backlog at once: a stalled event loop must not turn into a burst.
    if (due - sent > rate) sent = due - rate;
    while (sent + 10 <= due) {
      const at = sent % n;
      for (let j = 0; j < 10; j++) for (let c = 0; c < C; c++) buf[j * C + c] = loop.values[c]![(at + j) % n]!;
      h.time_ms = 1_700_000_000_000 + sent * loop.periodMs;
      runtime.pipeline.handle(h, { type: 'samples', channels: C, period_us: periodUs, values: buf });
      sent += 10;
    }
    // The memory publisher keeps copies; this harness does not need them.
    publisher.verdicts.length = 0;
    publisher.actions.length = 0;
  }, 10);

  const phaseStart: Record<string, number> = {};
  const begin = (name: string) => {
    phase = name;
    phaseStart[name] = performance.now();
    o.progress?.(`phase ${name}`);
  };
  const sharesOf = (name: string) => ticks.filter((t) => t.phase === name).map((t) => t.cpuShare);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

  let report: BudgetReport;
  try {
    begin('unconstrained');
    await sleep(o.unconstrainedS * 1000);
    // The first ticks include start-up (model load, JIT): the mean is over the phase's second half.
    const u = sharesOf('unconstrained');
    const U = mean(u.slice(Math.floor(u.length / 2)));
    const B = Math.max(0.01, U * o.fraction);
    o.progress?.(`unconstrained CPU share ${U.toFixed(3)}; budget ${B.toFixed(3)}`);

    begin('budget');
    budget.governor.setBudget(B);
    await sleep(o.budgetS * 1000);
    const inBudget = ticks.filter((t) => t.phase === 'budget');
    // Every span of `span` seconds of ticks (each tick ≈ tick_s): the largest mean share.
    const perSpan = Math.max(1, Math.round(span / config.governor.tick_s));
    let max1 = 0;
    for (let i = 0; i + perSpan <= inBudget.length; i++) max1 = Math.max(max1, mean(inBudget.slice(i, i + perSpan).map((t) => t.cpuShare)));
    if (inBudget.length < perSpan) max1 = mean(inBudget.map((t) => t.cpuShare));

    begin('lifted');
    // A budget that allows full mode again (twice its measured cost): the governor must climb back.
    budget.governor.setBudget(2 * U);
    const liftedAt = performance.now();
    let backToFull: number | null = null;
    while (performance.now() - liftedAt < o.liftedS * 1000) {
      if (backToFull === null && budget.mode === 'full') backToFull = (performance.now() - liftedAt) / 1000;
      await sleep(100);
    }

    begin('battery');
    budget.governor.setBudget(0);
    // A day of discharge played in the phase: half a battery at the start, which the full mode would
    // empty in about 1.2 phases; the governor steps down as it falls.
    const loadW = new BatteryModel({ capacityWh: 1 }).loadW(U);
    const capacityWh = loadW * 24;
    battery = new BatteryModel({ capacityWh, initialPercent: 50, timeScale: (0.5 * 86_400) / (1.2 * o.batteryS) });
    sysfs.write(battery);
    const startPct = battery.percent;
    let last = performance.now();
    const phaseEnd = last + o.batteryS * 1000;
    while (performance.now() < phaseEnd) {
      await sleep(250);
      const now = performance.now();
      const recent = ticks.at(-1)?.cpuShare ?? U;
      battery.step((now - last) / 1000, recent);
      last = now;
      sysfs.write(battery);
    }

    clearInterval(feeder);
    await runtime.pipeline.idle();
    const modes = Object.fromEntries(Object.entries(budget.governor.timeInModeMs(performance.now())).map(([k, v]) => [k, Number((v / 1000).toFixed(1))])) as Record<Mode, number>;
    const byPhase: Record<string, Record<Mode, number>> = {};
    for (const t of ticks) {
      const m = (byPhase[t.phase] ??= Object.fromEntries(MODES.map((x) => [x, 0])) as Record<Mode, number>);
      m[t.mode] = Number((m[t.mode] + config.governor.tick_s).toFixed(1));
    }
    const firstTick = ticks[0]?.atMs ?? 0;
    const transitions = budget.governor.transitions.map((tr) => {
      const tick = ticks.find((t) => t.atMs >= tr.atMs);
      return { at_s: Number(((tr.atMs - firstTick) / 1000).toFixed(1)), phase: tick?.phase ?? phase, from: tr.from, to: tr.to, reason: tr.reason, ...(tick?.batteryPct !== undefined ? { battery_pct: tick.batteryPct } : {}) };
    });

    // Detection per mode, over the fault episodes the feed played.
    const base = 1_700_000_000_000;
    const cycleMs = s.cycleS * 1000;
    const loopMs = 60_000;
    const rec: Record<string, { hit: number; n: number }> = {};
    const fa: Record<string, { fail: number; n: number }> = {};
    const byStream = new Map<string, Judged[]>();
    for (const j of judged) (byStream.get(j.stream) ?? byStream.set(j.stream, []).get(j.stream)!).push(j);
    // Any channel's episode: the model reads all channels, so a fault on one may fail the others' windows too.
    const inEpisode = (t0: number, t1: number) => {
      const local0 = (t0 - base) % loopMs;
      const local1 = local0 + (t1 - t0);
      return s.episodes.some((e) => [0, cycleMs].some((c) => local0 < c + e.endS * 1000 && local1 >= c + e.startS * 1000 && c + e.startS * 1000 < loopMs));
    };
    // Each stream's windows are in time order: one pass with a moving start over the episodes, in time order.
    const playedMs = base + (sent / s.rateHz) * 1000;
    const cycles = Math.ceil((playedMs - base) / cycleMs);
    for (const e of s.episodes) {
      const list = byStream.get(e.channel) ?? [];
      let from = 0;
      for (let k = 0; k < cycles; k++) {
        const a = base + k * cycleMs + e.startS * 1000;
        const b = base + k * cycleMs + e.endS * 1000;
        if (b > playedMs) break; // not played in full
        while (from < list.length && list[from]!.t1 < a) from++;
        let hit = false;
        let first: Judged | undefined;
        for (let i = from; i < list.length && list[i]!.t0 < b; i++) {
          first ??= list[i];
          if (list[i]!.fail) hit = true;
        }
        // The mode when the episode began: of its first window, or (all skipped) of the window before.
        const mode = first?.mode ?? (from > 0 ? list[from - 1]!.mode : 'duty_cycled');
        const r = (rec[mode] ??= { hit: 0, n: 0 });
        r.n++;
        if (hit) r.hit++;

      }
    }
    for (const list of byStream.values()) {
      for (const j of list) {
        if (inEpisode(j.t0, j.t1)) continue;
        const f = (fa[j.mode] ??= { fail: 0, n: 0 });
        f.n++;
        if (j.fail) f.fail++;
      }
    }
    // Each mode's cost: the mean share of its ticks, leaving out the first tick after a switch (it mixes modes and drains the model's queue).
    const costOf: Record<string, { sum: number; n: number }> = {};
    ticks.forEach((t, k) => {
      if (k === 0 || ticks[k - 1]!.mode !== t.mode) return;
      const c = (costOf[t.mode] ??= { sum: 0, n: 0 });
      c.sum += t.cpuShare;
      c.n++;
    });
    const budgetShares = sharesOf("budget");
    report = {
      scenario: 'pump',
      speed: o.speed,
      phases_s: { unconstrained: o.unconstrainedS, budget: o.budgetS, lifted: o.liftedS, battery: o.batteryS },
      unconstrained_cpu_share: Number(U.toFixed(4)),
      budget_cpu_share: Number(B.toFixed(4)),
      measured_cpu_share_mean: Number(mean(budgetShares).toFixed(4)),
      measured_cpu_share_max_1min: Number(max1.toFixed(4)),
      budget_overshoot: Number((max1 / B - 1).toFixed(4)),
      cpu_share_by_mode: Object.fromEntries(Object.entries(costOf).map(([m, c]) => [m, Number((c.sum / c.n).toFixed(4))])),
      back_to_full_s: backToFull === null ? null : Number(backToFull.toFixed(1)),
      modes,
      modes_by_phase: byPhase,
      transitions,
      recall_by_mode: Object.fromEntries(Object.entries(rec).map(([m, r]) => [m, { recall: Number((r.hit / r.n).toFixed(4)), episodes: r.n }])),
      false_alarm_rate_by_mode: Object.fromEntries(Object.entries(fa).map(([m, f]) => [m, { rate: Number((f.fail / Math.max(1, f.n)).toFixed(5)), windows: f.n }])),
      battery_pct: { start: Number(startPct.toFixed(1)), end: Number(battery.percent.toFixed(1)) },
      counters: (() => {
        const c = runtime.counters();
        return { verdicts: c['verdicts'] ?? 0, windows_skipped_duty: c['windows_skipped_duty'] ?? 0, model_skipped_budget: c['model_skipped_budget'] ?? 0, model_windows: c['model_windows'] ?? 0 };
      })(),
      elapsed_s: Number(((performance.now() - started) / 1000).toFixed(1)),
    };
  } finally {
    clearInterval(feeder);
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}
