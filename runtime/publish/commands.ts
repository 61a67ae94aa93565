/**
 * Inbound commands (DESIGN §6): `<prefix>/<device>/cmd/<name>` with a JSON body, answered on
 * `<prefix>/<device>/cmd/result` with the command's id. This file decides whether a command is
 * acceptable — well formed, addressed to this device, fresh, and authorised — before anything acts
 * on it; the composition root runs the accepted ones.
 *
 * Body: {"id": "<1–64 chars>", "ts": <ms since epoch>, "args": {…}, "sig": "<hex>"}
 * - Topic: only `<prefix>/<device>/cmd/<name>` for this device, and a known name. Authorisation by
 *   topic prefix is the broker's ACL; this checks that nothing else slips through a wide subscription.
 * - Freshness: a retained command is ignored (it was meant for a device that was online then, and
 *   replaying it at every reconnect would repeat it); so is one whose `ts` is older than `maxAgeMs`
 *   or further than `maxAgeMs` in the future (clock skew beyond that is itself a problem to report).
 *   A command id seen recently is ignored as a duplicate (QoS 1 redelivery).
 * - Signature (when a shared secret is configured): sig = hex HMAC-SHA256(secret, canonical) with
 *   canonical = `${topic}\n${id}\n${ts}\n${JSON.stringify(args)}` — over the topic too, so a signed
 *   command for one device cannot be replayed to another. Compared in constant time.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

export const COMMAND_NAMES = ['set_threshold', 'set_config', 'resync', 'health', 'model', 'replay'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export interface Command {
  name: CommandName;
  id: string;
  ts: number;
  args: Record<string, unknown>;
}

export type CommandCheck =
  | { ok: true; command: Command }
  /** `id` is known when the body parsed far enough: the refusal can then be answered on the result topic. */
  | { ok: false; id?: string; reason: string; ignore?: boolean };

export interface CommandCheckOptions {
  prefix: string;
  device: string;
  /** Shared secret; when set, unsigned or wrongly signed commands are refused. */
  secret?: string;
  maxAgeMs: number;
  now: number;
}

export function canonicalCommand(topic: string, id: string, ts: number, args: Record<string, unknown>): string {
  return `${topic}\n${id}\n${ts}\n${JSON.stringify(args)}`;
}

export function signCommand(secret: string, topic: string, id: string, ts: number, args: Record<string, unknown>): string {
  return createHmac('sha256', secret).update(canonicalCommand(topic, id, ts, args)).digest('hex');
}

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export class CommandGate {
  /** Ids accepted recently (bounded): a QoS 1 redelivery of the same command is not run twice. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly o: Omit<CommandCheckOptions, 'now'>) {}

  check(topic: string, payload: Uint8Array | string, retained: boolean, now: number): CommandCheck {
    const base = `${this.o.prefix}/${this.o.device}/cmd/`;
    if (!topic.startsWith(base)) return { ok: false, reason: `topic ${topic} is not under ${base}`, ignore: true };
    const name = topic.slice(base.length);
    if (name === 'result') return { ok: false, reason: 'our own result topic', ignore: true };
    if (retained) return { ok: false, reason: `retained command on ${topic} ignored (stale: commands are not retained)`, ignore: true };
    // An empty message is how a retained command is cleared from the broker; subscribers get it too.
    if (payload.length === 0) return { ok: false, reason: `empty message on ${topic} ignored (a retained command being cleared)`, ignore: true };
    let body: Record<string, unknown>;
    try {
      const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      body = parsed as Record<string, unknown>;
    } catch (e) {
      return { ok: false, reason: `command on ${topic}: the body is not a JSON object (${e instanceof Error ? e.message : String(e)})` };
    }
    const id = typeof body.id === 'string' && ID.test(body.id) ? body.id : undefined;
    if (!id) return { ok: false, reason: `command on ${topic}: "id" must be 1–64 characters of [A-Za-z0-9_.:-]` };
    if (!(COMMAND_NAMES as readonly string[]).includes(name)) return { ok: false, id, reason: `unknown command "${name}"; known: ${COMMAND_NAMES.join(', ')}` };
    if (typeof body.ts !== 'number' || !Number.isFinite(body.ts)) return { ok: false, id, reason: '"ts" must be the sending time in ms since the epoch' };
    const age = now - body.ts;
    if (age > this.o.maxAgeMs) return { ok: false, id, reason: `stale: sent ${Math.round(age / 1000)} s ago (limit ${Math.round(this.o.maxAgeMs / 1000)} s)` };
    if (-age > this.o.maxAgeMs) return { ok: false, id, reason: `"ts" is ${Math.round(-age / 1000)} s in the future: check the sender's clock` };
    const args = body.args === undefined ? {} : body.args;
    if (typeof args !== 'object' || args === null || Array.isArray(args)) return { ok: false, id, reason: '"args" must be an object' };
    if (this.o.secret !== undefined) {
      if (typeof body.sig !== 'string' || !/^[0-9a-f]{64}$/.test(body.sig)) return { ok: false, id, reason: 'unsigned: this device requires "sig" (HMAC-SHA256, hex)' };
      const want = Buffer.from(signCommand(this.o.secret, topic, id, body.ts, args as Record<string, unknown>), 'hex');
      if (!timingSafeEqual(want, Buffer.from(body.sig, 'hex'))) return { ok: false, id, reason: 'bad signature (wrong secret, or the command was changed)' };
    }
    // Forget ids older than the freshness window: they could not pass the age check again anyway.
    for (const [k, t] of this.seen) if (now - t > 2 * this.o.maxAgeMs) this.seen.delete(k);
    if (this.seen.has(id)) return { ok: false, id, reason: `duplicate of command ${id} (already run)`, ignore: true };
    this.seen.set(id, now);
    return { ok: true, command: { name: name as CommandName, id, ts: body.ts, args: args as Record<string, unknown> } };
  }
}
