/**
 * A centrifugal pump skid with three sensors sampled at 100 Hz:
 *   pressure (bar)     4 bar discharge, 1.5 Hz pulsation from the impeller/valve stroke, slow load swings
 *   flow (L/min)       ~120 L/min, moving against pressure along the pump curve
 *   motor_temp (°C)    warms from 48 °C toward 62 °C over minutes, slow thermal wobble
 * Noise is coloured (AR(1)) plus white, at levels typical of 4–20 mA industrial transmitters.
 * Faults repeat every 30 s cycle: a stuck pressure transmitter, a burst of missing flow readings,
 * an EMI spike train on the motor temperature, and a flow transmitter over-ranging.
 */

import { Rng } from '../random.js';
import type { Episode, FaultKind, SampleSource, Scenario } from './scenario.js';

const RATE = 100;

const EPISODES: Episode[] = [
  { fault: 'stuck', channel: 'pressure', startS: 6, endS: 9.5, expectedChild: 'flatline' },
  { fault: 'missing', channel: 'flow', startS: 13, endS: 15.5, expectedChild: 'completeness' },
  { fault: 'spikes', channel: 'motor_temp', startS: 19, endS: 21.5, expectedChild: 'spike' },
  { fault: 'range', channel: 'flow', startS: 25, endS: 26.5, expectedChild: 'validity' },
];

class PumpSource implements SampleSource {
  private k = 0;
  private readonly rng: Rng;
  private arP = 0;
  private arF = 0;
  private arT = 0;
  private held = NaN;

  constructor(
    seed: number,
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
    const t = this.k / RATE;
    const tc = t % pump.cycleS;
    const r = this.rng;
    this.arP = 0.95 * this.arP + 0.004 * r.gauss();
    this.arF = 0.95 * this.arF + 0.1 * r.gauss();
    this.arT = 0.99 * this.arT + 0.005 * r.gauss();
    const load = 0.2 * Math.sin((2 * Math.PI * t) / 23);
    const pulse = 0.12 * Math.sin(2 * Math.PI * 1.5 * t);
    let pressure = 4 + load + pulse + this.arP + 0.01 * r.gauss();
    let flow = 120 - 25 * (load + 0.5 * pulse) + this.arF + 0.3 * r.gauss();
    let temp = 48 + 14 * (1 - Math.exp(-t / 240)) + 0.4 * Math.sin((2 * Math.PI * t) / 37) + this.arT + 0.03 * r.gauss();

    if (this.active('stuck', tc)) {
      if (Number.isNaN(this.held)) this.held = Math.fround(pressure);
      pressure = this.held;
    } else this.held = NaN;
    if (this.active('missing', tc)) flow = NaN;
    if (this.active('range', tc)) flow = 312 + 2 * r.gauss();
    // EMI: every 0.25 s one sample jumps by 8–16 °C, alternating sign.
    if (this.active('spikes', tc) && this.k % 25 === 0) temp += (this.k % 50 === 0 ? 1 : -1) * (8 + 8 * r.next());

    out[0] = pressure;
    out[1] = flow;
    out[2] = temp;
    this.k++;
  }
}

export const pump: Scenario = {
  name: 'pump',
  description: '3-channel pump (pressure, flow, motor temperature) at 100 Hz; stuck, missing, spike-train and over-range faults every 30 s',
  fw: 'sim-pump/1.0.0',
  device: 'pump-01',
  channels: [
    { name: 'pressure', unit: 'bar', min: 0, max: 10 },
    { name: 'flow', unit: 'L/min', min: 0, max: 300 },
    { name: 'motor_temp', unit: '°C', min: -20, max: 120 },
  ],
  rateHz: RATE,
  cycleS: 30,
  episodes: EPISODES,
  createSource: (seed, faults) => new PumpSource(seed, faults),
};
