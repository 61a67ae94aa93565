import { readFileSync } from 'node:fs';
import { describeConfig, validateConfig, type TinyqaConfig } from '../../config/schema.js';
import { ErrorCode, TinyqaError, errorMessage } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import { createRuntime } from '../../root.js';
import { loadCalibrationProfile, withCalibrationProfile, type LoadedProfile } from '../../config/qa-profile.js';
import { parse } from '../args.js';
import { formatVerdict, styleFor } from '../format.js';

export const RUN_HELP = `Usage: tinyqa run --config FILE [options]

Gateway mode: read sensor frames from a real serial device, judge every window, publish verdicts to
an external MQTT broker. Runs until SIGINT/SIGTERM, then flushes what is in flight and announces
"offline" on the status topic. With model.package set, a QA model judges the anomaly child; the
package folder is re-checked every model.reload_s seconds and on SIGHUP — an update that fails any
check (signature, hashes, layout, older security_version) is refused and the last good model stays. The config is validated at start: a wrong key, type or range is
refused with a message naming the key and the allowed values.

Options:
  --config FILE   JSON config file (required); keys below
  --json          also print each verdict as a JSON line on stdout
  --quiet         print no verdicts (logs still go to stderr)
  --profile FILE  judge with a calibration profile (tinyqa calibrate); verdicts carry its hash
  -h, --help      show this help

Example config:
  { "device": "pump-01",
    "serial": { "path": "/dev/serial/by-id/usb-Espressif_ESP32-if00" },
    "mqtt": { "url": "mqtt://127.0.0.1:1883" } }

Config keys (type, range; default — why):
${describeConfig().join('\n')}
`;

export function loadConfigFile(path: string, profile?: LoadedProfile): Readonly<TinyqaConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TinyqaError(ErrorCode.ConfigUnreadable, `cannot read config file ${path}: ${errorMessage(e)}`, { hint: 'check the path given to --config' });
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new TinyqaError(ErrorCode.ConfigUnreadable, `config file ${path} is not valid JSON: ${errorMessage(e)}`, { hint: 'fix the JSON syntax (no comments or trailing commas)' });
  }
  return validateConfig(profile && typeof obj === 'object' && obj !== null ? withCalibrationProfile(obj as Record<string, unknown>, profile) : obj, `config file ${path}`);
}

export async function runCommand(argv: string[]): Promise<number> {
  const a = parse('run', argv, { config: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' }, profile: { type: 'string' } });
  if (a.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (typeof a.config !== 'string') throw new TinyqaError(ErrorCode.UsageInvalid, 'run: --config FILE is required', { hint: 'see `tinyqa run --help` for the keys' });
  const profile = typeof a.profile === 'string' ? loadCalibrationProfile(a.profile) : undefined;
  const config = loadConfigFile(a.config, profile);
  const log = createLogger(config.log.level);
  const style = styleFor(process.stdout);
  const runtime = createRuntime(config, {
    log,
    ...(profile ? { profileHash: profile.hash } : {}),
    onVerdict: a.quiet ? undefined : (v) => process.stdout.write((a.json ? JSON.stringify(v) : formatVerdict(v, style)) + '\n'),
  });
  await runtime.start();
  log.info?.(`running: ${config.serial.path} → ${config.mqtt.url.replace(/\/\/[^@/]*@/, '//***@')} as device ${config.device}`);
  const onHup = () => void runtime.model?.reload();
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGHUP', onHup);
  log.info?.('stopping: flushing verdicts in flight');
  await runtime.stop();
  const c = runtime.counters();
  log.info?.(`stopped after ${c.verdicts} verdicts; frames ${c.frames}, discarded bytes ${c.discarded_bytes}, broker acknowledged ${c.mqtt_acked}/${c.mqtt_accepted}`);
  return 0;
}
