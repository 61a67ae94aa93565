/**
 * Atomic, checksummed, two-generation checkpoint store (DESIGN: "State is checkpointed atomically
 * (temp + fsync + rename + dir fsync, with a checksum and a previous generation)"). The adaptation
 * state (./persist.ts) is its user; the payload is opaque bytes.
 *
 * Files in `dir`, for a store named `name` (letters, digits, `_`, `-`):
 *   `<name>.<generation>.ckpt`  one committed generation each (decimal, no padding); the newest two are kept
 *   `<name>.tmp`                the save in progress; a leftover one is a crash's, removed at load and save
 * Other files in the folder are left alone, so several stores can share it.
 *
 * File format, little-endian, a 56-byte header then the payload:
 *   0  4  magic "TQCK"
 *   4  2  format version (1)
 *   6  2  header length (56)
 *   8  8  generation (u64, ≤ 2^53; equals the one in the file name)
 *  16  4  payload length (u32; the file is exactly 56 + this long)
 *  20  4  reserved (0)
 *  24 32  sha256 over bytes 0..24 of the header followed by the payload
 *  56  …  payload
 * A file verifies when all of the above hold; anything else (torn, truncated, bit flip, trailing bytes,
 * unknown version, renamed) is skipped at load.
 *
 * Save: write `<name>.tmp`, fsync it, close, rename it to the next generation's file, fsync the folder
 * (the rename is durable from here: save returns the generation), then remove the older generations
 * except the newest one that verifies — in the usual case that is "keep the newest two". A crash at
 * any point leaves the previous or the new generation loadable (checkpoint.test.ts crashes a simulated
 * filesystem at every step). Generations continue from the highest file present, corrupt ones
 * included, so a number is never reused for different content. When save creates the folder it also
 * fsyncs the parents it created into.
 *
 * Load: the newest generation that verifies; the files passed over are named in `skipped` (the reason
 * goes to the log). One process per store: two writers on one folder are not supported.
 */

import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorCode, TinyqaError } from '../core/errors.js';

/** The synchronous file operations the checkpointer uses (STYLE §1: one interface per boundary). */
export interface CheckpointFs {
  /** Creates `dir` and missing parents; returns the first folder created (as `mkdirSync` recursive), undefined if it existed. */
  mkdir(dir: string): string | undefined;
  /** File names in `dir`; throws (ENOENT …) when it cannot be listed. */
  readdir(dir: string): string[];
  /** Opens `path` for writing, created or truncated. */
  open(path: string): number;
  /** Writes all of `bytes` at the current end of the file, or throws (possibly after a partial write). */
  write(fd: number, bytes: Uint8Array): void;
  fsync(fd: number): void;
  close(fd: number): void;
  rename(from: string, to: string): void;
  /** Removes `path`; a missing file is not an error. */
  unlink(path: string): void;
  /** The whole file; throws when it cannot be read. */
  readFile(path: string): Uint8Array;
  /** Makes the entries of `dir` (creations, renames, removals) durable. */
  fsyncDir(dir: string): void;
}

function errCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

export const nodeCheckpointFs: CheckpointFs = {
  mkdir: (dir) => mkdirSync(dir, { recursive: true }),
  readdir: (dir) => readdirSync(dir),
  open: (path) => openSync(path, 'w', 0o644),
  write(fd, bytes) {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  },
  fsync: (fd) => fsyncSync(fd),
  close: (fd) => closeSync(fd),
  rename: (from, to) => renameSync(from, to),
  unlink(path) {
    try {
      unlinkSync(path);
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
    }
  },
  readFile: (path) => readFileSync(path),
  fsyncDir(dir) {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};

export const CHECKPOINT_MAGIC = 'TQCK';
export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_HEADER_BYTES = 56;
const HASHED_HEADER_BYTES = 24;
const MAX_PAYLOAD = 0xffff_ffff;

function sha256(header: Uint8Array, payload: Uint8Array): Buffer {
  return createHash('sha256').update(header.subarray(0, HASHED_HEADER_BYTES)).update(payload).digest();
}

/** The bytes of one generation's file. */
export function encodeCheckpoint(generation: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHECKPOINT_HEADER_BYTES + payload.length);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = CHECKPOINT_MAGIC.charCodeAt(i);
  v.setUint16(4, CHECKPOINT_VERSION, true);
  v.setUint16(6, CHECKPOINT_HEADER_BYTES, true);
  v.setBigUint64(8, BigInt(generation), true);
  v.setUint32(16, payload.length, true);
  v.setUint32(20, 0, true);
  out.set(payload, CHECKPOINT_HEADER_BYTES);
  out.set(sha256(out, payload), HASHED_HEADER_BYTES);
  return out;
}

/** The payload of a generation file, or why it does not verify. */
export function decodeCheckpoint(bytes: Uint8Array, generation: number): { payload: Uint8Array } | { problem: string } {
  if (bytes.length < CHECKPOINT_HEADER_BYTES) return { problem: `${bytes.length} bytes, shorter than the ${CHECKPOINT_HEADER_BYTES}-byte header (torn or truncated)` };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < 4; i++) if (bytes[i] !== CHECKPOINT_MAGIC.charCodeAt(i)) return { problem: 'not a checkpoint (bad magic)' };
  const version = v.getUint16(4, true);
  if (version !== CHECKPOINT_VERSION) return { problem: `format version ${version}, this build reads ${CHECKPOINT_VERSION}` };
  if (v.getUint16(6, true) !== CHECKPOINT_HEADER_BYTES) return { problem: 'bad header length' };
  const gen = v.getBigUint64(8, true);
  if (gen !== BigInt(generation)) return { problem: `header says generation ${gen}, the file name ${generation}` };
  const length = v.getUint32(16, true);
  if (bytes.length !== CHECKPOINT_HEADER_BYTES + length) return { problem: `${bytes.length - CHECKPOINT_HEADER_BYTES} payload bytes, the header says ${length} (torn or truncated)` };
  const payload = bytes.subarray(CHECKPOINT_HEADER_BYTES);
  const sum = sha256(bytes, payload);
  for (let i = 0; i < 32; i++) if (sum[i] !== bytes[HASHED_HEADER_BYTES + i]) return { problem: 'checksum mismatch' };
  return { payload: new Uint8Array(payload) };
}

export interface CheckpointLoad {
  payload: Uint8Array;
  generation: number;
  /** The newest generation was unusable and an older one was loaded. */
  fellBack: boolean;
  /** Generation files passed over because they did not verify (names in `dir`). */
  skipped: string[];
}

const NAME = /^[A-Za-z0-9_-]+$/;

export class Checkpointer {
  private readonly dir: string;
  private readonly name: string;
  private readonly fs: CheckpointFs;
  private readonly log: (msg: string) => void;
  private readonly tmpName: string;
  private readonly fileRe: RegExp;
  /** Highest generation seen or written by this instance: numbering never goes back, even if files vanish. */
  private highest = 0;

  constructor(o: { dir: string; name: string; fs?: CheckpointFs; log?: (msg: string) => void }) {
    if (!NAME.test(o.name)) throw new TinyqaError(ErrorCode.Internal, `checkpoint name "${o.name}" is not letters, digits, "_" or "-"`);
    this.dir = o.dir;
    this.name = o.name;
    this.fs = o.fs ?? nodeCheckpointFs;
    this.log = o.log ?? (() => {});
    this.tmpName = `${o.name}.tmp`;
    this.fileRe = new RegExp(`^${o.name}\\.(\\d{1,15})\\.ckpt$`);
  }

  fileName(generation: number): string {
    return `${this.name}.${generation}.ckpt`;
  }

  /**
   * The newest generation that verifies; undefined when there is no checkpoint (no folder, or no
   * generation file in it). Throws CheckpointCorrupt when generation files exist but none verifies,
   * CheckpointUnreadable when the folder (or every file) cannot be read.
   */
  load(): CheckpointLoad | undefined {
    let names: string[];
    try {
      names = this.fs.readdir(this.dir);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return undefined;
      throw this.unreadable(e);
    }
    if (names.includes(this.tmpName)) this.removeStaleTmp();
    const gens = this.generations(names);
    if (gens.length === 0) return undefined;
    this.highest = Math.max(this.highest, gens[0]!);
    const skipped: string[] = [];
    let readError: unknown;
    let unreadableFiles = 0;
    for (const [i, gen] of gens.entries()) {
      const file = this.fileName(gen);
      let bytes: Uint8Array;
      try {
        bytes = this.fs.readFile(join(this.dir, file));
      } catch (e) {
        readError ??= e;
        unreadableFiles++;
        this.log(`checkpoint ${join(this.dir, file)} cannot be read (${errText(e)}); trying an older generation`);
        skipped.push(file);
        continue;
      }
      const got = decodeCheckpoint(bytes, gen);
      if ('payload' in got) return { payload: got.payload, generation: gen, fellBack: i > 0, skipped };
      this.log(`checkpoint ${join(this.dir, file)} does not verify (${got.problem}); trying an older generation`);
      skipped.push(file);
    }
    // Every file failed to read (permissions, I/O): that is not evidence of corruption.
    if (unreadableFiles === gens.length) throw this.unreadable(readError, `${skipped.join(', ')} cannot be read`);
    throw new TinyqaError(ErrorCode.CheckpointCorrupt, `no checkpoint generation in ${this.dir} verifies (${skipped.join(', ')})`, {
      hint: `the files are damaged (storage fault or an outside edit); move them out of ${this.dir} to start from the seed state, and check the medium for errors (dmesg)`,
    });
  }

  /**
   * Writes `payload` as the next generation and returns its number once it is durable. On failure
   * throws CheckpointWriteFailed (CheckpointUnreadable if the folder cannot be made or listed); the
   * committed generations are untouched and the next save starts afresh.
   */
  save(payload: Uint8Array): number {
    if (payload.length > MAX_PAYLOAD) throw new TinyqaError(ErrorCode.CheckpointWriteFailed, `checkpoint payload of ${payload.length} bytes is over the 4 GiB the format holds`);
    this.ensureDir();
    let names: string[];
    try {
      names = this.fs.readdir(this.dir);
    } catch (e) {
      throw this.unreadable(e);
    }
    const tmp = join(this.dir, this.tmpName);
    if (names.includes(this.tmpName)) {
      try {
        this.fs.unlink(tmp);
      } catch (e) {
        throw this.writeFailed(e, `cannot remove the stale ${tmp}`, this.highest);
      }
    }
    const present = this.generations(names);
    const committed = Math.max(this.highest, present[0] ?? 0);
    const gen = committed + 1;
    const file = join(this.dir, this.fileName(gen));
    const bytes = encodeCheckpoint(gen, payload);

    let fd: number | undefined;
    let step = `cannot create ${tmp}`;
    try {
      fd = this.fs.open(tmp);
      step = `cannot write ${bytes.length} bytes to ${tmp}`;
      this.fs.write(fd, bytes);
      step = `cannot sync ${tmp} to storage`;
      this.fs.fsync(fd);
      step = `cannot close ${tmp}`;
      const f = fd;
      fd = undefined;
      this.fs.close(f);
      step = `cannot rename ${tmp} to ${file}`;
      this.fs.rename(tmp, file);
    } catch (e) {
      if (fd !== undefined) {
        try {
          this.fs.close(fd);
        } catch {
          // already failing; the write error is the one to report
        }
      }
      try {
        this.fs.unlink(tmp);
      } catch (u) {
        this.log(`checkpoint temp file ${tmp} not removed after a failed save (${errText(u)}); the next save or load removes it`);
      }
      throw this.writeFailed(e, step, committed);
    }
    try {
      this.fs.fsyncDir(this.dir);
    } catch (e) {
      // The new file is complete and synced; only its name may not survive a power cut. It stays:
      // the next save goes above it, and a load may already find it.
      this.highest = gen;
      throw this.writeFailed(e, `wrote ${file} but cannot sync the folder ${this.dir}, so it may not survive a power cut`, committed);
    }
    this.highest = gen;
    this.prune(gen, present);
    return gen;
  }

  /** Generations present in a listing, newest first. */
  private generations(names: string[]): number[] {
    const gens: number[] = [];
    for (const n of names) {
      const m = this.fileRe.exec(n);
      if (m) gens.push(Number(m[1]));
    }
    return gens.sort((a, b) => b - a);
  }

  /** Keeps `gen` and the newest older generation that verifies; removes the other older ones. Failures are logged: the save is committed. */
  private prune(gen: number, present: number[]): void {
    let keptPrevious = false;
    for (const g of present) {
      if (g >= gen) continue;
      const path = join(this.dir, this.fileName(g));
      if (!keptPrevious) {
        try {
          if ('payload' in decodeCheckpoint(this.fs.readFile(path), g)) {
            keptPrevious = true;
            continue;
          }
        } catch {
          // unreadable: not a usable previous generation
        }
      }
      try {
        this.fs.unlink(path);
      } catch (e) {
        this.log(`old checkpoint ${path} not removed (${errText(e)}); the next save tries again`);
      }
    }
  }

  private ensureDir(): void {
    let created: string | undefined;
    try {
      created = this.fs.mkdir(this.dir);
    } catch (e) {
      throw this.unreadable(e);
    }
    if (created === undefined) return;
    // New folders are durable only once their parents are synced: from the parent of the first one
    // created down to the parent of `dir`.
    try {
      const parents: string[] = [];
      for (let d = dirname(this.dir); ; d = dirname(d)) {
        parents.push(d);
        if (d === dirname(created) || d === dirname(d)) break;
      }
      for (const p of parents.reverse()) this.fs.fsyncDir(p);
    } catch (e) {
      throw this.writeFailed(e, `created ${this.dir} but cannot sync its parent folder`, this.highest);
    }
  }

  private removeStaleTmp(): void {
    const tmp = join(this.dir, this.tmpName);
    try {
      this.fs.unlink(tmp);
      this.log(`removed ${tmp}, left by a save that did not finish (the committed generations are unaffected)`);
    } catch (e) {
      this.log(`stale checkpoint temp file ${tmp} not removed (${errText(e)}); it is ignored`);
    }
  }

  private unreadable(e: unknown, what?: string): TinyqaError {
    const code = errCode(e);
    const hint =
      code === 'EACCES' || code === 'EPERM'
        ? `give the tinyqa user read and write access to ${this.dir}, or set adapt.checkpoint_dir to a folder it owns`
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? `${this.dir} (or a parent) is a file, not a folder: remove it or set adapt.checkpoint_dir to another folder`
          : code === 'EROFS'
            ? `the file system holding ${this.dir} is read-only: set adapt.checkpoint_dir to a writable folder`
            : `check that ${this.dir} is a readable folder and the storage is healthy (dmesg)`;
    return new TinyqaError(ErrorCode.CheckpointUnreadable, `checkpoint folder ${this.dir} cannot be used: ${what ?? errText(e)}${what ? ` (${errText(e)})` : ''}`, { hint, cause: e });
  }

  /** `committed`: the newest generation before this save (0: none). */
  private writeFailed(e: unknown, what: string, committed: number): TinyqaError {
    const code = errCode(e);
    const kept = committed > 0 ? `the committed generations (newest ${committed}) are kept` : 'no earlier checkpoint is affected';
    const hint =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? `free space on the device holding ${this.dir} (or set adapt.checkpoint_dir elsewhere); ${kept}, and the next save retries`
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? `make ${this.dir} writable by the tinyqa user, or set adapt.checkpoint_dir to a writable folder; ${kept}`
          : code === 'EIO'
            ? `the storage reported an I/O error: check the SD card or disk (dmesg) and replace it if errors repeat; ${kept}`
            : `check the storage holding ${this.dir}; ${kept}, and the next save retries`;
    return new TinyqaError(ErrorCode.CheckpointWriteFailed, `checkpoint not saved: ${what} (${errText(e)})`, { hint, cause: e });
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
