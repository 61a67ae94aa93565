import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { HealthMonitor, readBattery } from './health.js';

const dir = mkdtempSync(join(tmpdir(), 'tinyqa-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('health report', () => {
  it('measures CPU share, memory and event-loop lag of this process over the interval', async () => {
    const m = new HealthMonitor({ device: 'd1', thermalPath: join(dir, 'none'), powerSupplyDir: join(dir, 'none') }, systemClock);
    try {
      // Busy the loop for ~150 ms: CPU share near 1 and a lag of about that much must show.
      await new Promise((r) => setTimeout(r, 20));
      const t0 = Date.now();
      while (Date.now() - t0 < 150) Math.sqrt(Math.random());
      await new Promise((r) => setTimeout(r, 30));
      const h = m.report({ frames: 12, verdicts: 3 });
      expect(h.device).toBe('d1');
      expect(h.cpu_share).toBeGreaterThan(0.3);
      expect(h.loop_lag_ms.max).toBeGreaterThan(100);
      expect(h.rss_mb).toBeGreaterThan(10);
      expect(h.counters).toEqual({ frames: 12, verdicts: 3 });
      // Absent sensors are omitted, not guessed.
      expect(h).not.toHaveProperty('soc_temp_c');
      expect(h).not.toHaveProperty('battery_pct');
      // A quiet interval afterwards: the lag histogram was reset.
      await new Promise((r) => setTimeout(r, 120));
      const q = m.report({});
      expect(q.loop_lag_ms.max).toBeLessThan(100);
    } finally {
      m.close();
    }
  });

  it('reads the SoC temperature and the battery the way Linux exposes them', () => {
    writeFileSync(join(dir, 'temp'), '51234\n');
    const ps = join(dir, 'power_supply');
    mkdirSync(join(ps, 'AC'), { recursive: true });
    writeFileSync(join(ps, 'AC', 'type'), 'Mains\n');
    mkdirSync(join(ps, 'BAT0'), { recursive: true });
    writeFileSync(join(ps, 'BAT0', 'type'), 'Battery\n');
    writeFileSync(join(ps, 'BAT0', 'capacity'), '87\n');
    expect(readBattery(ps)).toBe(87);
    const m = new HealthMonitor({ device: 'd1', thermalPath: join(dir, 'temp'), powerSupplyDir: ps }, systemClock);
    try {
      const h = m.report({}, { budget_mode: 'normal' });
      expect(h.soc_temp_c).toBe(51.2);
      expect(h.battery_pct).toBe(87);
      expect(h.budget_mode).toBe('normal');
    } finally {
      m.close();
    }
  });
});
