/**
 * A household smart meter read through its consumer port (a DSMR/P1- or HAN-style serial port that
 * sends a telegram every second); the gateway reports each minute's mean. Two channels:
 *   import_kw (kW)    net active power from the grid; negative = export (only once there is PV)
 *   voltage_v (V)     phase voltage at the meter: 230 V nominal, lower while the street and the house
 *                     draw, higher while the house exports
 *
 * Time compression: one sample is one minute of household time and the scenario plays at 1 Hz, so a
 * simulated second is a household minute, a 60-sample window an hour, and a day SAMPLES_PER_DAY =
 * 1440 samples (24 min at --speed 1). Day 0 is a Monday; days 5 and 6 of every week are the weekend.
 *
 * Household load (kW), all from the seed. Appliances switch at any second, so a minute that holds an
 * edge reads the on-share of the minute:
 *   base          always-on consumers (router, standby, boiler electronics) ≈ 0.13 kW, ±15 % per day
 *   fridge        a 70 W compressor cycling 14–24 min on / 26–42 min off (≈ 35 % duty)
 *   activity      lighting, TV, computers, small kitchen loads: up to ≈ 0.55 kW × an occupancy profile
 *                 (weekdays: a 07:00 breakfast peak, an empty house by day, the 18:00–21:00 evening
 *                 peak; weekends: a late morning, people home all day), × a per-day factor, plus a
 *                 slow AR(1) wander that grows with occupancy
 *   kettle        2.2 kW for 5–6 min (a full 1.7 L: 1.7 kg · 4.19 kJ/kg·K · 90 K ≈ 0.64 MJ ≈ 4.9 min,
 *                 plus losses), ≈ 4 a day, more likely the more people are awake
 *   oven          2.4 kW element: a 10–14 min preheat, then its electronic thermostat cycles the
 *                 element within the minute, so the minute means hold ≈ 45 % (drifting by a few %)
 *                 until the 35–75 min cook ends; around 17:45 on 60 % of weekdays, also around 12:15
 *                 at weekends
 *   washing m.    2.0 kW heating for 12–20 min, 0.2 kW tumbling for 45 min, 0.45 kW spin for 9 min;
 *                 on 35 % of weekdays and 80 % of weekend days, started between 07:00 and 20:00
 * Why no appliance runs for only a minute or three: the spike child flags a value that stands out
 * against the medians of the three samples either side, so a run covering fewer than four whole
 * minutes (a cup boiled, a microwave, an oven element cycling in minute-long runs) is an impulse at
 * this resolution. This household boils full kettles and has an oven with an electronic thermostat,
 * so clean windows stay clean for the rule children, but for the rare overlap of two appliances'
 * edges (a kettle straddling the oven's preheat end).
 *
 * Voltage (V): V = V_TX − ΔV_street − R · I_house + wander + noise
 *   V_TX = 237.5 V     the distribution transformer's no-load secondary (off-load tap at +2.5 %)
 *   ΔV_street          the feeder's drop under the street's load: 1.4 V at night to 7 V in the
 *                      evening peak (the neighbours keep the same hours as this house)
 *   R · I_house        the house's own current through the service cable and its share of the feeder,
 *                      R = 0.3 Ω: ≈ 1.3 V per kW drawn, and the same rise per kW exported
 *   wander, noise      AR(1) (σ ≈ 0.5 V, the MV network and the neighbours' switching) plus 0.15 V white
 *
 * The benign drift: from day `solarDay` (default SOLAR_DAY = 7) a 5 kWp rooftop PV system feeds the
 * house. Its AC output is a clear-sky bell (sunrise 06:30, sunset 19:30, ≈ 4 kW at 13:00: a
 * performance ratio of 0.8 for temperature, inverter and soiling losses; a 4.6 kW inverter clips it)
 * × the sky's transmittance: each day is sunny (45 %, ≈ 0.92), broken cloud (30 %, ≈ 0.6 with
 * clouds passing over minutes) or overcast (25 %, ≈ 0.25), plus an AR(1) cloud flicker with a 6 min
 * time constant. The midday import falls and turns negative (export) on sunny days, and the voltage
 * rises by up to ≈ 6 V; nights are unchanged. Nothing is wrong with the meter: a QA system should
 * follow the new level, not alarm on it. createSmartMeter({ solarDay: Infinity }) is the same house
 * without panels — the drift-free control. Every sample draws the same random numbers whatever the
 * panels and faults, so the two differ only where the sun shines and a faulted run only in its
 * episodes.
 *
 * Faults repeat every day (cycle = 1440 s), each filling whole 60-sample windows:
 *   02:00–04:00 stuck import_kw     the gateway re-sends its last value after the meter's port stalls
 *                                   (flatline)
 *   05:00–06:00 missing voltage_v   the meter leaves the voltage object out of its telegrams
 *                                   (completeness)
 *   17:00–19:00 spikes voltage_v    bit errors on the serial line: older telegram versions carry no
 *                                   CRC, so a flipped bit in the tens digit reads ±10, 20 or 40 V off,
 *                                   every sixth minute (spike)
 *   21:00–22:00 range import_kw     a reader update reports watts under the kW label: the evening
 *                                   import of ≥ 0.05 kW reads ≥ 50 "kW", above the 20 kW range (validity)
 * None falls in the 10:00–16:00 solar core, so the drift can be measured with the faults on.
 */

import { Rng } from '../random.js';
import type { Episode, FaultKind, SampleSource, Scenario } from './scenario.js';

const RATE = 1;
/** Samples (household minutes) in a day. */
export const SAMPLES_PER_DAY = 1440;
/** The day the PV panels go in by default (day 0 is a Monday: a week of history first). */
export const SOLAR_DAY = 7;
const CYCLE_S = SAMPLES_PER_DAY / RATE;

// Household load, kW; durations in minutes as [shortest, spread]: shortest + spread · uniform.
const BASE_KW = 0.13;
const BASE_DAY_SPREAD = 0.15;
const FRIDGE_KW = 0.07;
const FRIDGE_ON_MIN = [14, 10] as const;
const FRIDGE_OFF_MIN = [26, 16] as const;
const ACTIVITY_KW = 0.55;
const ACTIVITY_DAY_SPREAD = 0.15;
/** Activity wander: AR(1) per minute, innovation = floor + slope × occupancy (kW). */
const ACT_PHI = 0.9;
const ACT_INNOV_FLOOR = 0.01;
const ACT_INNOV_OCC = 0.025;
/** Minute-to-minute scatter of the small loads the profile does not model (kW). */
const METER_NOISE_KW = 0.012;
/** Loads never go below what the standby electronics draw (kW). */
const LOAD_FLOOR_KW = 0.05;

const KETTLE_KW = 2.2;
const KETTLE_MIN = [5, 1] as const;
const KETTLES_PER_DAY = 4;
/** Nobody reboils a kettle that has just boiled: no new start within this many minutes of the last end. */
const KETTLE_REST_MIN = 10;
const OVEN_KW = 2.4;
const OVEN_PREHEAT_MIN = [10, 4] as const;
const OVEN_COOK_MIN = [35, 40] as const;
const OVEN_HOLD_DUTY = 0.45;
/** The hold duty's minute-to-minute drift (the thermostat's cycle beats against the minute): AR(1), σ ≈ 0.03. */
const OVEN_DUTY_PHI = 0.85;
const OVEN_DUTY_INNOV = 0.015;
const OVEN_P_DAY = { weekday: 0.6, weekend: 0.7 };
const WASH_HEAT_KW = 2.0;
const WASH_HEAT_MIN = [12, 8] as const;
const WASH_TUMBLE_KW = 0.2;
const WASH_TUMBLE_MIN = 45;
const WASH_SPIN_KW = 0.45;
const WASH_SPIN_MIN = 9;
const WASH_P_DAY = { weekday: 0.35, weekend: 0.8 };
const WASH_FROM_H = 7;
const WASH_UNTIL_H = 20;

// PV.
const PV_KWP = 5;
/** Performance ratio: DC nameplate to AC at the meter under a clear noon sky. */
const PV_PR = 0.8;
const PV_INVERTER_KW = 4.6;
const SUNRISE_H = 6.5;
const SUNSET_H = 19.5;
/** Exponent of the clear-sky bell sin(π x)^a: air mass makes mornings and evenings weaker than the sine. */
const PV_BELL_EXP = 1.3;
/** Sky types: probability, mean transmittance, its day-to-day spread, and the cloud flicker σ. */
const SKIES = [
  { p: 0.45, mean: 0.92, spread: 0.04, flicker: 0.03 }, // sunny
  { p: 0.3, mean: 0.6, spread: 0.1, flicker: 0.22 }, // broken cloud
  { p: 0.25, mean: 0.25, spread: 0.06, flicker: 0.05 }, // overcast
] as const;
const CLOUD_PHI = Math.exp(-1 / 6); // 6 min time constant
const TRANSMIT_MIN = 0.03;
const TRANSMIT_MAX = 1.08; // cloud-edge enhancement

// Voltage.
const V_TX = 237.5;
const V_NOMINAL = 230;
const STREET_DROP_V = 7;
const STREET_NIGHT_SHARE = 0.2;
const R_SERVICE_OHM = 0.3;
const V_PHI = 0.97;
const V_INNOV = 0.12; // σ ≈ 0.5 V
const V_NOISE = 0.15;

// Faults: on whole hours, so every episode fills whole 60-sample windows.
const H = 60;
const EPISODES: Episode[] = [
  { fault: 'stuck', channel: 'import_kw', startS: 2 * H, endS: 4 * H, expectedChild: 'flatline' },
  { fault: 'missing', channel: 'voltage_v', startS: 5 * H, endS: 6 * H, expectedChild: 'completeness' },
  { fault: 'spikes', channel: 'voltage_v', startS: 17 * H, endS: 19 * H, expectedChild: 'spike' },
  { fault: 'range', channel: 'import_kw', startS: 21 * H, endS: 22 * H, expectedChild: 'validity' },
];
/** The reader's unit mix-up: watts under the kW label. */
const RANGE_FACTOR = 1000;
const SPIKE_EVERY = 6;
const SPIKE_V = [10, 20, 40] as const;

/** Occupancy (0–1, share of the household awake and active) at each hour, linearly interpolated. */
const OCC_WEEKDAY = [0.1, 0.05, 0.04, 0.04, 0.04, 0.05, 0.35, 0.85, 0.55, 0.2, 0.15, 0.15, 0.2, 0.15, 0.15, 0.2, 0.35, 0.65, 0.9, 1, 0.95, 0.85, 0.55, 0.25, 0.1];
const OCC_WEEKEND = [0.15, 0.08, 0.05, 0.04, 0.04, 0.04, 0.05, 0.2, 0.6, 0.85, 0.75, 0.6, 0.7, 0.6, 0.5, 0.5, 0.55, 0.7, 0.9, 1, 0.95, 0.85, 0.65, 0.35, 0.15];

export const isWeekend = (day: number) => day % 7 >= 5;

/** Occupancy at `minute` of the day (0–1439). */
export function occupancy(minute: number, weekend: boolean): number {
  const knots = weekend ? OCC_WEEKEND : OCC_WEEKDAY;
  const h = minute / 60;
  const i = Math.min(23, Math.floor(h));
  const f = h - i;
  return knots[i]! * (1 - f) + knots[i + 1]! * f;
}

const bump = (h: number, centre: number, width: number) => Math.exp(-0.5 * ((h - centre) / width) ** 2);

/** When the oven is switched on, relative (weekdays: dinner; weekends: lunch too). */
function cookProfile(minute: number, weekend: boolean): number {
  const h = minute / 60;
  return bump(h, 17.75, 0.5) + (weekend ? 0.7 * bump(h, 12.25, 0.4) : 0);
}

function washProfile(minute: number, weekend: boolean): number {
  const h = minute / 60;
  return h >= WASH_FROM_H && h < WASH_UNTIL_H ? occupancy(minute, weekend) : 0;
}

/** Per-minute start probability scale so that a profile integrated over the day gives `perDay` events (Poisson). */
function rateFor(profile: (m: number, weekend: boolean) => number, weekend: boolean, perDay: number): number {
  let s = 0;
  for (let m = 0; m < SAMPLES_PER_DAY; m++) s += profile(m, weekend);
  return perDay / s;
}
/** At most one use a day with probability P: a Poisson rate of −ln(1 − P). */
const oncePerDay = (p: number) => -Math.log(1 - p);
const KETTLE_RATE = [rateFor(occupancy, false, KETTLES_PER_DAY), rateFor(occupancy, true, KETTLES_PER_DAY)] as const;
const OVEN_RATE = [rateFor(cookProfile, false, oncePerDay(OVEN_P_DAY.weekday)), rateFor(cookProfile, true, oncePerDay(OVEN_P_DAY.weekend))] as const;
const WASH_RATE = [rateFor(washProfile, false, oncePerDay(WASH_P_DAY.weekday)), rateFor(washProfile, true, oncePerDay(WASH_P_DAY.weekend))] as const;

/** Clear-sky AC output of the PV system at `minute` (kW), before clouds and clipping. */
export function clearSkyKw(minute: number): number {
  const x = (minute / 60 - SUNRISE_H) / (SUNSET_H - SUNRISE_H);
  if (x <= 0 || x >= 1) return 0;
  return PV_KWP * PV_PR * Math.sin(Math.PI * x) ** PV_BELL_EXP;
}

/** A duration in [shortest, shortest + spread) minutes from a uniform draw. */
const span = (u: number, [shortest, spread]: readonly [number, number]) => shortest + spread * u;

/** The share of the minute [k, k + 1) that lies inside [from, to). */
const share = (k: number, from: number, to: number) => Math.max(0, Math.min(k + 1, to) - Math.max(k, from));

class SmartMeterSource implements SampleSource {
  private k = 0;
  private readonly rng: Rng;
  // Per-day state.
  private baseKw = BASE_KW;
  private activityFactor = 1;
  private sky: (typeof SKIES)[number] = SKIES[0];
  private skyMean: number = SKIES[0].mean;
  private ovenUsed = false;
  private washUsed = false;
  // Appliances: switching times in minutes since the start (fractional: they switch at any second).
  private fridgeOn = false;
  private fridgeSwitch = 0;
  private kettleFrom = -1;
  private kettleTo = -Infinity;
  private ovenFrom = -1;
  private ovenHold = -1;
  private ovenTo = -1;
  private washFrom = -1;
  private washTumble = -1;
  private washSpin = -1;
  private washTo = -1;
  // Slow states.
  private arAct = 0;
  private arOven = 0;
  private cloud = 0;
  private arV = 0;
  private held = NaN;

  constructor(
    seed: number,
    private readonly solarDay: number,
    private readonly faults: ReadonlySet<FaultKind>,
  ) {
    this.rng = new Rng(seed);
  }

  private active(fault: FaultKind, tCycle: number): boolean {
    if (!this.faults.has(fault)) return false;
    for (const e of EPISODES) if (e.fault === fault && tCycle >= e.startS && tCycle < e.endS) return true;
    return false;
  }

  next(out: Float64Array): void {
    const k = this.k;
    const t = k / RATE;
    const tc = t % CYCLE_S;
    const minute = k % SAMPLES_PER_DAY;
    const day = Math.floor(k / SAMPLES_PER_DAY);
    const weekend = isWeekend(day);
    const we = weekend ? 1 : 0;
    const r = this.rng;

    // A new day: its base load, how busy the household is, and the sky. Drawn on every day, panels or not.
    if (minute === 0) {
      this.baseKw = BASE_KW * (1 + BASE_DAY_SPREAD * Math.max(-2, Math.min(2, r.gauss())));
      this.activityFactor = 1 + ACTIVITY_DAY_SPREAD * Math.max(-2, Math.min(2, r.gauss()));
      const u = r.next();
      this.sky = u < SKIES[0].p ? SKIES[0] : u < SKIES[0].p + SKIES[1].p ? SKIES[1] : SKIES[2];
      this.skyMean = this.sky.mean + this.sky.spread * Math.max(-2, Math.min(2, r.gauss()));
      this.ovenUsed = false;
      this.washUsed = false;
    }

    // Every minute draws the same numbers, whatever runs (see the header).
    const uFridge = r.next();
    const uKettle = r.next();
    const uKettleAt = r.next();
    const uKettleLen = r.next();
    const uOven = r.next();
    const uOvenAt = r.next();
    const uOvenHeat = r.next();
    const uOvenCook = r.next();
    const gOven = r.gauss();
    const uWash = r.next();
    const uWashAt = r.next();
    const uWashLen = r.next();
    const gAct = r.gauss();
    const gMeter = r.gauss();
    const gCloud = r.gauss();
    const gV = r.gauss();
    const gVNoise = r.gauss();
    const uSpike = r.next();

    const occ = occupancy(minute, weekend);

    // Fridge: alternate on and off runs (at most one switch a minute: every run is ≥ 14 min).
    let fridge = this.fridgeOn ? 1 : 0;
    if (this.fridgeSwitch < k + 1) {
      const before = Math.max(0, this.fridgeSwitch - k);
      this.fridgeOn = !this.fridgeOn;
      this.fridgeSwitch += span(uFridge, this.fridgeOn ? FRIDGE_ON_MIN : FRIDGE_OFF_MIN);
      fridge = fridge * before + (this.fridgeOn ? 1 : 0) * (1 - before);
    }

    // Kettle, oven and washing machine start at a random second of this minute.
    if (k >= this.kettleTo + KETTLE_REST_MIN && uKettle < KETTLE_RATE[we] * occ) {
      this.kettleFrom = k + uKettleAt;
      this.kettleTo = this.kettleFrom + span(uKettleLen, KETTLE_MIN);
    }
    if (k >= this.ovenTo && !this.ovenUsed && uOven < OVEN_RATE[we] * cookProfile(minute, weekend)) {
      this.ovenUsed = true;
      this.ovenFrom = k + uOvenAt;
      this.ovenHold = this.ovenFrom + span(uOvenHeat, OVEN_PREHEAT_MIN);
      this.ovenTo = this.ovenFrom + span(uOvenCook, OVEN_COOK_MIN);
    }
    if (k >= this.washTo && !this.washUsed && uWash < WASH_RATE[we] * washProfile(minute, weekend)) {
      this.washUsed = true;
      this.washFrom = k + uWashAt;
      this.washTumble = this.washFrom + span(uWashLen, WASH_HEAT_MIN);
      this.washSpin = this.washTumble + WASH_TUMBLE_MIN;
      this.washTo = this.washSpin + WASH_SPIN_MIN;
    }
    this.arOven = OVEN_DUTY_PHI * this.arOven + OVEN_DUTY_INNOV * gOven;
    const duty = OVEN_HOLD_DUTY + this.arOven;
    const appliances =
      KETTLE_KW * share(k, this.kettleFrom, this.kettleTo) +
      OVEN_KW * (share(k, this.ovenFrom, this.ovenHold) + duty * share(k, this.ovenHold, this.ovenTo)) +
      WASH_HEAT_KW * share(k, this.washFrom, this.washTumble) +
      WASH_TUMBLE_KW * share(k, this.washTumble, this.washSpin) +
      WASH_SPIN_KW * share(k, this.washSpin, this.washTo);

    this.arAct = ACT_PHI * this.arAct + (ACT_INNOV_FLOOR + ACT_INNOV_OCC * occ) * gAct;
    const load = Math.max(LOAD_FLOOR_KW, this.baseKw + FRIDGE_KW * fridge + ACTIVITY_KW * occ * this.activityFactor + this.arAct + appliances);

    // PV: the cloud flicker runs every minute; the panels exist only from solarDay on.
    this.cloud = CLOUD_PHI * this.cloud + Math.sqrt(1 - CLOUD_PHI * CLOUD_PHI) * this.sky.flicker * gCloud;
    const transmittance = Math.min(TRANSMIT_MAX, Math.max(TRANSMIT_MIN, this.skyMean + this.cloud));
    const pv = k >= this.solarDay * SAMPLES_PER_DAY ? Math.min(PV_INVERTER_KW, clearSkyKw(minute) * transmittance) : 0;

    const net = load - pv;
    let importKw = net + METER_NOISE_KW * gMeter;

    this.arV = V_PHI * this.arV + V_INNOV * gV;
    const street = STREET_DROP_V * (STREET_NIGHT_SHARE + (1 - STREET_NIGHT_SHARE) * occ);
    let voltage = V_TX - street - (R_SERVICE_OHM * net * 1000) / V_NOMINAL + this.arV + V_NOISE * gVNoise;

    if (this.active('stuck', tc)) {
      if (Number.isNaN(this.held)) this.held = Math.fround(importKw);
      importKw = this.held;
    } else this.held = NaN;
    if (this.active('range', tc)) importKw *= RANGE_FACTOR;
    if (this.active('missing', tc)) voltage = NaN;
    if (this.active('spikes', tc) && k % SPIKE_EVERY === 0) {
      voltage += (uSpike < 0.5 ? 1 : -1) * SPIKE_V[Math.floor(uSpike * 6) % 3]!;
    }

    out[0] = importKw;
    out[1] = voltage;
    this.k++;
  }
}

export interface SmartMeterOptions {
  /** Day the PV panels go in (day 0 = the first day; fractions allowed); Infinity = never. Default SOLAR_DAY. */
  solarDay?: number;
}

/** The smart-meter scenario with the panels installed on `solarDay` (Infinity: the drift-free control). */
export function createSmartMeter(o: SmartMeterOptions = {}): Scenario {
  const solarDay = o.solarDay ?? SOLAR_DAY;
  if (Number.isNaN(solarDay) || solarDay < 0) throw new RangeError(`solarDay must be ≥ 0 or Infinity, got ${solarDay}`);
  const pv = Number.isFinite(solarDay) ? `from day ${solarDay} a ${PV_KWP} kWp PV system cuts the midday import (export on sunny days) — benign drift, nights unchanged` : 'no PV (drift-free control)';
  return {
    name: 'smart-meter',
    description:
      `2-channel household smart meter (net import kW, voltage) read each household minute, played at 1 Hz (1440 samples a day); ` +
      `base load, fridge, morning/evening peaks, weekday/weekend, kettle/oven/washing machine; ${pv}; ` +
      `stuck, missing, corrupted-digit spike and W-as-kW range faults every day`,
    fw: 'sim-meter/1.0.0',
    device: 'meter-01',
    channels: [
      // A 63 A single-phase supply draws ≤ 14.5 kW; export down to −10 kW admits any rooftop system.
      { name: 'import_kw', unit: 'kW', min: -10, max: 20 },
      { name: 'voltage_v', unit: 'V', min: 0, max: 300 },
    ],
    rateHz: RATE,
    cycleS: CYCLE_S,
    episodes: EPISODES,
    createSource: (seed, faults) => new SmartMeterSource(seed, solarDay, faults),
  };
}

export const smartMeter: Scenario = createSmartMeter();
