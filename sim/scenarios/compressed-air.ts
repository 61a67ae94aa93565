/**
 * A compressed-air header fed by one load/unload screw compressor, three sensors sampled at 10 Hz:
 *   pressure (bar g)        header pressure: a sawtooth between the load (6.5 bar) and unload (7.5 bar)
 *                           set points — rising while the compressor loads, falling with the plant's
 *                           demand while it idles
 *   flow (m³/min)           the plant's demand (free air), metered on the supply line to production:
 *                           a time-compressed shift pattern plus intermittent tools
 *   compressor_kw (kW)      motor input power: ≈ 55 kW loaded, ≈ 17 kW unloaded (after the sump
 *                           blows down)
 *
 * Why 10 Hz: header pressure moves by ~0.01 bar per 100 ms and a load/unload cycle lasts tens of
 * seconds, so 10 Hz resolves the switching edges to 0.1 s and still puts ~300 samples in a sawtooth
 * period; compressed-air monitors and PLC trend logs sample at 1–10 Hz. A 100-sample window is 10 s.
 *
 * Physics (isothermal receiver, free-air flows in m³/min, volumes in m³):
 *   dp/dt = P_ATM / V · (Q_supply − Q_demand − Q_leak) / 60                     [bar/s]
 *   Q_leak = k_leak · (p + P_ATM)       choked flow through an orifice ∝ upstream absolute pressure
 *   the compressor's own pressure switch loads at p ≤ 6.5 and unloads at p ≥ 7.5 (it reads the true
 *   pressure, not our transmitter, so transmitter faults do not change the control)
 * With V = 1.2 m³ (the 1 gal/cfm minimum receiver for a 9.6 m³/min machine) and ≈ 6.6 m³/min of
 * demand + background leaks on average, a sawtooth lasts ≈ 40 s (≈ 70 % loaded): three per 120 s
 * fault cycle.
 *
 * The flow meter sits downstream of the receiver on the line to production, so it sees the demand
 * but not leaks in the compressor room. The injected `leak` is such a leak — a receiver's condensate
 * drain stuck open (≈ 5 mm orifice, ≈ 1.9 m³/min at 7.5 bar): the pressure falls faster than the
 * metered demand explains and the compressor loads longer and more often. No rule child sees that;
 * a model that forecasts pressure from flow and the load state does (episode child `anomaly`).
 *
 * Noise is coloured (AR(1)) plus white, at levels typical of 4–20 mA transmitters and a class-1
 * power meter. Every sample draws the same random numbers whatever faults are on, so a faulted run
 * and a clean run of one seed share the demand and the noise and differ only by the faults.
 */

import { Rng } from '../random.js';
import type { Episode, FaultKind, SampleSource, Scenario } from './scenario.js';

const RATE = 10;
const DT = 1 / RATE;
const CYCLE_S = 120;

const P_ATM = 1.013; // bar
const VOLUME = 1.2; // m³, receiver + header
const FAD = 9.6; // m³/min, free-air delivery when loaded
const P_LOAD = 6.5; // bar g
const P_UNLOAD = 7.5; // bar g
/** Inlet valve: the delivery follows the load state with this time constant (s). */
const TAU_SUPPLY = 1;
/** Loaded input power at 7 bar g (kW), rising ~6 % per bar of discharge pressure. */
const KW_LOADED = 55;
/** Unloaded input power (kW): ~30 % of full load once the sump has blown down. */
const KW_IDLE = 17;
/** Power follows loading within a second, unloading over seconds (sump blowdown). */
const TAU_KW_UP = 0.8;
const TAU_KW_DOWN = 3;
/** Leak coefficients, m³/min per bar absolute: background leaks ≈ 0.4 m³/min, the fault ≈ 1.9 m³/min at 7.5 bar g. */
const K_LEAK_BASE = 0.05;
const K_LEAK_FAULT = 0.22;

/** The shift pattern repeats every 600 s: a working shift compressed into ten minutes (five fault cycles). */
const SHIFT_S = 600;
/** Demand of the always-on consumers and the production load at full output (m³/min). */
const DEMAND_BASE = 3.8;
const DEMAND_PRODUCTION = 2.4;
/** Intermittent tools (blow guns, cylinders): each draws TOOL_Q while on; on/off chances per sample. */
const TOOLS = 4;
const TOOL_Q = 0.35;
const TOOL_ON = 0.01; // mean 10 s off at full production
const TOOL_OFF = 0.02; // mean 5 s on
/** The flow meter's response time (s): a thermal mass-flow sensor smooths the tools' steps. */
const TAU_METER = 1;

// Faults. Episodes start and end on 10 s boundaries where they can, so with 100-sample windows each
// rule fault fills at least one whole window. The leak gets the second half of the cycle to itself
// (no other fault on any channel) so that what catches it is the forecaster, not a rule.
const EPISODES: Episode[] = [
  { fault: 'stuck', channel: 'pressure', startS: 10, endS: 25, expectedChild: 'flatline' },
  { fault: 'missing', channel: 'compressor_kw', startS: 25, endS: 40, expectedChild: 'completeness' },
  { fault: 'spikes', channel: 'flow', startS: 40, endS: 55, expectedChild: 'spike' },
  { fault: 'range', channel: 'pressure', startS: 55, endS: 70, expectedChild: 'validity' },
  { fault: 'leak', channel: 'pressure', startS: 70, endS: 120, expectedChild: 'anomaly' },
];

/** 0 → 1 with zero slope at both ends over x ∈ [0, 1]. */
const smoothstep = (x: number) => {
  const u = Math.min(1, Math.max(0, x));
  return u * u * (3 - 2 * u);
};

/** Production output over the shift (u ∈ [0, 1)): ramp-up, full output with a break mid-shift, ramp-down. */
export function shiftLoad(u: number): number {
  const ramps = smoothstep(u / 0.1) * smoothstep((1 - u) / 0.1);
  const brk = 1 - 0.6 * Math.exp(-(((u - 0.5) / 0.04) ** 2));
  return ramps * brk;
}

class CompressedAirSource implements SampleSource {
  private k = 0;
  private readonly rng: Rng;
  // Plant state.
  private p = 7; // bar g
  private loaded = true;
  private supply = FAD;
  private kw = KW_LOADED;
  private readonly tools = new Uint8Array(TOOLS);
  private arDemand = 0;
  private meter = DEMAND_BASE;
  // Sensor noise state.
  private arP = 0;
  private arF = 0;
  private arK = 0;
  private held = NaN;

  constructor(
    seed: number,
    private readonly faults: ReadonlySet<FaultKind>,
    private readonly developing?: DevelopingLeak,
  ) {
    this.rng = new Rng(seed);
  }

  /** How far the developing leak's orifice is open at t (0..1). */
  private opening(t: number): number {
    const d = this.developing;
    if (!d || t < d.startS) return 0;
    return d.rampS > 0 ? Math.min(1, (t - d.startS) / d.rampS) : 1;
  }

  private active(fault: FaultKind, tCycle: number): boolean {
    if (!this.faults.has(fault)) return false;
    for (const e of EPISODES) if (e.fault === fault && tCycle >= e.startS && tCycle < e.endS) return true;
    return false;
  }

  next(out: Float64Array): void {
    const t = this.k / RATE; // a division, so t ≥ startS is exact at the episode bounds
    const tc = t % CYCLE_S;
    const r = this.rng;

    // Demand: the shift pattern, intermittent tools (switched on more often at full output), and a
    // slow wander of everything else. Every draw happens on every sample (see the header).
    const production = shiftLoad((t % SHIFT_S) / SHIFT_S);
    let toolsOn = 0;
    for (let i = 0; i < TOOLS; i++) {
      const u = r.next();
      if (this.tools[i]) {
        if (u < TOOL_OFF) this.tools[i] = 0;
      } else if (u < TOOL_ON * production) this.tools[i] = 1;
      toolsOn += this.tools[i]!;
    }
    this.arDemand = 0.98 * this.arDemand + 0.03 * r.gauss();
    const demand = Math.max(0.5, DEMAND_BASE + DEMAND_PRODUCTION * production + TOOL_Q * toolsOn + this.arDemand);

    // The receiver (explicit Euler: dp per step is ~0.01 bar, far inside stability).
    const kLeak = K_LEAK_BASE + Math.max(this.active('leak', tc) ? 1 : 0, this.opening(t)) * K_LEAK_FAULT;
    const leak = kLeak * (this.p + P_ATM);
    this.supply += ((this.loaded ? FAD : 0) - this.supply) * (1 - Math.exp(-DT / TAU_SUPPLY));
    this.p += ((P_ATM / VOLUME) * (this.supply - demand - leak) * DT) / 60;
    if (this.loaded && this.p >= P_UNLOAD) this.loaded = false;
    else if (!this.loaded && this.p <= P_LOAD) this.loaded = true;
    const kwTarget = this.loaded ? KW_LOADED * (1 + 0.06 * (this.p - 7)) : KW_IDLE;
    this.kw += (kwTarget - this.kw) * (1 - Math.exp(-DT / (kwTarget > this.kw ? TAU_KW_UP : TAU_KW_DOWN)));
    this.meter += (demand - this.meter) * (1 - Math.exp(-DT / TAU_METER));

    // Sensors.
    this.arP = 0.95 * this.arP + 0.002 * r.gauss();
    this.arF = 0.95 * this.arF + 0.01 * r.gauss();
    this.arK = 0.9 * this.arK + 0.08 * r.gauss();
    let pressure = this.p + this.arP + 0.004 * r.gauss();
    let flow = this.meter + this.arF + 0.03 * r.gauss();
    let kw = this.kw + this.arK + 0.15 * r.gauss();
    const uSpike = r.next();
    const gRange = r.gauss();

    if (this.active('stuck', tc)) {
      if (Number.isNaN(this.held)) this.held = Math.fround(pressure);
      pressure = this.held;
    } else this.held = NaN;
    // A NAMUR NE 43 failure signal (< 3.6 mA) from an open loop: 3.5 mA on a 0–16 bar range.
    if (this.active('range', tc)) pressure = -0.5 + 0.002 * gRange;
    // The power meter stops answering its Modbus poll.
    if (this.active('missing', tc)) kw = NaN;
    // Condensate droplets hitting the thermal flow sensor cool it: a short high reading every 1.5 s.
    if (this.active('spikes', tc) && this.k % 15 === 0) flow += 1.5 + 1.5 * uSpike;

    out[0] = pressure;
    out[1] = flow;
    out[2] = kw;
    this.k++;
  }
}

/**
 * A line developing a leak, for evaluations of adaptation (a fault that must not be learned away):
 * no leak before `startS`; from then the drain's orifice opens linearly over `rampS` seconds to the
 * size of the `leak` episode's and stays open. Same plant, demand and noise draws as the scenario.
 */
export interface DevelopingLeak {
  startS: number;
  rampS: number;
}

export function developingLeakSource(seed: number, leak: DevelopingLeak): SampleSource {
  return new CompressedAirSource(seed, new Set(), leak);
}

export const compressedAir: Scenario = {
  name: 'compressed-air',
  description:
    '3-channel compressed-air header (pressure, demand flow, compressor power) at 10 Hz; load/unload sawtooth 6.5–7.5 bar; ' +
    'stuck, missing, droplet-spike, under-range and air-leak faults every 120 s',
  fw: 'sim-air/1.0.0',
  device: 'air-01',
  channels: [
    { name: 'pressure', unit: 'bar', min: 0, max: 16 },
    { name: 'flow', unit: 'm³/min', min: 0, max: 15 },
    { name: 'compressor_kw', unit: 'kW', min: 0, max: 90 },
  ],
  rateHz: RATE,
  cycleS: CYCLE_S,
  episodes: EPISODES,
  createSource: (seed, faults) => new CompressedAirSource(seed, faults),
};
