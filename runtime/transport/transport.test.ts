import { describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { ErrorCode, isTinyqaError } from '../core/errors.js';
import { silentLogger } from '../core/log.js';
import { openPtyPair } from '../../sim/pty.js';
import { MockTransport } from './mock.js';
import { SerialTransport } from './serial.js';
import { transportContract } from './transport.contract.js';

const serialOptions = (path: string) => ({ path, baudRate: 115_200, reopenMinMs: 50, reopenMaxMs: 200 });

describe('MockTransport', () => {
  transportContract(async () => {
    const t = new MockTransport();
    return { transport: t, deliver: async (b) => t.inject(b), dispose: async () => undefined };
  });
});

describe('SerialTransport on a real pseudo-terminal', () => {
  transportContract(async () => {
    const pty = await openPtyPair();
    return {
      transport: new SerialTransport(serialOptions(pty.path), systemClock, silentLogger),
      deliver: (b) => pty.write(b),
      dispose: async () => pty.close(),
    };
  });

  it('refuses a path that does not exist with E2001 naming the path', async () => {
    const t = new SerialTransport(serialOptions('/dev/ttyDOES_NOT_EXIST'), systemClock, silentLogger);
    const e = await t.open().then(() => undefined, (err: unknown) => err);
    expect(isTinyqaError(e, ErrorCode.SerialNotFound)).toBe(true);
    expect((e as Error).message).toContain('/dev/ttyDOES_NOT_EXIST');
  });

  it('refuses a path that is not a serial device with a coded error', async () => {
    const t = new SerialTransport(serialOptions('/etc/hostname'), systemClock, silentLogger);
    const e = await t.open().then(() => undefined, (err: unknown) => err);
    expect(isTinyqaError(e)).toBe(true);
    expect((e as Error).message).toContain('/etc/hostname');
  });
});
