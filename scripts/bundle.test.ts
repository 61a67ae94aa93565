/** The gateway bundle works on its own: built into a folder with no node_modules anywhere above it. */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from '../sim/testing/cli.js';

describe('single-file bundle', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'tinyqa-bundle-')), 'dist');
  const entry = join(out, 'tinyqa.mjs');

  beforeAll(() => {
    execFileSync(process.execPath, [join(REPO, 'esbuild.config.mjs'), out], { cwd: REPO, stdio: 'pipe' });
  }, 60_000);

  it('is one JavaScript file with the native addons beside it', () => {
    expect(existsSync(entry)).toBe(true);
    expect(existsSync(join(out, 'native', 'serialport', 'LICENSE'))).toBe(true);
    expect(existsSync(join(out, 'native', 'pty', 'LICENSE'))).toBe(true);
  });

  it('answers --help from a folder without node_modules', async () => {
    const r = await runCli(['--help'], { entry, cwd: tmpdir() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: tinyqa <command>/);
  });

  it('runs the whole simulated pipeline from the bundle alone', async () => {
    const r = await runCli(['sim', '--duration', '3', '--speed', 'max', '--json'], { entry, cwd: tmpdir() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(9);
    expect(r.stderr).toMatch(/broker acknowledged (\d+)\/\1 messages \(9 verdicts, \d+ actions\)/);
  });
});
