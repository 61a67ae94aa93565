/**
 * A private Mosquitto for tests: its own port, its own config file, its own data dir, so a test can
 * kill it (SIGKILL/SIGTERM), restart it on the same port with the same persistence, and give it TLS,
 * a password file and an ACL without touching the machine's broker. Also makes a throw-away PKI
 * (self-signed CA, server and client certificates) with `openssl` and password files with
 * `mosquitto_passwd`.
 *
 * Tests call `mosquittoSkipReason()` first and skip, naming the reason, when the binaries are absent
 * (.ci/run installs them).
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Tool = 'mosquitto' | 'mosquitto_passwd' | 'openssl';

/** The command for a tool: on PATH, or in /usr/sbin where Debian puts mosquitto (not on a normal user's PATH). */
function bin(tool: Tool): string {
  const onPath = spawnSync(tool, tool === 'openssl' ? ['version'] : ['-h'], { stdio: 'ignore' });
  if (!onPath.error) return tool;
  const sbin = `/usr/sbin/${tool}`;
  return existsSync(sbin) ? sbin : tool;
}

const bins = new Map<Tool, string>();
const cmd = (tool: Tool): string => bins.get(tool) ?? (bins.set(tool, bin(tool)), bins.get(tool)!);

/** Why Mosquitto tests cannot run here, or undefined when they can. */
export function mosquittoSkipReason(needs: Tool[] = ['mosquitto']): string | undefined {
  for (const tool of needs) {
    // `mosquitto -h` exits non-zero but prints its version; what matters is that it could be started.
    const r = spawnSync(cmd(tool), tool === 'openssl' ? ['version'] : ['-h'], { stdio: 'ignore' });
    if (r.error) return `${tool} is not installed (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); .ci/run installs it with apt`;
  }
  return undefined;
}

export interface MosquittoTls {
  cafile: string;
  certfile: string;
  keyfile: string;
  /** Mosquitto's `require_certificate`: clients must present a certificate the CA signed. */
  requireCertificate?: boolean;
}

export interface MosquittoOptions {
  /** A plaintext listener (default true). */
  plain?: boolean;
  /** A TLS listener on a second port. */
  tls?: MosquittoTls;
  /** Default true; false needs a password file (or a certificate identity) to let anyone in. */
  allowAnonymous?: boolean;
  passwordFile?: string;
  aclFile?: string;
  /** Keep messages and sessions in `dataDir` across restarts (default false). */
  persistence?: boolean;
  /** Seconds between automatic saves of the in-memory db with persistence on (Mosquitto default 1800). */
  autosaveIntervalS?: number;
  /**
   * Mosquitto's log_type values (default ['all']). 'all' writes a line per PUBLISH and PUBACK: a
   * run at thousands of messages a second wants ['error', 'warning', 'notice', 'information'].
   */
  logTypes?: string[];
  /** Extra lines appended to the config file as they are. */
  extra?: string[];
  /** Milliseconds to wait for the broker to accept connections (default 10 000). */
  startTimeoutMs?: number;
}

export interface Mosquitto {
  /** mqtt://127.0.0.1:<port>, when the plaintext listener is on. */
  readonly url: string | undefined;
  /** mqtts://127.0.0.1:<tlsPort>, when TLS is on. */
  readonly tlsUrl: string | undefined;
  readonly port: number | undefined;
  readonly tlsPort: number | undefined;
  /** The folder holding the config file, the log and (with persistence) the data. */
  readonly dir: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
  /** What Mosquitto logged so far (all log types). */
  log(): string;
  /** SIGHUP: Mosquitto re-reads its password file and ACL file without dropping clients. */
  reload(): void;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports, config and data dir (kills it first if it runs). */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL after 2 s) and removes its folder. */
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function writeConfig(dir: string, dataDir: string, o: MosquittoOptions, port: number | undefined, tlsPort: number | undefined): string {
  const lines = [
    '# written by sim/testing/mosquitto.ts',
    // One set of auth settings for every listener: the password file and ACL apply to TLS and plain alike.
    'per_listener_settings false',
    `allow_anonymous ${o.allowAnonymous ?? true}`,
    `persistence ${o.persistence ?? false}`,
    `persistence_location ${dataDir}/`,
    `log_dest file ${join(dir, 'mosquitto.log')}`,
    ...(o.logTypes ?? ['all']).map((t) => `log_type ${t}`),
    'log_timestamp_format %H:%M:%S',
    'connection_messages true',
  ];
  // Run as root, Mosquitto 2 drops to the user "mosquitto", who cannot read this folder.
  if (process.getuid?.() === 0) lines.push('user root');
  if (o.autosaveIntervalS !== undefined) lines.push(`autosave_interval ${o.autosaveIntervalS}`);
  if (o.passwordFile) lines.push(`password_file ${o.passwordFile}`);
  if (o.aclFile) lines.push(`acl_file ${o.aclFile}`);
  if (port !== undefined) lines.push(`listener ${port} 127.0.0.1`);
  if (o.tls && tlsPort !== undefined) {
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${o.tls.cafile}`,
      `certfile ${o.tls.certfile}`,
      `keyfile ${o.tls.keyfile}`,
      `require_certificate ${o.tls.requireCertificate ?? false}`,
    );
  }
  lines.push(...(o.extra ?? []));
  const file = join(dir, 'mosquitto.conf');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Starts a private Mosquitto; throws with its log when it does not come up. */
export async function startMosquitto(o: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'tinyqa-mosquitto-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const plain = o.plain ?? true;
  const logFile = join(dir, 'mosquitto.log');
  let port: number | undefined;
  let tlsPort: number | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + (stderr ? `\n[stderr]\n${stderr}` : '');

  const launch = async (): Promise<void> => {
    const conf = writeConfig(dir, dataDir, o, port, tlsPort);
    stderr = '';
    const c = spawn(cmd('mosquitto'), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let gone = false;
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    exited = new Promise<void>((resolve) => c.once('exit', () => {
      gone = true;
      resolve();
    }));
    c.once('error', () => undefined);
    const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
    const probe = [port, tlsPort].filter((p): p is number => p !== undefined);
    for (;;) {
      if (gone) throw new Error(`mosquitto exited before accepting connections (config ${conf}):\n${readLog()}`);
      const up = await Promise.all(probe.map(accepts));
      if (up.every(Boolean)) return;
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        await exited;
        throw new Error(`mosquitto did not accept connections within ${o.startTimeoutMs ?? 10_000} ms:\n${readLog()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    await exited;
  };

  // A port free a moment ago may be taken by the time Mosquitto binds it: try a few times.
  for (let attempt = 1; ; attempt++) {
    port = plain ? await freePort() : undefined;
    tlsPort = o.tls ? await freePort() : undefined;
    try {
      await launch();
      break;
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/i.test(readLog())) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  return {
    get url() {
      return port === undefined ? undefined : `mqtt://127.0.0.1:${port}`;
    },
    get tlsUrl() {
      return tlsPort === undefined ? undefined : `mqtts://127.0.0.1:${tlsPort}`;
    },
    port,
    tlsPort,
    dir,
    dataDir,
    get pid() {
      return child?.pid;
    },
    log: readLog,
    reload: () => void child?.kill('SIGHUP'),
    kill,
    restart: async () => {
      await kill('SIGKILL');
      await launch();
    },
    stop: async () => {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const t = setTimeout(() => c.kill('SIGKILL'), 2_000);
        await kill('SIGTERM');
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function run(tool: Tool, args: string[], cwd: string): void {
  const r = spawnSync(cmd(tool), args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`${tool} could not be started: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
}

export interface TestPki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Removes the folder. */
  dispose(): void;
}

/**
 * A throw-away PKI in a temp folder: a self-signed CA, a server certificate for 127.0.0.1 and
 * localhost (in subjectAltName: TLS clients match the SAN, not the CN — RFC 6125 §6.4.4), and a
 * client certificate with CN `clientCn`. P-256 keys: generated in milliseconds, unlike RSA.
 */
export function makeTestPki(clientCn = 'tinyqa-test-client', dir = mkdtempSync(join(tmpdir(), 'tinyqa-pki-'))): TestPki {
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('openssl', ['req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=tinyqa test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const leaf = (name: string, cn: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    run('openssl', ['req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    run('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
  };
  leaf('server', '127.0.0.1', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  leaf('client', clientCn, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Writes a Mosquitto password file (hashed by `mosquitto_passwd -b`) with these users. */
export function writePasswordFile(file: string, users: Record<string, string>): string {
  let first = true;
  for (const [user, password] of Object.entries(users)) {
    run('mosquitto_passwd', first ? ['-b', '-c', file, user, password] : ['-b', file, user, password], tmpdir());
    first = false;
  }
  return file;
}
