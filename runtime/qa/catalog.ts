/**
 * The children tinyqa knows and the parent each belongs to (DESIGN §4). The order is the order in
 * which a parent's children are judged and listed. A child's parent is part of its definition, not
 * of the config: the config chooses which children run and how each parent decides.
 */

import type { ParentName } from './types.js';

export const CHILD_PARENT = {
  frame_integrity: 'integrity',
  sequence_continuity: 'integrity',
  clock_sanity: 'integrity',
  completeness: 'intrinsic',
  validity: 'intrinsic',
  timeliness: 'intrinsic',
  uniqueness: 'intrinsic',
  flatline: 'intrinsic',
  spike: 'intrinsic',
  noise: 'intrinsic',
  anomaly: 'intrinsic',
  cross_sensor: 'intrinsic',
  relevance: 'contextual',
  drift: 'contextual',
} as const satisfies Record<string, ParentName>;

export type ChildName = keyof typeof CHILD_PARENT;

export const KNOWN_CHILDREN = Object.keys(CHILD_PARENT) as ChildName[];

export function isChildName(name: string): name is ChildName {
  return Object.prototype.hasOwnProperty.call(CHILD_PARENT, name);
}

/** The children of one parent, in judging order. */
export function childrenOf(parent: ParentName): ChildName[] {
  return KNOWN_CHILDREN.filter((c) => CHILD_PARENT[c] === parent);
}
