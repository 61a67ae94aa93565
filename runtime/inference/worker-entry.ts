/** Source-mode entry of the inference worker thread (the bundle uses runtime/cli/entry.ts). */
import { parentPort } from 'node:worker_threads';
import { serveInference } from './worker-main.js';

if (parentPort) serveInference(parentPort);
