import { describe, expect, it } from 'vitest';
import { ErrorCode, isTinyqaError } from '../runtime/core/errors.js';
import { parseCsv } from './csv.js';

describe('CSV input (DESIGN §9)', () => {
  it('reads NAB-style ISO timestamps without a zone as UTC', () => {
    const t = parseCsv('timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,2\n');
    expect(t.timeFormat).toBe('iso8601');
    expect(Array.from(t.times)).toEqual([Date.UTC(2014, 3, 1, 0, 0), Date.UTC(2014, 3, 1, 0, 5)]);
    expect(t.channels).toEqual(['value']);
    expect(Array.from(t.values[0]!)).toEqual([1.5, 2]);
  });

  it('detects epoch seconds and milliseconds', () => {
    expect(parseCsv('t,a\n1700000000,1\n1700000001,2\n').timeFormat).toBe('epoch_s');
    const ms = parseCsv('t,a\n1700000000000,1\n1700000001000,2\n');
    expect(ms.timeFormat).toBe('epoch_ms');
    expect(ms.times[1]).toBe(1700000001000);
  });

  it('detects ";" separators with decimal commas, and several channels', () => {
    const t = parseCsv('time;pressure;flow\n1700000000;4,25;120\n1700000001;4,5;121\n');
    expect(t.separator).toBe(';');
    expect(t.channels).toEqual(['pressure', 'flow']);
    expect(Array.from(t.values[0]!)).toEqual([4.25, 4.5]);
  });

  it('keeps empty, NaN and non-numeric cells as missing values and counts the non-numeric ones', () => {
    const t = parseCsv('timestamp,a,b\n1700000000,,NaN\n1700000001,x,2\n');
    expect(Array.from(t.values[0]!)).toEqual([NaN, NaN]);
    expect(Array.from(t.values[1]!)).toEqual([NaN, 2]);
    expect(t.badCells).toBe(1);
  });

  it('drops rows whose timestamp cannot be read and names their lines', () => {
    const t = parseCsv('timestamp,a\n1700000000,1\noops,2\n1700000002,3\n');
    expect(t.badRows).toBe(1);
    expect(t.badRowLines).toEqual([3]);
    expect(t.times.length).toBe(2);
  });

  it('refuses an empty file or a header with one column with E6003', () => {
    for (const text of ['', 'value\n1\n']) {
      const e = (() => {
        try {
          parseCsv(text, 'x.csv');
        } catch (err) {
          return err;
        }
      })();
      expect(isTinyqaError(e, ErrorCode.CsvInvalid)).toBe(true);
    }
  });
});
