import { basename } from 'node:path';
import { readFileSync } from 'node:fs';
import { ErrorCode, TinyqaError, errorMessage } from '../../core/errors.js';
import { numberOption, parse } from '../args.js';

export const SCORE_HELP = `Usage: tinyqa score --csv FILE [options]

Offline: run the QA graph and the online anomaly detector over a CSV, record by record in file
order (nothing looks ahead), and print per record its anomaly score and the verdict of its window —
to evaluate tinyqa on your own labelled data.

CSV input: a header row; a timestamp column (ISO 8601 — read as UTC when it has no zone — or epoch
seconds or milliseconds, detected and reported) and one or more numeric channels; "," or ";" as
separator (detected); empty or NaN cells are missing values. Physical ranges are unknown for a CSV,
so the validity child never fails here.

Options:
  --csv FILE      the CSV to score (required)
  --config FILE   a JSON config (its window and qa keys apply; device and serial are not needed)
  --window N      samples per window (default: the config's, 100)
  --profile FILE  judge with a calibration profile (tinyqa calibrate)
  --json          one JSON object per record: {"t", "anomaly_score", "verdict", "failed"}
                  (default output: CSV with the same columns)
  -h, --help      show this help
`;

export async function scoreCommand(argv: string[]): Promise<number> {
  const a = parse('score', argv, { csv: { type: 'string' }, config: { type: 'string' }, window: { type: 'string' }, json: { type: 'boolean' }, profile: { type: 'string' } });
  if (a.help) {
    process.stdout.write(SCORE_HELP);
    return 0;
  }
  if (typeof a.csv !== 'string') throw new TinyqaError(ErrorCode.UsageInvalid, 'score: --csv FILE is required', { hint: 'see `tinyqa score --help`' });
  let given: Record<string, unknown> | undefined;
  if (typeof a.config === 'string') {
    try {
      given = JSON.parse(readFileSync(a.config, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new TinyqaError(ErrorCode.ConfigUnreadable, `cannot read config file ${a.config}: ${errorMessage(e)}`, { hint: 'a JSON object, as for tinyqa run' });
    }
  }
  const window = numberOption('score', 'window', a.window, 8, 65_536);
  if (window !== undefined) given = { ...given, window: { size: window, hop: window } };
  let profileHash: string | null = null;
  if (typeof a.profile === 'string') {
    const { loadCalibrationProfile, withCalibrationProfile } = await import('../../config/qa-profile.js');
    const p = loadCalibrationProfile(a.profile);
    given = withCalibrationProfile(given ?? {}, p);
    profileHash = p.hash;
  }
  const { readCsv } = await import('../../../sim/csv.js');
  const { scoreConfig, scoreTable } = await import('../../../sim/score.js');
  const table = readCsv(a.csv);
  const config = scoreConfig(given, basename(a.csv));
  if (!a.json) process.stdout.write('t,anomaly_score,verdict,failed\n');
  const s = scoreTable(table, config, profileHash, (r) =>
    process.stdout.write(a.json ? JSON.stringify(r) + '\n' : `${r.t},${r.anomaly_score},${r.verdict ?? ''},${r.failed.join(' ')}\n`),
  );
  process.stderr.write(
    `score: ${s.records} records × ${s.channels.length} channel(s) (${s.channels.join(', ')}); timestamps ${s.time_format}, separator "${s.separator}"; ` +
      `${s.windows} windows, ${s.failed_windows} failed` +
      (s.bad_rows ? `; ${s.bad_rows} row(s) with an unreadable timestamp skipped (lines ${table.badRowLines.join(', ')}…)` : '') +
      (s.bad_cells ? `; ${s.bad_cells} non-numeric cell(s) read as missing` : '') +
      '\n',
  );
  return 0;
}
