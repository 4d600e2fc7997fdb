/**
 * The PostgreSQL ledger's table: its migrations, its columns, and how an entry maps to a row and
 * back. What the table holds changes here; how the ledger talks to the server is in postgres.ts.
 */
import { canonicalJson } from './hash.js';
import type { LedgerEntry } from './types.js';

/** Each migration's statements; migration N (1-based) brings the schema to version N. */
export const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE kamal_gate_ledger (
       seq bigint PRIMARY KEY,
       time timestamptz NOT NULL,
       registry text NOT NULL,
       repository text NOT NULL,
       tag text NOT NULL,
       digest text,
       platform_digests jsonb,
       event text NOT NULL,
       source text NOT NULL,
       actor text,
       prev text NOT NULL,
       hash text NOT NULL
     )`,
    'CREATE INDEX kamal_gate_ledger_tag ON kamal_gate_ledger (registry, repository, tag, seq)',
  ],
  // Base-image observations (role 'base') and the pin 'deploy'; signed checkpoints of the chain's head.
  [
    'ALTER TABLE kamal_gate_ledger ADD COLUMN role text',
    `CREATE TABLE kamal_gate_checkpoints (
       id bigserial PRIMARY KEY,
       seq bigint NOT NULL,
       document text NOT NULL,
       created timestamptz NOT NULL DEFAULT now()
     )`,
  ],
  // Approved Kamal configs (event 'config-approved'): the effective deploy as canonical JSON text.
  ['ALTER TABLE kamal_gate_ledger ADD COLUMN config text'],
];
export const SCHEMA_VERSION = MIGRATIONS.length;

const COLUMNS = 'seq, time, registry, repository, tag, digest, platform_digests, event, source, actor, prev, hash, role, config';
/**
 * The same columns as read back: the time as the server formats it, in the form the entry was hashed
 * with (an ISO 8601 UTC string with milliseconds), instead of a Date parsed and formatted again per row.
 */
export const READ_COLUMNS = COLUMNS.replace('time', `to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time`);
/** One row of kamal_gate_ledger as `pg` returns it. */
export interface Row {
  seq: string | number;
  time: Date | string;
  registry: string;
  repository: string;
  tag: string;
  digest: string | null;
  platform_digests: Record<string, string> | null;
  event: string;
  source: string;
  actor: string | null;
  prev: string;
  hash: string;
  role: string | null;
  config: string | null;
}

/** The entry a row holds, with only the optional fields it has (the hash covers exactly those). */
export function rowToEntry(row: Row): LedgerEntry {
  const entry: LedgerEntry = {
    seq: Number(row.seq),
    time: row.time instanceof Date ? row.time.toISOString() : String(row.time),
    registry: row.registry,
    repository: row.repository,
    tag: row.tag,
    digest: row.digest,
    event: row.event as LedgerEntry['event'],
    source: row.source as LedgerEntry['source'],
    prev: row.prev,
    hash: row.hash,
  };
  if (row.platform_digests !== null) entry.platformDigests = row.platform_digests;
  if (row.actor !== null) entry.actor = row.actor;
  if (row.role !== null && row.role !== undefined) entry.role = row.role as LedgerEntry['role'];
  if (row.config !== null && row.config !== undefined) entry.config = JSON.parse(row.config) as LedgerEntry['config'];
  return entry;
}

/** One multi-row INSERT of `entries` (14 parameters a row; the caller bounds how many rows). */
export function insertStatement(entries: LedgerEntry[]): { sql: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = entries.map((e) => {
    const base = values.length;
    values.push(
      e.seq,
      e.time,
      e.registry,
      e.repository,
      e.tag,
      e.digest,
      e.platformDigests === undefined ? null : JSON.stringify(e.platformDigests),
      e.event,
      e.source,
      e.actor ?? null,
      e.prev,
      e.hash,
      e.role ?? null,
      e.config === undefined ? null : canonicalJson(e.config),
    );
    return `(${Array.from({ length: 14 }, (_, k) => `$${base + k + 1}${k === 6 ? '::jsonb' : ''}`).join(', ')})`;
  });
  return { sql: `INSERT INTO kamal_gate_ledger (${COLUMNS}) VALUES ${tuples.join(', ')}`, values };
}
