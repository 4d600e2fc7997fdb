/**
 * `kamal-gate record --format json`: what record approved, left unchanged or refused, and the
 * entries it wrote. Versioned by `schema`, bumped on any incompatible change.
 */
import type { TargetResult } from '../types.js';

const RECORD_SCHEMA = 'kamal-gate/record/v2';

/** One image record looked at. */
export interface RecordRow {
  ref: string;
  role: string;
  digest: string | null;
  /** approved | unchanged | refused | approved move | not approved */
  change: string;
  approved?: string;
  message?: string;
}

export interface RecordReport {
  schema: typeof RECORD_SCHEMA;
  ledger: string;
  recorded: RecordRow[];
  entriesWritten: number;
  errors: Array<{ ref: string; kind: string; message: string }>;
  exitCode: number;
}

/** `errors`: the targets that could not be resolved (each with its `error`). */
export function recordReport(ledger: string, rows: RecordRow[], entriesWritten: number, errors: readonly TargetResult[], exitCode: number): RecordReport {
  return {
    schema: RECORD_SCHEMA,
    ledger,
    recorded: rows,
    entriesWritten,
    errors: errors.map((r) => ({ ref: r.target.ref, kind: r.error!.kind, message: r.error!.message })),
    exitCode,
  };
}
