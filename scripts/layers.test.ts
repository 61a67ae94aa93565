/**
 * Imports point down, never up (DESIGN §3), and each outside-world library is imported by exactly
 * one file (STYLE §12). Read from the source text of every non-test file.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../sim/testing/cli.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|mjs)$/.test(name) && !/\.(test|contract)\.ts$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const files = [...sources(join(REPO, 'runtime')), ...sources(join(REPO, 'sim')), ...sources(join(REPO, 'models')), ...sources(join(REPO, 'scripts'))].map((f) => relative(REPO, f));

function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

function resolveRel(file: string, spec: string): string {
  return relative(REPO, join(REPO, file, '..', spec)).replace(/\.js$/, '.ts');
}

/** CLI commands that load sim/ or models/ lazily (dynamic import) for their laptop-only work. */
const LAZY_SIM_LOADERS = ['runtime/cli/commands/sim.ts', 'runtime/cli/commands/eval.ts', 'runtime/cli/commands/score.ts', 'runtime/cli/commands/calibrate.ts', 'runtime/cli/commands/bench.ts', 'runtime/cli/commands/model.ts'];

/** Layer of a runtime file: 1 pure bottom … 5 command line. */
function layer(file: string): number {
  if (/^runtime\/(core|framing|stats|anomaly)\/|^runtime\/version\.ts$/.test(file)) return 1;
  if (/^runtime\/(transport|qa|policy|store|inference|governor)\//.test(file)) return 2;
  if (/^runtime\/(config|link)\//.test(file)) return 2.5;
  if (/^runtime\/(pipeline|publish|adapt)\//.test(file)) return 3;
  // What inbound commands do, and the governor's decisions for the pipeline: above the parts they
  // drive, below the root that builds them.
  if (file === 'runtime/remote.ts' || file === 'runtime/budget.ts') return 3.5;
  if (file === 'runtime/root.ts') return 4;
  if (/^runtime\/cli\//.test(file)) return 5;
  return 6; // sim/ sits beside the root and may use everything below the CLI
}

describe('module structure', () => {
  it('finds the source files', () => {
    expect(files.length).toBeGreaterThan(30);
  });

  it('imports only from the same or a lower layer', () => {
    const up: string[] = [];
    for (const f of files) {
      for (const spec of importsOf(f)) {
        if (!spec.startsWith('.')) continue;
        const target = resolveRel(f, spec);
        if (/^(sim|models)\//.test(f) && target.startsWith('runtime/cli/')) up.push(`${f} → ${target}`);
        else if (f.startsWith('runtime/') && /^(sim|models)\//.test(target) && !LAZY_SIM_LOADERS.includes(f)) up.push(`${f} → ${target}`);
        else if (f.startsWith('runtime/') && target.startsWith('runtime/') && layer(target) > layer(f)) up.push(`${f} → ${target}`);
      }
    }
    expect(up).toEqual([]);
  });

  it('keeps the pure bottom layers free of Node built-ins and packages', () => {
    const impure = files
      .filter((f) => /^runtime\/(core|framing|qa|stats|anomaly|policy)\//.test(f))
      // cbor-x is the protocol's CBOR codec (PROTOCOL §5): pure JavaScript, allowed in framing only.
      .flatMap((f) => importsOf(f).filter((s) => !s.startsWith('.') && !(s === 'cbor-x' && f === 'runtime/framing/messages.ts')).map((s) => `${f} imports ${s}`));
    expect(impure).toEqual([]);
  });

  it('lets exactly one file import each outside-world library', () => {
    const owners: Record<string, string[]> = { serialport: [], mqtt: [], aedes: [], '@lydell/node-pty': [], 'onnxruntime-web': [], '@tensorflow/tfjs-tflite': [], 'onnxruntime-node': [] };
    for (const f of files) {
      const text = readFileSync(join(REPO, f), 'utf8');
      for (const lib of Object.keys(owners)) {
        // An import, or a module file path (lib/…) handed to require()/resolve() as a string constant.
        const imported = importsOf(f).some((spec) => spec === lib || spec.startsWith(lib + '/'));
        const named = new RegExp(`['"]${lib.replace(/[/.]/g, '\\$&')}/[^'"\\s]+['"]`).test(text);
        if (imported || named) owners[lib]!.push(f);
      }
    }
    expect(owners).toEqual({
      serialport: ['runtime/transport/serial.ts'],
      mqtt: ['runtime/publish/mqtt.ts'],
      aedes: ['sim/broker.ts'],
      '@lydell/node-pty': ['sim/pty.ts'],
      'onnxruntime-web': ['runtime/inference/onnx/engine.ts'],
      '@tensorflow/tfjs-tflite': ['runtime/inference/tflite/engine.ts'],
      'onnxruntime-node': ['scripts/bench/inference.ts'],
    });
  });

  it('keeps each codec library to its codec files', () => {
    // Pure JavaScript codecs, not outside-world libraries, but still behind named files so that a
    // bundle or a port knows where they are used: cbor-x in the serial protocol's codec (PROTOCOL §5)
    // and the uplink's payload encoding (DESIGN §6), protobufjs in the Sparkplug B encoding only.
    const owners: Record<string, string[]> = { 'cbor-x': [], protobufjs: [] };
    for (const f of files) {
      for (const lib of Object.keys(owners)) if (importsOf(f).some((spec) => spec === lib || spec.startsWith(lib + '/'))) owners[lib]!.push(f);
    }
    expect(owners).toEqual({
      'cbor-x': ['runtime/framing/messages.ts', 'runtime/publish/encoding.ts'],
      protobufjs: ['runtime/publish/sparkplug.ts'],
    });
  });

  it('loads the simulator only lazily from the command line', () => {
    const text = readFileSync(join(REPO, 'runtime/cli/commands/sim.ts'), 'utf8');
    expect(text).not.toMatch(/^import .*sim\//m);
    expect(text).toMatch(/await import\('..\/..\/..\/sim\/run-sim\.js'\)/);
  });
});
