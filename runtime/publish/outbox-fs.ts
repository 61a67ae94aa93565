/**
 * The outbox's file layer (STYLE §1: one interface per boundary, a real and a mock implementation).
 * Only the few synchronous calls the journal needs. `nodeOutboxFs` is the real one; `LimitedOutboxFs`
 * wraps it with a byte budget that runs out like a full disk (ENOSPC, after a partial write — what a
 * real full filesystem does), because a small tmpfs cannot be mounted without root in CI.
 */

import { closeSync, constants, fsyncSync, ftruncateSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface OutboxFs {
  mkdirp(dir: string): void;
  /** File names in `dir`. */
  list(dir: string): string[];
  /** Opens for reading and writing; `create` makes the file if missing. */
  open(path: string, create: boolean): number;
  size(fd: number): number;
  /** Reads up to `length` bytes at `position` into `buf[0..)`; returns the count. */
  read(fd: number, buf: Uint8Array, length: number, position: number): number;
  /** Writes all `length` bytes of `buf` at `position`, or throws (possibly after a partial write). */
  write(fd: number, buf: Uint8Array, length: number, position: number): void;
  truncate(fd: number, length: number): void;
  fsync(fd: number): void;
  close(fd: number): void;
  /** Whole file, or undefined if it does not exist. */
  readFile(path: string): Uint8Array | undefined;
  /**
   * Replaces `path` atomically: temp file, fsync, rename, directory fsync (DESIGN §7's checkpoint
   * recipe) — a crash leaves the old or the new content, never a mix. `sync: false` skips the fsyncs.
   */
  writeFileAtomic(path: string, bytes: Uint8Array, sync: boolean): void;
  unlink(path: string): void;
  fsyncDir(dir: string): void;
}

function isMissing(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'ENOENT';
}

export const nodeOutboxFs: OutboxFs = {
  mkdirp: (dir) => void mkdirSync(dir, { recursive: true }),
  list: (dir) => readdirSync(dir),
  // No O_APPEND: positional writes must land where the journal says (Linux ignores the position under O_APPEND).
  open: (path, create) => openSync(path, create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDWR, 0o644),
  size: (fd) => fstatSync(fd).size,
  read: (fd, buf, length, position) => readSync(fd, buf, 0, length, position),
  write(fd, buf, length, position) {
    let done = 0;
    while (done < length) done += writeSync(fd, buf, done, length - done, position + done);
  },
  truncate: (fd, length) => ftruncateSync(fd, length),
  fsync: (fd) => fsyncSync(fd),
  close: (fd) => closeSync(fd),
  readFile(path) {
    try {
      return readFileSync(path);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  },
  writeFileAtomic(path, bytes, sync) {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    if (sync) nodeOutboxFs.fsyncDir(join(path, '..'));
  },
  unlink(path) {
    try {
      unlinkSync(path);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  },
  fsyncDir(dir) {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};

function enospc(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/**
 * The real file layer with `space` bytes left: every write (journal and state file) spends from it;
 * one that does not fit writes what fits and throws ENOSPC. Set `space` to free room again; `failFsync`
 * makes fsync throw EIO. Mock as product code (STYLE §2): the simulator can use it for disk-full runs.
 */
export class LimitedOutboxFs implements OutboxFs {
  failFsync = false;

  constructor(
    public space: number,
    private readonly base: OutboxFs = nodeOutboxFs,
  ) {}

  private spend(length: number): number {
    const n = Math.min(length, Math.max(0, this.space));
    this.space -= n;
    return n;
  }

  mkdirp = (dir: string): void => this.base.mkdirp(dir);
  list = (dir: string): string[] => this.base.list(dir);
  open = (path: string, create: boolean): number => this.base.open(path, create);
  size = (fd: number): number => this.base.size(fd);
  read = (fd: number, buf: Uint8Array, length: number, position: number): number => this.base.read(fd, buf, length, position);
  write(fd: number, buf: Uint8Array, length: number, position: number): void {
    const n = this.spend(length);
    if (n > 0) this.base.write(fd, buf, n, position);
    if (n < length) throw enospc();
  }
  truncate = (fd: number, length: number): void => this.base.truncate(fd, length);
  fsync(fd: number): void {
    if (this.failFsync) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    this.base.fsync(fd);
  }
  close = (fd: number): void => this.base.close(fd);
  readFile = (path: string): Uint8Array | undefined => this.base.readFile(path);
  writeFileAtomic(path: string, bytes: Uint8Array, sync: boolean): void {
    if (this.spend(bytes.length) < bytes.length) throw enospc();
    this.base.writeFileAtomic(path, bytes, sync);
  }
  unlink = (path: string): void => this.base.unlink(path);
  fsyncDir = (dir: string): void => this.base.fsyncDir(dir);
}
