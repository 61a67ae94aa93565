import { resolve } from 'node:path';
import { ErrorCode, TinyqaError } from '../../core/errors.js';
import { numberOption, parse } from '../args.js';

/**
 * `tinyqa eval <what>` (DESIGN §9): evaluations that print figures with baselines. Each evaluation
 * is one entry of EVALUATIONS (a line of help and a runner); its harness lives under sim/eval/ and
 * is imported only when it runs, so the gateway runtime never loads it.
 */
interface Evaluation {
  /** One line (or a few, indented by 12) for the help text. */
  readonly summary: string;
  readonly options: string;
  readonly run: (argv: string[]) => Promise<number>;
}

const EVALUATIONS: Record<string, Evaluation> = {
  nab: {
    summary:
      'Numenta Anomaly Benchmark: every series streamed through the online anomaly detector\n' +
      '            (runtime/anomaly), scored with the NAB rules for the three profiles, beside the\n' +
      '            null, random and always-alarm baselines',
    options:
      '  --data DIR     NAB folder (default: shared/data/nab beside the repository)\n' +
      '  --files LIST   only these series, comma-separated (e.g. nyc_taxi.csv,realTweets/Twitter_volume_KO.csv)\n' +
      '  --seed N       seed of the random baseline (default: 1)\n',
    run: evalNab,
  },
  faults: {
    summary:
      'fault-injection suite: every fault kind at growing magnitudes injected into the shipped\n' +
      '            scenario; recall, false-alarm rate on clean windows and detection delay per\n' +
      '            fault and magnitude, against the DESIGN §8 targets',
    options:
      '  --scenario NAME  scenario: pump (default) or compressed-air\n' +
      '  --seconds S      seconds of scenario per run (default: 600)\n' +
      '  --seed N         scenario seed (default: 1)\n' +
      '  --window N       samples per window (default: 100)\n' +
      '  --faults LIST    only these faults, comma-separated: missing, stuck, range, spikes, noise,\n' +
      '                   drift, jitter (value-level edits; the compressed-air leak is a process fault\n' +
      '                   that only `sim --faults leak` plays)\n' +
      '  --profile FILE   judge with a calibration profile (default: the default graph)\n',
    run: evalFaultsCommand,
  },
  adapt: {
    summary:
      'guarded adaptation (DESIGN §7): the smart meter gets PV panels mid-stream (a benign drift);\n' +
      '            the false-alarm rate before and after it, adapted vs frozen, windows to recover; and\n' +
      '            the fault recall (smart-meter sensor faults after the drift, the compressed-air leak\n' +
      '            judged by air-forecaster) with adaptation on vs off — it must not drop; and a line\n' +
      '            developing a leak that stays open: how much of it is still flagged, adapted vs frozen',
    options:
      '  --seed N         scenario seed (default: 1; the reference envelope comes from seed N+1000)\n' +
      '  --days D         days of smart-meter data (default: 28)\n' +
      '  --solar-day D    day the PV panels are installed (default: 7)\n' +
      '  --train-days D   days of training data for the reference envelope (default: 7)\n' +
      '  --leak-seconds S seconds of compressed-air with leaks (default: 2400: 20 episodes)\n',
    run: evalAdaptCommand,
  },
  budget: {
    summary:
      'the budget governor (DESIGN §7): the pump with the pump-ae model at --speed× real time,\n' +
      '            unconstrained, under a CPU budget (--fraction of its cost), under twice its cost, then\n' +
      '            on a discharging battery; the CPU share over every minute vs the budget, time to\n' +
      '            full mode, mode transitions, and fault recall per mode. Takes the phases\' time\n' +
      '            (default ≈ 6.5 minutes); exit 3 when a minute exceeds the budget by > 10 % or the\n' +
      '            governor does not return to full mode',
    options:
      '  --speed X          feed rate, × real time (default: 400: 120 000 samples/s, 1 200 windows/s,\n' +
      '                     about a quarter of a core on the development machine)\n' +
      '  --fraction F       budget as a share of the unconstrained cost (default: 0.5)\n' +
      '  --unconstrained S  seconds of phase 1 (default: 60)\n' +
      '  --budget S         seconds of phase 2 (default: 180)\n' +
      '  --lifted S         seconds of phase 3, the budget raised to 2× the cost (default: 30)\n' +
      '  --battery S        seconds of phase 4 (default: 120)\n' +
      '  --span S           the "any minute" span (default: 60; shorter only for quick runs)\n' +
      '  --seed N           scenario seed (default: 1)\n',
    run: evalBudgetCommand,
  },
  delivery: {
    summary:
      'the broker-kill scenario (DESIGN §8): `tinyqa sim` publishes the pump at 30× real time\n' +
      '            to a private Mosquitto (persistence on), `tinyqa watch --persistent` subscribes,\n' +
      '            the broker is SIGKILLed at random points and restarted on its port; compares the\n' +
      '            seqs sim printed with those watch printed: missing, duplicates after dedup, order,\n' +
      '            wire duplicates, replays. Needs the mosquitto binary. Exit 3 when anything was\n' +
      '            missing, duplicated, out of order, or a kill was not made',
    options:
      '  --verdicts N   verdicts to produce at least (default: 100000)\n' +
      '  --kills K      broker kills, each when watch has accepted a seeded random 3–80 % of the\n' +
      '                 verdicts, after 0.2–1 s up; 0.1–1 s down (default: 20)\n' +
      '  --seed N       seed of the kill points and downtimes (default: 1)\n' +
      '  --window N     samples per window; 3 streams at 100 Hz give 300/N verdicts per scenario\n' +
      '                 second (default: 8, the smallest)\n' +
      '  --speed X|max  sim --speed (default: 30, i.e. 1125 verdicts/s with --window 8; faster, a\n' +
      '                 replay request lost in a kill can outlast watch\'s 10000-message reorder\n' +
      '                 buffer, and watch gives the gap up)\n' +
      '  --autosave S   Mosquitto autosave_interval; 0 turns persistence off (default: 1)\n' +
      '  --hold S       watch --hold: how long a gap may wait for its replay; watch asks again\n' +
      '                 every S/4 (default: 20)\n',
    run: evalDeliveryCommand,
  },
};

export const EVAL_HELP = `Usage: tinyqa eval <what> [options]

Evaluations that print figures with baselines (progress goes to stderr).

What:
${Object.entries(EVALUATIONS)
  .map(([name, e]) => `  ${name.padEnd(9)} ${e.summary}`)
  .join('\n')}
${Object.entries(EVALUATIONS)
  .map(([name, e]) => `\nOptions of ${name}:\n${e.options}`)
  .join('')}
Options of every evaluation:
  --json         print one JSON object
  --report FILE  also write a self-contained HTML page with the figures and plots (nab, faults)
  -h, --help     show this help
`;

export async function evalCommand(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (what === undefined || what === '-h' || what === '--help') {
    process.stdout.write(EVAL_HELP);
    return what === undefined ? 2 : 0;
  }
  const evaluation = EVALUATIONS[what];
  if (!evaluation) {
    throw new TinyqaError(ErrorCode.UsageInvalid, `eval: unknown evaluation "${what}"`, { hint: `available: ${Object.keys(EVALUATIONS).join(', ')}` });
  }
  return evaluation.run(rest);
}

function progressLine(done: number, total: number, name: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[Keval nab: ${done}/${total} ${name}${done === total ? '\n' : ''}`);
  else process.stderr.write(`eval nab: ${done}/${total} ${name}\n`);
}

async function evalNab(argv: string[]): Promise<number> {
  const a = parse('eval nab', argv, { data: { type: 'string' }, files: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, report: { type: 'string' } });
  if (a.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  const seed = numberOption('eval nab', 'seed', a.seed, 0, 2 ** 32 - 1);
  const files = typeof a.files === 'string' ? a.files.split(',').map((f) => f.trim()).filter((f) => f !== '') : undefined;
  const { runNab } = await import('../../../sim/eval/nab/run.js');
  const r = runNab({
    ...(typeof a.data === 'string' ? { dataDir: resolve(a.data) } : {}),
    ...(files ? { files } : {}),
    ...(seed === undefined ? {} : { seed }),
    progress: progressLine,
  });
  if (typeof a.report === 'string') {
    const { writeReport } = await import('../../../sim/report/html.js');
    const { nabReportPage } = await import('../../../sim/eval/nab/format.js');
    writeReport(a.report, nabReportPage(r));
    process.stderr.write(`eval nab: report written to ${a.report}\n`);
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  const { formatNabReport } = await import('../../../sim/eval/nab/format.js');
  process.stdout.write(formatNabReport(r));
  return 0;
}

async function evalFaultsCommand(argv: string[]): Promise<number> {
  const a = parse('eval faults', argv, {
    scenario: { type: 'string' },
    seconds: { type: 'string' },
    seed: { type: 'string' },
    window: { type: 'string' },
    faults: { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
    profile: { type: 'string' },
  });
  if (a.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  const { evalFaults, faultsReportPage } = await import('../../../sim/eval/faults.js');
  const { INJECTED_FAULTS } = await import('../../../sim/faults.js');
  const faults = typeof a.faults === 'string' ? a.faults.split(',').map((f) => f.trim()) : undefined;
  for (const f of faults ?? []) {
    if (!(INJECTED_FAULTS as readonly string[]).includes(f)) throw new TinyqaError(ErrorCode.UsageInvalid, `eval faults: unknown fault "${f}"`, { hint: `faults: ${INJECTED_FAULTS.join(', ')}` });
  }
  let qa: Record<string, unknown> | undefined;
  let window = numberOption('eval faults', 'window', a.window, 8, 65_536);
  let profile: string | undefined;
  if (typeof a.profile === 'string') {
    const { loadCalibrationProfile, withCalibrationProfile } = await import('../../config/qa-profile.js');
    const p = loadCalibrationProfile(a.profile);
    const merged = withCalibrationProfile({}, p);
    qa = merged.qa as Record<string, unknown>;
    window = p.window;
    profile = p.hash;
  }
  const r = evalFaults({
    ...(qa ? { qa } : {}),
    ...(profile ? { profile } : {}),
    scenario: typeof a.scenario === 'string' ? a.scenario : 'pump',
    seconds: numberOption('eval faults', 'seconds', a.seconds, 60, 86_400) ?? 600,
    seed: numberOption('eval faults', 'seed', a.seed, 0, 2 ** 32 - 1) ?? 1,
    window: window ?? 100,
    ...(faults ? { faults: faults as (typeof INJECTED_FAULTS)[number][] } : {}),
    progress: (m) => process.stderr.write(`eval faults: ${m}\n`),
  });
  if (typeof a.report === 'string') {
    const { writeReport } = await import('../../../sim/report/html.js');
    writeReport(a.report, faultsReportPage(r));
    process.stderr.write(`eval faults: report written to ${a.report}\n`);
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  const hard = new Set(['missing', 'stuck', 'range']);
  process.stdout.write(`fault suite on ${r.scenario}${r.profile ? ` with profile ${r.profile}` : ' with the default graph'}: ${r.clean_windows} clean windows, false-alarm rate ${(100 * r.false_alarm_rate).toFixed(2)} % (target ≤ ${100 * r.targets.false_alarm_rate} %)\n`);
  process.stdout.write(`${'fault'.padEnd(8)} ${'magnitude'.padStart(9)}  recall  delay  target\n`);
  for (const f of r.faults) {
    const target = f.documented ? `≥ ${hard.has(f.fault) ? r.targets.recall_hard : r.targets.recall_soft}` : '';
    process.stdout.write(`${f.fault.padEnd(8)} ${String(f.magnitude).padStart(9)}  ${f.recall.toFixed(3)}  ${f.delay_windows === null ? '    —' : String(f.delay_windows).padStart(5)}  ${target}\n`);
  }
  return 0;
}

/** Exit code when the delivery scenario lost, duplicated or reordered something (as `tinyqa watch`'s 3). */
const EXIT_DELIVERY_FAILED = 3;

async function evalDeliveryCommand(argv: string[]): Promise<number> {
  const a = parse('eval delivery', argv, {
    verdicts: { type: 'string' },
    kills: { type: 'string' },
    seed: { type: 'string' },
    window: { type: 'string' },
    speed: { type: 'string' },
    autosave: { type: 'string' },
    hold: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (a.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  const int = (name: string, min: number, max: number) => {
    const x = numberOption('eval delivery', name, a[name], min, max);
    if (x !== undefined && !Number.isInteger(x)) throw new TinyqaError(ErrorCode.UsageInvalid, `eval delivery: --${name} must be an integer; got "${String(a[name])}"`);
    return x;
  };
  const verdicts = int('verdicts', 100, 100_000_000);
  const kills = int('kills', 0, 10_000);
  const seed = int('seed', 0, 2 ** 32 - 1);
  const window = int('window', 8, 65_536);
  const autosave = int('autosave', 0, 86_400);
  const hold = numberOption('eval delivery', 'hold', a.hold, 1, 86_400);
  const speed = a.speed === 'max' ? Infinity : numberOption('eval delivery', 'speed', a.speed, 0.01, 1e6);
  const { runDelivery, formatDelivery } = await import('../../../sim/eval/delivery.js');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await runDelivery({
      ...(verdicts !== undefined ? { verdicts } : {}),
      ...(kills !== undefined ? { kills } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(window !== undefined ? { window } : {}),
      ...(speed !== undefined ? { speed } : {}),
      ...(autosave !== undefined ? { autosaveS: autosave } : {}),
      ...(hold !== undefined ? { holdS: hold } : {}),
      // The children run with the same entry as this process: the checkout's sources, or the bundle.
      ...(process.argv[1] ? { entry: process.argv[1] } : {}),
      signal: stop.signal,
      progress: (p) =>
        process.stderr.write(
          `eval delivery: ${p.phase === 'replay' ? 'replay' : 'waiting for watch'} ${p.seconds.toFixed(0)} s: ${p.produced}/${p.target} verdicts produced, ${p.received} received, ${p.kills}/${p.plannedKills} broker kills\n`,
        ),
    });
    process.stdout.write(a.json ? JSON.stringify(r) + '\n' : formatDelivery(r));
    return r.ok ? 0 : EXIT_DELIVERY_FAILED;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function evalAdaptCommand(argv: string[]): Promise<number> {
  const a = parse('eval adapt', argv, {
    seed: { type: 'string' },
    days: { type: 'string' },
    'solar-day': { type: 'string' },
    'train-days': { type: 'string' },
    'leak-seconds': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (a.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  const days = numberOption('eval adapt', 'days', a.days, 2, 3650) ?? 28;
  const solarDay = numberOption('eval adapt', 'solar-day', a['solar-day'], 1, 3650) ?? 7;
  if (solarDay >= days) throw new TinyqaError(ErrorCode.UsageInvalid, `eval adapt: --solar-day (${solarDay}) must be before the last day (--days ${days})`, { hint: 'leave at least a few days after the drift to measure recovery' });
  const { evalAdapt } = await import('../../../sim/eval/adapt.js');
  const r = await evalAdapt({
    seed: numberOption('eval adapt', 'seed', a.seed, 0, 2 ** 32 - 1) ?? 1,
    days: Math.round(days),
    solarDay: Math.round(solarDay),
    trainDays: Math.round(numberOption('eval adapt', 'train-days', a['train-days'], 1, 365) ?? 7),
    leakSeconds: numberOption('eval adapt', 'leak-seconds', a['leak-seconds'], 120, 86_400) ?? 2400,
    progress: (m) => process.stderr.write(`eval adapt: ${m}\n`),
  });
  if (a.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  const out = [
    `benign drift: ${r.scenario.drift}, PV from day ${r.solar_day} of ${r.days}, windows of ${r.window} samples (1 h)`,
    `  false-alarm rate before the drift   adapted ${pct(r.false_alarm_rate_before.adapted)}   frozen ${pct(r.false_alarm_rate_before.frozen)}`,
    `  false-alarm rate after the drift    adapted ${pct(r.false_alarm_rate_after_drift.adapted)}   frozen ${pct(r.false_alarm_rate_after_drift.frozen)}`,
    `  windows to recover                  adapted ${r.windows_to_recover ?? 'never'}   frozen ${r.windows_to_recover_frozen ?? 'never'}`,
    `  control without PV                  adapted ${pct(r.control_false_alarm_rate.adapted)}   frozen ${pct(r.control_false_alarm_rate.frozen)}`,
    `fault recall (must not drop)          adapted ${r.fault_recall.adapted.toFixed(3)}   frozen ${r.fault_recall.frozen.toFixed(3)}`,
    ...Object.entries(r.fault_recall_by_fault).map(([f, x]) => `  ${f.padEnd(8)} adapted ${x.adapted.toFixed(3)}   frozen ${x.frozen.toFixed(3)}   (${x.episodes} episodes)`),
    `  leak stream false-alarm rate        adapted ${pct(r.leak_false_alarm_rate.adapted)}   frozen ${pct(r.leak_false_alarm_rate.frozen)}`,
    `developing leak (opens over 30 min, then stays open), pressure windows flagged:`,
    `  before it                           adapted ${pct(r.developing_leak.flagged_before.adapted)}   frozen ${pct(r.developing_leak.flagged_before.frozen)}`,
    `  while it opens                      adapted ${pct(r.developing_leak.flagged_growing.adapted)}   frozen ${pct(r.developing_leak.flagged_growing.frozen)}`,
    `  once open (must not drop)           adapted ${pct(r.developing_leak.flagged_open.adapted)}   frozen ${pct(r.developing_leak.flagged_open.frozen)}`,
    `  same seed without a leak            adapted ${pct(r.developing_leak.flagged_without_leak.adapted)}   frozen ${pct(r.developing_leak.flagged_without_leak.frozen)}`,
    `  first flag after it starts          adapted ${r.developing_leak.first_flag_s.adapted ?? 'never'} s   frozen ${r.developing_leak.first_flag_s.frozen ?? 'never'} s`,
    `baselines: always-alarm recall 1, false-alarm rate 100 %; null recall 0, false-alarm rate 0 %`,
    `adaptation: ${r.adaptation.promotions} promotions, ${r.adaptation.rollbacks} rollbacks, ${r.adaptation.changes} changes detected, ${r.adaptation.retrain_requests} retrain requests; ${r.adaptation.learned} windows learned, ${r.adaptation.refused} refused (${r.elapsed_s} s)`,
  ];
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

/** Exit code when the governor broke its budget or did not come back to full mode. */
const EXIT_BUDGET_FAILED = 3;

async function evalBudgetCommand(argv: string[]): Promise<number> {
  const a = parse('eval budget', argv, {
    speed: { type: 'string' },
    fraction: { type: 'string' },
    unconstrained: { type: 'string' },
    budget: { type: 'string' },
    lifted: { type: 'string' },
    battery: { type: 'string' },
    span: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (a.help) {
    process.stdout.write(EVAL_HELP);
    return 0;
  }
  const n = (name: string, min: number, max: number, d: number) => numberOption('eval budget', name, a[name], min, max) ?? d;
  const { evalBudget } = await import('../../../sim/eval/budget.js');
  const r = await evalBudget({
    speed: n('speed', 1, 10_000, 400),
    fraction: n('fraction', 0.05, 1, 0.5),
    unconstrainedS: n('unconstrained', 5, 3600, 60),
    budgetS: n('budget', 5, 3600, 180),
    liftedS: n('lifted', 5, 3600, 30),
    batteryS: n('battery', 5, 3600, 120),
    spanS: n('span', 2, 600, 60),
    seed: n('seed', 0, 2 ** 32 - 1, 1),
    progress: (m) => process.stderr.write(`eval budget: ${m}\n`),
  });
  const ok = r.budget_overshoot <= 0.1 && r.back_to_full_s !== null;
  if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    const out = [
      `workload: ${r.scenario} at ${r.speed}× real time with pump-ae, adaptation on`,
      `  unconstrained CPU share     ${r.unconstrained_cpu_share.toFixed(3)} of a core`,
      `  budget                      ${r.budget_cpu_share.toFixed(3)}`,
      `  measured under the budget   mean ${r.measured_cpu_share_mean.toFixed(3)}, largest 1-minute mean ${r.measured_cpu_share_max_1min.toFixed(3)} (${(100 * r.budget_overshoot).toFixed(1)} % over the budget; limit +10 %)`,
      `  CPU share by mode: ${Object.entries(r.cpu_share_by_mode).map(([m, x]) => `${m} ${x.toFixed(3)}`).join(', ')}`,
      `  back to full mode after the budget was raised to 2× the unconstrained cost: ${r.back_to_full_s === null ? 'not within the phase' : `${r.back_to_full_s} s`}`,
      `  time in modes (s): ${Object.entries(r.modes).map(([m, s]) => `${m} ${s}`).join(', ')}`,
      `  battery ${r.battery_pct.start} % → ${r.battery_pct.end} %; transitions:`,
      ...r.transitions.map((t) => `    ${String(t.at_s).padStart(6)} s  ${t.phase.padEnd(13)} ${t.from} → ${t.to}${t.battery_pct !== undefined ? ` (battery ${t.battery_pct} %)` : ''}: ${t.reason}`),
      `  recall by mode: ${Object.entries(r.recall_by_mode).map(([m, x]) => `${m} ${x.recall.toFixed(3)} (${x.episodes} episodes)`).join(', ')}`,
      `  false-alarm rate by mode: ${Object.entries(r.false_alarm_rate_by_mode).map(([m, x]) => `${m} ${(100 * x.rate).toFixed(2)} % (${x.windows} windows)`).join(', ')}`,
    ];
    process.stdout.write(out.join('\n') + '\n');
  }
  return ok ? 0 : EXIT_BUDGET_FAILED;
}
