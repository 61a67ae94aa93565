/** Command-line parsing on top of node:util parseArgs, with usage errors that say what to do. */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(command: string, argv: string[], options: Options): Record<string, string | boolean | undefined> {
  try {
    const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    return values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new TinyqaError(ErrorCode.UsageInvalid, `${command}: ${errorMessage(e).replace(/\. To specify a positional argument.*$/s, '')}`, {
      hint: `see \`tinyqa ${command} --help\``,
    });
  }
}

export function numberOption(command: string, name: string, raw: string | boolean | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  const x = Number(raw);
  if (!Number.isFinite(x) || x < min || x > max) {
    throw new TinyqaError(ErrorCode.UsageInvalid, `${command}: --${name} must be a number in [${min}, ${max}]; got "${raw}"`, { hint: `see \`tinyqa ${command} --help\`` });
  }
  return x;
}
