/**
 * Stands in for `node-gyp-build` inside the single-file bundle. Native addons cannot be inlined into
 * JavaScript, so the build copies their prebuilt binaries to `dist/native/<addon>/<platform>-<arch>/`
 * and this loader picks the one matching this machine (libc, ARM generation) next to the bundle.
 */

import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const requireNative = createRequire(import.meta.url);

function libc(): 'glibc' | 'musl' {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

function armTag(): string | undefined {
  if (process.arch === 'arm64') return 'armv8';
  if (process.arch === 'arm') return `armv${(process.config.variables as { arm_version?: string }).arm_version ?? '7'}`;
  return undefined;
}

/** Path of the best prebuilt binary for this machine among those copied for `addon`. */
export function findPrebuilt(addon: string): string {
  const root = join(here, 'native', addon);
  const dirs = existsSync(root) ? readdirSync(root) : [];
  const dir = dirs.find((d) => {
    const [platform, archs] = d.split('-');
    return platform === process.platform && (archs ?? '').split('+').includes(process.arch);
  });
  if (!dir) throw new Error(`no prebuilt ${addon} binary for ${process.platform}-${process.arch} in ${root} (have: ${dirs.join(', ') || 'none'})`);
  const files = readdirSync(join(root, dir)).filter((f) => f.endsWith('.node'));
  const arm = armTag();
  const c = process.platform === 'linux' ? libc() : undefined;
  const fits = (f: string) => (!arm || !/armv\d/.test(f) || f.includes(arm)) && (!c || !/glibc|musl/.test(f) || f.includes(c));
  const pick = files.find(fits);
  if (!pick) throw new Error(`no prebuilt ${addon} binary fits ${process.platform}-${process.arch}${arm ? ' ' + arm : ''}${c ? ' ' + c : ''} (have: ${files.join(', ')})`);
  return join(root, dir, pick);
}

/** node-gyp-build's signature: load the addon; the directory argument is ignored in the bundle. */
export default function loadSerialportBinding(): unknown {
  return requireNative(findPrebuilt('serialport'));
}

/** The pseudo-terminal addon used by `tinyqa sim`. */
export function loadPtyBinding(): unknown {
  return requireNative(findPrebuilt('pty'));
}
