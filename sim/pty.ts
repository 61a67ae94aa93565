/**
 * A pseudo-terminal pair for the simulator: the only file importing the pty binding.
 *
 * The runtime opens the pair's follower side by path with `serialport`, exactly as it opens a USB
 * serial adapter; the emulator writes frames into the leader side. The follower is set to raw mode
 * at once, so bytes written before the runtime opens it are not cooked (no echo, no CR/LF
 * translation). We keep our own follower descriptor open, unread, so the leader does not see a
 * hang-up while the runtime closes and reopens the port.
 */

import { closeSync, fstatSync, read, write } from 'node:fs';
import { createRequire } from 'node:module';
import tty from 'node:tty';
import { ErrorCode, TinyqaError, errorMessage } from '../runtime/core/errors.js';
import type { ByteSink } from './emulator.js';

interface PtyBinding {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

async function loadBinding(): Promise<PtyBinding> {
  try {
    // In the single-file bundle the binary sits beside it (see esbuild.config.mjs).
    if (process.env.TINYQA_BUNDLE === '1') return (await import('tinyqa:pty-binding')).default() as PtyBinding;
    const require = createRequire(import.meta.url);
    const { requireBinary } = require('@lydell/node-pty/requireBinary.js') as { requireBinary(file: string): PtyBinding };
    return requireBinary('pty.node');
  } catch (e) {
    throw new TinyqaError(ErrorCode.PtyUnavailable, `cannot create a pseudo-terminal: ${errorMessage(e).split('\n')[0]}`, {
      hint: 'tinyqa sim needs the @lydell/node-pty binary for this platform (npm ci installs it; Linux and macOS on x64/arm64)',
      cause: e,
    });
  }
}

export interface PtyPair extends ByteSink {
  /** Path of the follower side, e.g. /dev/pts/3: what the runtime opens as its serial port. */
  readonly path: string;
  /** Bytes the runtime writes to its serial port arrive here (host → device). */
  onData(fn: (bytes: Uint8Array) => void): void;
  close(): void;
}

export async function openPtyPair(): Promise<PtyPair> {
  const binding = await loadBinding();
  const { master, slave, pty } = binding.open(80, 24);
  const slaveId = fstatSync(slave);
  const follower = new tty.ReadStream(slave);
  follower.setRawMode(true);
  let closed = false;

  // The leader descriptor is non-blocking: writes can be partial or fail with EAGAIN while the
  // follower's input queue is full, so retry the rest after a short pause (that is the backpressure).
  const writeAll = (bytes: Uint8Array): Promise<void> =>
    new Promise((resolve, reject) => {
      let off = 0;
      const step = (): void => {
        if (closed) return reject(new TinyqaError(ErrorCode.SerialClosed, `pseudo-terminal ${pty} is closed`));
        write(master, bytes, off, bytes.length - off, null, (err, n) => {
          if (err && (err as NodeJS.ErrnoException).code !== 'EAGAIN') return reject(err);
          off += err ? 0 : n;
          if (off >= bytes.length) resolve();
          else setTimeout(step, err ? 2 : 0);
        });
      };
      step();
    });

  // Reading the leader: also non-blocking, so poll — at once while data flows, every 5 ms when idle.
  const readers: ((bytes: Uint8Array) => void)[] = [];
  const rbuf = Buffer.alloc(4096);
  let reading = false;
  const readLoop = (): void => {
    if (closed) return;
    read(master, rbuf, 0, rbuf.length, null, (err, n) => {
      if (closed) return;
      if (!err && n > 0) {
        const chunk = new Uint8Array(rbuf.subarray(0, n));
        for (const fn of readers) fn(chunk);
        setImmediate(readLoop);
      } else setTimeout(readLoop, 5);
    });
  };

  let chain: Promise<void> = Promise.resolve();
  return {
    path: pty,
    onData(fn) {
      readers.push(fn);
      if (!reading) {
        reading = true;
        readLoop();
      }
    },
    write(bytes) {
      const p = chain.then(() => writeAll(bytes));
      chain = p.catch(() => undefined);
      return p;
    },
    close() {
      if (closed) return;
      closed = true;
      follower.destroy();
      // libuv reopens a pseudo-terminal follower for its own handle, so the descriptor openpty gave us
      // stays open after destroy(): close it, and the leader, ourselves.
      try {
        const now = fstatSync(slave);
        // Only if the number still names our follower (not a descriptor reused by someone else).
        if (now.rdev === slaveId.rdev && now.ino === slaveId.ino) closeSync(slave);
      } catch {
        // already closed
      }
      try {
        closeSync(master);
      } catch {
        // already closed
      }
    },
  };
}
