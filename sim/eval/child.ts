/**
 * A tinyqa command as a child process whose output is read line by line as it comes, for
 * evaluations and tests that run for minutes: nothing is accumulated but the lines the caller keeps
 * and a bounded tail of stderr for error messages.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** This checkout's CLI entry (runs the TypeScript sources through tsx). */
export const CHECKOUT_ENTRY = fileURLToPath(new URL('../../runtime/cli/tinyqa.mjs', import.meta.url));

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TinyqaChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last lines of stderr (at most `stderrTailLines`). */
  stderrTail(): string;
  readonly exited: Promise<ChildExit>;
  /** True once the process has exited. */
  readonly done: boolean;
  /** SIGTERM, then SIGKILL after `graceMs` if it is still running; resolves when it has exited. */
  stop(graceMs?: number): Promise<ChildExit>;
}

export interface SpawnOptions {
  /** The CLI entry to run with this Node (default: this checkout's). */
  entry?: string;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  stderrTailLines?: number;
  cwd?: string;
}

/** Splits a byte stream into lines without holding more than one partial line. */
function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const text = partial + chunk.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      onLine(text.slice(start, nl));
      start = nl + 1;
    }
    partial = text.slice(start);
  };
}

export function spawnTinyqa(args: string[], o: SpawnOptions = {}): TinyqaChild {
  const child = spawn(process.execPath, [o.entry ?? CHECKOUT_ENTRY, ...args], {
    cwd: o.cwd ?? process.cwd(),
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const maxTail = o.stderrTailLines ?? 40;
  const onOut = o.onStdoutLine;
  if (onOut) child.stdout!.on('data', lineReader(onOut));
  else child.stdout!.resume();
  child.stderr!.on(
    'data',
    lineReader((line) => {
      tail.push(line);
      if (tail.length > maxTail) tail.shift();
      o.onStderrLine?.(line);
    }),
  );
  let done = false;
  // 'close', not 'exit': every line the process wrote has been read by then.
  const exited = new Promise<ChildExit>((resolve) =>
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  child.once('error', () => undefined);
  return {
    child,
    pid: child.pid ?? -1,
    stderrTail: () => tail.join('\n'),
    exited,
    get done() {
      return done;
    },
    async stop(graceMs = 10_000) {
      if (!done) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

/**
 * The durable seq of a verdict line as `tinyqa sim --json` and `tinyqa watch --json` print it
 * (`{"v":1,"device":…,"stream":…,"seq":N,…}`): the first "seq" before any nested object, read
 * without parsing the whole line (a 100 000-verdict run prints ~100 MB). undefined: not a verdict.
 */
export function seqOfLine(line: string): number | undefined {
  const m = /^\{[^{}]*?"seq":(\d+)[,}]/.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** The figures of `tinyqa sim`'s summary line on stderr (`sim: N verdicts … ; outbox: produced P = …`). */
export interface SimSummary {
  verdicts: number;
  actions: number;
  acked: number;
  outbox: { produced: number; delivered: number; dropped: number; queued: number };
  resent: number;
  replayed: number;
  replayGone: number;
}

export function parseSimSummary(line: string): SimSummary | undefined {
  const head = /^sim: (\d+) verdicts .*broker acknowledged (\d+)\/\d+ messages \((\d+) verdicts, (\d+) actions\)/.exec(line);
  const box = /outbox: produced (\d+) = delivered (\d+) \+ dropped (\d+) \+ queued (\d+); (\d+) resent after reconnects, (\d+) replayed on request, (\d+) asked for but gone/.exec(line);
  if (!head || !box) return undefined;
  const n = (s: string | undefined) => Number(s);
  return {
    verdicts: n(head[1]),
    acked: n(head[2]),
    actions: n(head[4]),
    outbox: { produced: n(box[1]), delivered: n(box[2]), dropped: n(box[3]), queued: n(box[4]) },
    resent: n(box[5]),
    replayed: n(box[6]),
    replayGone: n(box[7]),
  };
}
