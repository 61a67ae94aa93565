// Builds the gateway bundle: dist/tinyqa.mjs (all JavaScript, minified) plus, beside it, the native
// addons it loads at run time (dist/native/…) with their licence notices. `node dist/tinyqa.mjs`
// then needs nothing else: no node_modules, no TypeScript loader.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const outdir = resolve(process.argv[2] ?? 'dist');
const started = Date.now();

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const nativeLoader = resolve('scripts/bundle/native-loader.ts');

/** Redirects native-addon loaders to the bundle's own loader (see scripts/bundle/native-loader.ts). */
const nativeAddons = {
  name: 'native-addons',
  setup(b) {
    b.onResolve({ filter: /^node-gyp-build$/ }, () => ({ path: nativeLoader }));
    b.onResolve({ filter: /^tinyqa:pty-binding$/ }, () => ({ path: 'pty-binding', namespace: 'tinyqa' }));
    b.onLoad({ filter: /^pty-binding$/, namespace: 'tinyqa' }, () => ({
      contents: `export { loadPtyBinding as default } from ${JSON.stringify(nativeLoader)};`,
      resolveDir: process.cwd(),
      loader: 'ts',
    }));
  },
};

const result = await build({
  entryPoints: ['runtime/cli/entry.ts'],
  outfile: join(outdir, 'tinyqa.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'linked',
  metafile: true,
  define: { 'process.env.TINYQA_BUNDLE': '"1"' },
  banner: {
    // CommonJS dependencies call require() for Node built-ins; give them one in the ESM bundle.
    js: [
      "import { createRequire as __tinyqaCreateRequire } from 'node:module';",
      "import { fileURLToPath as __tinyqaFileURLToPath } from 'node:url';",
      'const require = __tinyqaCreateRequire(import.meta.url);',
      'const __filename = __tinyqaFileURLToPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
  plugins: [nativeAddons],
  logLevel: 'warning',
});

/** These packages ship no LICENSE file: record name, version, licence and source from package.json. */
function notice(pkg, dir) {
  const meta = JSON.parse(readFileSync(join('node_modules', pkg, 'package.json'), 'utf8'));
  const repo = typeof meta.repository === 'string' ? meta.repository : (meta.repository?.url ?? '');
  writeFileSync(join(dir, 'NOTICE'), `${meta.name} ${meta.version}\nLicence: ${meta.license}\nSource: ${repo}\nThese files are copied unmodified from the npm package.\n`);
}

// Native addons beside the bundle, with their licences.
function copyNative(name, fromDir, licenceFile) {
  const to = join(outdir, 'native', name);
  mkdirSync(to, { recursive: true });
  for (const d of readdirSync(fromDir)) {
    const src = join(fromDir, d);
    if (statSync(src).isDirectory() && /^(linux|darwin)-/.test(d)) cpSync(src, join(to, d), { recursive: true });
  }
  if (licenceFile && existsSync(licenceFile)) cpSync(licenceFile, join(to, 'LICENSE'));
}

const bindingsDir = dirname(require.resolve('@serialport/bindings-cpp/package.json'));
copyNative('serialport', join(bindingsDir, 'prebuilds'), join(bindingsDir, 'LICENSE'));

// @lydell/node-pty ships one binary package per platform; copy the ones installed here.
const ptyDir = dirname(require.resolve('@lydell/node-pty/package.json'));
const ptyTo = join(outdir, 'native', 'pty');
for (const d of readdirSync(join(ptyDir, '..'))) {
  const m = /^node-pty-(linux|darwin)-(x64|arm64)$/.exec(d);
  if (!m) continue;
  mkdirSync(join(ptyTo, `${m[1]}-${m[2]}`), { recursive: true });
  cpSync(join(ptyDir, '..', d, 'pty.node'), join(ptyTo, `${m[1]}-${m[2]}`, 'pty.node'));
}
if (existsSync(join(ptyDir, 'LICENSE'))) cpSync(join(ptyDir, 'LICENSE'), join(ptyTo, 'LICENSE'));

writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
// The charting library the HTML reports inline (sim/report/html.ts), with its licence.
const uplotDist = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
mkdirSync(join(outdir, 'assets'), { recursive: true });
cpSync(join(uplotDist, 'uPlot.iife.min.js'), join(outdir, 'assets', 'uPlot.iife.min.js'));
cpSync(join(uplotDist, 'uPlot.min.css'), join(outdir, 'assets', 'uPlot.min.css'));
cpSync(join(uplotDist, '..', 'LICENSE'), join(outdir, 'assets', 'uPlot.LICENSE'));

// The inference engines' WASM (and the glue they load at run time), with their licences.
const ortDist = dirname(require.resolve('onnxruntime-web'));
mkdirSync(join(outdir, 'assets', 'ort'), { recursive: true });
for (const f of ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) cpSync(join(ortDist, f), join(outdir, 'assets', 'ort', f));
notice('onnxruntime-web', join(outdir, 'assets', 'ort'));
const tfliteWasm = dirname(require.resolve('@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.js'));
mkdirSync(join(outdir, 'assets', 'tflite'), { recursive: true });
for (const f of ['tflite_web_api_cc_simd.js', 'tflite_web_api_cc_simd.wasm']) cpSync(join(tfliteWasm, f), join(outdir, 'assets', 'tflite', f));
notice('@tensorflow/tfjs-tflite', join(outdir, 'assets', 'tflite'));

const js = statSync(join(outdir, 'tinyqa.mjs')).size;
process.stdout.write(`built ${join(outdir, 'tinyqa.mjs')} (${(js / 1024).toFixed(0)} KB minified JavaScript) + native addons in ${join(outdir, 'native')} in ${Date.now() - started} ms\n`);
if (result.warnings.length) process.exitCode = 0;
