/**
 * The JSON documents of the `kamal-gate ledger` commands: verify, show (all tags, or one tag's
 * history), export, checkpoint and forget. Each is versioned by its `schema`, bumped on any
 * incompatible change.
 */
import type { TagKind, TagState } from '../ledger/state.js';
import { formatTagRef } from '../ledger/tag-ref.js';
import type { ChainReport, LedgerEntry, LedgerEvent, TagRef } from '../ledger/types.js';

const LEDGER_VERIFY_SCHEMA = 'kamal-gate/ledger-verify/v2';
const LEDGER_HISTORY_SCHEMA = 'kamal-gate/ledger-history/v1';
const LEDGER_TAGS_SCHEMA = 'kamal-gate/ledger-tags/v1';
const LEDGER_EXPORT_SCHEMA = 'kamal-gate/ledger-export/v1';
const LEDGER_CHECKPOINT_SCHEMA = 'kamal-gate/ledger-checkpoint/v1';
const LEDGER_FORGET_SCHEMA = 'kamal-gate/ledger-forget/v1';

/** The newest signed checkpoint, as `ledger verify` found it. */
export interface CheckpointStatus {
  seq: number;
  time: string;
  signer: string;
  /** Entries after the checkpoint, not covered by a signature. */
  unsigned: number;
}

/** `ledger verify`: the hash chain's report, then the checkpoint; `ok` is false also for a checkpoint problem. */
export interface LedgerVerifyReport extends ChainReport {
  schema: typeof LEDGER_VERIFY_SCHEMA;
  ledger: string;
  checkpoint: CheckpointStatus | null;
  checkpointProblem?: string;
  exitCode: number;
}

export function ledgerVerifyReport(ledger: string, chain: ChainReport, checkpoint: CheckpointStatus | null, checkpointProblem: string | undefined, exitCode: number): LedgerVerifyReport {
  return { schema: LEDGER_VERIFY_SCHEMA, ledger, ...chain, ok: exitCode === 0, checkpoint, ...(checkpointProblem ? { checkpointProblem } : {}), exitCode };
}

/** `ledger show REF`: every entry of one tag, oldest first. */
export interface LedgerHistoryReport {
  schema: typeof LEDGER_HISTORY_SCHEMA;
  /** `registry/repository:tag`. */
  ref: string;
  entries: LedgerEntry[];
}

export function ledgerHistoryReport(ref: string, entries: LedgerEntry[]): LedgerHistoryReport {
  return { schema: LEDGER_HISTORY_SCHEMA, ref, entries };
}

/** One tag of `ledger show`. */
export interface LedgerTagRow {
  /** `registry/repository:tag`. */
  ref: string;
  approved: string | null;
  /** What the tag points to at its latest entry; null when deleted or forgotten. */
  current: string | null;
  lastEvent?: LedgerEvent;
  lastTime?: string;
}

export function ledgerTagRow(t: TagRef, state: TagState): LedgerTagRow {
  return { ref: formatTagRef(t), approved: state.approved ?? null, current: state.current ?? null, lastEvent: state.last?.event, lastTime: state.last?.time };
}

/** `ledger show`: every tag with its approved digest. */
export interface LedgerTagsReport {
  schema: typeof LEDGER_TAGS_SCHEMA;
  ledger: string;
  tags: LedgerTagRow[];
}

export function ledgerTagsReport(ledger: string, tags: LedgerTagRow[]): LedgerTagsReport {
  return { schema: LEDGER_TAGS_SCHEMA, ledger, tags };
}

/** `ledger export`: every entry, for backups, audits or moving backends. */
export interface LedgerExportReport {
  schema: typeof LEDGER_EXPORT_SCHEMA;
  ledger: string;
  entries: LedgerEntry[];
}

export function ledgerExportReport(ledger: string, entries: LedgerEntry[]): LedgerExportReport {
  return { schema: LEDGER_EXPORT_SCHEMA, ledger, entries };
}

/** `ledger checkpoint`: the head just signed. */
export interface LedgerCheckpointReport {
  schema: typeof LEDGER_CHECKPOINT_SCHEMA;
  ledger: string;
  seq: number;
  hash: string;
  time: string;
  /** Who signed: key id or keyless setup, never key material. */
  signer: string;
}

export function ledgerCheckpointReport(ledger: string, cp: { seq: number; hash: string; time: string }, signer: string): LedgerCheckpointReport {
  return { schema: LEDGER_CHECKPOINT_SCHEMA, ledger, seq: cp.seq, hash: cp.hash, time: cp.time, signer };
}

/** `ledger forget REF`: the `forgotten` entry written, or why none was. */
export type LedgerForgetReport =
  | { schema: typeof LEDGER_FORGET_SCHEMA; ref: string; written: false; reason: 'already forgotten' }
  | { schema: typeof LEDGER_FORGET_SCHEMA; ref: string; written: true; seq: number; previousApproval: string | null; kind: TagKind };

export function ledgerAlreadyForgottenReport(ref: string): LedgerForgetReport {
  return { schema: LEDGER_FORGET_SCHEMA, ref, written: false, reason: 'already forgotten' };
}

export function ledgerForgottenReport(ref: string, seq: number, previousApproval: string | null, kind: TagKind): LedgerForgetReport {
  return { schema: LEDGER_FORGET_SCHEMA, ref, written: true, seq, previousApproval, kind };
}
