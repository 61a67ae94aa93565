import { describe, expect, it } from 'vitest';
import { evalAdapt } from './adapt.js';

describe('tinyqa eval adapt (short run: 14 days, PV from day 5, 10 leak episodes)', () => {
  it('follows the benign drift where the frozen state keeps failing, and loses no fault recall', async () => {
    const r = await evalAdapt({ seed: 3, days: 14, solarDay: 5, trainDays: 4, leakSeconds: 1200 });
    console.log(`eval adapt (seed 3, 14 days): ${JSON.stringify({ before: r.false_alarm_rate_before, after: r.false_alarm_rate_after_drift, recover: r.windows_to_recover, control: r.control_false_alarm_rate, recall: r.fault_recall, by: r.fault_recall_by_fault, adaptation: r.adaptation })}`);
    // The drift is real: frozen, the PV days fail far more often than before.
    expect(r.false_alarm_rate_after_drift.frozen).toBeGreaterThan(r.false_alarm_rate_before.frozen + 0.05);
    // Adapted, they mostly pass again, and from some window on every day is back at the pre-drift rate.
    expect(r.false_alarm_rate_after_drift.adapted).toBeLessThan(r.false_alarm_rate_after_drift.frozen / 2);
    expect(r.windows_to_recover).not.toBeNull();
    expect(r.windows_to_recover_frozen).toBeNull();
    // Adaptation alone (no drift) adds no false alarms.
    expect(r.control_false_alarm_rate.adapted).toBeLessThanOrEqual(r.control_false_alarm_rate.frozen + 0.01);
    // Faults are not learned away: recall with adaptation is not lower, for every fault, the leak included.
    expect(r.fault_recall.adapted).toBeGreaterThanOrEqual(r.fault_recall.frozen);
    for (const [fault, x] of Object.entries(r.fault_recall_by_fault)) {
      expect(x.episodes, fault).toBeGreaterThan(0);
      expect(x.adapted, fault).toBeGreaterThanOrEqual(x.frozen);
    }
    expect(r.fault_recall_by_fault['leak']!.adapted).toBeGreaterThanOrEqual(0.8);
    // A leak that opens and stays open is still flagged as much with adaptation as without.
    const d = r.developing_leak;
    console.log(`developing leak: ${JSON.stringify(d)}`);
    expect(d.flagged_open.frozen).toBeGreaterThan(d.flagged_without_leak.frozen + 0.1);
    expect(d.flagged_open.adapted).toBeGreaterThanOrEqual(d.flagged_open.frozen);
    expect(d.flagged_without_leak.adapted).toBeLessThanOrEqual(d.flagged_without_leak.frozen + 0.02);
    expect(r.adaptation.promotions).toBeGreaterThan(0);
    expect(r.adaptation.refused).toBeGreaterThan(0);
  }, 120_000);
});
