/** Subscribes to a broker and collects what tinyqa publishes, for tests. */

import { silentLogger } from '../../runtime/core/log.js';
import { subscribe, type Subscription } from '../../runtime/publish/mqtt.js';
import type { Action } from '../../runtime/policy/policy.js';
import type { Verdict } from '../../runtime/qa/types.js';

export interface Collected {
  verdicts: Verdict[];
  verdictTopics: string[];
  status: { state: string; retain: boolean }[];
  actions: Action[];
  sub: Subscription;
  waitFor(pred: () => boolean, timeoutMs?: number): Promise<void>;
}

export async function collect(url: string, prefix: string, device: string): Promise<Collected> {
  const c: Omit<Collected, 'sub'> = {
    verdicts: [],
    verdictTopics: [],
    status: [],
    actions: [],
    async waitFor(pred, timeoutMs = 20_000) {
      const t0 = Date.now();
      while (!pred()) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  const sub = subscribe(url, [`${prefix}/${device}/verdict/+`, `${prefix}/${device}/status`, `${prefix}/${device}/action`], (m) => {
    const body = JSON.parse(m.payload.toString('utf8')) as Record<string, unknown>;
    if (m.topic.endsWith('/action')) c.actions.push(body as unknown as Action);
    else if (m.topic.includes('/verdict/')) {
      c.verdicts.push(body as unknown as Verdict);
      c.verdictTopics.push(m.topic);
    } else c.status.push({ state: String(body.state), retain: m.retain });
  }, silentLogger);
  await sub.ready;
  return { ...c, sub };
}
