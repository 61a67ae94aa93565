/**
 * `tinyqa eval faults`: the fault-injection suite (DESIGN §8). For every fault kind and magnitude,
 * the shipped scenario is replayed clean, then with the fault injected into one channel over known
 * spans, through the same pipeline the runtime uses (built by the composition root). Reported per
 * (fault, magnitude):
 *   recall            share of fault spans whose windows fail the stream's parent at least once
 *                     within the span (one detection per injected episode)
 *   false_alarm_rate  share of windows that fail on the clean replay of the same seed
 *   delay_windows     median windows from the span's first window to its first failing window
 * The clean replay uses the same seed and no injected faults, so it is the matching control.
 */

import { validateConfig, type TinyqaConfig } from '../../runtime/config/schema.js';
import type { FrameHeader } from '../../runtime/framing/frame.js';
import type { Hello } from '../../runtime/framing/messages.js';
import { verdictFails, type Verdict } from '../../runtime/qa/types.js';
import { createOfflinePipeline } from '../../runtime/root.js';
import type { Pipeline } from '../../runtime/pipeline/pipeline.js';
import { applyFault, faultEpisodes, INJECTED_FAULTS, MAGNITUDES, noiseSigma, type InjectedFault } from '../faults.js';
import { Rng } from '../random.js';
import { getScenario } from '../scenarios/index.js';
import type { FaultKind, Scenario } from '../scenarios/scenario.js';

export interface FaultResult {
  fault: InjectedFault;
  magnitude: number;
  unit: string;
  documented: boolean;
  recall: number;
  false_alarm_rate: number;
  delay_windows: number | null;
  episodes: number;
}

export interface FaultsReport {
  scenario: string;
  /** The calibration profile judged with, or null for the default graph. */
  profile: string | null;
  seed: number;
  window: number;
  clean_windows: number;
  false_alarm_rate: number;
  faults: FaultResult[];
  targets: { recall_hard: number; recall_soft: number; false_alarm_rate: number };
  elapsed_s: number;
}

export interface Replay {
  hello: Hello;
  times: Float64Array;
  /** values[c][i] */
  values: Float64Array[];
  periodMs: number;
}

function cleanReplay(scenarioName: string, seconds: number, seed: number): Replay {
  const s = getScenario(scenarioName);
  return scenarioReplay(s, Math.round(seconds * s.rateHz), seed);
}

/** `samples` samples of a scenario as a replay (all channels), deterministic from the seed. */
export function scenarioReplay(s: Scenario, samples: number, seed: number, faults: ReadonlySet<FaultKind> = new Set()): Replay {
  const C = s.channels.length;
  const src = s.createSource(seed, faults);
  const one = new Float64Array(C);
  const values = Array.from({ length: C }, () => new Float64Array(samples));
  const times = new Float64Array(samples);
  const periodMs = 1000 / s.rateHz;
  for (let i = 0; i < samples; i++) {
    src.next(one);
    for (let c = 0; c < C; c++) values[c]![i] = Math.fround(one[c]!);
    times[i] = 1_700_000_000_000 + i * periodMs;
  }
  return { hello: { type: 'hello', fw: s.fw, device: s.device, channels: s.channels, rate_hz: s.rateHz, batch: 10, heartbeat_ms: 1000, commands: [], proto_min: 1 }, times, values, periodMs };
}

/** Runs a replay through the offline pipeline; returns verdicts per stream in order. */
function judge(r: Replay, windowSize: number, qa?: Record<string, unknown>): Map<string, Verdict[]> {
  const config = validateConfig({ device: r.hello.device, serial: { path: '/dev/null' }, window: { size: windowSize, hop: windowSize }, ...(qa ? { qa } : {}), log: { level: 'silent' } });
  return judgeReplay(r, config);
}

/** Runs a replay through the offline pipeline built from `config` (tumbling windows). */
export function judgeReplay(r: Replay, config: Readonly<TinyqaConfig>): Map<string, Verdict[]> {
  const out = new Map<string, Verdict[]>();
  const pipeline = createOfflinePipeline(config, (v) => {
    const list = out.get(v.stream) ?? [];
    list.push(structuredClone(v));
    out.set(v.stream, list);
  });
  pipeline.handle(HEADER, r.hello);
  feedReplay(pipeline, r);
  return out;
}

/** The frame header the offline feeds hand the pipeline (device times are already wall times). */
const HEADER: FrameHeader = { version: 1, incompat_flags: 0, compat_flags: 0, type: 1, seq: 0, time_ms: 0 };

/**
 * Hands samples [from, to) of a replay to a pipeline as the link would, in SAMPLES batches of 10
 * (`from` a multiple of 10; the caller sends the HELLO first). Jitter moves individual timestamps and
 * SAMPLES carry one start time and a period, so a jittered batch goes one sample per message.
 */
export function feedReplay(pipeline: Pick<Pipeline, 'handle'>, r: Replay, from = 0, to = r.times.length): void {
  const h = { ...HEADER };
  const C = r.values.length;
  const batch = 10;
  const buf = new Float32Array(batch * C);
  const periodUs = Math.round(r.periodMs * 1000);
  for (let i = from; i + batch <= to; i += batch) {
    for (let k = 0; k < batch; k++) for (let c = 0; c < C; c++) buf[k * C + c] = r.values[c]![i + k]!;
    const jittered = r.times[i + 1]! - r.times[i]! !== r.periodMs;
    if (!jittered) {
      h.time_ms = r.times[i]!;
      pipeline.handle(h, { type: 'samples', channels: C, period_us: periodUs, values: buf });
    } else {
      for (let k = 0; k < batch; k++) {
        h.time_ms = r.times[i + k]!;
        pipeline.handle(h, { type: 'samples', channels: C, period_us: periodUs, values: buf.subarray(k * C, k * C + C) });
      }
    }
  }
}

/**
 * A copy of `base` with `fault` injected at `magnitude` over its episodes (faultEpisodes). `ranges`
 * are each channel's physical [min, max]; the noise scale is measured per channel on the first 20
 * clean windows.
 */
export function injectEpisodes(
  base: Replay,
  fault: InjectedFault,
  magnitude: number,
  window: number,
  ranges: readonly { min: number; max: number }[],
  rng: Rng,
): { replay: Replay; spans: ReturnType<typeof faultEpisodes> } {
  const r: Replay = { ...base, times: base.times.slice(), values: base.values.map((v) => v.slice()) };
  const spans = faultEpisodes(fault, base.times.length, window, base.values.length);
  const sigmas = base.values.map((v) => noiseSigma(v.subarray(0, 20 * window)));
  for (const sp of spans) {
    const { min, max } = ranges[sp.channel]!;
    applyFault(fault, magnitude, r.values[sp.channel]!, r.times, sp, { sigma: sigmas[sp.channel]!, min, max, periodMs: base.periodMs, rng });
  }
  return { replay: r, spans };
}

export function evalFaults(o: {
  scenario: string;
  seed: number;
  seconds: number;
  window: number;
  faults?: InjectedFault[];
  /** qa config section to judge with (e.g. from a calibration profile); defaults otherwise. */
  qa?: Record<string, unknown>;
  profile?: string;
  progress?: (m: string) => void;
}): FaultsReport {
  const t0 = performance.now();
  const base = cleanReplay(o.scenario, o.seconds, o.seed);
  const clean = judge(base, o.window, o.qa);
  const cleanVerdicts = [...clean.values()].flat();
  const cleanFar = cleanVerdicts.filter(verdictFails).length / Math.max(1, cleanVerdicts.length);
  const s = getScenario(o.scenario);
  const results: FaultResult[] = [];
  const kinds = o.faults ?? [...INJECTED_FAULTS];
  const W = o.window;
  for (const fault of kinds) {
    for (const magnitude of MAGNITUDES[fault].sweep) {
      const rng = new Rng(o.seed * 7919 + Math.round(magnitude * 1000));
      const { replay: r, spans } = injectEpisodes(base, fault, magnitude, W, s.channels, rng);
      const verdicts = judge(r, W, o.qa);
      let detected = 0;
      const delays: number[] = [];
      for (const sp of spans) {
        const list = verdicts.get(s.channels[sp.channel]!.name) ?? [];
        const first = sp.start / W;
        // Windows are tumbling and aligned: window j covers samples [j·W, (j+1)·W).
        const inSpan = list.slice(first, sp.end / W);
        const hit = inSpan.findIndex(verdictFails);
        if (hit >= 0) {
          detected++;
          delays.push(hit);
        }
      }
      delays.sort((a, b) => a - b);
      results.push({
        fault,
        magnitude,
        unit: MAGNITUDES[fault].unit,
        documented: magnitude === MAGNITUDES[fault].documented,
        recall: Number((detected / Math.max(1, spans.length)).toFixed(4)),
        false_alarm_rate: Number(cleanFar.toFixed(5)),
        delay_windows: delays.length ? delays[delays.length >> 1]! : null,
        episodes: spans.length,
      });
      o.progress?.(`${fault} × ${magnitude}: recall ${(detected / Math.max(1, spans.length)).toFixed(3)} (${spans.length} episodes)`);
    }
  }
  return {
    scenario: o.scenario,
    profile: o.profile ?? null,
    seed: o.seed,
    window: W,
    clean_windows: cleanVerdicts.length,
    false_alarm_rate: Number(cleanFar.toFixed(5)),
    faults: results,
    targets: { recall_hard: 0.99, recall_soft: 0.95, false_alarm_rate: 0.005 },
    elapsed_s: Number(((performance.now() - t0) / 1000).toFixed(2)),
  };
}

/** The fault suite as an HTML report: robustness curves (recall vs magnitude) and the table. */
export function faultsReportPage(r: FaultsReport): import('../report/html.js').Report {
  const kinds = [...new Set(r.faults.map((f) => f.fault))];
  return {
    title: `tinyqa eval faults — ${r.scenario}`,
    subtitle: `Fault injection over the ${r.scenario} scenario, windows of ${r.window} samples, seed ${r.seed}`,
    summary: { 'clean windows': r.clean_windows, 'false-alarm rate on clean windows': r.false_alarm_rate, 'elapsed (s)': r.elapsed_s },
    sections: [
      ...kinds.map((k) => {
        const rows = r.faults.filter((f) => f.fault === k);
        return {
          kind: 'curves' as const,
          title: `${k}: recall vs magnitude (${rows[0]!.unit})`,
          xLabel: 'magnitude',
          yLabel: 'recall',
          logX: true,
          curves: [{ name: k, x: rows.map((f) => f.magnitude), y: rows.map((f) => f.recall) }],
        };
      }),
      {
        kind: 'table' as const,
        title: 'Every fault and magnitude',
        columns: ['fault', 'magnitude', 'unit', 'recall', 'false-alarm rate', 'delay (windows)', 'episodes', 'documented'],
        rows: r.faults.map((f) => [f.fault, f.magnitude, f.unit, f.recall, f.false_alarm_rate, f.delay_windows, f.episodes, f.documented ? 'yes' : '']),
      },
    ],
  };
}
