/**
 * The byte link between firmware and runtime (DESIGN §2, "transport"). One interface; the real
 * implementation is the serial port (serial.ts, the only file importing `serialport`) and the mock
 * (mock.ts) is what unit tests and in-process simulations drive.
 */

export type LinkState = 'closed' | 'opening' | 'open' | 'reopening';

export interface TransportCounters {
  opens: number;
  reopens: number;
  bytes_in: number;
  bytes_out: number;
}

export interface Transport {
  /** Human-readable name of the link, e.g. the device path. */
  readonly name: string;
  readonly state: LinkState;
  readonly counters: TransportCounters;
  /**
   * Opens the link. Rejects with a TinyqaError (code E2001 not found, E2002 permission, E2003 other)
   * when the first open fails; after that, a lost link is reopened by the transport itself.
   */
  open(): Promise<void>;
  /** Writes bytes, resolving once the OS has taken them (backpressure is honoured). */
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /**
   * Drops the current connection and reopens it (with the usual backoff), e.g. when the peer went
   * silent although the OS still reports the port open. A no-op when closed by the caller.
   */
  reopen(reason: string): void;
  onData(fn: (chunk: Uint8Array) => void): void;
  onState(fn: (state: LinkState, detail: string) => void): void;
}
