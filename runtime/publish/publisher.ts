/**
 * Where verdicts go (DESIGN §2, "publisher"). One interface; the real implementation publishes over
 * MQTT (mqtt.ts, the only file importing `mqtt`), the mock (memory.ts) keeps them in memory.
 */

import type { Action } from '../policy/policy.js';
import type { Verdict } from '../qa/types.js';

export interface PublisherCounters {
  /** Verdicts handed to the publisher. */
  accepted: number;
  /** Verdicts and actions the broker acknowledged (PUBACK for QoS 1; written to the socket for QoS 0). */
  acked: number;
  /** Verdicts and actions waiting to be sent. */
  queued: number;
  /** Verdicts and actions sent and not yet acknowledged. */
  inflight: number;
  /** Verdicts (and other non-action records) dropped because the outbox was full (oldest first). */
  dropped_queue_full: number;
  /** Actions handed to the publisher. */
  actions: number;
  /** Actions dropped because the outbox held nothing but actions (said on the log). */
  dropped_actions: number;
  connects: number;
  disconnects: number;
  /** CONNACKs refusing the login (bad user name or password, not authorised): MQTT 5 reasons 134/135, 3.1.1 codes 4/5. */
  auth_failures: number;
  /** Connection attempts that failed in TLS (certificate not trusted, client certificate missing or refused). */
  tls_failures: number;
  /** Verdicts and actions the broker refused with a PUBACK reason code ≥ 0x80 (e.g. 0x87: the ACL denies the topic); not retried. */
  publish_denied: number;
  /** Verdicts and actions the outbox refused (disk full, write error, too large): said on the log, counted here. */
  refused: number;
  /** Records sent again after a connection dropped with them in flight (wire-level duplicates subscribers drop). */
  resent: number;
  /** Records published again on a subscriber's replay request, and replay seqs no longer on disk. */
  replayed: number;
  replay_gone: number;
  /** Inbound commands run, refused (answered with the reason) and ignored (retained, duplicate, not ours). */
  commands: number;
  commands_refused: number;
  commands_ignored: number;
  /** Health reports published, and skipped while disconnected. */
  health: number;
  health_skipped: number;
}

export interface Publisher {
  readonly counters: PublisherCounters;
  readonly connected: boolean;
  /** Starts connecting; resolves at once — an unreachable broker is retried in the background. */
  start(): Promise<void>;
  publishVerdict(v: Verdict): void;
  /** Publishes an action of the policy on `<prefix>/<device>/action`; queued like verdicts, dropped last. */
  publishAction(a: Action): void;
  /** Publishes a health report now (not queued: a stale one is worth nothing), with `last_seq` added. */
  publishHealth(report: object): void;
  /** The highest seq handed out so far (-1 before the first). */
  readonly lastSeq: number;
  /** Counters of the layers below (the outbox), for health reports. */
  details(): Record<string, number>;
  /** Resolves true once nothing is queued or in flight, false if `timeoutMs` passes first. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Flushes (bounded), announces "offline" on the status topic, and disconnects. */
  close(): Promise<void>;
}

export function newPublisherCounters(): PublisherCounters {
  return {
    accepted: 0, acked: 0, queued: 0, inflight: 0, dropped_queue_full: 0, actions: 0, dropped_actions: 0, connects: 0, disconnects: 0, auth_failures: 0, tls_failures: 0, publish_denied: 0,
    refused: 0, resent: 0, replayed: 0, replay_gone: 0, commands: 0, commands_refused: 0, commands_ignored: 0, health: 0, health_skipped: 0,
  };
}
