/**
 * The embedded MQTT broker for laptop mode: the only file importing `aedes`. Listens on 127.0.0.1,
 * on a free port unless one is given.
 */

import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { ErrorCode, TinyqaError, errorMessage } from '../runtime/core/errors.js';

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  /** Admission control for tests: return false to refuse a client's CONNECT (it then retries). */
  admit?: (clientId: string) => boolean;
}

export async function startEmbeddedBroker(port = 0, host = '127.0.0.1', o: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker(
    o.admit
      ? {
          authenticate: (client, _user, _pass, done) => {
            const ok = o.admit!(client.id);
            // 3 "server unavailable" (3.1.1 §3.2.2.3): not yet, try again — unlike 4/5, a refused login,
            // which tinyqa retries no more than every mqtt.auth_retry_min_ms.
            done(ok ? null : Object.assign(new Error('not admitted'), { returnCode: 3 as const }), ok);
          },
        }
      : {},
  );
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw new TinyqaError(ErrorCode.BrokerStartFailed, `cannot start the embedded MQTT broker on ${host}:${port}: ${errorMessage(e)}`, {
      hint: 'pick another port, or use an external broker with --broker mqtt://host:port',
      cause: e,
    });
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://${host}:${bound}`,
    port: bound,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
