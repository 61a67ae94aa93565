/**
 * What the inbound commands do (DESIGN §6): `publish/commands.ts` decides whether a command may run,
 * `publish/mqtt.ts` receives it and serves `replay` itself; the others run here, against the parts
 * the composition root built. Each resolves with a small result object for `cmd/result`, or rejects
 * with the reason.
 *
 *   set_threshold {child, threshold}          one QA child's threshold, validated like the config
 *   set_config    {qa?: {...}, policy?: {...}} a partial QA/policy config merged over the current one
 *   resync        {}                          forget the serial frame sequence, ask for HELLO now
 *   health        {}                          publish a health report now
 *   model         {files: {name: base64}}     a model package: staged, verified (signature, security
 *                                             version, layout) and swapped in only if the engine loads
 *                                             it; otherwise refused and the active model kept
 *
 * Changes made by commands live until restart: the config file on disk is the operator's, and a
 * gateway that reboots comes back to it.
 */

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, TinyqaError, errorMessage } from './core/errors.js';
import type { Logger } from './core/log.js';
import { validateConfig, type TinyqaConfig } from './config/schema.js';
import type { DeviceLink } from './link/link.js';
import type { ModelService } from './inference/model-service.js';
import { verifyPackage } from './inference/package.js';
import type { Pipeline } from './pipeline/pipeline.js';
import { type Adapter, judgeParams } from './adapt/adapter.js';
import type { Policy } from './policy/policy.js';
import type { Command } from './publish/commands.js';

export interface RemoteParts {
  config: () => Readonly<TinyqaConfig>;
  setConfig: (c: Readonly<TinyqaConfig>) => void;
  pipeline: Pipeline;
  policy: Policy;
  link: DeviceLink;
  model: ModelService | undefined;
  /** The adaptation layer, when on: its shadow judge follows the thresholds a command sets. */
  adapter?: Adapter | undefined;
  publishHealth: () => void;
  log: Logger;
}

/** Files a delivered model package may contain; bounded so a command cannot fill the disk. */
const MODEL_FILE = /^[A-Za-z0-9_.-]{1,128}$/;
const MODEL_MAX_BYTES = 16 * 1024 * 1024;

function bad(message: string): TinyqaError {
  return new TinyqaError(ErrorCode.UsageInvalid, message);
}

export function commandRunner(p: RemoteParts): (c: Command) => Promise<unknown> {
  /** Validates `patch` merged over the current config and puts it in force. */
  const apply = (patch: { qa?: unknown; policy?: unknown }): Readonly<TinyqaConfig> => {
    const cur = p.config();
    const merged = structuredClone(cur) as unknown as Record<string, unknown>;
    for (const key of ['qa', 'policy'] as const) {
      if (patch[key] !== undefined) merged[key] = deepMerge(merged[key], patch[key]);
    }
    const next = validateConfig(merged, 'the command\'s config');
    p.pipeline.reconfigure(next.qa);
    p.policy.reconfigure(next.policy);
    p.adapter?.reconfigure(judgeParams(next));
    p.setConfig(next);
    return next;
  };

  return async (c: Command): Promise<unknown> => {
    switch (c.name) {
      case 'health':
        p.publishHealth();
        return { published: true };
      case 'resync':
        p.link.resync();
        return { requested: 'hello' };
      case 'set_threshold': {
        const { child, threshold } = c.args;
        const qa = p.config().qa as unknown as Record<string, unknown>;
        if (typeof child !== 'string' || !(child in qa) || child === 'parents' || child === 'cross_sensor') throw bad(`set_threshold: "child" must name a QA child (e.g. completeness); got ${JSON.stringify(child)}`);
        if (typeof threshold !== 'number') throw bad('set_threshold: "threshold" must be a number');
        const before = (qa[child] as { threshold?: number }).threshold;
        const next = apply({ qa: { [child]: { threshold } } });
        p.log.info?.(`qa.${child}.threshold ${before} → ${(next.qa as unknown as Record<string, { threshold: number }>)[child]!.threshold} (command ${c.id}; until restart)`);
        return { child, threshold, was: before };
      }
      case 'set_config': {
        const keys = Object.keys(c.args);
        const other = keys.filter((k) => k !== 'qa' && k !== 'policy');
        if (other.length > 0 || keys.length === 0) throw bad(`set_config: only "qa" and "policy" can change while running; got ${keys.length ? keys.join(', ') : 'nothing'} (the rest needs a restart with a new config file)`);
        apply(c.args as { qa?: unknown; policy?: unknown });
        p.log.info?.(`config changed by command ${c.id} (${keys.join(', ')}; until restart)`);
        return { changed: keys };
      }
      case 'model':
        return deliverModel(p, c);
      case 'replay':
        throw new TinyqaError(ErrorCode.Internal, 'replay is served by the publisher');
    }
  };
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
  return out;
}

/**
 * A model package delivered in the command: written to a staging folder beside model.package,
 * verified there (nothing of the active package is touched yet), then swapped in by two renames and
 * loaded; if the engine refuses it, the previous folder is put back.
 */
async function deliverModel(p: RemoteParts, c: Command): Promise<unknown> {
  const cfg = p.config().model;
  if (!p.model || cfg.package === '') throw bad('model: this device runs no model (model.package is empty); configure one first');
  const files = c.args.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw bad('model: "files" must map file names to base64 contents');
  const entries = Object.entries(files as Record<string, unknown>);
  if (entries.length === 0 || entries.length > 16) throw bad(`model: between 1 and 16 files expected, got ${entries.length}`);
  let total = 0;
  const decoded: [string, Buffer][] = [];
  for (const [name, b64] of entries) {
    if (!MODEL_FILE.test(name)) throw bad(`model: file name ${JSON.stringify(name)} is not a plain file name`);
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw bad(`model: ${name} is not base64`);
    const bytes = Buffer.from(b64, 'base64');
    total += bytes.length;
    if (total > MODEL_MAX_BYTES) throw bad(`model: the package is larger than ${MODEL_MAX_BYTES} bytes`);
    decoded.push([name, bytes]);
  }
  const dir = cfg.package.replace(/\/+$/, '');
  const staging = join(dirname(dir), `.${basename(dir)}.incoming`);
  const previous = join(dirname(dir), `.${basename(dir)}.previous`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    for (const [name, bytes] of decoded) writeFileSync(join(staging, name), bytes);
    let publicPem: string | undefined;
    if (cfg.public_key) publicPem = readFileSync(cfg.public_key, 'utf8');
    const pkg = verifyPackage(staging, { ...(publicPem !== undefined ? { publicPem, keyPath: cfg.public_key } : {}), ...(cfg.state ? { state: cfg.state } : {}), format: cfg.engine });
    rmSync(previous, { recursive: true, force: true });
    if (existsSync(dir)) renameSync(dir, previous);
    renameSync(staging, dir);
    const r = await p.model.reload();
    if (!r.accepted) {
      rmSync(dir, { recursive: true, force: true });
      if (existsSync(previous)) renameSync(previous, dir);
      throw new TinyqaError(ErrorCode.ModelRefused, `model ${pkg.manifest.name}@${pkg.manifest.version} refused: ${r.reason ?? 'unknown reason'}; the active model is kept`);
    }
    return { accepted: `${pkg.manifest.name}@${pkg.manifest.version}`, active: p.model.label };
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (e instanceof TinyqaError) throw e;
    throw new TinyqaError(ErrorCode.ModelRefused, `model package refused: ${errorMessage(e)}; the active model is kept`, { cause: e });
  }
}
