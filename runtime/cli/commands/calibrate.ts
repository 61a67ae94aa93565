import { writeFileSync } from 'node:fs';
import { ErrorCode, TinyqaError, errorMessage } from '../../core/errors.js';
import { numberOption, parse } from '../args.js';

export const CALIBRATE_HELP = `Usage: tinyqa calibrate --csv CLEAN.csv --out PROFILE.json [options]

Robustness testing and dimension selection on clean reference data (paper §3.1): injects every
value-level fault kind (missing, stuck, spikes, noise, drift, jitter) at growing magnitudes into
copies of the data, sets each child's threshold from the clean data to meet the false-alarm
target, keeps the fewest children that still detect the faults (sparsity penalty), checks the
false-alarm rate on the clean data, and writes a profile that \`sim\`, \`run\` and \`score\` load
with --profile. Prints the selected children, their thresholds and the robustness curves (recall
per fault and magnitude). Process faults such as the compressed-air leak change the physics, not
the recorded values, so they are not injected here.

Record clean data from the simulator with: tinyqa sim --faults none --speed max --duration 600 --record clean.csv
(add --scenario compressed-air for the compressed-air plant)

Options:
  --csv FILE          clean reference data (timestamp + channels, DESIGN §9 CSV rules)
  --out FILE          where to write the profile (JSON)
  --target-far P      false-alarm rate to meet on clean windows (default: 0.005)
  --lambda L          sparsity penalty: a child must detect more than L of all fault episodes (default: 0.01)
  --window N          samples per window (default: 100)
  --seed N            seed of the fault injection (default: 1)
  --decision D        rule (default: thresholds + selection) or weighted (also fits a sparse
                      logistic model over the selected intrinsic children's scores)
  --json              print the profile as JSON instead of the summary
  -h, --help          show this help
`;

export async function calibrateCommand(argv: string[]): Promise<number> {
  const a = parse('calibrate', argv, {
    csv: { type: 'string' },
    out: { type: 'string' },
    'target-far': { type: 'string' },
    lambda: { type: 'string' },
    window: { type: 'string' },
    seed: { type: 'string' },
    decision: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (a.help) {
    process.stdout.write(CALIBRATE_HELP);
    return 0;
  }
  if (typeof a.csv !== 'string' || typeof a.out !== 'string') throw new TinyqaError(ErrorCode.UsageInvalid, 'calibrate: --csv FILE and --out FILE are required', { hint: 'see `tinyqa calibrate --help`' });
  const { readCsv } = await import('../../../sim/csv.js');
  const { calibrate } = await import('../../../sim/calibrate.js');
  const decision = a.decision === undefined ? 'rule' : a.decision;
  if (decision !== 'rule' && decision !== 'weighted') throw new TinyqaError(ErrorCode.UsageInvalid, `calibrate: --decision must be rule or weighted; got "${String(decision)}"`);
  const table = readCsv(a.csv);
  let result;
  try {
    result = calibrate(table, {
      decision,
      targetFar: numberOption('calibrate', 'target-far', a['target-far'], 0, 0.5) ?? 0.005,
      lambda: numberOption('calibrate', 'lambda', a.lambda, 0, 1) ?? 0.01,
      window: numberOption('calibrate', 'window', a.window, 8, 65_536) ?? 100,
      seed: numberOption('calibrate', 'seed', a.seed, 0, 2 ** 32 - 1) ?? 1,
      progress: (m) => process.stderr.write(`calibrate: ${m}\n`),
    });
  } catch (e) {
    if (e instanceof RangeError) throw new TinyqaError(ErrorCode.CsvInvalid, `calibrate: ${e.message}`, { hint: 'record more clean data' });
    throw e;
  }
  const p = result.profile;
  try {
    writeFileSync(a.out, JSON.stringify(p, null, 2) + '\n');
  } catch (e) {
    throw new TinyqaError(ErrorCode.ReportFailed, `cannot write the profile ${a.out}: ${errorMessage(e)}`);
  }
  if (a.json) {
    process.stdout.write(JSON.stringify(p) + '\n');
    return 0;
  }
  process.stdout.write(`profile ${p.hash} written to ${a.out} (${p.source.records} records × ${p.source.channels.length} channel(s), window ${p.window})\n`);
  process.stdout.write(`false-alarm rate on clean windows: ${(100 * p.measured_false_alarm_rate).toFixed(2)} % (target ${(100 * p.target_false_alarm_rate).toFixed(2)} %)\n`);
  process.stdout.write(`selected (${p.selected.length}): ${p.selected.join(', ') || 'none'}\n`);
  for (const [name, c] of Object.entries(p.qa)) {
    process.stdout.write(`  ${name.padEnd(14)} ${c.enabled ? 'on ' : 'off'} threshold ${c.threshold}${c.threshold !== result.defaults.get(name) ? ` (default ${result.defaults.get(name)})` : ''}\n`);
  }
  for (const [name, d] of Object.entries(p.parents ?? {})) {
    process.stdout.write(`parent ${name}: weighted, p = σ(${d.bias} + ${Object.entries(d.weights).map(([c, w]) => `${w}·${c}`).join(' + ')}) > ${d.threshold}\n`);
  }
  process.stdout.write('robustness (recall per magnitude, weakest first):\n');
  for (const fault of [...new Set(p.robustness.map((r) => r.fault))]) {
    const rows = p.robustness.filter((r) => r.fault === fault);
    process.stdout.write(`  ${fault.padEnd(8)} ${rows.map((r) => `${r.magnitude}: ${r.recall.toFixed(2)}`).join('  ')}\n`);
  }
  return 0;
}
