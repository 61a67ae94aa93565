import type { LinkState, Transport, TransportCounters } from './transport.js';

/** An in-memory transport: tests push bytes in with `inject` and read what was written. */
export class MockTransport implements Transport {
  readonly name: string;
  state: LinkState = 'closed';
  readonly counters: TransportCounters = { opens: 0, reopens: 0, bytes_in: 0, bytes_out: 0 };
  readonly written: Uint8Array[] = [];
  private dataFns: ((chunk: Uint8Array) => void)[] = [];
  private stateFns: ((s: LinkState, d: string) => void)[] = [];
  /** When set, the next open() rejects with this error (then it is cleared). */
  failNextOpen: Error | undefined;

  constructor(name = 'mock') {
    this.name = name;
  }

  async open(): Promise<void> {
    if (this.failNextOpen) {
      const e = this.failNextOpen;
      this.failNextOpen = undefined;
      throw e;
    }
    this.counters.opens++;
    this.setState('open', this.name);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw new Error('mock transport is not open');
    this.written.push(bytes.slice());
    this.counters.bytes_out += bytes.length;
  }

  async close(): Promise<void> {
    this.setState('closed', 'closed by caller');
  }

  reopen(reason: string): void {
    if (this.state === 'closed') return;
    this.setState('reopening', reason);
    this.counters.reopens++;
    this.setState('open', this.name);
  }

  /** Simulates the device vanishing: the link goes to `reopening` until `replug()`. */
  unplug(): void {
    this.setState('reopening', 'unplugged');
  }

  replug(): void {
    this.counters.reopens++;
    this.setState('open', this.name);
  }

  onData(fn: (chunk: Uint8Array) => void): void {
    this.dataFns.push(fn);
  }

  onState(fn: (s: LinkState, d: string) => void): void {
    this.stateFns.push(fn);
  }

  /** Delivers bytes as if they had arrived on the link. */
  inject(bytes: Uint8Array): void {
    if (this.state !== 'open') return;
    this.counters.bytes_in += bytes.length;
    for (const fn of this.dataFns) fn(bytes);
  }

  private setState(s: LinkState, detail: string): void {
    this.state = s;
    for (const fn of this.stateFns) fn(s, detail);
  }
}
