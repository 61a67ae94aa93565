/** Writes the golden vectors next to this file: `npx tsx firmware-bridge/vectors/generate.ts`. */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildVectors, files } from './vectors.js';

const here = dirname(fileURLToPath(import.meta.url));
let n = 0;
for (const v of buildVectors()) {
  for (const [name, text] of Object.entries(files(v))) {
    writeFileSync(join(here, name), text);
    n++;
  }
}
process.stdout.write(`wrote ${n} files for ${buildVectors().length} vectors in ${here}\n`);
