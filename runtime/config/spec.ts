/**
 * A tiny declarative schema (STYLE §7): every key is declared once with its type, unit, allowed range,
 * default and the reason for the default; `validate` fills defaults, refuses unknown keys, and reports
 * every problem at once, each naming the key and what is allowed.
 */

export type FieldSpec =
  | { kind: 'int' | 'number'; min: number; max: number; default?: number; unit?: string; why: string }
  | { kind: 'string'; pattern?: RegExp; patternHint?: string; default?: string; why: string }
  | { kind: 'enum'; values: readonly string[]; default?: string; why: string }
  | { kind: 'bool'; default?: boolean; why: string }
  | { kind: 'object'; fields: Record<string, FieldSpec>; why: string }
  /** An array of items of one spec; the default is copied for every config. */
  | { kind: 'list'; item: FieldSpec; maxItems: number; default?: unknown[]; why: string }
  /** An object with free keys (matching `keyPattern`) and values of one spec, e.g. weights per child. */
  | { kind: 'record'; keyPattern: RegExp; keyHint: string; value: FieldSpec; default?: Record<string, unknown>; why: string };

export interface Problem {
  key: string;
  message: string;
}

function typeOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

function describe(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'int':
      return `an integer in [${spec.min}, ${spec.max}]${spec.unit ? ' ' + spec.unit : ''}`;
    case 'number':
      return `a number in [${spec.min}, ${spec.max}]${spec.unit ? ' ' + spec.unit : ''}`;
    case 'string':
      return spec.patternHint ? `a string (${spec.patternHint})` : 'a string';
    case 'enum':
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'bool':
      return 'true or false';
    case 'object':
      return `an object with keys ${Object.keys(spec.fields).join(', ')}`;
    case 'list':
      return `a list of at most ${spec.maxItems} × ${describe(spec.item)}`;
    case 'record':
      return `an object mapping ${spec.keyHint} to ${describe(spec.value)}`;
  }
}

/** Edit distance, for "did you mean" on unknown keys. */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** Validates `input` against `spec` and returns it with defaults filled in; collects problems. */
export function validateValue(spec: FieldSpec, input: unknown, key: string, problems: Problem[]): unknown {
  const where = key || '(top level)';
  if (input === undefined) {
    if (spec.kind === 'object') return validateValue(spec, {}, key, problems);
    if (spec.default !== undefined) return typeof spec.default === 'object' ? structuredClone(spec.default) : spec.default;
    problems.push({ key: where, message: `is required: ${describe(spec)} — ${spec.why}` });
    return undefined;
  }
  switch (spec.kind) {
    case 'int':
    case 'number': {
      const ok = typeof input === 'number' && Number.isFinite(input) && (spec.kind === 'number' || Number.isInteger(input));
      if (!ok || (input as number) < spec.min || (input as number) > spec.max) {
        problems.push({ key: where, message: `must be ${describe(spec)}; got ${JSON.stringify(input)}` });
        return spec.default;
      }
      return input;
    }
    case 'string':
      if (typeof input !== 'string' || (spec.pattern && !spec.pattern.test(input))) {
        problems.push({ key: where, message: `must be ${describe(spec)}; got ${JSON.stringify(input)}` });
        return spec.default;
      }
      return input;
    case 'enum':
      if (typeof input !== 'string' || !spec.values.includes(input)) {
        problems.push({ key: where, message: `must be ${describe(spec)}; got ${JSON.stringify(input)}` });
        return spec.default;
      }
      return input;
    case 'bool':
      if (typeof input !== 'boolean') {
        problems.push({ key: where, message: `must be true or false; got ${JSON.stringify(input)}` });
        return spec.default;
      }
      return input;
    case 'object': {
      if (typeOf(input) !== 'object') {
        problems.push({ key: where, message: `must be an object; got ${typeOf(input)}` });
        return validateValue(spec, {}, key, problems);
      }
      const obj = input as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const allowed = Object.keys(spec.fields);
      for (const k of Object.keys(obj)) {
        if (!allowed.includes(k)) {
          const near = allowed.filter((a) => distance(a, k) <= 2);
          problems.push({
            key: key ? `${key}.${k}` : k,
            message: `is not a known key${near.length ? ` (did you mean ${near.map((n) => JSON.stringify(n)).join(' or ')}?)` : ''}; allowed keys ${key ? `in ${key}` : 'at the top level'}: ${allowed.join(', ')}`,
          });
        }
      }
      for (const [k, sub] of Object.entries(spec.fields)) out[k] = validateValue(sub, obj[k], key ? `${key}.${k}` : k, problems);
      return out;
    }
    case 'list': {
      if (!Array.isArray(input)) {
        problems.push({ key: where, message: `must be ${describe(spec)}; got ${typeOf(input)}` });
        return structuredClone(spec.default ?? []);
      }
      if (input.length > spec.maxItems) problems.push({ key: where, message: `must have at most ${spec.maxItems} items; got ${input.length}` });
      return input.map((item, i) => validateValue(spec.item, item, `${where}[${i}]`, problems));
    }
    case 'record': {
      if (typeOf(input) !== 'object') {
        problems.push({ key: where, message: `must be ${describe(spec)}; got ${typeOf(input)}` });
        return structuredClone(spec.default ?? {});
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
        const sub = key ? `${key}.${k}` : k;
        if (!spec.keyPattern.test(k)) {
          problems.push({ key: sub, message: `is not a valid key: expected ${spec.keyHint}` });
          continue;
        }
        out[k] = validateValue(spec.value, v, sub, problems);
      }
      return out;
    }
  }
}

/** Deep-freezes a plain object tree. */
export function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object') {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}
