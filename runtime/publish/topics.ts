/** The MQTT topic tree of DESIGN §6: <prefix>/<device>/{status, verdict/<stream>, action, health, cmd/<name>}. */

export interface DeviceTopics {
  status: string;
  verdict(stream: string): string;
  action: string;
  health: string;
}

export function deviceTopics(prefix: string, device: string): DeviceTopics {
  const base = `${prefix}/${device}`;
  return {
    status: `${base}/status`,
    verdict: (stream) => `${base}/verdict/${stream}`,
    action: `${base}/action`,
    health: `${base}/health`,
  };
}

/**
 * Subscription filters for a watcher: every device, or one. Health and status carry `last_seq` (a
 * tail to ask for); cmd/result answers replay requests. Not cmd/+: other clients' commands are none
 * of a watcher's business.
 */
export function watchFilters(prefix: string, device = '+'): string[] {
  const base = `${prefix}/${device}`;
  return [`${base}/status`, `${base}/verdict/+`, `${base}/action`, `${base}/health`, `${base}/cmd/result`];
}

/** Splits a topic under `prefix` into device and kind; undefined when it is not ours. */
export function parseTopic(prefix: string, topic: string): { device: string; kind: string; stream?: string } | undefined {
  if (!topic.startsWith(prefix + '/')) return undefined;
  const parts = topic.slice(prefix.length + 1).split('/');
  const [device, kind, stream] = parts;
  if (!device || !kind) return undefined;
  return stream === undefined ? { device, kind } : { device, kind, stream };
}
