/**
 * Where verdicts go (DESIGN §2, "publisher"). One interface; the real implementation publishes over
 * MQTT (mqtt.ts, the only file importing `mqtt`), the mock (memory.ts) keeps them in memory.
 */

import type { Verdict } from '../qa/types.js';

export interface PublisherCounters {
  /** Verdicts handed to the publisher. */
  accepted: number;
  /** Verdicts the broker acknowledged (PUBACK for QoS 1; written to the socket for QoS 0). */
  acked: number;
  /** Verdicts waiting for a connection. */
  queued: number;
  /** Verdicts sent and not yet acknowledged. */
  inflight: number;
  /** Verdicts dropped because the offline queue was full (oldest first). */
  dropped_queue_full: number;
  connects: number;
  disconnects: number;
}

export interface Publisher {
  readonly counters: PublisherCounters;
  readonly connected: boolean;
  /** Starts connecting; resolves at once — an unreachable broker is retried in the background. */
  start(): Promise<void>;
  publishVerdict(v: Verdict): void;
  /** Resolves true once nothing is queued or in flight, false if `timeoutMs` passes first. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Flushes (bounded), announces "offline" on the status topic, and disconnects. */
  close(): Promise<void>;
}

export function newPublisherCounters(): PublisherCounters {
  return { accepted: 0, acked: 0, queued: 0, inflight: 0, dropped_queue_full: 0, connects: 0, disconnects: 0 };
}
