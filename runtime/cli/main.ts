/**
 * The `tinyqa` command line (DESIGN §9). Exit codes: 0 success, 1 a runtime failure, 2 a usage or
 * configuration error; failures print one line with the error code, the cause and what to do.
 */

import { ErrorCode, errorMessage, isTinyqaError } from '../core/errors.js';
import { VERSION } from '../version.js';

const HELP = `tinyqa ${VERSION} — on-device data-quality runtime for IoT gateways

Usage: tinyqa <command> [options]

Commands:
  sim      laptop mode: simulated firmware → pseudo-terminal → runtime → MQTT, verdicts streaming
  run      gateway mode: a real serial device, an external broker (--config FILE)
  watch    subscribe to a broker and show verdicts live
  calibrate  robustness testing + dimension selection on clean data → a profile (calibrate --csv F --out P)
  score    offline: anomaly score and verdict per record of a CSV (score --csv FILE)
  model    model packages: keygen, sign, verify, info
  eval     evaluations with figures and baselines (eval nab, eval faults, eval delivery)
  bench    benchmarks with figures, targets and peer ratios (bench framing)
  store    read back the windows the policy diverted or quarantined (store read)

Run \`tinyqa <command> --help\` for a command's options.
Options: -h, --help (this text), -v, --version
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  sim: async () => (await import('./commands/sim.js')).simCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  watch: async () => (await import('./commands/watch.js')).watchCommand,
  bench: async () => (await import('./commands/bench.js')).benchCommand,
  store: async () => (await import('./commands/store.js')).storeCommand,
  eval: async () => (await import('./commands/eval.js')).evalCommand,
  score: async () => (await import('./commands/score.js')).scoreCommand,
  calibrate: async () => (await import('./commands/calibrate.js')).calibrateCommand,
  model: async () => (await import('./commands/model.js')).modelCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '-v' || cmd === '--version') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    process.stderr.write(`tinyqa: E${ErrorCode.UsageInvalid} unknown command "${cmd}" — commands: ${Object.keys(COMMANDS).join(', ')} (tinyqa --help)\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    process.stderr.write(`tinyqa ${cmd}: ${errorMessage(e)}\n`);
    if (process.env.TINYQA_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    const usage = isTinyqaError(e) && (e.code < 2000 || e.code === ErrorCode.ScenarioUnknown || e.code === ErrorCode.CsvInvalid);
    return usage ? 2 : 1;
  }
}
