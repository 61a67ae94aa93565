/**
 * Model packages (DESIGN §5): `models/<name>/<version>/` holds the model file, `manifest.json` and a
 * detached ed25519 signature `signature.ed25519` over the manifest's exact bytes. The manifest names
 * the model file and carries its sha256, so one signature binds both: a flipped bit anywhere, a
 * truncated file, a wrong key, or a manifest from one package beside the model of another is refused.
 * A monotonic `security_version` per model name is persisted once accepted; an older one is refused
 * (a downgrade to a model with a known flaw).
 */

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';

export const MANIFEST = 'manifest.json';
export const SIGNATURE = 'signature.ed25519';
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export interface Manifest {
  format: 'tinyqa-model/1';
  name: string;
  version: string;
  security_version: number;
  model: ModelFile;
  /** The same model in other formats (e.g. ONNX beside TFLite), each bound by its own hash. */
  alternates?: ModelFile[];
  inputs?: unknown;
  outputs?: unknown;
  [key: string]: unknown;
}

export interface ModelFile {
  file: string;
  format: 'tflite' | 'onnx';
  sha256: string;
  bytes: number;
}

export interface VerifiedPackage {
  dir: string;
  manifest: Manifest;
  /** The chosen model file (see `verifyPackage`'s `format`) and its bytes. */
  file: ModelFile;
  modelBytes: Uint8Array;
  signed: boolean;
}

const refuse = (dir: string, why: string, hint?: string) =>
  new TinyqaError(ErrorCode.ModelRefused, `model package ${dir} refused: ${why}`, hint ? { hint } : { hint: 'the last good model stays active; fetch the package again from its source' });

export function parseManifest(text: string, dir: string): Manifest {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw refuse(dir, `${MANIFEST} is not valid JSON (${errorMessage(e)})`);
  }
  if (m.format !== 'tinyqa-model/1') throw refuse(dir, `${MANIFEST}: format must be "tinyqa-model/1"`);
  if (typeof m.name !== 'string' || !NAME.test(m.name)) throw refuse(dir, `${MANIFEST}: name must match [A-Za-z0-9_.-]{1,64}`);
  if (typeof m.version !== 'string' || !SEMVER.test(m.version)) throw refuse(dir, `${MANIFEST}: version must be semver (1.2.3)`);
  if (typeof m.security_version !== 'number' || !Number.isInteger(m.security_version) || m.security_version < 0) throw refuse(dir, `${MANIFEST}: security_version must be an integer ≥ 0`);
  const isFile = (f: unknown) => {
    const x = f as Record<string, unknown> | undefined;
    return !!x && typeof x.file === 'string' && basename(x.file) === x.file && ['tflite', 'onnx'].includes(x.format as string) && typeof x.sha256 === 'string' && /^[0-9a-f]{64}$/.test(x.sha256) && typeof x.bytes === 'number';
  };
  if (!isFile(m.model)) throw refuse(dir, `${MANIFEST}: model must be {"file": a file name in the package, "format": "tflite"|"onnx", "sha256": 64 hex digits, "bytes": size}`);
  if (m.alternates !== undefined && !(Array.isArray(m.alternates) && m.alternates.every(isFile))) throw refuse(dir, `${MANIFEST}: alternates must be a list of model files like "model"`);
  return m as unknown as Manifest;
}

type FileRef = { file: string; format: 'tflite' | 'onnx' };

/** Writes `manifest.json` for the model file(s) in `dir` (hashes and sizes computed here). */
export function writeManifest(dir: string, m: Omit<Manifest, 'model' | 'format' | 'alternates'> & { model: FileRef; alternates?: FileRef[] }): Manifest {
  const hashed = (f: FileRef): ModelFile => {
    const bytes = readFileSync(join(dir, f.file));
    return { ...f, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  };
  const manifest = { ...m, format: 'tinyqa-model/1', model: hashed(m.model), ...(m.alternates ? { alternates: m.alternates.map(hashed) } : {}) } as Manifest;
  parseManifest(JSON.stringify(manifest), dir);
  writeFileSync(join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export function generateKeys(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function key(pem: string, kind: 'private' | 'public', path: string): KeyObject {
  try {
    const k = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`an ${k.asymmetricKeyType} key, not ed25519`);
    return k;
  } catch (e) {
    throw new TinyqaError(ErrorCode.ModelRefused, `${path} is not an ed25519 ${kind} key: ${errorMessage(e)}`, { hint: 'make one with `tinyqa model keygen --out NAME`' });
  }
}

/** Signs a package's manifest bytes; writes `signature.ed25519` (base64). */
export function signPackage(dir: string, privatePem: string, keyPath = 'key'): string {
  const manifestBytes = readFileSync(join(dir, MANIFEST));
  parseManifest(manifestBytes.toString('utf8'), dir);
  const sig = sign(null, manifestBytes, key(privatePem, 'private', keyPath)).toString('base64');
  writeFileSync(join(dir, SIGNATURE), sig + '\n');
  return sig;
}

/**
 * Checks a package: signature (when a public key is given, a signature is required), model hash and
 * size, and the security version against `state` (the highest accepted per model name). Does not
 * record acceptance: call `acceptSecurityVersion` once the model is actually in use.
 */
export function verifyPackage(dir: string, o: { publicPem?: string; keyPath?: string; state?: string; format?: 'auto' | 'tflite' | 'onnx' }): VerifiedPackage {
  let manifestBytes: Buffer;
  try {
    manifestBytes = readFileSync(join(dir, MANIFEST));
  } catch (e) {
    throw refuse(dir, `cannot read ${MANIFEST}: ${errorMessage(e)}`);
  }
  let signed = false;
  if (o.publicPem !== undefined) {
    if (!existsSync(join(dir, SIGNATURE))) throw refuse(dir, `it is unsigned (no ${SIGNATURE}) and a key is configured`);
    const sig = Buffer.from(readFileSync(join(dir, SIGNATURE), 'utf8').trim(), 'base64');
    if (sig.length !== 64 || !verify(null, manifestBytes, key(o.publicPem, 'public', o.keyPath ?? 'public key'), sig)) {
      throw refuse(dir, `the signature does not match ${MANIFEST} for this key (wrong key, or the manifest was changed)`);
    }
    signed = true;
  }
  const manifest = parseManifest(manifestBytes.toString('utf8'), dir);
  // Every listed file is checked, used or not: a package is whole or it is refused.
  const files = [manifest.model, ...(manifest.alternates ?? [])];
  const contents = files.map((f) => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(dir, f.file));
    } catch (e) {
      throw refuse(dir, `cannot read the model file ${f.file}: ${errorMessage(e)}`);
    }
    if (bytes.length !== f.bytes) throw refuse(dir, `${f.file} has ${bytes.length} bytes, the manifest says ${f.bytes} (truncated or replaced)`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== f.sha256) throw refuse(dir, `${f.file}'s sha256 ${sha.slice(0, 12)}… is not the manifest's ${f.sha256.slice(0, 12)}… (changed, or from another package)`);
    return bytes;
  });
  const want = o.format ?? 'auto';
  // auto: TFLite when the package has it (the engine with the smaller footprint: DESIGN §8), else the main file.
  let pick = want === 'auto' ? files.findIndex((f) => f.format === 'tflite') : files.findIndex((f) => f.format === want);
  if (pick < 0 && want === 'auto') pick = 0;
  if (pick < 0) throw refuse(dir, `it has no ${want} model (it has ${files.map((f) => f.format).join(', ')})`, `set model.engine to auto or to one of: ${files.map((f) => f.format).join(', ')}`);
  const modelBytes = contents[pick]!;
  if (o.state) {
    const accepted = readState(o.state)[manifest.name];
    if (accepted !== undefined && manifest.security_version < accepted) {
      throw refuse(dir, `security_version ${manifest.security_version} is older than ${accepted}, already accepted for ${manifest.name} (a downgrade)`, 'install a package with the current or a newer security version');
    }
  }
  return { dir, manifest, file: files[pick]!, modelBytes: new Uint8Array(modelBytes), signed };
}

function readState(path: string): Record<string, number> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>;
  } catch (e) {
    throw new TinyqaError(ErrorCode.ModelRefused, `the security-version state ${path} is unreadable: ${errorMessage(e)}`, { hint: 'restore it from backup; deleting it would allow downgrades' });
  }
}

/** Persists a model's accepted security version (temp file, fsync, rename, directory fsync). */
export function acceptSecurityVersion(state: string, name: string, securityVersion: number): void {
  const s = readState(state);
  if ((s[name] ?? -1) >= securityVersion) return;
  s[name] = securityVersion;
  const tmp = `${state}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(s, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, state);
  try {
    const d = openSync(dirname(state), 'r');
    fsyncSync(d);
    closeSync(d);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}
