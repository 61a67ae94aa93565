/** Runs the tinyqa CLI as a child process, the way a user does, for tests. */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../runtime/cli/tinyqa.mjs', import.meta.url));
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the output (stdout + stderr) matches. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<CliRun>;
}

export function startCli(args: string[], opts: { entry?: string; env?: Record<string, string>; cwd?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [opts.entry ?? BIN, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitForOutput(re, timeoutMs = 20_000) {
      const t0 = Date.now();
      while (!re.test(out + err)) {
        if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before output matched ${re}:\n${out}\n${err}`);
        if (Date.now() - t0 > timeoutMs) throw new Error(`output did not match ${re} within ${timeoutMs} ms:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    done,
  };
}

export function runCli(args: string[], opts: { entry?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const p = startCli(args, opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return p.done.finally(() => clearTimeout(timer));
}
