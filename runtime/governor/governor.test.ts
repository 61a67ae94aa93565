import { describe, expect, it } from 'vitest';
import { isTinyqaError, ErrorCode } from '../core/errors.js';
import { DEFAULT_GOVERNOR_CONFIG, Governor, MODES, validateGovernorConfig, type GovernorConfig, type Mode } from './governor.js';

const T0 = 1_700_000_000_000;

function config(over: Partial<GovernorConfig> = {}): GovernorConfig {
  return { ...structuredClone(DEFAULT_GOVERNOR_CONFIG), ...over };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Costs = { full: number; reduced: number; minimal: number };

/**
 * A simulated gateway: each mode has a true CPU share (duty_cycled: minimal's times the on-time the
 * governor's schedule gives within the tick, sampled every 1/200 of it), plus Gaussian noise. The
 * tick right after a switch is `lag` old mode, the rest new (the pipeline switches at its next
 * window boundary).
 */
class Plant {
  t = T0;
  readonly shares: number[] = [];
  readonly modes: Mode[] = [];
  private lastMode: Mode;
  private lastPure: number;
  private readonly rand: () => number;

  constructor(
    readonly g: Governor,
    public costs: Costs,
    readonly noise: number,
    seed: number,
    readonly tickS: number,
    readonly lag = 0.5,
  ) {
    this.rand = mulberry32(seed);
    this.lastMode = g.mode;
    this.lastPure = this.pure(g.mode, T0, T0);
  }

  private gauss(): number {
    const u = Math.max(1e-12, this.rand());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.rand());
  }

  private pure(mode: Mode, t0: number, t1: number): number {
    if (mode !== 'duty_cycled') return this.costs[mode];
    if (t1 <= t0) return this.costs.minimal * this.g.onFraction;
    let on = 0;
    for (let i = 0; i < 200; i++) if (this.g.dutyOn(t0 + ((i + 0.5) * (t1 - t0)) / 200)) on++;
    return (this.costs.minimal * on) / 200;
  }

  step(env: { batteryPct?: number; charging?: boolean; tempC?: number } = {}) {
    const t1 = this.t + this.tickS * 1000;
    const mode = this.g.mode;
    const p = this.pure(mode, this.t, t1);
    const mixed = mode !== this.lastMode ? this.lag * this.lastPure + (1 - this.lag) * p : p;
    const share = Math.max(0, mixed + this.noise * this.gauss());
    this.lastMode = mode;
    this.lastPure = p;
    this.t = t1;
    this.shares.push(share);
    this.modes.push(mode);
    return this.g.tick({ nowMs: t1, cpuS: share * this.tickS, wallS: this.tickS, ...env });
  }

  run(seconds: number, env?: (tS: number) => { batteryPct?: number; charging?: boolean; tempC?: number }) {
    const n = Math.round(seconds / this.tickS);
    for (let i = 0; i < n; i++) this.step(env?.((this.t - T0) / 1000));
  }

  /** The largest mean share over any 60 s of consecutive ticks starting at or after fromS. */
  maxMinuteMean(fromS: number): number {
    const w = Math.round(60 / this.tickS);
    const first = Math.round(fromS / this.tickS);
    let max = 0;
    for (let i = first; i + w <= this.shares.length; i++) {
      let s = 0;
      for (let j = i; j < i + w; j++) s += this.shares[j]!;
      max = Math.max(max, s / w);
    }
    return max;
  }
}

const transitionsBetween = (g: Governor, fromS: number, toS: number) => g.transitions.filter((t) => t.atMs > T0 + fromS * 1000 && t.atMs <= T0 + toS * 1000).length;

function perTenMinutes(g: Governor, minutes: number): number[] {
  const out: number[] = [];
  for (let m = 0; m < minutes; m += 10) out.push(transitionsBetween(g, m * 60, (m + 10) * 60));
  return out;
}

const PLANT: Costs = { full: 0.8, reduced: 0.45, minimal: 0.2 };

describe('budget governor: CPU', () => {
  it('keeps the per-minute share within budget × 1.1 after the first minute and settles (budget 0.4)', () => {
    const g = new Governor(config({ cpu_share: 0.4 }), T0);
    const p = new Plant(g, PLANT, 0.02, 1, 5);
    p.run(60 * 60);
    const maxMean = p.maxMinuteMean(60);
    const per10 = perTenMinutes(g, 60);
    const tim = g.timeInModeMs(p.t);
    console.log(
      `governor budget 0.40 (plant full 0.80 / reduced 0.45 / minimal 0.20, σ 0.02, 5 s ticks, 60 min): max per-minute mean ${maxMean.toFixed(3)}; transitions per 10 min ${per10.join(' ')}; ` +
        `time in minimal ${((100 * tim.minimal) / (3600 * 1000)).toFixed(1)} %; estimates ${JSON.stringify(g.costEstimates, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v))}`,
    );
    expect(maxMean).toBeLessThanOrEqual(0.44);
    expect(g.mode).toBe('minimal');
    expect(per10[0]).toBeLessThanOrEqual(8);
    for (const n of per10.slice(1)) expect(n).toBeLessThanOrEqual(2);
    expect(tim.minimal).toBeGreaterThan(0.9 * 3600 * 1000);
    // Durations add up to the elapsed time.
    expect(Object.values(tim).reduce((s, x) => s + x, 0)).toBe(3600 * 1000);
    // The first step down names the constraint and its numbers.
    expect(g.transitions[0]).toMatchObject({ from: 'full', to: 'reduced' });
    expect(g.transitions[0]!.reason).toMatch(/^cpu 0\.\d\d > budget 0\.40$/);
  });

  it('returns to full within a bounded time when the budget is raised to 1.0, and stays there', () => {
    const g = new Governor(config({ cpu_share: 0.4 }), T0);
    const p = new Plant(g, PLANT, 0.02, 2, 5);
    p.run(20 * 60);
    expect(g.mode).toBe('minimal');
    g.setBudget(1.0);
    const raisedAt = p.t;
    let backAt: number | undefined;
    for (let i = 0; i < 200 && backAt === undefined; i++) {
      p.step();
      if (g.mode === 'full') backAt = p.t;
    }
    expect(backAt).toBeDefined();
    const took = (backAt! - raisedAt) / 1000;
    const before = g.transitions.length;
    p.run(10 * 60);
    console.log(`governor budget 0.40 → 1.00: back in full after ${took} s (min_hold_s 60, 5 s ticks); transitions in the next 10 min: ${g.transitions.length - before}`);
    expect(took).toBeLessThanOrEqual(2 * 60 + 3 * 5);
    expect(g.mode).toBe('full');
    expect(g.transitions.length - before).toBe(0);
    // full was only seen on the start tick (a lower bound), so its return is a probe.
    expect(g.transitions.at(-1)!.reason).toMatch(/^cpu probe full \(only a lower bound 0\.[78]\d\)$/);
    expect(g.transitions.at(-2)!.reason).toMatch(/^cpu: reduced est 0\.4\d ≤ 0\.90 = budget 1\.00/);
  });

  it('does not flap when the share of a rung sits on the budget with noise', () => {
    // reduced costs exactly the budget: about half of its ticks are over it.
    const g = new Governor(config({ cpu_share: 0.4 }), T0);
    const p = new Plant(g, { full: 0.8, reduced: 0.4, minimal: 0.2 }, 0.03, 3, 5);
    p.run(60 * 60);
    const inReducedOver = p.modes.filter((m, i) => m === 'reduced' && p.shares[i]! > 0.4).length;
    const per10 = perTenMinutes(g, 60);
    console.log(`governor reduced 0.40 ± 0.03 at budget 0.40, 60 min: transitions per 10 min ${per10.join(' ')} (total ${g.transitions.length}); ticks over budget while in reduced ${inReducedOver}; max per-minute mean ${p.maxMinuteMean(60).toFixed(3)}`);
    expect(g.transitions.length).toBeLessThanOrEqual(16);
    for (const n of per10.slice(1)) expect(n).toBeLessThanOrEqual(4);
    expect(p.maxMinuteMean(60)).toBeLessThanOrEqual(0.44);

    // Noise across the headroom line: reduced at 0.45 ± 0.03 with budget 0.5 (0.45 = 0.5·(1 − 0.1)).
    const g2 = new Governor(config({ cpu_share: 0.5 }), T0);
    const p2 = new Plant(g2, { full: 0.8, reduced: 0.45, minimal: 0.2 }, 0.03, 4, 5);
    p2.run(60 * 60);
    const per10b = perTenMinutes(g2, 60);
    console.log(`governor reduced 0.45 ± 0.03 at budget 0.50, 60 min: transitions per 10 min ${per10b.join(' ')} (total ${g2.transitions.length}); time in reduced ${((100 * g2.timeInModeMs(p2.t).reduced) / 3600e3).toFixed(1)} %; max per-minute mean ${p2.maxMinuteMean(60).toFixed(3)}`);
    expect(g2.transitions.length).toBeLessThanOrEqual(24);
    for (const n of per10b.slice(1)) expect(n).toBeLessThanOrEqual(6);
    expect(p2.maxMinuteMean(60)).toBeLessThanOrEqual(0.55);
  });

  it('backs off exponentially after failed probes of an unmeasured rung', () => {
    const g = new Governor(config({ cpu_share: 0.4 }), T0);
    const p = new Plant(g, PLANT, 0, 5, 5);
    p.run(60 * 60);
    const probes = g.transitions.filter((t) => t.from === 'minimal' && t.to === 'reduced').map((t) => (t.atMs - T0) / 1000);
    const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
    console.log(`governor probes of reduced at s ${probes.join(', ')}`);
    expect(probes.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(1.5 * gaps[i - 1]!);
  });

  it('picks a duty on-fraction that honours the budget', () => {
    const g = new Governor(config({ cpu_share: 0.1 }), T0);
    const p = new Plant(g, PLANT, 0.01, 6, 5);
    p.run(30 * 60);
    const tail = p.shares.slice(-60);
    const mean = tail.reduce((s, x) => s + x, 0) / tail.length;
    console.log(`governor budget 0.10 with minimal 0.20: mode ${g.mode}, onFraction ${g.onFraction.toFixed(3)}, mean share last 5 min ${mean.toFixed(3)}, max per-minute mean ${p.maxMinuteMean(60).toFixed(3)}, transitions ${g.transitions.length}`);
    expect(g.mode).toBe('duty_cycled');
    expect(g.onFraction).toBeGreaterThan(0.4);
    expect(g.onFraction).toBeLessThan(0.6);
    expect(p.maxMinuteMean(60)).toBeLessThanOrEqual(0.11);
    expect(g.transitions.length).toBeLessThanOrEqual(4);

    // Ticks that do not line up with the duty period (3 s ticks, 10 s period) still meet it.
    const g3 = new Governor(config({ cpu_share: 0.1, tick_s: 3 }), T0);
    const p3 = new Plant(g3, PLANT, 0.01, 7, 3);
    p3.run(30 * 60);
    console.log(`governor budget 0.10, 3 s ticks: onFraction ${g3.onFraction.toFixed(3)}, max per-minute mean ${p3.maxMinuteMean(60).toFixed(3)}`);
    expect(g3.mode).toBe('duty_cycled');
    expect(p3.maxMinuteMean(60)).toBeLessThanOrEqual(0.11);

    // Below min_on the fraction stops at min_on (the budget cannot be met).
    const g4 = new Governor(config({ cpu_share: 0.02, duty: { period_s: 10, min_on: 0.3 } }), T0);
    const p4 = new Plant(g4, PLANT, 0, 8, 5);
    p4.run(10 * 60);
    expect(g4.mode).toBe('duty_cycled');
    expect(g4.onFraction).toBe(0.3);
  });

  it('runs on for onFraction of every period in duty_cycled and always otherwise', () => {
    const g = new Governor(config({ cpu_share: 0.1 }), T0);
    expect(g.dutyOn(T0 + 1234)).toBe(true);
    const p = new Plant(g, PLANT, 0, 9, 5);
    p.run(10 * 60);
    expect(g.mode).toBe('duty_cycled');
    let on = 0;
    for (let i = 0; i < 10_000; i++) if (g.dutyOn(p.t + i)) on++;
    expect(on / 10_000).toBeCloseTo(g.onFraction, 2);
  });

  it('stays in full with an unlimited budget (0) and no battery or temperature data', () => {
    const g = new Governor(config({ cpu_share: 0 }), T0);
    const p = new Plant(g, { full: 3.5, reduced: 2, minimal: 1 }, 0.2, 10, 5);
    p.run(30 * 60);
    expect(g.mode).toBe('full');
    expect(g.transitions).toEqual([]);
    expect(g.onFraction).toBe(1);
    expect(g.timeInModeMs(p.t).full).toBe(30 * 60 * 1000);
  });

  it('learns nothing from the tick right after a switch, except a lower bound that aborts a probe at once', () => {
    const g = new Governor(config({ cpu_share: 0.5, min_hold_s: 10 }), T0);
    // Start: the first tick above budget steps down at once.
    expect(g.tick({ nowMs: T0 + 5000, cpuS: 4, wallS: 5 })).toMatchObject({ mode: 'reduced', changed: true, reason: 'cpu 0.80 > budget 0.50' });
    // The mixed tick after a step down is ignored even though it is over budget.
    expect(g.tick({ nowMs: T0 + 10_000, cpuS: 3, wallS: 5 })).toMatchObject({ mode: 'reduced', changed: false });
    expect(g.costEstimates.reduced).toBeUndefined();
    expect(g.tick({ nowMs: T0 + 15_000, cpuS: 2, wallS: 5 }).mode).toBe('reduced');
    expect(g.costEstimates.reduced).toBeCloseTo(0.4);
    // Unreadable CPU figures change nothing.
    expect(g.tick({ nowMs: T0 + 16_000, cpuS: NaN, wallS: 1 }).changed).toBe(false);
    expect(g.tick({ nowMs: T0 + 16_000, cpuS: 1, wallS: 0 }).changed).toBe(false);
  });
});

describe('budget governor: battery and temperature', () => {
  it('walks down the battery ladder as the charge falls, without bouncing at a threshold under ±1 % noise, and charging lifts it', () => {
    const g = new Governor(config({ cpu_share: 0 }), T0);
    const rand = mulberry32(11);
    const noisy = (x: number) => x + (rand() * 2 - 1);
    let t = T0;
    const tick = (batteryPct: number, charging?: boolean) => g.tick({ nowMs: (t += 5000), cpuS: 1, wallS: 5, batteryPct, ...(charging === undefined ? {} : { charging }) });
    const seen: Mode[] = [];
    for (let pct = 100; pct >= 0; pct -= 0.05) {
      const d = tick(noisy(pct), false);
      if (d.changed) seen.push(d.mode);
    }
    console.log(`governor battery 100 → 0 % with ±1 % noise: ${g.transitions.map((x) => `${x.to} (${x.reason})`).join(', ')}`);
    expect(seen).toEqual(['reduced', 'minimal', 'duty_cycled']);
    expect(g.transitions.map((x) => x.reason)).toEqual([expect.stringMatching(/^battery 2\d(\.\d+)?% < 30%$/), expect.stringMatching(/^battery 1\d(\.\d+)?% < 15%$/), expect.stringMatching(/^battery [0-4](\.\d+)?% < 5%$/)]);
    expect(g.onFraction).toBe(DEFAULT_GOVERNOR_CONFIG.duty.min_on);
    // Jitter around 4 % keeps duty_cycled; back up one rung only at ≥ 5 + 3 %; jitter around 16 % keeps minimal (up needs 18 %).
    for (let i = 0; i < 500; i++) tick(noisy(4));
    expect(g.mode).toBe('duty_cycled');
    expect(tick(8.5).mode).toBe('minimal');
    for (let i = 0; i < 500; i++) tick(noisy(16));
    expect(g.mode).toBe('minimal');
    // Charging lifts the constraint at once, whatever the level.
    expect(tick(3, true)).toMatchObject({ mode: 'full', changed: true, reason: 'battery charging' });
    // Unplugged at 50 %: nothing to do. An absent reading keeps the level.
    expect(tick(50, false).mode).toBe('full');
    expect(tick(20, false).mode).toBe('reduced');
    expect(g.tick({ nowMs: (t += 5000), cpuS: 1, wallS: 5 }).mode).toBe('reduced');
    expect(tick(32).mode).toBe('reduced');
    expect(tick(33)).toMatchObject({ mode: 'full', reason: 'battery 33% ≥ 30% + 3%' });
  });

  it('walks down the thermal ladder as the SoC heats and back up only hysteresis_c below each threshold', () => {
    const g = new Governor(config({ cpu_share: 0 }), T0);
    const rand = mulberry32(12);
    let t = T0;
    const temps: number[] = [];
    for (let c = 60; c <= 90; c += 0.02) temps.push(c);
    for (let c = 90; c >= 60; c -= 0.02) temps.push(c);
    for (const c of temps) g.tick({ nowMs: (t += 5000), cpuS: 1, wallS: 5, tempC: c + (rand() * 2 - 1) });
    console.log(`governor SoC 60 → 90 → 60 °C with ±1 °C noise: ${g.transitions.map((x) => `${x.to} (${x.reason})`).join(', ')}`);
    expect(g.transitions.map((x) => x.to)).toEqual(['reduced', 'minimal', 'duty_cycled', 'minimal', 'reduced', 'full']);
    const at = g.transitions.map((x) => Number(/soc (-?[\d.]+)°C/.exec(x.reason)![1]));
    expect(at[0]).toBeGreaterThan(70);
    expect(at[3]).toBeLessThanOrEqual(77);
    expect(at[4]).toBeLessThanOrEqual(72);
    expect(at[5]).toBeLessThanOrEqual(65);
  });

  it('lets the most restrictive constraint win', () => {
    const g = new Governor(config({ cpu_share: 0.5 }), T0);
    const p = new Plant(g, PLANT, 0, 13, 5);
    p.run(5 * 60);
    expect(g.mode).toBe('reduced');
    p.run(60, () => ({ batteryPct: 10, charging: false }));
    expect(g.mode).toBe('minimal');
    expect(g.proposals).toEqual({ cpu: 'reduced', battery: 'minimal', thermal: 'full' });
    p.run(60, () => ({ batteryPct: 10, charging: false, tempC: 85 }));
    expect(g.mode).toBe('duty_cycled');
    p.run(60, () => ({ charging: true, tempC: 50 }));
    expect(g.mode).toBe('reduced');
    expect(g.transitions.at(-1)!.reason).toBe('battery charging; soc 50°C ≤ 70°C − 5°C');
  });

  it('keeps the last 1000 transitions', () => {
    const g = new Governor(config(), T0);
    let t = T0;
    for (let i = 0; i < 1500; i++) g.tick({ nowMs: (t += 1000), cpuS: 0, wallS: 1, batteryPct: 1, charging: i % 2 === 0 });
    expect(g.transitions).toHaveLength(1000);
    expect(g.transitions.at(-1)!.atMs).toBe(t);
  });
});

describe('governor configuration', () => {
  it('accepts the defaults and names the key of each problem', () => {
    expect(validateGovernorConfig(DEFAULT_GOVERNOR_CONFIG)).toEqual([]);
    expect(MODES).toEqual(['full', 'reduced', 'minimal', 'duty_cycled']);
    const bad = {
      ...config(),
      cpu_share: 9,
      headroom: 1,
      battery: { reduced_below: 10, minimal_below: 20, duty_below: 5, hysteresis_pct: 3 },
      thermal: { reduced_above: 80, minimal_above: 75, duty_above: 85, hysteresis_c: -1 },
      duty: { period_s: 120, min_on: 0 },
    };
    const p = validateGovernorConfig(bad);
    for (const key of ['cpu_share', 'headroom', 'battery.minimal_below', 'thermal.minimal_above', 'thermal.hysteresis_c', 'duty.period_s', 'duty.min_on']) {
      expect(p.some((x) => x.startsWith(key))).toBe(true);
    }
    expect(validateGovernorConfig({ ...config(), battery: undefined })).toEqual(['battery must be an object; got undefined']);
    expect(validateGovernorConfig(null)).toHaveLength(1);
    try {
      new Governor(bad as GovernorConfig, T0);
      expect.unreachable();
    } catch (e) {
      expect(isTinyqaError(e, ErrorCode.ConfigInvalid)).toBe(true);
    }
    expect(() => new Governor(config(), T0).setBudget(-1)).toThrow();
  });
});
