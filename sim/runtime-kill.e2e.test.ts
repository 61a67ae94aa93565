/**
 * DESIGN §8 reliability, "Runtime SIGKILLed at random points: nothing lost that the outbox had
 * accepted". `tinyqa sim` replays the pump with the broker down (a port nobody listens on), all runs
 * on one `--outbox DIR`, and is SIGKILLed at seeded random moments: most while it is judging and
 * queueing, some while it is still starting (opening and recovering the outbox). What each run
 * printed on stdout is what its outbox accepted. Then a broker comes up, one more run sends the
 * backlog, and a subscriber must have every printed seq — each exactly as it was printed, since a
 * seq is never handed out twice.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSimSummary, spawnTinyqa } from './eval/child.js';
import { Rng } from './random.js';
import { collect } from './testing/collector.js';
import { freePort, mosquittoSkipReason, startMosquitto, type Mosquitto } from './testing/mosquitto.js';

const skip = mosquittoSkipReason();
const DEVICE = 'kill-01';
const SEED = 6;
/** 20 runs killed while judging, and between them (at these indices) 3 killed while still starting. */
const RUNS = 23;
const STARTING = new Set([4, 11, 18]);

interface Printed {
  seq: number;
  stream: string;
  t0: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined)(`tinyqa SIGKILLed with the broker down${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'tinyqa-kill-'));
  let broker: Mosquitto | undefined;
  afterAll(async () => {
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('delivers every verdict any killed run printed once a broker is back, and never gives one seq to two verdicts', async () => {
    const outbox = join(work, 'outbox');
    // Bounds no run can reach: a drop would be the bound's doing, not the kill's.
    const config = join(work, 'config.json');
    writeFileSync(config, JSON.stringify({ outbox: { max_records: 1_000_000, max_bytes: 1024 ** 3 } }));
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    const rng = new Rng(SEED);
    /** Seq → the run that printed it, and what it printed. */
    const printedBy = new Map<number, { run: number; v: Printed }>();
    const twice: string[] = [];
    const runs: { printed: number; killedAfterMs: number; running: boolean }[] = [];
    for (let run = 0; run < RUNS; run++) {
      // A starting run is followed by others: they recover what it left.
      const starting = STARTING.has(run);
      let printed = 0;
      let firstAt = 0;
      const t0 = Date.now();
      const sim = spawnTinyqa(
        ['sim', '--broker', dead, '--device', DEVICE, '--outbox', outbox, '--config', config, '--speed', '20', '--window', '8', '--faults', 'none', '--duration', '100000', '--seed', String(run + 1), '--json'],
        {
          onStdoutLine: (line) => {
            const v = JSON.parse(line) as Printed;
            printed++;
            firstAt ||= Date.now();
            const seen = printedBy.get(v.seq);
            if (seen) twice.push(`seq ${v.seq}: run ${seen.run} and run ${run}`);
            else printedBy.set(v.seq, { run, v: { seq: v.seq, stream: v.stream, t0: v.t0 } });
          },
        },
      );
      // Starting: a random moment of the first 2.5 s (process start, outbox open and recovery,
      // the wait for the broker). Running: a random moment within 1.5 s of the first verdict.
      const delay = starting ? 150 + rng.next() * 2_350 : rng.next() * 1_500;
      while (!sim.done && (starting ? Date.now() - t0 < delay : firstAt === 0 || Date.now() - firstAt < delay)) await sleep(2);
      expect(sim.done, `run ${run} ended by itself:\n${sim.stderrTail()}`).toBe(false);
      sim.child.kill('SIGKILL');
      const exit = await sim.exited;
      expect(exit.signal).toBe('SIGKILL');
      runs.push({ printed, killedAfterMs: Date.now() - t0, running: printed > 0 });
    }
    expect(twice).toEqual([]);
    expect(runs.filter((r) => r.running).length).toBeGreaterThanOrEqual(20);
    const accepted = [...printedBy.keys()].sort((a, b) => a - b);

    // The broker is back: a subscriber listens, and one more run sends the backlog.
    broker = await startMosquitto({
      // Unbounded per-client queue: this test is about the outbox, not the broker's drops.
      extra: ['max_queued_messages 0'],
      logTypes: ['error', 'warning', 'notice'],
    });
    const seen = await collect(broker.url!, 'tinyqa/v1', DEVICE);
    let last: number[] = [];
    let summary = '';
    const final = spawnTinyqa(
      ['sim', '--broker', broker.url!, '--device', DEVICE, '--outbox', outbox, '--config', config, '--speed', 'max', '--window', '8', '--faults', 'none', '--duration', '4', '--flush', '60', '--json'],
      {
        onStdoutLine: (line) => {
          last.push((JSON.parse(line) as Printed).seq);
        },
        onStderrLine: (line) => {
          if (line.startsWith('sim: ')) summary = line;
        },
      },
    );
    const exit = await final.exited;
    expect(exit.code, final.stderrTail()).toBe(0);
    const s = parseSimSummary(summary);
    expect(s, summary).toBeDefined();
    // The final run's outbox: the backlog recovered plus its own records, all acknowledged.
    expect(s!.outbox).toMatchObject({ dropped: 0, queued: 0 });
    expect(s!.outbox.delivered).toBe(s!.outbox.produced);
    expect(s!.outbox.produced).toBeGreaterThanOrEqual(accepted.length + last.length);
    // Its seqs are new ones too.
    expect(last.filter((q) => printedBy.has(q))).toEqual([]);

    const got = () => new Set(seen.verdicts.map((v) => v.seq));
    await seen.waitFor(() => {
      const g = got();
      return accepted.every((q) => g.has(q)) && last.every((q) => g.has(q));
    }, 30_000).catch(() => undefined);
    const g = got();
    const missing = accepted.filter((q) => !g.has(q));
    // Every copy of a seq on the wire is the verdict that seq was printed with.
    const mismatched = seen.verdicts.filter((v) => {
      const p = printedBy.get(v.seq);
      return p !== undefined && (p.v.stream !== v.stream || p.v.t0 !== v.t0);
    });
    console.log(
      `tinyqa SIGKILLed ${runs.length} times with the broker down (seed ${SEED}; ${runs.filter((r) => r.running).length} while judging, ` +
        `${runs.filter((r) => !r.running).length} before the first verdict): ${accepted.length} verdicts printed (per run: ${runs.map((r) => r.printed).join(' ')}); ` +
        `final run: ${last.length} verdicts of its own, ${summary.replace(/^.*outbox: /, 'outbox ')}; subscriber received ${seen.verdicts.length} verdicts, ` +
        `${missing.length} printed seqs missing, ${mismatched.length} seqs with another verdict`,
    );
    expect(missing).toEqual([]);
    expect(mismatched).toEqual([]);
    expect(last.every((q) => g.has(q))).toBe(true);
    await seen.sub.close();
    last = [];
  }, 300_000);
});
