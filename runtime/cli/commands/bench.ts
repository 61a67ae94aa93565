import { ErrorCode, TinyqaError } from '../../core/errors.js';
import { numberOption, parse } from '../args.js';

export const BENCH_HELP = `Usage: tinyqa bench <what> [options]

Benchmarks that print figures, targets and peer ratios (measure on a quiet machine; the median of
several runs is reported).

What:
  qa        the QA graph (every child that runs without a link or site config), window 64, hop 32:
            samples/s against the DESIGN §8 target of 1 M, beside windowing alone
  framing   decode path, bytes → typed messages, on one core: samples/s with 32-sample frames and
            frames/s with 1-sample frames against the DESIGN §8 targets; the C reference codec's
            bytes/s on this machine as the peer (built with make when gcc is present)
  inference the shipped int8 autoencoder (models/pump-ae; MLPerf Tiny AD01 too when the shared
            fixtures are present) on onnxruntime-web (WASM, 1 thread) and TFLite-WASM, beside the
            native peer onnxruntime-node on the same model, batches 1/8/32/64: µs per window, the
            web/native and TFLite/web ratios at each engine's best batch against the DESIGN §8
            targets (≤ 1.5×), cold load per engine (bytes → first result, fresh process) and
            resident memory with a TFLite and then also an ONNX model in the inference worker.
            Runs from a source checkout (needs the devDependencies esbuild and onnxruntime-node).

Options:
  --runs N    measured runs (default: 5)
  --json      print one JSON object
  -h, --help  show this help
`;

export async function benchCommand(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (what === undefined || what === '-h' || what === '--help') {
    process.stdout.write(BENCH_HELP);
    return what === undefined ? 2 : 0;
  }
  const a = parse(`bench ${what}`, rest, { runs: { type: 'string' }, json: { type: 'boolean' } });
  if (a.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  const runs = numberOption('bench', 'runs', a.runs, 1, 100) ?? 5;
  if (what === 'qa') {
    const { benchQa } = await import('../../../scripts/bench/qa.js');
    const q = benchQa({ runs, progress: (m) => process.stderr.write(m + '\n') });
    if (a.json) process.stdout.write(JSON.stringify(q) + '\n');
    else
      process.stdout.write(
        `QA graph (${q.children.length} children, window ${q.window.size}/${q.window.hop}): ${(q.samples_per_s / 1e6).toFixed(2)} M samples/s — target ≥ 1 M: ${q.meets_target ? 'meets' : 'BELOW'}\n` +
          `windowing only: ${(q.windowing_only_samples_per_s / 1e6).toFixed(2)} M samples/s (judging costs ${q.qa_cost_ratio}×); heap growth ${q.heap_growth_bytes_per_sample} B/sample\n`,
      );
    return 0;
  }
  if (what === 'inference') {
    if (process.env.TINYQA_BUNDLE === '1') {
      throw new TinyqaError(ErrorCode.UsageInvalid, 'bench inference runs from a source checkout, not from the bundle', { hint: 'run `npx tinyqa bench inference` in the repository (it needs the model toolchain, esbuild and onnxruntime-node)' });
    }
    // Not a literal specifier, so esbuild leaves the bench (and onnxruntime-node, the toolchain) out of the bundle.
    const at = new URL('../../../scripts/bench/inference.js', import.meta.url).href;
    const { benchInference, formatInferenceReport } = (await import(at)) as typeof import('../../../scripts/bench/inference.js');
    const r = await benchInference({ runs, progress: (m) => process.stderr.write(m + '\n') });
    process.stdout.write(a.json ? JSON.stringify(r) + '\n' : formatInferenceReport(r));
    return 0;
  }
  if (what !== 'framing') throw new TinyqaError(ErrorCode.UsageInvalid, `bench: unknown benchmark "${what}"`, { hint: 'available: framing, qa, inference' });
  const { benchFraming } = await import('../../../scripts/bench/framing.js');
  const r = benchFraming({ runs, progress: (m) => process.stderr.write(m + '\n') });
  if (a.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  const ok = (x: number, t: number) => (x >= t ? 'meets' : 'BELOW');
  process.stdout.write(
    `decode, 32-sample frames: ${(r.samples_per_s_batch32 / 1e6).toFixed(2)} M samples/s (${r.decode_mb_per_s_batch32} MB/s) — target ≥ 2 M: ${ok(r.samples_per_s_batch32, r.targets.samples_per_s_batch32)}\n` +
      `decode, 1-sample frames:  ${(r.frames_per_s_single / 1e3).toFixed(0)} k frames/s — target ≥ 300 k: ${ok(r.frames_per_s_single, r.targets.frames_per_s_single)}\n` +
      ('unavailable' in r.c
        ? `C reference: ${r.c.unavailable}\n`
        : `C reference on this machine: encode ${(r.c.encode_bytes_per_s / 1e6).toFixed(1)} MB/s, decode ${(r.c.decode_bytes_per_s / 1e6).toFixed(1)} MB/s; TypeScript decode = ${r.c.ts_decode_vs_c}× C\n`),
  );
  return 0;
}
