/**
 * Calibration profiles (`tinyqa calibrate --out FILE`): which children run and their thresholds,
 * fitted on clean reference data. Loaded by `sim`, `run` and `score` with `--profile FILE` (or the
 * config's `profile` key) and merged over the config's qa section; verdicts then carry its hash.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';

export interface LoadedProfile {
  hash: string;
  window: number;
  qa: Record<string, { enabled: boolean; threshold: number; severity?: 'critical' | 'warning' | 'info' }>;
  /** A fitted parent decision (weighted), when calibration made one. */
  parents?: Record<string, unknown>;
}

/** Reads and checks a profile: its format, its fields, and that its hash matches its content. */
export function loadCalibrationProfile(path: string): LoadedProfile {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new TinyqaError(ErrorCode.ProfileInvalid, `cannot read calibration profile ${path}: ${errorMessage(e)}`, { hint: 'write one with `tinyqa calibrate --csv clean.csv --out profile.json`' });
  }
  const bad = (why: string) => new TinyqaError(ErrorCode.ProfileInvalid, `calibration profile ${path}: ${why}`, { hint: 'regenerate it with `tinyqa calibrate`; profiles are not meant to be edited by hand' });
  if (p.format !== 'tinyqa-profile/1') throw bad(`format must be "tinyqa-profile/1"; got ${JSON.stringify(p.format)}`);
  const window = p.window;
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 8) throw bad('window must be an integer ≥ 8');
  const qa = p.qa;
  if (typeof qa !== 'object' || qa === null || Array.isArray(qa)) throw bad('qa must be an object of children');
  for (const [name, c] of Object.entries(qa as Record<string, unknown>)) {
    const child = c as { enabled?: unknown; threshold?: unknown };
    const sev = (child as { severity?: unknown }).severity;
    if (typeof child !== 'object' || child === null || typeof child.enabled !== 'boolean' || typeof child.threshold !== 'number' || !Number.isFinite(child.threshold) || child.threshold < 0 || (sev !== undefined && !['critical', 'warning', 'info'].includes(sev as string))) {
      throw bad(`qa.${name} must be {"enabled": boolean, "threshold": number ≥ 0, "severity"?: "critical"|"warning"|"info"}`);
    }
  }
  const parents = p.parents;
  if (parents !== undefined && (typeof parents !== 'object' || parents === null || Array.isArray(parents))) throw bad('parents must be an object of parent decisions');
  const hash = createHash('sha256').update(JSON.stringify(parents ? { window, qa, parents } : { window, qa })).digest('hex').slice(0, 16);
  if (p.hash !== hash) throw bad(`its hash ${String(p.hash)} does not match its content (${hash}): it was changed after calibration`);
  // The parents' fields are checked by validateConfig when merged (keys named qa.parents.…).
  return { hash, window, qa: qa as LoadedProfile['qa'], ...(parents ? { parents: parents as Record<string, unknown> } : {}) };
}

/** A config input with the profile's window and children merged over it (the profile wins). */
export function withCalibrationProfile(input: Record<string, unknown>, profile: LoadedProfile): Record<string, unknown> {
  const qa = { ...((input.qa as Record<string, unknown>) ?? {}) };
  for (const [name, c] of Object.entries(profile.qa)) qa[name] = { ...((qa[name] as object) ?? {}), enabled: c.enabled, threshold: c.threshold, ...(c.severity ? { severity: c.severity } : {}) };
  if (profile.parents) {
    const ps = { ...((qa.parents as Record<string, unknown>) ?? {}) };
    for (const [name, d] of Object.entries(profile.parents)) ps[name] = { ...((ps[name] as object) ?? {}), ...(d as object) };
    qa.parents = ps;
  }
  return { ...input, window: { ...((input.window as object) ?? {}), size: profile.window, hop: profile.window }, qa };
}
