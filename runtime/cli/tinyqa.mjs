#!/usr/bin/env node
// Runs the tinyqa CLI from this checkout's TypeScript sources (the bundle, dist/tinyqa.mjs, needs no loader).
import { register } from 'tsx/esm/api';

register();
await import('./entry.ts');
