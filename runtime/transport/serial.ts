/**
 * The serial transport: the only file that imports `serialport` (STYLE §12).
 *
 * Ports are opened by path (including /dev/serial/by-id/… links); `SerialPort.list()` is never
 * called because it needs udevadm, which containers and minimal gateway images lack. A first open
 * that fails is reported with a coded error naming the path; a link lost afterwards (device
 * unplugged, read error) is reopened with capped exponential backoff.
 */

import { existsSync, statSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { Clock, TimerHandle } from '../core/clock.js';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { LinkState, Transport, TransportCounters } from './transport.js';

export interface SerialOptions {
  path: string;
  baudRate: number;
  reopenMinMs: number;
  reopenMaxMs: number;
}

export function classifyOpenError(path: string, e: unknown): TinyqaError {
  const msg = errorMessage(e);
  const code = (e as { code?: string } | undefined)?.code ?? '';
  if (code === 'ENOENT' || /no such file/i.test(msg) || !existsSync(path)) {
    return new TinyqaError(ErrorCode.SerialNotFound, `serial port ${path} does not exist`, {
      hint: 'check the cable and the path (ls -l /dev/serial/by-id/ /dev/ttyUSB* /dev/ttyACM*)',
      cause: e,
    });
  }
  if (code === 'EACCES' || /permission denied/i.test(msg)) {
    return new TinyqaError(ErrorCode.SerialPermission, `no permission to open serial port ${path}`, {
      hint: 'add the user to the "dialout" group (sudo usermod -aG dialout $USER) and log in again',
      cause: e,
    });
  }
  return new TinyqaError(ErrorCode.SerialOpenFailed, `cannot open serial port ${path}: ${msg}`, {
    hint: 'is another program holding the port? (fuser ' + path + ')',
    cause: e,
  });
}

export class SerialTransport implements Transport {
  readonly name: string;
  state: LinkState = 'closed';
  readonly counters: TransportCounters = { opens: 0, reopens: 0, bytes_in: 0, bytes_out: 0 };
  private port: SerialPort | undefined;
  private dataFns: ((chunk: Uint8Array) => void)[] = [];
  private stateFns: ((s: LinkState, d: string) => void)[] = [];
  private retryTimer: TimerHandle | undefined;
  private backoff: number;
  private closing = false;
  /** Device number of the node we opened; the watchdog reopens when the path stops naming it. */
  private openedRdev = -1;
  private watchdog: TimerHandle | undefined;

  constructor(
    private readonly opts: SerialOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.name = opts.path;
    this.backoff = opts.reopenMinMs;
  }

  async open(): Promise<void> {
    if (!existsSync(this.opts.path)) throw classifyOpenError(this.opts.path, Object.assign(new Error('ENOENT'), { code: 'ENOENT' }));
    this.closing = false;
    this.setState('opening', this.opts.path);
    await this.openOnce();
  }

  private openOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path: this.opts.path, baudRate: this.opts.baudRate, autoOpen: false });
      port.open((err) => {
        if (err) {
          reject(classifyOpenError(this.opts.path, err));
          return;
        }
        this.port = port;
        this.counters.opens++;
        this.openedRdev = this.rdev();
        this.armWatchdog(port);
        this.backoff = this.opts.reopenMinMs;
        port.on('data', (chunk: Buffer) => {
          this.counters.bytes_in += chunk.length;
          for (const fn of this.dataFns) fn(chunk);
        });
        port.on('error', (e) => this.lost(port, `error: ${errorMessage(e)}`));
        port.on('close', () => this.lost(port, 'port closed'));
        this.setState('open', this.opts.path);
        resolve();
      });
    });
  }

  private rdev(): number {
    try {
      return statSync(this.opts.path).rdev;
    } catch {
      return -1;
    }
  }

  /**
   * The OS does not always tell an open port that its device went away (a hang-up can be missed, a
   * USB node can be replaced behind a by-id link). Four times a second, check that the path still
   * names the device we opened; when it does not, treat the link as lost.
   */
  private armWatchdog(port: SerialPort): void {
    this.watchdog?.cancel();
    this.watchdog = this.clock.setTimeout(() => {
      if (this.port !== port || this.closing) return;
      const now = this.rdev();
      if (now !== this.openedRdev) this.lost(port, now === -1 ? `${this.opts.path} disappeared` : `${this.opts.path} now names another device`);
      else this.armWatchdog(port);
    }, 250);
  }

  private lost(port: SerialPort, why: string): void {
    if (this.port !== port) return;
    this.port = undefined;
    if (port.isOpen) port.close(() => undefined);
    if (this.closing) return;
    this.log.warn?.(`serial link ${this.opts.path} lost (${why}); reopening`);
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    this.setState('reopening', `retry in ${this.backoff} ms`);
    const delay = this.backoff;
    this.backoff = Math.min(this.opts.reopenMaxMs, this.backoff * 2);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closing) return;
      this.openOnce().then(
        () => {
          this.counters.reopens++;
          this.log.info?.(`serial link ${this.opts.path} reopened`);
        },
        (e) => {
          this.log.debug?.(`reopen of ${this.opts.path} failed: ${errorMessage(e)}`);
          this.scheduleReopen();
        },
      );
    }, delay);
  }

  reopen(reason: string): void {
    if (this.closing) return;
    const port = this.port;
    if (port) this.lost(port, reason);
    else if (!this.retryTimer) this.scheduleReopen();
  }

  write(bytes: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port) return Promise.reject(new TinyqaError(ErrorCode.SerialClosed, `serial port ${this.opts.path} is not open`));
    return new Promise((resolve, reject) => {
      const ok = port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (err) => {
        if (err) reject(new TinyqaError(ErrorCode.SerialClosed, `write to ${this.opts.path} failed: ${err.message}`));
      });
      this.counters.bytes_out += bytes.length;
      if (ok) port.drain(() => resolve());
      else port.once('drain', () => resolve());
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.retryTimer?.cancel();
    this.watchdog?.cancel();
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    this.setState('closed', 'closed by caller');
  }

  onData(fn: (chunk: Uint8Array) => void): void {
    this.dataFns.push(fn);
  }

  onState(fn: (s: LinkState, d: string) => void): void {
    this.stateFns.push(fn);
  }

  private setState(s: LinkState, detail: string): void {
    this.state = s;
    for (const fn of this.stateFns) fn(s, detail);
  }
}
