/**
 * The budget governor (DESIGN §7). Each tick it takes the process's CPU use, the battery and the SoC
 * temperature and picks one rung of the ladder
 *   full → reduced (model every k-th window, unselected dimensions off) → minimal (rules only, no
 *   adaptation) → duty_cycled (minimal, on for onFraction of every duty period)
 * Three constraints each propose a rung; the most restrictive one wins: mode = max(cpu, battery,
 * thermal) in ladder order.
 *
 * CPU (budget B = cpu_share, a share of one core; 0 = unlimited, the constraint always says full).
 *   share_t = cpuS / wallS of the tick just ended.
 *   cost[m] ← cost[m] + a_n·(share_t − cost[m]),  a_n = max(α, 1/n), α = 0.3   (n = samples of m)
 *     learned only while m is the mode, from its second tick on: the tick right after a switch
 *     mixes the old and the new mode. That mixed tick still counts in one case: after a step UP (or
 *     at start) a mixed share above B proves the new rung costs more than B (the old one fitted),
 *     so the probe is aborted at once and the share kept as a lower bound of cost[m].
 *     In duty_cycled, CPU and the on-time (integrated over the duty schedule) are summed over at
 *     least one whole duty period; cost[duty_cycled] ← cpu / wall, cost[minimal] ← cpu / on-time.
 *   step down at once when share_t > B: to the next rung, or further while the next rung's known
 *     cost is still > B.
 *   step up one rung u (from c) when share_t ≤ B (in duty_cycled: whatever the tick's share),
 *     c has been held ≥ min_hold_s, u's back-off has run out (now ≥ lastFail[u] + hold[u]), and
 *       cost[u] is unknown (a probe), or cost[u] ≤ B·(1 − headroom), or cost[u] is known too high
 *       but its back-off has run out and the probe fits the minute:
 *         (60 − 3·tick_s)·cost[c] + 3·tick_s·cost[u] ≤ 1.05·B·60
 *       (a failed probe costs at most three ticks near u's price: the mixed tick, one measured tick,
 *       the mixed tick back; it may use half of the 10 % tolerance, the other half is for noise).
 *       That last case is how the governor notices a workload that got lighter; it stays rare.
 *   hold[u] starts at max(min_hold_s, tick_s) and doubles each time the CPU constraint leaves u, up
 *     to 32× (min_hold_s = 60 s: ≈ 30 min); a stay of the whole 32× resets it. setBudget() resets all.
 *   onFraction in duty_cycled = clamp(B / cost[minimal], min_on, 1), so the mean share ≈ B (below
 *     B·min_on/… it cannot go lower: then the budget is exceeded and min_on wins).
 * Battery (pct, thresholds T = reduced_below ≥ minimal_below ≥ duty_below, hysteresis h):
 *   down to level #{T_i : pct < T_i} as soon as that is above the current level;
 *   up to level #{T_i : pct < T_i + h} only when that is below it; in between: stay.
 *   charging (callers pass charging || onMains) lifts the constraint (full); an absent reading keeps
 *   the current level (a flaky read does not lift it). A battery-forced duty_cycled runs at min_on.
 * Thermal: the same with °C, restrictive above: down when temp > T_i, up when temp ≤ T_i − h.
 * Defaults (DEFAULT_GOVERNOR_CONFIG) and why:
 *   cpu_share 0        opt-in: a gateway with a core to spare should not lose its models
 *   tick_s 5           12 samples a minute, so a failed probe is ≤ 1/4 of the minute window
 *                      (validated < 20 s: a probe's three ticks must fit in a minute)
 *   headroom 0.1       the same 10 % as the per-minute tolerance: noise of a rung that fits with
 *                      headroom rarely crosses B
 *   min_hold_s 60      one per-minute window between step-ups
 *   battery 30/15/5 %, hysteresis 3 %: Li-ion on a gateway lasts hours at 30 %, the last 5 % go
 *                      fast; 3 % is above the ±1–2 % jitter of common fuel gauges
 *   thermal 70/77/82 °C, hysteresis 5 °C: a Raspberry Pi 4/5 firmware throttles at 80 °C (85 °C
 *                      hard), so the governor sheds load before the clock does
 *   duty period_s 10   divides 60, so every minute window holds exactly 6 periods; min_on 0.1
 * Properties (the tests measure them with a simulated plant):
 * - With a steady workload whose minimal rung fits (or duty_cycled above min_on), the share averaged
 *   over any minute after the first stays ≤ 1.1·B: a rung costing more than B is left after at most
 *   two ticks, and probes are gated by the minute inequality above.
 * - No flapping: a rung left for cost is re-entered only after a hold that doubles each time, so a
 *   noisy share at a rung boundary causes O(log T) transitions over T.
 * - Raising B brings back each rung whose known cost fits B·(1 − headroom) after min_hold_s per rung.
 * - Battery or temperature jitter smaller than the hysteresis never moves the mode back and forth.
 * O(1) per tick; `transitions` keeps the last 1000.
 */

import { ErrorCode, TinyqaError } from '../core/errors.js';

export const MODES = ['full', 'reduced', 'minimal', 'duty_cycled'] as const;
export type Mode = (typeof MODES)[number];

export interface GovernorConfig {
  /** CPU budget as a share of one core (1 = one core busy); 0 = unlimited. */
  cpu_share: number;
  /** The caller's tick period (s): sizes the probe in the per-minute check. */
  tick_s: number;
  /** Step up only if the next mode's expected cost ≤ budget·(1 − headroom). */
  headroom: number;
  /** Least time in a mode before stepping up from it; base of the probe back-off. */
  min_hold_s: number;
  battery: { reduced_below: number; minimal_below: number; duty_below: number; hysteresis_pct: number };
  thermal: { reduced_above: number; minimal_above: number; duty_above: number; hysteresis_c: number };
  /** Duty cycling: period and the smallest on-fraction. */
  duty: { period_s: number; min_on: number };
}

export const DEFAULT_GOVERNOR_CONFIG: GovernorConfig = {
  cpu_share: 0,
  tick_s: 5,
  headroom: 0.1,
  min_hold_s: 60,
  battery: { reduced_below: 30, minimal_below: 15, duty_below: 5, hysteresis_pct: 3 },
  thermal: { reduced_above: 70, minimal_above: 77, duty_above: 82, hysteresis_c: 5 },
  duty: { period_s: 10, min_on: 0.1 },
};

export interface GovernorInput {
  nowMs: number;
  /** Process CPU seconds consumed since the previous tick. */
  cpuS: number;
  /** Wall seconds since the previous tick. */
  wallS: number;
  batteryPct?: number;
  /** Charging, or on external power (pass readPowerSupply()'s charging || onMains). */
  charging?: boolean;
  tempC?: number;
}

export interface GovernorDecision {
  mode: Mode;
  changed: boolean;
  /** Why the mode changed (only when it did): the constraint and its numbers. */
  reason?: string;
}

export interface Transition {
  atMs: number;
  from: Mode;
  to: Mode;
  reason: string;
}

const ALPHA = 0.3;
const MAX_HOLD_FACTOR = 32;
const MAX_TRANSITIONS = 1000;
const PROBE_TICKS = 3;
const WINDOW_S = 60;
/** A re-probe may use half of the 10 % per-minute tolerance: the other half is for noise. */
const PROBE_ALLOWANCE = 1.05;
const DUTY = 3;
const MINIMAL = 2;

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Problems with a governor configuration, each naming its key; [] when it is usable. */
export function validateGovernorConfig(cfg: unknown): string[] {
  const p: string[] = [];
  if (!isObj(cfg)) return ['governor configuration must be an object'];
  const num = (obj: Record<string, unknown>, prefix: string, key: string, lo: number, hi: number, loOpen = false, hiOpen = false): number | undefined => {
    const v = obj[key];
    const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
    if (ok) return v;
    p.push(`${prefix}${key} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}; got ${JSON.stringify(v)}`);
    return undefined;
  };
  const section = (key: string): Record<string, unknown> | undefined => {
    const s = cfg[key];
    if (isObj(s)) return s;
    p.push(`${key} must be an object; got ${JSON.stringify(s)}`);
    return undefined;
  };
  num(cfg, '', 'cpu_share', 0, 8);
  const tick = num(cfg, '', 'tick_s', 0, WINDOW_S / PROBE_TICKS, true, true);
  num(cfg, '', 'headroom', 0, 1, false, true);
  const hold = num(cfg, '', 'min_hold_s', 0, 86_400);
  if (tick !== undefined && hold !== undefined && hold > 0 && hold < tick) p.push(`min_hold_s (${hold}) must be 0 or ≥ tick_s (${tick})`);
  const b = section('battery');
  if (b) {
    const r = num(b, 'battery.', 'reduced_below', 0, 100);
    const m = num(b, 'battery.', 'minimal_below', 0, 100);
    const d = num(b, 'battery.', 'duty_below', 0, 100);
    const h = num(b, 'battery.', 'hysteresis_pct', 0, 50);
    if (r !== undefined && m !== undefined && m > r) p.push(`battery.minimal_below (${m}) must be ≤ battery.reduced_below (${r})`);
    if (m !== undefined && d !== undefined && d > m) p.push(`battery.duty_below (${d}) must be ≤ battery.minimal_below (${m})`);
    if (r !== undefined && h !== undefined && r > 0 && r + h > 100) p.push(`battery.reduced_below + battery.hysteresis_pct (${r} + ${h}) must be ≤ 100, or a discharging device never returns to full`);
  }
  const t = section('thermal');
  if (t) {
    const r = num(t, 'thermal.', 'reduced_above', -40, 150);
    const m = num(t, 'thermal.', 'minimal_above', -40, 150);
    const d = num(t, 'thermal.', 'duty_above', -40, 150);
    num(t, 'thermal.', 'hysteresis_c', 0, 50);
    if (r !== undefined && m !== undefined && m < r) p.push(`thermal.minimal_above (${m}) must be ≥ thermal.reduced_above (${r})`);
    if (m !== undefined && d !== undefined && d < m) p.push(`thermal.duty_above (${d}) must be ≥ thermal.minimal_above (${m})`);
  }
  const du = section('duty');
  if (du) {
    num(du, 'duty.', 'period_s', 0, WINDOW_S, true);
    num(du, 'duty.', 'min_on', 0, 1, true);
  }
  return p;
}

interface Note {
  proposal: number;
  why: string;
}

const f2 = (x: number) => x.toFixed(2);
const fmt = (x: number) => String(Math.round(x * 100) / 100);

export class Governor {
  private cfg: GovernorConfig;
  private idx = 0;
  private enteredAt: number;
  /** The current mode was entered upward (or at start): a mixed first tick above budget aborts it. */
  private enteredUpward = true;
  private ticksInMode = 0;
  private cpuRung = 0;
  private batRung = 0;
  private thermRung = 0;
  private readonly cost: (number | undefined)[] = [undefined, undefined, undefined, undefined];
  private readonly samples = [0, 0, 0, 0];
  private readonly holdMs: number[];
  private readonly lastFailMs = [-Infinity, -Infinity, -Infinity, -Infinity];
  private readonly spentMs = [0, 0, 0, 0];
  private frac = 1;
  private dutyStartMs = 0;
  private acc = { cpu: 0, wall: 0, on: 0 };
  /** Mode changes, oldest first; the last 1000. */
  readonly transitions: Transition[] = [];

  constructor(cfg: GovernorConfig, startMs: number) {
    const problems = validateGovernorConfig(cfg);
    if (problems.length > 0) {
      throw new TinyqaError(ErrorCode.ConfigInvalid, `governor configuration: ${problems.join('; ')}`, { hint: 'fix the governor section of the configuration' });
    }
    this.cfg = structuredClone(cfg);
    this.enteredAt = startMs;
    this.holdMs = [0, 0, 0, 0].map(() => this.baseHoldMs());
  }

  get mode(): Mode {
    return MODES[this.idx]!;
  }

  /** The on-fraction of duty cycling; 1 in every other mode. */
  get onFraction(): number {
    return this.idx === DUTY ? this.frac : 1;
  }

  get budget(): number {
    return this.cfg.cpu_share;
  }

  /** The learned CPU share of each mode (duty_cycled: at its recent on-fraction); undefined until measured. */
  get costEstimates(): Record<Mode, number | undefined> {
    return { full: this.cost[0], reduced: this.cost[1], minimal: this.cost[2], duty_cycled: this.cost[3] };
  }

  /** What each constraint proposes; the mode is the most restrictive. */
  get proposals(): { cpu: Mode; battery: Mode; thermal: Mode } {
    return { cpu: MODES[this.cpuRung]!, battery: MODES[this.batRung]!, thermal: MODES[this.thermRung]! };
  }

  /** A new CPU budget (0 = unlimited); clears every probe back-off, keeps the cost estimates. */
  setBudget(cpuShare: number): void {
    if (!(Number.isFinite(cpuShare) && cpuShare >= 0 && cpuShare <= 8)) {
      throw new TinyqaError(ErrorCode.ConfigInvalid, `governor cpu_share must be a number in [0, 8]; got ${cpuShare}`);
    }
    this.cfg.cpu_share = cpuShare;
    for (let i = 0; i < 4; i++) {
      this.holdMs[i] = this.baseHoldMs();
      this.lastFailMs[i] = -Infinity;
    }
  }

  /** Whether the pipeline should run now: in duty_cycled the first onFraction of every period; otherwise always. */
  dutyOn(nowMs: number): boolean {
    if (this.idx !== DUTY) return true;
    const p = this.cfg.duty.period_s * 1000;
    const phase = (((nowMs - this.dutyStartMs) % p) + p) % p;
    return phase < this.frac * p;
  }

  /** Milliseconds spent in each mode since the start, up to nowMs. */
  timeInModeMs(nowMs: number): Record<Mode, number> {
    const t = [...this.spentMs];
    t[this.idx]! += Math.max(0, nowMs - this.enteredAt);
    return { full: t[0]!, reduced: t[1]!, minimal: t[2]!, duty_cycled: t[3]! };
  }

  tick(input: GovernorInput): GovernorDecision {
    const now = input.nowMs;
    const B = this.cfg.cpu_share;
    const notes: Note[] = [];
    const a = this.idx;
    const mixed = this.ticksInMode === 0;
    const share = Number.isFinite(input.cpuS) && input.cpuS >= 0 && Number.isFinite(input.wallS) && input.wallS > 0 ? input.cpuS / input.wallS : undefined;
    if (share !== undefined) this.learn(a, share, mixed, input, now);

    // (a) CPU
    if (B <= 0) {
      if (this.cpuRung !== 0) notes.push({ proposal: (this.cpuRung = 0), why: 'cpu budget unlimited' });
    } else if (this.cpuRung !== a) {
      // Another constraint binds: only keep the CPU proposal off rungs known to cost more than B.
      const from = this.cpuRung;
      while (this.cpuRung < a && this.cost[this.cpuRung] !== undefined && this.cost[this.cpuRung]! > B) this.cpuRung++;
      if (this.cpuRung !== from) notes.push({ proposal: this.cpuRung, why: `cpu: ${MODES[from]} est ${f2(this.cost[from]!)} > budget ${f2(B)}` });
    } else if (share !== undefined) {
      this.cpuStep(a, share, mixed, now, notes);
    }

    // (b) battery
    const bat = this.cfg.battery;
    if (input.charging === true) {
      if (this.batRung !== 0) notes.push({ proposal: (this.batRung = 0), why: 'battery charging' });
    } else if (input.batteryPct !== undefined && Number.isFinite(input.batteryPct)) {
      const pct = input.batteryPct;
      const th = [bat.reduced_below, bat.minimal_below, bat.duty_below];
      const down = th.filter((x) => pct < x).length;
      const up = th.filter((x) => pct < x + bat.hysteresis_pct).length;
      if (down > this.batRung) notes.push({ proposal: (this.batRung = down), why: `battery ${fmt(pct)}% < ${th[down - 1]}%` });
      else if (up < this.batRung) notes.push({ proposal: (this.batRung = up), why: `battery ${fmt(pct)}% ≥ ${th[up]}% + ${bat.hysteresis_pct}%` });
    }

    // (c) thermal
    const thr = this.cfg.thermal;
    if (input.tempC !== undefined && Number.isFinite(input.tempC)) {
      const c = input.tempC;
      const th = [thr.reduced_above, thr.minimal_above, thr.duty_above];
      const down = th.filter((x) => c > x).length;
      const up = th.filter((x) => c > x - thr.hysteresis_c).length;
      if (down > this.thermRung) notes.push({ proposal: (this.thermRung = down), why: `soc ${fmt(c)}°C > ${th[down - 1]}°C` });
      else if (up < this.thermRung) notes.push({ proposal: (this.thermRung = up), why: `soc ${fmt(c)}°C ≤ ${th[up]}°C − ${thr.hysteresis_c}°C` });
    }

    const next = Math.max(this.cpuRung, this.batRung, this.thermRung);
    if (next === DUTY) {
      const cm = this.cost[MINIMAL];
      this.frac =
        this.batRung === DUTY || this.thermRung === DUTY
          ? this.cfg.duty.min_on
          : cm !== undefined && cm > 0 && B > 0
            ? Math.min(1, Math.max(this.cfg.duty.min_on, B / cm))
            : this.cfg.duty.min_on;
    } else {
      this.frac = 1;
    }
    if (next === a) {
      this.ticksInMode++;
      return { mode: this.mode, changed: false };
    }
    const why =
      next > a
        ? (notes.find((n) => n.proposal === next) ?? notes[0])?.why
        : notes
            .filter((n) => n.proposal < a)
            .map((n) => n.why)
            .join('; ');
    const reason = why || 'constraints changed';
    this.spentMs[a]! += Math.max(0, now - this.enteredAt);
    this.transitions.push({ atMs: now, from: MODES[a]!, to: MODES[next]!, reason });
    if (this.transitions.length > MAX_TRANSITIONS) this.transitions.splice(0, this.transitions.length - MAX_TRANSITIONS);
    this.idx = next;
    this.enteredAt = now;
    this.enteredUpward = next < a;
    this.ticksInMode = 0;
    if (next === DUTY) {
      this.dutyStartMs = now;
      this.acc = { cpu: 0, wall: 0, on: 0 };
    }
    return { mode: this.mode, changed: true, reason };
  }

  private baseHoldMs(): number {
    return Math.max(this.cfg.min_hold_s, this.cfg.tick_s) * 1000;
  }

  private update(m: number, x: number): void {
    const n = ++this.samples[m]!;
    const prev = this.cost[m];
    this.cost[m] = prev === undefined || n === 1 ? x : prev + Math.max(ALPHA, 1 / n) * (x - prev);
  }

  /** Learns the cost of mode a from the tick that just ended. */
  private learn(a: number, share: number, mixed: boolean, input: GovernorInput, now: number): void {
    if (mixed) {
      // A lower bound after a step up (the old rung was cheaper); a real sample replaces it.
      if (this.enteredUpward && this.samples[a] === 0) this.cost[a] = Math.max(this.cost[a] ?? 0, share);
      return;
    }
    if (a !== DUTY) {
      this.update(a, share);
      return;
    }
    this.acc.cpu += input.cpuS;
    this.acc.wall += input.wallS;
    this.acc.on += this.onSeconds(now - input.wallS * 1000, now);
    if (this.acc.wall + 1e-9 < this.cfg.duty.period_s) return;
    this.update(DUTY, this.acc.cpu / this.acc.wall);
    if (this.acc.on > 0.01 * this.acc.wall) this.update(MINIMAL, this.acc.cpu / this.acc.on);
    this.acc = { cpu: 0, wall: 0, on: 0 };
  }

  /** Seconds of duty on-time in [t0, t1] (ms) under the current schedule. */
  private onSeconds(t0: number, t1: number): number {
    const p = this.cfg.duty.period_s * 1000;
    const l = this.frac * p;
    const F = (t: number) => {
      const x = Math.max(0, t - this.dutyStartMs);
      const k = Math.floor(x / p);
      return k * l + Math.min(x - k * p, l);
    };
    return Math.max(0, F(t1) - F(t0)) / 1000;
  }

  /** The CPU constraint's move when it is the binding one (cpuRung = mode a). */
  private cpuStep(a: number, share: number, mixed: boolean, now: number, notes: Note[]): void {
    const B = this.cfg.cpu_share;
    if (share > B && a < DUTY && (!mixed || this.enteredUpward)) {
      let t = a + 1;
      while (t < DUTY && this.cost[t] !== undefined && this.cost[t]! > B) t++;
      const maxHold = this.baseHoldMs() * MAX_HOLD_FACTOR;
      this.holdMs[a] = now - this.enteredAt >= maxHold ? this.baseHoldMs() : Math.min(2 * this.holdMs[a]!, maxHold);
      this.lastFailMs[a] = now;
      this.cpuRung = t;
      const skipped = t > a + 1 ? ` (${MODES[a + 1]} est ${f2(this.cost[a + 1]!)} also above)` : '';
      notes.push({ proposal: t, why: `cpu ${f2(share)} > budget ${f2(B)}${skipped}` });
      return;
    }
    if (a === 0 || mixed || (a !== DUTY && share > B)) return;
    const u = a - 1;
    if (now - this.enteredAt < this.cfg.min_hold_s * 1000 || now < this.lastFailMs[u]! + this.holdMs[u]!) return;
    const est = this.cost[u];
    const limit = B * (1 - this.cfg.headroom);
    let why: string | undefined;
    if (est === undefined) why = `cpu probe ${MODES[u]} (unmeasured)`;
    else if (this.samples[u] === 0 && est <= limit) why = `cpu probe ${MODES[u]} (only a lower bound ${f2(est)})`;
    else if (est <= limit) why = `cpu: ${MODES[u]} est ${f2(est)} ≤ ${f2(limit)} = budget ${f2(B)}·(1 − ${this.cfg.headroom})`;
    else {
      const cur = this.cost[a] ?? share;
      const probeS = PROBE_TICKS * this.cfg.tick_s;
      if ((WINDOW_S - probeS) * cur + probeS * est <= PROBE_ALLOWANCE * B * WINDOW_S) why = `cpu re-probe ${MODES[u]} (est ${f2(est)} after ${Math.round(this.holdMs[u]! / 1000)} s hold)`;
    }
    if (why === undefined) return;
    this.cpuRung = u;
    notes.push({ proposal: u, why });
  }
}
