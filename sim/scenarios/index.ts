import { ErrorCode, TinyqaError } from '../../runtime/core/errors.js';
import { pump } from './pump.js';
import type { Scenario } from './scenario.js';

export const SCENARIOS: Record<string, Scenario> = { pump };

export function getScenario(name: string): Scenario {
  const s = SCENARIOS[name];
  if (!s) throw new TinyqaError(ErrorCode.ScenarioUnknown, `unknown scenario "${name}"`, { hint: `choose one of: ${Object.keys(SCENARIOS).join(', ')}` });
  return s;
}
