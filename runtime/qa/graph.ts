/**
 * The dimension graph (DESIGN §4): children grouped under parents, declared as data in the config,
 * instantiated once per stream. A parent fails when any of its critical children fails (the rule
 * decision); warning and info children are reported but do not fail their parent.
 */

import { Completeness } from './dimensions/completeness.js';
import { Flatline } from './dimensions/flatline.js';
import { Spike } from './dimensions/spike.js';
import { Validity } from './dimensions/validity.js';
import type { ChildResult, Dimension, Outcome, ParentName, QaConfig, WindowInput } from './types.js';

export const KNOWN_CHILDREN = ['completeness', 'validity', 'flatline', 'spike'] as const;
export type ChildName = (typeof KNOWN_CHILDREN)[number];

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;

export interface Judgement {
  parents: Partial<Record<ParentName, Outcome>>;
  children: Record<string, ChildResult>;
  failed: string[];
}

function createChild(name: ChildName, qa: QaConfig): Dimension {
  switch (name) {
    case 'completeness':
      return new Completeness(qa.completeness);
    case 'validity':
      return new Validity(qa.validity);
    case 'flatline':
      return new Flatline(qa.flatline);
    case 'spike':
      return new Spike(qa.spike);
  }
}

/** The graph for one stream: its own dimension instances (they may keep per-stream state). */
export class StreamJudge {
  private readonly children: Dimension[];

  constructor(qa: QaConfig) {
    this.children = KNOWN_CHILDREN.filter((name) => qa[name].enabled).map((name) => createChild(name, qa));
  }

  /** A judge over given dimension instances (model-backed children and test doubles plug in here). */
  static of(dimensions: Dimension[]): StreamJudge {
    const j = Object.create(StreamJudge.prototype) as StreamJudge;
    (j as unknown as { children: Dimension[] }).children = dimensions;
    return j;
  }

  get childNames(): string[] {
    return this.children.map((c) => c.name);
  }

  judge(w: WindowInput): Judgement {
    const parents: Partial<Record<ParentName, Outcome>> = {};
    const children: Record<string, ChildResult> = {};
    const failed: string[] = [];
    for (const dim of this.children) {
      const r = dim.evaluate(w);
      children[dim.name] = r;
      if (parents[r.parent] === undefined) parents[r.parent] = 'pass';
      if (!r.pass) {
        failed.push(dim.name);
        if (r.severity === 'critical') parents[r.parent] = 'fail';
      }
    }
    failed.sort((a, b) => SEVERITY_RANK[children[a]!.severity] - SEVERITY_RANK[children[b]!.severity]);
    return { parents, children, failed };
  }
}
