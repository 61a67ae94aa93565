/**
 * Test helper: locates the shared model fixtures (/work/shared/fixtures/models, i.e. ../shared
 * relative to the repository) from this file's location, so tests run from any working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MODELS_DIR = fileURLToPath(new URL('../../../../shared/fixtures/models/', import.meta.url));

/** True when the fixture folder exists; otherwise prints why the dependent tests are skipped. */
export function haveFixture(folder: string): boolean {
  const ok = existsSync(MODELS_DIR + folder);
  if (!ok) console.warn(`[tflite tests] skipping: fixture folder ${MODELS_DIR}${folder} is missing`);
  return ok;
}

export function fixtureBytes(folder: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(`${MODELS_DIR}${folder}/${file}`));
}
