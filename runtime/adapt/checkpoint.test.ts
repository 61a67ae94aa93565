import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, errorMessage, isTinyqaError, TinyqaError } from '../core/errors.js';
import { killCounter, killPayload } from './checkpoint-child.js';
import { CHECKPOINT_HEADER_BYTES, Checkpointer, type CheckpointFs, decodeCheckpoint, encodeCheckpoint, nodeCheckpointFs } from './checkpoint.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tinyqa-ckpt-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const eq = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const genFiles = (dir: string, name = 'adapt'): string[] =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`${name}.`) && f.endsWith('.ckpt'))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));

function thrown(f: () => unknown): TinyqaError {
  try {
    f();
  } catch (e) {
    if (e instanceof TinyqaError) return e;
    throw e;
  }
  throw new Error('expected a TinyqaError, nothing was thrown');
}

function fsError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, syscall });
}

/** The real file layer with faults: `space` bytes left (a write that does not fit writes what fits, then ENOSPC), failing fsyncs, failing listings. */
class FaultyFs implements CheckpointFs {
  space = Infinity;
  failFsync: string | undefined;
  failDirFsync: string | undefined;
  failReaddir: string | undefined;
  failRename: string | undefined;
  mkdir = (dir: string): string | undefined => nodeCheckpointFs.mkdir(dir);
  readdir(dir: string): string[] {
    if (this.failReaddir) throw fsError(this.failReaddir, 'scandir');
    return nodeCheckpointFs.readdir(dir);
  }
  open = (path: string): number => nodeCheckpointFs.open(path);
  write(fd: number, bytes: Uint8Array): void {
    const n = Math.min(bytes.length, this.space);
    this.space -= n;
    if (n > 0) nodeCheckpointFs.write(fd, bytes.subarray(0, n));
    if (n < bytes.length) throw fsError('ENOSPC', 'write');
  }
  fsync(fd: number): void {
    if (this.failFsync) throw fsError(this.failFsync, 'fsync');
    nodeCheckpointFs.fsync(fd);
  }
  close = (fd: number): void => nodeCheckpointFs.close(fd);
  rename(from: string, to: string): void {
    if (this.failRename) throw fsError(this.failRename, 'rename');
    nodeCheckpointFs.rename(from, to);
  }
  unlink = (path: string): void => nodeCheckpointFs.unlink(path);
  readFile = (path: string): Uint8Array => nodeCheckpointFs.readFile(path);
  fsyncDir(dir: string): void {
    if (this.failDirFsync) throw fsError(this.failDirFsync, 'fsync');
    nodeCheckpointFs.fsyncDir(dir);
  }
}

describe('checkpoint: format', () => {
  it('encodes magic, version, generation, length and a checksum that decode verifies', () => {
    const f = encodeCheckpoint(7, enc('hello'));
    expect(f.length).toBe(CHECKPOINT_HEADER_BYTES + 5);
    expect(dec(f.subarray(0, 4))).toBe('TQCK');
    expect(decodeCheckpoint(f, 7)).toEqual({ payload: enc('hello') });
    expect(decodeCheckpoint(f, 8)).toEqual({ problem: expect.stringContaining('generation 7') });
    for (let i = 0; i < f.length; i++) {
      const g = f.slice();
      g[i]! ^= 0x10;
      expect('problem' in decodeCheckpoint(g, 7), `bit flip at byte ${i}`).toBe(true);
    }
    for (let n = 0; n < f.length; n++) expect('problem' in decodeCheckpoint(f.subarray(0, n), 7), `truncated to ${n}`).toBe(true);
    const longer = new Uint8Array(f.length + 1);
    longer.set(f);
    expect('problem' in decodeCheckpoint(longer, 7)).toBe(true);
  });
});

describe('checkpoint: real file system', () => {
  it('round-trips, numbers generations upward and keeps only the newest two files', () => {
    const dir = join(tempDir(), 'nested', 'adapt');
    const cp = new Checkpointer({ dir, name: 'adapt' });
    expect(cp.load()).toBeUndefined(); // no folder yet
    const gens: number[] = [];
    for (let i = 1; i <= 5; i++) gens.push(cp.save(enc(`state ${i}`)));
    expect(gens).toEqual([1, 2, 3, 4, 5]);
    expect(genFiles(dir)).toEqual(['adapt.4.ckpt', 'adapt.5.ckpt']);
    const got = new Checkpointer({ dir, name: 'adapt' }).load();
    expect(got).toEqual({ payload: enc('state 5'), generation: 5, fellBack: false, skipped: [] });
    expect(got!.payload).toBeInstanceOf(Uint8Array);
    // An empty payload is a valid state too.
    expect(cp.save(new Uint8Array(0))).toBe(6);
    expect(cp.load()!.payload.length).toBe(0);
  });

  it('continues numbering from the highest file present (corrupt ones included), leaving other stores alone', () => {
    const dir = tempDir();
    new Checkpointer({ dir, name: 'adapt' }).save(enc('a'));
    writeFileSync(join(dir, 'adapt.41.ckpt'), 'garbage');
    writeFileSync(join(dir, 'other.90.ckpt'), 'not ours');
    writeFileSync(join(dir, 'README'), 'not ours');
    const cp = new Checkpointer({ dir, name: 'adapt' });
    expect(cp.save(enc('b'))).toBe(42);
    // The corrupt 41 was removed; generation 1, the newest that verifies below 42, is kept.
    expect(genFiles(dir)).toEqual(['adapt.1.ckpt', 'adapt.42.ckpt']);
    expect(existsSync(join(dir, 'other.90.ckpt')) && existsSync(join(dir, 'README'))).toBe(true);
    expect(cp.save(enc('c'))).toBe(43);
    expect(genFiles(dir)).toEqual(['adapt.42.ckpt', 'adapt.43.ckpt']);
  });

  for (const [what, damage] of [
    ['a bit flip', (b: Buffer): Buffer => ((b[b.length - 3]! ^= 0x01), b)],
    ['a truncation', (b: Buffer): Buffer => b.subarray(0, b.length - 4)],
    ['a torn header', (b: Buffer): Buffer => b.subarray(0, 20)],
  ] as const) {
    it(`falls back to the previous generation after ${what} of the newest`, () => {
      const dir = tempDir();
      const cp = new Checkpointer({ dir, name: 'adapt' });
      cp.save(enc('old state'));
      cp.save(enc('new state'));
      const newest = join(dir, 'adapt.2.ckpt');
      writeFileSync(newest, damage(readFileSync(newest)));
      const logs: string[] = [];
      const got = new Checkpointer({ dir, name: 'adapt', log: (m) => logs.push(m) }).load();
      expect(got).toEqual({ payload: enc('old state'), generation: 1, fellBack: true, skipped: ['adapt.2.ckpt'] });
      expect(logs.join('\n')).toContain('adapt.2.ckpt');
      // The next save goes above the damaged file and replaces it.
      const cp2 = new Checkpointer({ dir, name: 'adapt' });
      expect(cp2.save(enc('newer state'))).toBe(3);
      expect(genFiles(dir)).toEqual(['adapt.1.ckpt', 'adapt.3.ckpt']);
      expect(cp2.load()).toMatchObject({ payload: enc('newer state'), generation: 3, fellBack: false });
    });
  }

  it('throws CheckpointCorrupt when no generation verifies', () => {
    const dir = tempDir();
    const cp = new Checkpointer({ dir, name: 'adapt' });
    cp.save(enc('one'));
    cp.save(enc('two'));
    for (const f of genFiles(dir)) {
      const b = readFileSync(join(dir, f));
      b[CHECKPOINT_HEADER_BYTES]! ^= 0x80;
      writeFileSync(join(dir, f), b);
    }
    const e = thrown(() => new Checkpointer({ dir, name: 'adapt' }).load());
    expect(e.code).toBe(ErrorCode.CheckpointCorrupt);
    expect(e.message).toContain('adapt.2.ckpt');
    expect(e.hint).toContain(dir);
  });

  it('ignores and removes a stale temp file, at load and at save', () => {
    const dir = tempDir();
    const cp = new Checkpointer({ dir, name: 'adapt' });
    cp.save(enc('committed'));
    writeFileSync(join(dir, 'adapt.tmp'), encodeCheckpoint(2, enc('never committed')).subarray(0, 30));
    const logs: string[] = [];
    expect(new Checkpointer({ dir, name: 'adapt', log: (m) => logs.push(m) }).load()).toMatchObject({ payload: enc('committed'), generation: 1, fellBack: false, skipped: [] });
    expect(existsSync(join(dir, 'adapt.tmp'))).toBe(false);
    expect(logs.join('\n')).toContain('adapt.tmp');
    writeFileSync(join(dir, 'adapt.tmp'), 'junk');
    expect(cp.save(enc('second'))).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['adapt.1.ckpt', 'adapt.2.ckpt']);
    // Only a temp file: no checkpoint yet.
    const dir2 = tempDir();
    writeFileSync(join(dir2, 'adapt.tmp'), 'junk');
    expect(new Checkpointer({ dir: dir2, name: 'adapt' }).load()).toBeUndefined();
  });

  it('disk full (ENOSPC): CheckpointWriteFailed with the fix, temp removed, previous state kept, next save works once space returns', () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const cp = new Checkpointer({ dir, name: 'adapt', fs });
    expect(cp.save(enc('good state'))).toBe(1);
    expect(cp.save(enc('better state'))).toBe(2);
    fs.space = 100; // room for the header and a little: the write is partial, then ENOSPC
    const e = thrown(() => cp.save(new Uint8Array(5000).fill(7)));
    expect(e.code).toBe(ErrorCode.CheckpointWriteFailed);
    expect(e.message).toContain('adapt.tmp');
    expect(e.message).toContain('ENOSPC');
    expect(e.hint).toMatch(/free space/);
    expect(e.hint).toContain(dir);
    expect(readdirSync(dir).sort()).toEqual(['adapt.1.ckpt', 'adapt.2.ckpt']);
    expect(new Checkpointer({ dir, name: 'adapt' }).load()).toMatchObject({ payload: enc('better state'), generation: 2, fellBack: false });
    // Still full: fails again the same way, nothing lost.
    fs.space = 0;
    expect(thrown(() => cp.save(enc('x'))).code).toBe(ErrorCode.CheckpointWriteFailed);
    fs.space = Infinity;
    expect(cp.save(enc('after space returned'))).toBe(3);
    expect(genFiles(dir)).toEqual(['adapt.2.ckpt', 'adapt.3.ckpt']);
    expect(new Checkpointer({ dir, name: 'adapt' }).load()).toMatchObject({ payload: enc('after space returned'), generation: 3 });
  });

  it('I/O errors on fsync, rename or the folder fsync: CheckpointWriteFailed, committed generations untouched', () => {
    const dir = tempDir();
    const fs = new FaultyFs();
    const cp = new Checkpointer({ dir, name: 'adapt', fs });
    cp.save(enc('v1'));
    fs.failFsync = 'EIO';
    let e = thrown(() => cp.save(enc('v2')));
    expect(e.code).toBe(ErrorCode.CheckpointWriteFailed);
    expect(e.hint).toMatch(/I\/O error/);
    fs.failFsync = undefined;
    fs.failRename = 'EACCES';
    e = thrown(() => cp.save(enc('v2')));
    expect(e.code).toBe(ErrorCode.CheckpointWriteFailed);
    expect(e.hint).toMatch(/writable/);
    expect(readdirSync(dir)).toEqual(['adapt.1.ckpt']);
    fs.failRename = undefined;
    fs.failDirFsync = 'EIO';
    e = thrown(() => cp.save(enc('v2')));
    expect(e.code).toBe(ErrorCode.CheckpointWriteFailed);
    expect(e.message).toContain('adapt.2.ckpt');
    fs.failDirFsync = undefined;
    // The file whose folder sync failed is complete; the next save goes above it.
    expect(cp.save(enc('v3'))).toBe(3);
    expect(cp.load()).toMatchObject({ payload: enc('v3'), generation: 3 });
  });

  it('an unreadable folder is CheckpointUnreadable, at load and at save', () => {
    const dir = tempDir();
    new Checkpointer({ dir, name: 'adapt' }).save(enc('x'));
    const fs = new FaultyFs();
    fs.failReaddir = 'EACCES';
    const cp = new Checkpointer({ dir, name: 'adapt', fs });
    let e = thrown(() => cp.load());
    expect(e.code).toBe(ErrorCode.CheckpointUnreadable);
    expect(e.hint).toMatch(/access/);
    expect(thrown(() => cp.save(enc('y'))).code).toBe(ErrorCode.CheckpointUnreadable);
    // A file where the folder should be.
    const file = join(tempDir(), 'plain-file');
    writeFileSync(file, 'x');
    e = thrown(() => new Checkpointer({ dir: file, name: 'adapt' }).load());
    expect(e.code).toBe(ErrorCode.CheckpointUnreadable);
    expect(e.hint).toMatch(/is a file/);
    expect(thrown(() => new Checkpointer({ dir: join(file, 'sub'), name: 'adapt' }).save(enc('x'))).code).toBe(ErrorCode.CheckpointUnreadable);
    expect(isTinyqaError(thrown(() => new Checkpointer({ dir, name: 'a.b' })), ErrorCode.Internal)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Crash injection on a simulated file system that models durability.

class Crash extends Error {
  constructor() {
    super('simulated crash');
  }
}

interface Inode {
  /** What a reader sees now. */
  data: Uint8Array;
  /** What is on the medium (as of the last fsync). */
  durable: Uint8Array;
}
type DirOp = { kind: 'create'; name: string; ino: Inode } | { kind: 'rename'; from: string; to: string } | { kind: 'unlink'; name: string };

/** The state after a crash: everything on it is durable. */
interface Image {
  dirExists: boolean;
  files: Map<string, Uint8Array>;
}

/**
 * One folder (`dir`) of a file system that models durability the way POSIX promises it (and no
 * better): file data is on the medium only after fsync of the file; creations, renames and removals
 * only after fsync of the folder; the folder itself only after fsync of its parent. `crashAt` makes
 * operation number N (and everything after) throw `Crash` without taking effect; `outcomes()` lists
 * the states a crash at that moment may leave. `lieFsync` / `lieDirFsync` make the file / the folder's fsync no-ops,
 * to show the test catches a store that skips them.
 */
class SimFs implements CheckpointFs {
  ops = 0;
  crashAt = Infinity;
  crashed = false;
  private dirExists: boolean;
  private dirDurable: boolean;
  private entries = new Map<string, Inode>();
  private durableEntries = new Map<string, Inode>();
  private pending: DirOp[] = [];
  private readonly fds = new Map<number, Inode>();
  private nextFd = 3;

  constructor(
    readonly dir: string,
    image: Image = { dirExists: false, files: new Map() },
    private readonly opts: { lieFsync?: boolean; lieDirFsync?: boolean } = {},
  ) {
    this.dirExists = image.dirExists;
    this.dirDurable = image.dirExists;
    for (const [n, b] of image.files) this.entries.set(n, { data: b, durable: b });
    this.durableEntries = new Map(this.entries);
  }

  private step(): void {
    if (this.crashed) throw new Crash();
    if (this.ops === this.crashAt) {
      this.crashed = true;
      throw new Crash();
    }
    this.ops++;
  }

  private nameOf(path: string): string {
    if (dirname(path) !== this.dir) throw new Error(`SimFs: ${path} is outside ${this.dir}`);
    if (!this.dirExists) throw fsError('ENOENT', 'open');
    return basename(path);
  }

  private ino(path: string): Inode {
    const i = this.entries.get(this.nameOf(path));
    if (!i) throw fsError('ENOENT', 'open');
    return i;
  }

  mkdir(dir: string): string | undefined {
    this.step();
    if (dir !== this.dir) throw new Error(`SimFs: mkdir ${dir}`);
    if (this.dirExists) return undefined;
    this.dirExists = true;
    this.dirDurable = false;
    return dir;
  }
  readdir(dir: string): string[] {
    this.step();
    if (dir !== this.dir) throw new Error(`SimFs: readdir ${dir}`);
    if (!this.dirExists) throw fsError('ENOENT', 'scandir');
    return [...this.entries.keys()];
  }
  open(path: string): number {
    this.step();
    const name = this.nameOf(path);
    let ino = this.entries.get(name);
    if (ino) ino.data = new Uint8Array(0);
    else {
      ino = { data: new Uint8Array(0), durable: new Uint8Array(0) };
      this.entries.set(name, ino);
      this.pending.push({ kind: 'create', name, ino });
    }
    this.fds.set(this.nextFd, ino);
    return this.nextFd++;
  }
  write(fd: number, bytes: Uint8Array): void {
    this.step();
    const ino = this.fds.get(fd)!;
    const d = new Uint8Array(ino.data.length + bytes.length);
    d.set(ino.data);
    d.set(bytes, ino.data.length);
    ino.data = d;
  }
  fsync(fd: number): void {
    this.step();
    const ino = this.fds.get(fd)!;
    if (!this.opts.lieFsync) ino.durable = ino.data;
  }
  close(fd: number): void {
    this.step();
    this.fds.delete(fd);
  }
  rename(from: string, to: string): void {
    this.step();
    const ino = this.ino(from);
    this.entries.delete(basename(from));
    this.entries.set(this.nameOf(to), ino);
    this.pending.push({ kind: 'rename', from: basename(from), to: basename(to) });
  }
  unlink(path: string): void {
    this.step();
    const name = this.nameOf(path);
    if (this.entries.delete(name)) this.pending.push({ kind: 'unlink', name });
  }
  readFile(path: string): Uint8Array {
    this.step();
    return this.ino(path).data.slice();
  }
  fsyncDir(dir: string): void {
    this.step();
    if (dir === this.dir) {
      if (this.opts.lieDirFsync) return;
      this.durableEntries = new Map(this.entries);
      this.pending = [];
    } else if (dir === dirname(this.dir)) this.dirDurable = this.dirExists;
  }

  /** A durable copy of what a reader sees now (no crash). */
  image(): Image {
    return { dirExists: this.dirExists, files: new Map([...this.entries].map(([n, i]) => [n, i.data])) };
  }

  /** Replace a file's content everywhere (current and durable): planted damage, a leftover temp file. */
  plant(name: string, bytes: Uint8Array): void {
    const ino = this.entries.get(name) ?? { data: bytes, durable: bytes };
    ino.data = bytes;
    ino.durable = bytes;
    this.entries.set(name, ino);
    this.durableEntries.set(name, ino);
  }
  contentOf(name: string): Uint8Array | undefined {
    return this.entries.get(name)?.data;
  }

  /**
   * Every state a crash now may leave: each folder operation since the last folder fsync happened
   * or not (all subsets, in order), and each file written since its last fsync kept all, none (lost
   * entirely), or a torn prefix of its new data (or its full length with a zero-filled tail).
   */
  outcomes(): Image[] {
    const out = new Map<string, Image>();
    if (!this.dirDurable) out.set('no folder', { dirExists: false, files: new Map() });
    if (!this.dirExists) return [...out.values()];
    const k = this.pending.length;
    for (let mask = 0; mask < 1 << k; mask++) {
      const m = new Map(this.durableEntries);
      this.pending.forEach((op, j) => {
        if (!(mask & (1 << j))) return;
        if (op.kind === 'create') m.set(op.name, op.ino);
        else if (op.kind === 'unlink') m.delete(op.name);
        else {
          const ino = m.get(op.from);
          if (!ino) return; // its creation did not survive: nothing to rename
          m.delete(op.from);
          m.set(op.to, ino);
        }
      });
      // Data variants per dirty inode, combined.
      let images: Map<string, Uint8Array>[] = [new Map()];
      for (const [name, ino] of m) {
        const variants = eq(ino.data, ino.durable) ? [ino.data] : dataVariants(ino.data, ino.durable);
        images = images.flatMap((img) => variants.map((v) => new Map(img).set(name, v)));
      }
      for (const files of images) out.set(imageKey(files), { dirExists: true, files });
    }
    return [...out.values()];
  }
}

function dataVariants(now: Uint8Array, durable: Uint8Array): Uint8Array[] {
  const v: Uint8Array[] = [now, durable];
  for (const len of [1, 8, CHECKPOINT_HEADER_BYTES - 1, CHECKPOINT_HEADER_BYTES, CHECKPOINT_HEADER_BYTES + 1, now.length >> 1, now.length - 1]) {
    if (len > 0 && len < now.length) v.push(now.slice(0, len));
  }
  const zeroTail = new Uint8Array(now.length);
  zeroTail.set(now.subarray(0, now.length >> 1));
  v.push(zeroTail);
  return v;
}

function imageKey(files: Map<string, Uint8Array>): string {
  return [...files.keys()]
    .sort()
    .map((n) => `${n}=${Buffer.from(files.get(n)!).toString('base64')}`)
    .join(';');
}

const SIM_DIR = '/sim/state/adapt';

/** Payloads of distinct lengths, so no torn prefix of one can pass for another. */
const STATES = [enc('A'.repeat(100)), enc('B'.repeat(257)), new Uint8Array(0), enc('D'.repeat(1000)), enc('E'.repeat(40))];

interface Scenario {
  what: string;
  /** Brings a fresh simulated folder to the state before the save under test; returns the store that saves. */
  setup(fs: SimFs): Checkpointer;
  payload: Uint8Array;
}

function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (let k = 0; k < STATES.length - 1; k++) {
    list.push({
      what: `save ${k + 1} (after ${k} committed)`,
      setup(fs) {
        const cp = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs });
        for (let i = 0; i < k; i++) cp.save(STATES[i]!);
        return cp;
      },
      payload: STATES[k]!,
    });
  }
  list.push({
    what: 'first save into an existing empty folder',
    setup(fs) {
      fs.mkdir(SIM_DIR);
      fs.fsyncDir(dirname(SIM_DIR));
      return new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs });
    },
    payload: STATES[0]!,
  });
  list.push({
    what: 'save after a restart, with a stale temp file',
    setup(fs) {
      const cp = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs });
      cp.save(STATES[0]!);
      cp.save(STATES[1]!);
      fs.plant('adapt.tmp', encodeCheckpoint(3, STATES[3]!).subarray(0, 70));
      const fresh = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs });
      return fresh;
    },
    payload: STATES[4]!,
  });
  list.push({
    what: 'save after a restart that fell back (newest corrupt)',
    setup(fs) {
      const cp = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs });
      cp.save(STATES[0]!);
      cp.save(STATES[1]!);
      const b = fs.contentOf('adapt.2.ckpt')!.slice();
      b[b.length - 1]! ^= 1;
      fs.plant('adapt.2.ckpt', b);
      const fresh = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs });
      fresh.load();
      return fresh;
    },
    payload: STATES[3]!,
  });
  return list;
}

interface CrashResult {
  points: number;
  outcomes: number;
  /** What the loads after a crash found. */
  loadedOld: number;
  loadedNew: number;
  loadedNothing: number;
  fellBack: number;
  violations: string[];
}

/** Crashes every scenario's save at every operation, and after it returned; checks each surviving state. */
function crashMatrix(opts: { lieFsync?: boolean; lieDirFsync?: boolean } = {}, stopAfter = Infinity): CrashResult {
  const r: CrashResult = { points: 0, outcomes: 0, loadedOld: 0, loadedNew: 0, loadedNothing: 0, fellBack: 0, violations: [] };
  const after = enc('written after recovery');
  for (const sc of scenarios()) {
    // The state before the save (what a load would give now) and the number of operations in the save.
    const probe = new SimFs(SIM_DIR, undefined, opts);
    const probeCp = sc.setup(probe);
    const oldGot = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs: new SimFs(SIM_DIR, probe.image()) }).load();
    const old = oldGot?.payload;
    const before = probe.ops;
    probeCp.save(sc.payload);
    const n = probe.ops - before;
    for (let i = 0; i <= n && r.violations.length < stopAfter; i++) {
      const fs = new SimFs(SIM_DIR, undefined, opts);
      const cp = sc.setup(fs);
      fs.crashAt = fs.ops + i; // i === n: the crash comes after save returned
      let returned = false;
      try {
        cp.save(sc.payload);
        returned = true;
      } catch (e) {
        if (!(e instanceof TinyqaError && e.cause instanceof Crash) && !(e instanceof Crash)) throw e;
      }
      if (i < n && !fs.crashed) r.violations.push(`${sc.what}: no crash at op ${i}`);
      r.points++;
      for (const img of fs.outcomes()) {
        r.outcomes++;
        const where = `${sc.what}, crash at op ${i}/${n}${returned ? ' (save had returned)' : ''}, files ${[...img.files.keys()].sort().join(' ') || '(none)'}${img.dirExists ? '' : ' (folder lost)'}`;
        const sim = new SimFs(SIM_DIR, img);
        let got: ReturnType<Checkpointer['load']>;
        try {
          got = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs: sim }).load();
        } catch (e) {
          r.violations.push(`${where}: load threw ${errorMessage(e)}`);
          continue;
        }
        if (!got) r.loadedNothing++;
        else if (eq(got.payload, sc.payload)) r.loadedNew++;
        else if (old && eq(got.payload, old)) r.loadedOld++;
        if (got?.fellBack) r.fellBack++;
        if (!got) {
          if (old !== undefined || returned) r.violations.push(`${where}: nothing loaded`);
        } else if (returned && !eq(got.payload, sc.payload)) r.violations.push(`${where}: save had returned but the old state loaded`);
        else if (!eq(got.payload, sc.payload) && !(old && eq(got.payload, old))) r.violations.push(`${where}: loaded neither the old nor the new state`);
        // The store keeps working from there: the next generation is higher and loads.
        try {
          const again = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs: sim });
          const before2 = again.load();
          const g = again.save(after);
          if (before2 && g <= before2.generation) r.violations.push(`${where}: generation ${g} after ${before2.generation}`);
          const back = new Checkpointer({ dir: SIM_DIR, name: 'adapt', fs: new SimFs(SIM_DIR, sim.image()) }).load();
          if (!back || !eq(back.payload, after) || back.generation !== g) r.violations.push(`${where}: the save after recovery does not load back`);
        } catch (e) {
          r.violations.push(`${where}: save after recovery threw ${errorMessage(e)}`);
        }
      }
    }
  }
  return r;
}

describe('checkpoint: crash at every step (simulated durability)', () => {
  it('a crash anywhere in a save leaves exactly the old or the new state, and the store keeps working', () => {
    const r = crashMatrix();
    console.info(
      `checkpoint crash test: ${scenarios().length} scenarios, ${r.points} crash points, ${r.outcomes} post-crash states checked ` +
        `(old state loaded ${r.loadedOld}, new ${r.loadedNew}, none yet ${r.loadedNothing}; ${r.fellBack} by falling back past a damaged file), ${r.violations.length} violations`,
    );
    expect(r.violations.slice(0, 10)).toEqual([]);
    expect(r.points).toBeGreaterThan(50);
    expect(r.outcomes).toBeGreaterThan(r.points * 2);
    expect(r.loadedOld > 0 && r.loadedNew > 0 && r.loadedNothing > 0).toBe(true);
  });

  it('has teeth: a store whose file fsync or folder fsync does nothing is caught', () => {
    const noFsync = crashMatrix({ lieFsync: true }, 20);
    const noDirFsync = crashMatrix({ lieDirFsync: true }, 20);
    console.info(`checkpoint crash test, sabotaged: without file fsync a violation within ${noFsync.points} crash points (${noFsync.violations[0]}); without folder fsync within ${noDirFsync.points} (${noDirFsync.violations[0]})`);
    expect(noFsync.violations.length).toBeGreaterThan(0);
    expect(noDirFsync.violations.length).toBeGreaterThan(0);
    // Without the folder fsync a save can return and still be lost at a crash.
    expect(noDirFsync.violations.join('\n')).toContain('(save had returned)');
  });
});

// ---------------------------------------------------------------------------------------------
// Real processes, really killed.

describe('checkpoint: SIGKILL test', () => {
  const CHILD = fileURLToPath(new URL('./checkpoint-child.ts', import.meta.url));

  function runUntilKilled(dir: string, delayMs: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let timer: NodeJS.Timeout | undefined;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        if (!timer && out.includes('\n')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (signal !== 'SIGKILL') return reject(new Error(`child ended with ${code ?? signal} before the kill:\n${err}`));
        resolve(out.split('\n').slice(0, -1)); // the last, unterminated line may be cut mid-write
      });
    });
  }

  it('after each of 20 SIGKILLs at random moments, load returns the last committed save or the one in flight', async () => {
    const dir = join(tempDir(), 'kill');
    mkdirSync(dir);
    let rng = 20240607;
    const rand = (): number => (rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const kills = 20;
    let loaded = 0;
    let saves = 0;
    let inFlight = 0;
    let tmpLeft = 0;
    let threeFiles = 0;
    for (let run = 0; run < kills; run++) {
      const lines = await runUntilKilled(dir, 5 + Math.floor(rand() * 120));
      const [tag, counter] = lines[0]!.split(' ');
      expect(tag).toBe('ready');
      expect(Number(counter)).toBe(loaded); // the child found what the parent found after the previous kill
      let lastSaved = loaded;
      let lastSaving = loaded;
      for (const l of lines.slice(1)) {
        const [t, c] = l.split(' ');
        if (t === 'saving') lastSaving = Number(c);
        else if (t === 'saved') {
          expect(Number(c)).toBe(lastSaving);
          lastSaved = Number(c);
          saves++;
        }
      }
      const names = readdirSync(dir);
      if (names.includes('kill.tmp')) tmpLeft++;
      const gens = names.filter((n) => n.endsWith('.ckpt')).length;
      expect(gens).toBeLessThanOrEqual(3); // a kill between commit and pruning leaves three
      if (gens === 3) threeFiles++;
      const got = new Checkpointer({ dir, name: 'kill' }).load();
      expect(got).toBeDefined();
      // A kill loses no data the kernel already has: the newest file is always whole.
      expect(got!.fellBack).toBe(false);
      expect(got!.skipped).toEqual([]);
      const c = killCounter(got!.payload);
      expect(c, 'payload matches its counter').toBeDefined();
      expect(c!).toBeGreaterThanOrEqual(lastSaved);
      expect(c!).toBeLessThanOrEqual(lastSaving);
      if (c! > lastSaved) inFlight++;
      expect(readdirSync(dir)).not.toContain('kill.tmp');
      loaded = c!;
    }
    console.info(
      `checkpoint kill test: ${kills} SIGKILLs, ${saves} saves reported committed (last counter ${loaded}); ` +
        `${inFlight} kills fell after the rename but before the report (the new state loaded), ${tmpLeft} left a temp file, ${threeFiles} fell before pruning`,
    );
    expect(saves).toBeGreaterThan(kills);
    expect(eq(killPayload(loaded), new Checkpointer({ dir, name: 'kill' }).load()!.payload)).toBe(true);
  }, 60_000);
});
