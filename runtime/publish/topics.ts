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

/** Subscription filters for a watcher: every device, or one. */
export function watchFilters(prefix: string, device = '+'): string[] {
  return [`${prefix}/${device}/status`, `${prefix}/${device}/verdict/+`, `${prefix}/${device}/action`];
}

/** Splits a topic under `prefix` into device and kind; undefined when it is not ours. */
export function parseTopic(prefix: string, topic: string): { device: string; kind: string; stream?: string } | undefined {
  if (!topic.startsWith(prefix + '/')) return undefined;
  const parts = topic.slice(prefix.length + 1).split('/');
  const [device, kind, stream] = parts;
  if (!device || !kind) return undefined;
  return stream === undefined ? { device, kind } : { device, kind, stream };
}
