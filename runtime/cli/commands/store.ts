import { ErrorCode, TinyqaError } from '../../core/errors.js';
import { readStore, STORE_KINDS, type StoreKind } from '../../store/store.js';
import { numberOption, parse } from '../args.js';

export const STORE_HELP = `Usage: tinyqa store read [options]

Read back the windows the policy diverted (clean data outside the model's context) or quarantined,
and those kept for off-device retraining after a retrain request (adapt.divert_windows)
(data that failed integrity or intrinsic QA), oldest first, across rotated files.

Options:
  --dir DIR       the store folder (default: .tinyqa/store, the config's store.dir default)
  --kind K        quarantine, divert or retrain (default: all)
  --last N        only the newest N records per kind
  --json          one JSON record per line
  -h, --help      show this help
`;

export async function storeCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '-h' || verb === '--help') {
    process.stdout.write(STORE_HELP);
    return verb === undefined ? 2 : 0;
  }
  if (verb !== 'read') throw new TinyqaError(ErrorCode.UsageInvalid, `store: unknown verb "${verb}"`, { hint: 'use `tinyqa store read`' });
  const a = parse('store read', rest, { dir: { type: 'string' }, kind: { type: 'string' }, last: { type: 'string' }, json: { type: 'boolean' } });
  if (a.help) {
    process.stdout.write(STORE_HELP);
    return 0;
  }
  const kinds: StoreKind[] = typeof a.kind === 'string' ? [a.kind as StoreKind] : [...STORE_KINDS];
  for (const k of kinds) if (!STORE_KINDS.includes(k)) throw new TinyqaError(ErrorCode.UsageInvalid, `store read: --kind must be one of ${STORE_KINDS.join(', ')}; got "${k}"`);
  const dir = typeof a.dir === 'string' ? a.dir : '.tinyqa/store';
  const last = numberOption('store read', 'last', a.last, 1, 1e9);
  for (const kind of kinds) {
    const { records, skipped } = readStore(dir, kind);
    const shown = last === undefined ? records : records.slice(-last);
    for (const r of shown) {
      if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(`${new Date(r.t0).toISOString()} ${r.kind.padEnd(10)} ${r.device} ${r.stream} #${r.verdict_seq} ${r.values.length} values — ${r.reason}\n`);
    }
    if (!a.json) process.stderr.write(`${kind}: ${records.length} record(s) in ${dir}${skipped ? `, ${skipped} torn line(s) skipped` : ''}\n`);
  }
  return 0;
}
