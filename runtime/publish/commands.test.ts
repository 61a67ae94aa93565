import { describe, expect, it } from 'vitest';
import { CommandGate, signCommand } from './commands.js';

const T = 1_800_000_000_000;
const topic = 'tinyqa/v1/pump-01/cmd/set_threshold';
const body = (o: Record<string, unknown> = {}) => JSON.stringify({ id: 'c1', ts: T, args: { child: 'spike', threshold: 0.6 }, ...o });

describe('inbound command gate', () => {
  const open = () => new CommandGate({ prefix: 'tinyqa/v1', device: 'pump-01', maxAgeMs: 60_000 });

  it('accepts a fresh, well-formed command for this device', () => {
    expect(open().check(topic, body(), false, T + 500)).toEqual({ ok: true, command: { name: 'set_threshold', id: 'c1', ts: T, args: { child: 'spike', threshold: 0.6 } } });
  });

  it.each([
    ['another device', 'tinyqa/v1/pump-02/cmd/set_threshold', body(), false, T, /not under/],
    ['a retained command', topic, body(), true, T, /retained/],
    ['a body that is not JSON', topic, '{oops', false, T, /not a JSON object/],
    ['a missing id', topic, body({ id: undefined }), false, T, /"id"/],
    ['an unknown command', 'tinyqa/v1/pump-01/cmd/format_disk', body(), false, T, /unknown command "format_disk"/],
    ['a stale command', topic, body(), false, T + 61_000, /stale: sent 61 s ago/],
    ['a command from the future', topic, body(), false, T - 120_000, /in the future/],
    ['args that are not an object', topic, body({ args: [1] }), false, T, /"args" must be an object/],
  ])('refuses %s with the reason', (_why, t, b, retained, now, reason) => {
    const r = open().check(t, b, retained, now);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('runs a redelivered command once', () => {
    const g = open();
    expect(g.check(topic, body(), false, T).ok).toBe(true);
    const again = g.check(topic, body(), false, T + 10);
    expect(again).toMatchObject({ ok: false, ignore: true, reason: expect.stringMatching(/duplicate/) });
  });

  describe('with a shared secret', () => {
    const gate = () => new CommandGate({ prefix: 'tinyqa/v1', device: 'pump-01', maxAgeMs: 60_000, secret: 's3cret' });
    const args = { child: 'spike', threshold: 0.6 };

    it('accepts a correctly signed command', () => {
      const sig = signCommand('s3cret', topic, 'c1', T, args);
      expect(gate().check(topic, body({ sig }), false, T).ok).toBe(true);
    });

    it('refuses unsigned, wrongly signed, altered, and re-addressed commands', () => {
      const sig = signCommand('s3cret', topic, 'c1', T, args);
      expect(gate().check(topic, body(), false, T)).toMatchObject({ ok: false, id: 'c1', reason: expect.stringMatching(/unsigned/) });
      expect(gate().check(topic, body({ sig: signCommand('other', topic, 'c1', T, args) }), false, T)).toMatchObject({ ok: false, reason: expect.stringMatching(/bad signature/) });
      expect(gate().check(topic, body({ sig, args: { child: 'spike', threshold: 0.9 } }), false, T)).toMatchObject({ ok: false, reason: expect.stringMatching(/bad signature/) });
      // Signed for pump-02, replayed to pump-01's topic: the signature covers the topic.
      const other = signCommand('s3cret', 'tinyqa/v1/pump-02/cmd/set_threshold', 'c1', T, args);
      expect(gate().check(topic, body({ sig: other }), false, T)).toMatchObject({ ok: false, reason: expect.stringMatching(/bad signature/) });
    });
  });
});
