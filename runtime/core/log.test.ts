import { describe, expect, it } from 'vitest';
import { createLogger, LOG_LEVELS, MemoryLogSink } from './log.js';

describe('createLogger', () => {
  it('leaves every level above the chosen one undefined and defines the rest', () => {
    const log = createLogger('warn', new MemoryLogSink());
    expect(typeof log.error).toBe('function');
    expect(typeof log.warn).toBe('function');
    expect(log.info).toBeUndefined();
    expect(log.debug).toBeUndefined();
    expect(log.trace).toBeUndefined();
  });

  it('turns every level off at silent and every level on at trace', () => {
    const silent = createLogger('silent', new MemoryLogSink());
    const trace = createLogger('trace', new MemoryLogSink());
    const levels = ['error', 'warn', 'info', 'debug', 'trace'] as const;
    expect(levels.map((l) => silent[l])).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(levels.every((l) => typeof trace[l] === 'function')).toBe(true);
    expect(LOG_LEVELS).toEqual(['silent', ...levels]);
  });

  it('does not evaluate the message template of a level that is off', () => {
    const sink = new MemoryLogSink();
    const log = createLogger('info', sink);
    let evaluated = 0;
    const expensive = {
      get detail() {
        evaluated++;
        return 'detail';
      },
    };
    log.debug?.(`frame ${expensive.detail}`);
    expect(evaluated).toBe(0);
    log.info?.(`frame ${expensive.detail}`);
    expect(evaluated).toBe(1);
    expect(sink.lines).toEqual(['[tinyqa] info: frame detail']);
  });

  it('writes one line per message with the component and the level', () => {
    const sink = new MemoryLogSink();
    const log = createLogger('debug', sink, 'gw');
    log.error?.('a');
    log.debug?.('b');
    log.trace?.('c');
    expect(sink.lines).toEqual(['[gw] error: a', '[gw] debug: b']);
  });

  it('prefixes a child logger with its parent component name, at every depth, sharing the sink and level', () => {
    const sink = new MemoryLogSink();
    const log = createLogger('info', sink);
    const link = log.child('link');
    const serial = link.child('serial');
    link.warn?.('reopening');
    serial.info?.('opened');
    expect(sink.lines).toEqual(['[tinyqa/link] warn: reopening', '[tinyqa/link/serial] info: opened']);
    expect(serial.level).toBe('info');
    expect(serial.debug).toBeUndefined();
  });
});
