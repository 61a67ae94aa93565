/**
 * A logger that costs nothing when a level is off: each level is either a function or `undefined`,
 * and callers write `log.debug?.(`...${x}`)` — with optional-call short-circuiting the template
 * string is never built when the level is off (STYLE §5: no string formatting unless the level is on).
 * Logs go to stderr so stdout stays clean for verdicts and `--json` output.
 */

export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFn = (message: string) => void;

export interface Logger {
  readonly level: LogLevel;
  readonly error: LogFn | undefined;
  readonly warn: LogFn | undefined;
  readonly info: LogFn | undefined;
  readonly debug: LogFn | undefined;
  readonly trace: LogFn | undefined;
  /** A logger for a component, whose lines are prefixed with its name. */
  child(component: string): Logger;
}

export interface LogSink {
  write(line: string): void;
}

const stderrSink: LogSink = { write: (line) => process.stderr.write(line + '\n') };

export function createLogger(level: LogLevel, sink: LogSink = stderrSink, component = 'tinyqa'): Logger {
  const rank = LOG_LEVELS.indexOf(level);
  const make = (name: LogLevel): LogFn | undefined =>
    LOG_LEVELS.indexOf(name) <= rank ? (message) => sink.write(`[${component}] ${name}: ${message}`) : undefined;
  return {
    level,
    error: make('error'),
    warn: make('warn'),
    info: make('info'),
    debug: make('debug'),
    trace: make('trace'),
    child: (name) => createLogger(level, sink, `${component}/${name}`),
  };
}

export const silentLogger: Logger = createLogger('silent');

/** Collects lines in memory; for tests that assert what was reported. */
export class MemoryLogSink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
}
