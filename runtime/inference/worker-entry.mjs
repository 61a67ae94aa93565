// Source-mode bootstrap of the inference worker: register the TypeScript loader in this thread (as
// runtime/cli/tinyqa.mjs does for the CLI), then start the worker. The bundle does not use this file.
import { register } from 'tsx/esm/api';

register();
await import('./worker-entry.ts');
