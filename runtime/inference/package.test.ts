/** Tampered model packages (DESIGN §8): every one refused, with the reason named. */

import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import { acceptSecurityVersion, generateKeys, MANIFEST, signPackage, SIGNATURE, verifyPackage, writeManifest } from './package.js';

const root = mkdtempSync(join(tmpdir(), 'tinyqa-pkg-'));
const keys = generateKeys();
const other = generateKeys();

function makePackage(name: string, version: string, sv: number, content: number): string {
  const dir = join(root, `${name}-${version}-${content}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.tflite'), Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + content) & 0xff));
  writeManifest(dir, { name, version, security_version: sv, model: { file: 'model.tflite', format: 'tflite' } });
  signPackage(dir, keys.privatePem);
  return dir;
}

const refused = (f: () => unknown, re: RegExp) => {
  let e: unknown;
  try {
    f();
  } catch (x) {
    e = x;
  }
  expect(isTinyqaError(e, ErrorCode.ModelRefused), String(e)).toBe(true);
  expect((e as Error).message).toMatch(re);
};

describe('model packages', () => {
  let good: string;
  beforeAll(() => {
    good = makePackage('pump-ae', '1.0.0', 3, 1);
  });

  it('accepts a signed, intact package and returns its model bytes', () => {
    const p = verifyPackage(good, { publicPem: keys.publicPem });
    expect(p.signed).toBe(true);
    expect(p.manifest.name).toBe('pump-ae');
    expect(p.modelBytes.length).toBe(4096);
  });

  it('refuses every single-bit flip in the model and in the manifest', () => {
    for (const file of ['model.tflite', MANIFEST]) {
      const original = readFileSync(join(good, file));
      for (const at of [0, 1, Math.floor(original.length / 2), original.length - 2]) {
        const dir = mkdtempSync(join(root, 'flip-'));
        cpSync(good, dir, { recursive: true });
        const b = Buffer.from(original);
        b[at] = b[at]! ^ 0x04;
        writeFileSync(join(dir, file), b);
        refused(() => verifyPackage(dir, { publicPem: keys.publicPem }), file === MANIFEST ? /signature does not match|not valid JSON/ : /sha256/);
      }
    }
  });

  it('refuses a wrong key, a missing signature when a key is configured, and truncation', () => {
    refused(() => verifyPackage(good, { publicPem: other.publicPem }), /signature does not match/);
    const unsigned = mkdtempSync(join(root, 'unsigned-'));
    cpSync(good, unsigned, { recursive: true });
    writeFileSync(join(unsigned, SIGNATURE), '');
    refused(() => verifyPackage(unsigned, { publicPem: keys.publicPem }), /signature does not match/);
    rmSync(join(unsigned, SIGNATURE));
    refused(() => verifyPackage(unsigned, { publicPem: keys.publicPem }), /unsigned/);
    const cut = mkdtempSync(join(root, 'cut-'));
    cpSync(good, cut, { recursive: true });
    writeFileSync(join(cut, 'model.tflite'), readFileSync(join(good, 'model.tflite')).subarray(0, 1000));
    refused(() => verifyPackage(cut, { publicPem: keys.publicPem }), /1000 bytes, the manifest says 4096/);
  });

  it('refuses the manifest of one package beside the model of another', () => {
    const b = makePackage('pump-ae', '1.0.1', 3, 2);
    const mixed = mkdtempSync(join(root, 'mixed-'));
    cpSync(good, mixed, { recursive: true });
    copyFileSync(join(b, 'model.tflite'), join(mixed, 'model.tflite'));
    refused(() => verifyPackage(mixed, { publicPem: keys.publicPem }), /sha256/);
  });

  it('refuses a security version older than the one already accepted, persisted across runs', () => {
    const state = join(root, 'security.json');
    acceptSecurityVersion(state, 'pump-ae', 3);
    expect(verifyPackage(good, { publicPem: keys.publicPem, state }).manifest.security_version).toBe(3);
    const old = makePackage('pump-ae', '0.9.0', 2, 3);
    refused(() => verifyPackage(old, { publicPem: keys.publicPem, state }), /security_version 2 is older than 3/);
    expect(JSON.parse(readFileSync(state, 'utf8'))).toEqual({ 'pump-ae': 3 });
  });
});
