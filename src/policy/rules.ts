/**
 * Finding rule ids and the requirement group each belongs to: the group whose `mode` decides
 * whether the finding fails the run. A rule id the map does not know is enforced (fail closed).
 */
import type { Severity } from '../types.js';
import type { Group } from './types.js';

const PREFIX_GROUP: Record<string, Group> = {
  ledger: 'ledger',
  signature: 'signatures',
  attestation: 'attestations',
  base: 'base',
  image: 'image',
  tag: 'tags',
  platform: 'platforms',
  config: 'config',
};

/** Prefixes a finding rule id can have (`config.` for Kamal config lint findings); exceptions must name one. */
export const RULE_PREFIXES: readonly string[] = Object.keys(PREFIX_GROUP);

/** Tag moves that `tags.immutable: false` turns into warnings. */
export const TAG_MOVES: readonly string[] = ['tag.overwritten', 'tag.rolled_back', 'tag.deleted'];

/**
 * Findings that `base.unknown` decides instead of the base group's mode: a base that could not be
 * identified, and one that is named but not confirmed by its layers.
 */
export const BASE_UNIDENTIFIED: readonly string[] = ['base.unknown', 'base.unconfirmed'];

/** The finding an expired exception produces. */
export const EXCEPTION_EXPIRED = 'policy.exception_expired';

/** Severities an enforced, unwaived finding fails the run with; `low` and `info` never fail. */
export const FAILING_SEVERITIES: ReadonlySet<Severity> = new Set<Severity>(['critical', 'high', 'medium']);

export function groupOf(rule: string): Group | undefined {
  if (rule === 'tag.unrecorded' || rule === 'ledger.checkpoint') return 'ledger';
  return PREFIX_GROUP[rule.split('.')[0]!];
}
