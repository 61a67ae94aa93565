import type { Action } from '../policy/policy.js';
import type { Verdict } from '../qa/types.js';
import { newPublisherCounters, type Publisher } from './publisher.js';

/** Keeps verdicts in memory: the mock publisher for unit tests and offline scoring. */
export class MemoryPublisher implements Publisher {
  readonly counters = newPublisherCounters();
  readonly verdicts: Verdict[] = [];
  readonly actions: Action[] = [];
  connected = false;

  async start(): Promise<void> {
    this.connected = true;
    this.counters.connects++;
  }

  publishVerdict(v: Verdict): void {
    this.counters.accepted++;
    this.counters.acked++;
    this.lastSeq = Math.max(this.lastSeq, v.seq);
    this.verdicts.push(structuredClone(v));
  }

  publishAction(a: Action): void {
    this.counters.actions++;
    this.actions.push(structuredClone(a));
  }

  readonly health: object[] = [];
  lastSeq = -1;

  publishHealth(report: object): void {
    this.counters.health++;
    this.health.push(structuredClone(report));
  }

  details(): Record<string, number> {
    return {};
  }

  async flush(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.connected = false;
  }
}
