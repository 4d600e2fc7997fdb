/**
 * The digest ledger (DESIGN.md, issue 3): which digest every tag pointed to, and when.
 * Reading and recording a tag (readTag, observe) live in observe.ts, tag references in tag-ref.ts.
 *
 *   const ledger = await openLedger('.kamal/image-ledger.jsonl');   // or a postgres:// URL
 *   const t = await readTag(ledger, { registry, repository, tag });
 *   const { classification, entry } = observe(t, { digest }, { source: 'verify' }); // same | overwritten | …
 *   if (entry) await ledger.append([entry]);
 *   await ledger.close();
 *
 * Errors (errors.ts): LedgerError (exit 2, kind 'ledger') when the ledger does not verify — readers refuse to
 * answer from it; LedgerUnavailableError (exit 3) when it cannot be read, written, locked or reached.
 */
import { LedgerError } from '../errors.js';
import { FileLedger } from './file.js';
import { parseLedgerLocation } from './location.js';
import { lstatNoLink, missingLedgerError } from './no-follow.js';
import { openPostgresLedger } from './postgres.js';
import type { Ledger, LedgerOptions } from './types.js';

/**
 * Opens the ledger at `location`: a `postgres://` or `postgresql://` URL opens the PostgreSQL
 * ledger (connecting and migrating its schema now, so an unreachable database fails here); a path
 * is a file (a missing file is an empty ledger, created with its directory on first append, unless
 * `mustExist`: then UsageError). Any other URL scheme is a UsageError (location.ts); a symbolic link
 * as the file, its lock or its checkpoint is a LedgerError (no-follow.ts).
 */
export async function openLedger(location: string, options: LedgerOptions = {}): Promise<Ledger> {
  const where = parseLedgerLocation(location, 'the ledger location');
  if (where.kind === 'postgres') return openPostgresLedger(where.url, options);
  // Checked now, so a command fails before it does anything else; the ledger checks again on every
  // read and write (with O_NOFOLLOW on open), so nothing swapped in later gets through either.
  const refuseLink = (e: unknown) => {
    if (e instanceof LedgerError) throw e;
    return null; // unreadable: the first read or write reports it with its remedy
  };
  const st = await lstatNoLink(where.path).catch(refuseLink);
  await lstatNoLink(`${where.path}.lock`, "the ledger's lock").catch(refuseLink);
  await lstatNoLink(`${where.path}.checkpoint`, 'the ledger checkpoint').catch(refuseLink);
  if (st === undefined && options.mustExist) throw missingLedgerError(where.path);
  return new FileLedger(where.path, options);
}

export { FileLedger } from './file.js';
export { PostgresLedger, SCHEMA_VERSION } from './postgres.js';
export { GENESIS_HASH, canonicalJson, entryHash } from './hash.js';
export { EVENT_FOR_KIND, classify, observationEntry, tagState, type Classification } from './state.js';
export { approvedConfig, configApprovalEntry } from './config-approval.js';
export * from './types.js';
