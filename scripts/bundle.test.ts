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

  const fixtures = join(REPO, '..', 'shared', 'fixtures', 'models');
  it.skipIf(!existsSync(fixtures))('runs a TFLite and an ONNX model on their WASM engines from the bundle alone', async () => {
    const t = await runCli(['model', 'run', join(fixtures, 'tflm_hello_world_float', 'hello_world_float.tflite'), '--input', '[0]', '--json'], { entry, cwd: tmpdir() });
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).engine).toMatch(/tflite/);
    const o = await runCli(['model', 'run', join(fixtures, 'onnx_backend_node_float', 'test_relu', 'model.onnx'), '--input', JSON.stringify(Array.from({ length: 60 }, (_, i) => i - 30)), '--json'], { entry, cwd: tmpdir() });
    expect(o.code, o.stderr).toBe(0);
    expect(JSON.parse(o.stdout).outputs.y[59]).toBe(29);
    // The bundle is also the inference worker's entry: the same run in the worker thread.
    const w = await runCli(['model', 'run', join(fixtures, 'tflm_hello_world_float', 'hello_world_float.tflite'), '--input', '[0]', '--json', '--worker'], { entry, cwd: tmpdir() });
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout).engine).toMatch(/in a worker thread/);
    expect(JSON.parse(w.stdout).outputs).toEqual(JSON.parse(t.stdout).outputs);
  });

  it('runs the whole simulated pipeline from the bundle alone', async () => {
    const r = await runCli(['sim', '--duration', '3', '--speed', 'max', '--json'], { entry, cwd: tmpdir() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(9);
    expect(r.stderr).toMatch(/broker acknowledged (\d+)\/\1 messages \(9 verdicts, \d+ actions\)/);
  });
});
