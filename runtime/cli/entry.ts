/**
 * Process entry point (the bundle's and the bin's): run the CLI, then exit with its code. In the
 * bundle the same file is also the inference worker's entry (runtime/inference/worker-host.ts).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { main } from './main.js';

async function runCli(): Promise<void> {
  // A reader that goes away (`tinyqa sim --json | head`) is a normal end, not a crash.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  try {
    process.exit(await main(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`tinyqa: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(70);
  }
}

if (!isMainThread && (workerData as { tinyqaRole?: string } | undefined)?.tinyqaRole === 'inference') {
  const { serveInference } = await import('../inference/worker-main.js');
  serveInference(parentPort!);
} else {
  await runCli();
}
