import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import { compressedAir } from './compressed-air.js';
import { pump } from './pump.js';
import type { Scenario } from './scenario.js';
import { smartMeter } from './smart-meter.js';

export const SCENARIOS: Record<string, Scenario> = { pump, [compressedAir.name]: compressedAir, [smartMeter.name]: smartMeter };

export function getScenario(name: string): Scenario {
  // Own keys only: `toString` is not a scenario.
  const s = Object.hasOwn(SCENARIOS, name) ? SCENARIOS[name] : undefined;
  if (!s) throw new TinyqaError(ErrorCode.ScenarioUnknown, `unknown scenario "${name}"`, { hint: `choose one of: ${Object.keys(SCENARIOS).join(', ')}` });
  return s;
}
