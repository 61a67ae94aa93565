import { ErrorCode, TinyqaError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';
import { subscribe } from '../../publish/mqtt.js';
import { parseTopic, watchFilters } from '../../publish/topics.js';
import type { Verdict } from '../../qa/types.js';
import { numberOption, parse } from '../args.js';
import { formatVerdict, styleFor } from '../format.js';

export const WATCH_HELP = `Usage: tinyqa watch [options]

Subscribe to a broker and show verdicts, actions and device status live — from any tinyqa device
publishing there (a gateway, or a \`tinyqa sim --broker URL\` on a laptop).

Options:
  --broker URL     broker to subscribe to (default: mqtt://127.0.0.1:1883)
  --device ID      only this device (default: all)
  --prefix P       topic prefix (default: tinyqa/v1)
  --json           print each verdict as one JSON object per line
  --count N        exit after N verdicts
  --duration S     exit after S seconds
  -h, --help       show this help
`;

export async function watchCommand(argv: string[]): Promise<number> {
  const a = parse('watch', argv, {
    broker: { type: 'string' },
    device: { type: 'string' },
    prefix: { type: 'string' },
    json: { type: 'boolean' },
    count: { type: 'string' },
    duration: { type: 'string' },
  });
  if (a.help) {
    process.stdout.write(WATCH_HELP);
    return 0;
  }
  const url = typeof a.broker === 'string' ? a.broker : 'mqtt://127.0.0.1:1883';
  if (!/^(mqtts?|wss?|tcp|ssl):\/\//.test(url)) throw new TinyqaError(ErrorCode.UsageInvalid, `watch: --broker must be a URL like mqtt://host:1883; got "${url}"`);
  const prefix = typeof a.prefix === 'string' ? a.prefix : 'tinyqa/v1';
  const device = typeof a.device === 'string' ? a.device : undefined;
  const count = numberOption('watch', 'count', a.count, 1, 1e12);
  const duration = numberOption('watch', 'duration', a.duration, 0.1, 1e9);
  const json = a.json === true;
  // Logs go to stderr, so --json output on stdout stays one verdict per line.
  const log = createLogger('info');
  const style = styleFor(process.stdout);
  let seen = 0;

  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const sub = subscribe(url, watchFilters(prefix, device), (m) => {
    const where = parseTopic(prefix, m.topic);
    if (!where) return;
    let body: unknown;
    try {
      body = JSON.parse(m.payload.toString('utf8'));
    } catch {
      log.warn?.(`ignored a non-JSON message on ${m.topic}`);
      return;
    }
    if (where.kind === 'verdict') {
      const v = body as Verdict;
      process.stdout.write((json ? JSON.stringify(v) : formatVerdict(v, style)) + '\n');
      if (count !== undefined && ++seen >= count) finish();
    } else if (where.kind === 'status') {
      const s = body as { state?: string; version?: string };
      if (!json) process.stderr.write(`${where.device} is ${s.state === 'online' ? style.green('online') : style.red(String(s.state))}${m.retain ? ' (retained)' : ''}\n`);
    } else if (!json) process.stdout.write(`${where.device} ${where.kind}: ${m.payload.toString('utf8')}\n`);
  }, log);
  const timer = duration !== undefined ? setTimeout(finish, duration * 1000) : undefined;
  process.once('SIGINT', finish);
  process.once('SIGTERM', finish);
  await finished;
  if (timer) clearTimeout(timer);
  process.off('SIGINT', finish);
  process.off('SIGTERM', finish);
  await sub.close();
  return 0;
}
