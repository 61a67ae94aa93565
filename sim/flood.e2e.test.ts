/**
 * DESIGN §8 reliability, "10× input flood: memory under its cap, in = delivered + dropped + queued".
 *
 * Nominal input is the pump at real time: 3 channels × 100 Hz = 300 samples/s. The flood is
 * `--speed 10`: 3 000 samples/s in, judged in windows of 8 (375 verdicts/s — 125× the verdicts of
 * the default window of 100), with the broker down (a port nobody listens on) and the outbox bounded
 * at 100 records, so nearly every record is eventually dropped, oldest first.
 *
 * Memory cap: 192 MB resident for the whole `tinyqa sim` process. Measured here at 125–136 MB
 * steady: the runtime (~40 MB of Node, DESIGN §8), plus what only the simulator carries — tsx's
 * in-process TypeScript compiler, the firmware emulator and the pseudo-terminal. The cap leaves ~40 %
 * for garbage-collection timing on a loaded CI machine. What it must catch is memory that grows with
 * the records made while the broker is away (mqtt.js keeps its offline queue in memory; ours is on
 * disk): the late samples are compared with the early ones, after start-up and JIT warm-up.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSimSummary, spawnTinyqa } from './eval/child.js';
import { freePort } from './testing/mosquitto.js';

const MAX_RECORDS = 100;
const CAP_MB = 192;
/** Late samples may exceed the early ones by this much (GC timing), not by what ~7 000 records would need. */
const GROWTH_MB = 12;
/** Seconds of wall time the flood lasts (scenario time is 10× that). */
const FLOOD_S = 24;

function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined; // gone already
  }
}

describe.skipIf(process.platform !== 'linux')('a 10× input flood with the broker down', () => {
  const work = mkdtempSync(join(tmpdir(), 'tinyqa-flood-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('keeps memory under its cap and flat, holds the outbox at its bound, and accounts for every record: produced = delivered + dropped + queued', async () => {
    const config = join(work, 'config.json');
    writeFileSync(config, JSON.stringify({ outbox: { max_records: MAX_RECORDS } }));
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    let verdicts = 0;
    let firstAt = 0;
    let summary = '';
    const sim = spawnTinyqa(
      ['sim', '--broker', dead, '--device', 'flood-01', '--outbox', join(work, 'outbox'), '--config', config, '--speed', '10', '--window', '8', '--faults', 'none', '--duration', String(FLOOD_S * 10), '--json'],
      {
        onStdoutLine: () => {
          verdicts++;
          firstAt ||= Date.now();
        },
        onStderrLine: (line) => {
          if (line.startsWith('sim: ')) summary = line;
        },
      },
    );
    /** [seconds since the first verdict, MB, verdicts so far] */
    const samples: [number, number, number][] = [];
    const sampler = setInterval(() => {
      const mb = rssMb(sim.pid);
      if (mb !== undefined && firstAt) samples.push([(Date.now() - firstAt) / 1000, mb, verdicts]);
    }, 200);
    const exit = await sim.exited;
    clearInterval(sampler);
    expect(exit.code, sim.stderrTail()).toBe(0);

    const s = parseSimSummary(summary);
    expect(s, summary).toBeDefined();
    const { produced, delivered, dropped, queued } = s!.outbox;
    const peak = Math.max(...samples.map(([, mb]) => mb));
    const inWindow = (from: number, to: number) => samples.filter(([t]) => t >= from * FLOOD_S && t < to * FLOOD_S);
    const early = inWindow(0.35, 0.55);
    const late = inWindow(0.8, 1);
    const max = (xs: [number, number, number][]) => Math.max(...xs.map(([, mb]) => mb));
    console.log(
      `flood at 10× input (375 verdicts/s) for ${FLOOD_S} s with the broker down: ${s!.verdicts} verdicts + ${s!.actions} actions; ` +
        `outbox produced ${produced} = delivered ${delivered} + dropped ${dropped} + queued ${queued} (bound ${MAX_RECORDS}); ` +
        `RSS peak ${peak.toFixed(1)} MB (cap ${CAP_MB}), early max ${max(early).toFixed(1)} MB at ${early[0]?.[2]}–${early.at(-1)?.[2]} verdicts, ` +
        `late max ${max(late).toFixed(1)} MB at ${late[0]?.[2]}–${late.at(-1)?.[2]} verdicts; ${samples.length} samples`,
    );

    expect(s!.verdicts).toBe(verdicts);
    expect(s!.verdicts).toBeGreaterThanOrEqual(0.95 * 375 * FLOOD_S);
    // Every record the runtime made is in the outbox's account, and the account balances exactly.
    expect(produced).toBe(s!.verdicts + s!.actions);
    expect(produced).toBe(delivered + dropped + queued);
    expect(delivered).toBe(0);
    expect(queued).toBe(MAX_RECORDS);
    expect(dropped).toBe(produced - MAX_RECORDS);
    expect(samples.length).toBeGreaterThan(50);
    expect(early.length).toBeGreaterThan(5);
    expect(late.length).toBeGreaterThan(5);
    expect(peak).toBeLessThan(CAP_MB);
    expect(max(late)).toBeLessThan(max(early) + GROWTH_MB);
  }, 120_000);
});
