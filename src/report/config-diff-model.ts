/**
 * `kamal-gate config diff --format json`: the settings of the effective deploy that differ between
 * the approved config and the one compared with it, each with where it is written. Versioned by
 * `schema`, bumped on any incompatible change. Values are the effective deploy's, which holds only
 * the names of secrets, never their values.
 */
import type { SourceLocation } from '../types.js';

const CONFIG_DIFF_SCHEMA = 'kamal-gate/config-diff/v1';

/** One setting of the effective deploy that differs: `from` absent when added, `to` absent when removed. */
export interface SettingChange {
  path: string;
  from?: unknown;
  to?: unknown;
}

export type ChangeKind = 'added' | 'removed' | 'changed';

export function changeKind(c: SettingChange): ChangeKind {
  if (c.from === undefined) return 'added';
  if (c.to === undefined) return 'removed';
  return 'changed';
}

/** One side of the comparison. */
export interface DiffSide {
  /** `approved`: from the ledger; `working-tree`: the config as it is now. */
  source: 'approved' | 'working-tree';
  version?: string;
  fingerprint: string;
}

export interface ConfigDiffReport {
  schema: typeof CONFIG_DIFF_SCHEMA;
  config: string;
  service: string;
  destination?: string;
  from: DiffSide;
  to: DiffSide;
  equal: boolean;
  changes: Array<{ path: string; kind: ChangeKind; from?: unknown; to?: unknown; location?: SourceLocation }>;
}

export function configDiffReport(
  head: { config: string; service: string; destination?: string; from: DiffSide; to: DiffSide },
  changes: readonly SettingChange[],
  locate: (path: string) => SourceLocation | undefined,
): ConfigDiffReport {
  return {
    schema: CONFIG_DIFF_SCHEMA,
    config: head.config,
    service: head.service,
    ...(head.destination !== undefined ? { destination: head.destination } : {}),
    from: head.from,
    to: head.to,
    equal: changes.length === 0,
    changes: changes.map((c) => {
      const location = locate(c.path);
      return {
        path: c.path,
        kind: changeKind(c),
        ...(c.from !== undefined ? { from: c.from } : {}),
        ...(c.to !== undefined ? { to: c.to } : {}),
        ...(location ? { location: { file: location.file, line: location.line } } : {}),
      };
    }),
  };
}
