/**
 * The active QA model of a running tinyqa (DESIGN §5): a verified package, loaded into the inference
 * worker, scoring windows for the pipeline's anomaly child.
 *
 * - Micro-batching without added latency: a window is sent at once when the engine is idle; windows
 *   that arrive while a call is running wait and go together in the next call (up to `maxBatch`).
 *   So a quiet stream pays no batching delay, and a burst (replay, catch-up after a stall) is
 *   amortised over one engine call per batch. Calls, windows and engine µs are counted.
 * - Updates: `reload()` (on a timer when `reloadS` > 0, and on SIGHUP in `tinyqa run`) verifies the
 *   package folder again. A package that fails any check — signature, hashes, layout, window size,
 *   security version, or the engine refusing it — is refused with the reason, and the last good
 *   model stays active. An accepted one replaces it and its security version is persisted.
 * - Containment: if the worker dies (an engine crash), the windows in flight are judged without the
 *   model, the last good model is loaded into a fresh worker, and scoring resumes.
 */

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseProfile, type ReferenceProfile } from '../qa/profile.js';
import { acceptSecurityVersion, MANIFEST, SIGNATURE, verifyPackage, type VerifiedPackage } from './package.js';
import { layoutSizes, parseLayout, prepareWindow, windowErrors, type WindowModelLayout } from './window-model.js';
import { InferenceWorker, type RemoteModel } from './worker-host.js';

export interface ModelServiceOptions {
  /** The package folder. */
  dir: string;
  /** ed25519 public key (PEM file); empty = signatures not required. */
  publicKeyPath: string;
  /** Security-version state file; empty = not persisted. */
  statePath: string;
  engine: 'auto' | 'tflite' | 'onnx';
  /** The runtime's window size: the model's layout must match it. */
  windowSize: number;
  maxBatch: number;
  /** Seconds between checks of the package folder for an update; 0 = only on reload(). */
  reloadS: number;
}

export interface ModelCounters {
  model_calls: number;
  model_windows: number;
  model_batch_max: number;
  /** Engine time inside the worker, summed over calls (µs). */
  model_engine_us: number;
  model_failures: number;
  model_restarts: number;
  model_updates: number;
  model_refused: number;
}

interface Active {
  pkg: VerifiedPackage;
  layout: WindowModelLayout;
  profile: ReferenceProfile | undefined;
  remote: RemoteModel;
  label: string;
  /** What the package folder looked like when it was loaded, to notice a change. */
  stamp: string;
}

type Result = { ratios: Record<string, number>; name: string } | undefined;
interface Queued {
  windows: readonly Float64Array[];
  resolve: (r: Result) => void;
}

function folderStamp(dir: string): string {
  const parts: string[] = [];
  for (const f of [MANIFEST, SIGNATURE]) {
    try {
      const st = statSync(join(dir, f));
      parts.push(`${f}:${st.size}:${st.mtimeMs}`);
    } catch {
      parts.push(`${f}:-`);
    }
  }
  return parts.join('|');
}

export class ModelService {
  readonly counters: ModelCounters = { model_calls: 0, model_windows: 0, model_batch_max: 0, model_engine_us: 0, model_failures: 0, model_restarts: 0, model_updates: 0, model_refused: 0 };
  private active: Active | undefined;
  private queue: Queued[] = [];
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private restoring: Promise<void> | undefined;
  private closed = false;
  /** The reason the last update was refused, for health reports. */
  lastRefusal: string | undefined;

  constructor(
    private readonly o: ModelServiceOptions,
    private readonly log: Logger,
    private readonly worker = new InferenceWorker(),
  ) {}

  /** Loads the package; throws (coded, with the reason) if it is refused — there is no last good model yet. */
  async start(): Promise<void> {
    try {
      this.active = await this.loadVerified();
    } catch (e) {
      // At start there is no last good model to keep: say what to do instead.
      if (e instanceof TinyqaError) throw new TinyqaError(e.code, e.message.replace(/^E\d+ /, ''), { hint: 'no model is active yet: fix or replace the package, or empty model.package to run on the rule dimensions alone', cause: e });
      throw e;
    }
    this.acceptVersion(this.active);
    this.log.info?.(`model ${this.active.label} active on ${this.active.remote.engine} (${this.active.remote.batching === 'native' ? 'batched calls' : 'one call per window'})${this.active.pkg.signed ? ', signature verified' : ', unsigned (no public_key configured)'}`);
    if (this.o.reloadS > 0) {
      this.timer = setInterval(() => {
        if (this.active && folderStamp(this.o.dir) !== this.active.stamp) void this.reload();
      }, this.o.reloadS * 1000);
      this.timer.unref();
    }
  }

  /** The active model's channels, in its order (undefined while none is active). */
  get channels(): readonly string[] | undefined {
    return this.active?.layout.channels;
  }

  /** The active model's training envelope, for the relevance child. */
  get referenceProfile(): ReferenceProfile | undefined {
    return this.active?.profile;
  }

  get label(): string | undefined {
    return this.active?.label;
  }

  get engine(): string | undefined {
    return this.active?.remote.engine;
  }

  score(windows: readonly Float64Array[]): Promise<Result> {
    if (!this.active || this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.queue.push({ windows, resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.busy || this.queue.length === 0) return;
    const a = this.active;
    if (!a) {
      for (const q of this.queue.splice(0)) q.resolve(undefined);
      return;
    }
    const batch = this.queue.splice(0, this.o.maxBatch);
    this.busy = true;
    const sz = layoutSizes(a.layout);
    const n = batch.length;
    const input = new Float32Array(n * sz.input);
    const truth = new Float32Array(n * sz.truth);
    batch.forEach((q, i) => prepareWindow(a.layout, q.windows, input, truth, i));
    const inputName = a.remote.inputs[0]!.name;
    this.worker.run(a.remote, { [inputName]: input }, n).then(
      (r) => {
        this.counters.model_calls++;
        this.counters.model_windows += n;
        this.counters.model_engine_us += r.us;
        if (n > this.counters.model_batch_max) this.counters.model_batch_max = n;
        const out = Object.values(r.outputs)[0]!;
        const th = a.layout.thresholds;
        batch.forEach((q, i) => {
          const e = windowErrors(a.layout, truth, out, i);
          const ratios: Record<string, number> = {};
          for (const [c, v] of Object.entries(e)) if (th[c] !== undefined) ratios[c] = v / th[c]!;
          q.resolve({ ratios, name: a.label });
        });
      },
      (e: unknown) => {
        this.counters.model_failures++;
        this.log.error?.(`model ${a.label} failed on ${n} window(s): ${errorMessage(e)}; they are judged without it`);
        for (const q of batch) q.resolve(undefined);
        // A dead worker took the model with it: bring the last good one back in a fresh worker.
        if (this.active === a && e instanceof TinyqaError && e.code === ErrorCode.ModelCrashed) this.restore(a);
      },
    ).finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  private restore(a: Active): void {
    this.active = undefined;
    this.restoring ??= (async () => {
      try {
        const remote = await this.worker.load(a.pkg.modelBytes, a.label, a.pkg.file.format);
        if (this.closed) return;
        this.active = { ...a, remote };
        this.counters.model_restarts++;
        this.log.warn?.(`model ${a.label} reloaded in a fresh inference worker`);
      } catch (e) {
        this.log.error?.(`model ${a.label} could not be reloaded after a crash: ${errorMessage(e)}; judging without it until the next update`);
      } finally {
        this.restoring = undefined;
      }
    })();
  }

  /**
   * Checks the package folder again. Accepted: the new model replaces the old. Refused: the reason is
   * logged and kept in `lastRefusal`, the last good model stays active.
   */
  async reload(): Promise<{ accepted: boolean; reason?: string }> {
    const prev = this.active;
    let next: Active;
    try {
      next = await this.loadVerified();
    } catch (e) {
      this.counters.model_refused++;
      this.lastRefusal = errorMessage(e);
      this.log.error?.(`model update refused: ${this.lastRefusal}${prev ? ` — ${prev.label} stays active` : ''}`);
      // Do not retry the same bytes every tick: remember what was refused.
      if (prev) prev.stamp = folderStamp(this.o.dir);
      return { accepted: false, reason: this.lastRefusal };
    }
    if (prev && prev.pkg.file.sha256 === next.pkg.file.sha256 && prev.pkg.manifest.version === next.pkg.manifest.version) {
      prev.stamp = next.stamp;
      await this.worker.dispose(next.remote).catch(() => {});
      return { accepted: true };
    }
    this.active = next;
    this.acceptVersion(next);
    this.counters.model_updates++;
    this.lastRefusal = undefined;
    this.log.info?.(`model update accepted: ${prev ? `${prev.label} → ` : ''}${next.label}`);
    if (prev) await this.worker.dispose(prev.remote).catch(() => {});
    return { accepted: true };
  }

  private acceptVersion(a: Active): void {
    if (this.o.statePath) acceptSecurityVersion(this.o.statePath, a.pkg.manifest.name, a.pkg.manifest.security_version);
  }

  private async loadVerified(): Promise<Active> {
    const stamp = folderStamp(this.o.dir);
    let publicPem: string | undefined;
    if (this.o.publicKeyPath) {
      try {
        publicPem = readFileSync(this.o.publicKeyPath, 'utf8');
      } catch (e) {
        throw new TinyqaError(ErrorCode.ModelRefused, `model.public_key ${this.o.publicKeyPath} cannot be read: ${errorMessage(e)}`, { hint: 'point model.public_key at the PEM file from `tinyqa model keygen`' });
      }
    }
    const pkg = verifyPackage(this.o.dir, { ...(publicPem !== undefined ? { publicPem, keyPath: this.o.publicKeyPath } : {}), ...(this.o.statePath ? { state: this.o.statePath } : {}), format: this.o.engine });
    const m = pkg.manifest;
    const label = `${m.name}@${m.version}`;
    const layout = parseLayout(m.layout, `model package ${this.o.dir}`);
    if (layout.window !== this.o.windowSize) {
      throw new TinyqaError(ErrorCode.ModelRefused, `model package ${this.o.dir} refused: ${label} judges ${layout.window}-sample windows, but window.size is ${this.o.windowSize}`, { hint: `set window.size to ${layout.window}, or use a model trained for ${this.o.windowSize}-sample windows` });
    }
    let profile: ReferenceProfile | undefined;
    if (m.reference_profile !== undefined) profile = parseProfile(m.reference_profile, `${this.o.dir}/${MANIFEST} reference_profile`);
    let remote: RemoteModel;
    try {
      remote = await this.worker.load(pkg.modelBytes, label, pkg.file.format);
    } catch (e) {
      throw new TinyqaError(ErrorCode.ModelRefused, `model package ${this.o.dir} refused: the ${pkg.file.format} engine cannot load ${label}: ${errorMessage(e)}`, { cause: e });
    }
    const need = layoutSizes(layout).input;
    if (remote.inputs.length !== 1 || (remote.inputs[0]!.size !== 0 && remote.inputs[0]!.size !== need)) {
      await this.worker.dispose(remote).catch(() => {});
      throw new TinyqaError(ErrorCode.ModelRefused, `model package ${this.o.dir} refused: its layout feeds ${need} values, the model takes ${remote.inputs.map((i) => `${i.name} [${i.shape}]`).join(', ')}`, { hint: 'the manifest and the model file come from different builds' });
    }
    return { pkg, layout, profile, remote, label, stamp };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const q of this.queue.splice(0)) q.resolve(undefined);
    await this.worker.close();
  }

  /** For tests: kill the worker as an engine crash would. */
  crashForTest(): Promise<void> {
    return this.worker.crashForTest();
  }
}
