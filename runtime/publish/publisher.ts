/**
 * Where verdicts go (DESIGN §2, "publisher"). One interface; the real implementation publishes over
 * MQTT (mqtt.ts, the only file importing `mqtt`), the mock (memory.ts) keeps them in memory.
 */

import type { Action } from '../policy/policy.js';
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
  /** Actions handed to the publisher. */
  actions: number;
  /** Actions dropped because the offline queue held nothing but actions (said on the log). */
  dropped_actions: number;
  connects: number;
  disconnects: number;
  /** CONNACKs refusing the login (bad user name or password, not authorised): MQTT 5 reasons 134/135, 3.1.1 codes 4/5. */
  auth_failures: number;
  /** Connection attempts that failed in TLS (certificate not trusted, client certificate missing or refused). */
  tls_failures: number;
  /** Verdicts and actions the broker refused with a PUBACK reason code ≥ 0x80 (e.g. 0x87: the ACL denies the topic); not acked, not retried. */
  publish_denied: number;
}

export interface Publisher {
  readonly counters: PublisherCounters;
  readonly connected: boolean;
  /** Starts connecting; resolves at once — an unreachable broker is retried in the background. */
  start(): Promise<void>;
  publishVerdict(v: Verdict): void;
  /** Publishes an action of the policy on `<prefix>/<device>/action`; queued like verdicts, dropped last. */
  publishAction(a: Action): void;
  /** Resolves true once nothing is queued or in flight, false if `timeoutMs` passes first. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Flushes (bounded), announces "offline" on the status topic, and disconnects. */
  close(): Promise<void>;
}

export function newPublisherCounters(): PublisherCounters {
  return { accepted: 0, acked: 0, queued: 0, inflight: 0, dropped_queue_full: 0, actions: 0, dropped_actions: 0, connects: 0, disconnects: 0, auth_failures: 0, tls_failures: 0, publish_denied: 0 };
}
