/**
 * The digest ledger (DESIGN.md, issue 3): which digest every tag pointed to, and when.
 *
 *   const ledger = await openLedger('.kamal/image-ledger.jsonl');   // or a postgres:// URL
 *   const history = await ledger.history(registry, repository, tag);
 *   const c = classify(history, { digest });                        // same | overwritten | …
 *   const entry = observationEntry({ registry, repository, tag }, { digest }, c, { source: 'verify' });
 *   if (entry) await ledger.append([entry]);
 *   await ledger.close();
 *
 * Errors: LedgerError (exit 2, kind 'ledger') when the ledger does not verify — readers refuse to
 * answer from it; LedgerUnavailableError (exit 3) when it cannot be read, written, locked or reached.
 */
import { FileLedger } from './file.js';
import { isPostgresUrl, openPostgresLedger } from './postgres.js';
import type { Ledger, LedgerOptions } from './types.js';

/**
 * Opens the ledger at `location`: a `postgres://` or `postgresql://` URL opens the PostgreSQL
 * ledger (connecting and migrating its schema now, so an unreachable database fails here); anything
 * else is a file path (a missing file is an empty ledger, created with its directory on first append).
 */
export async function openLedger(location: string, options: LedgerOptions = {}): Promise<Ledger> {
  if (isPostgresUrl(location)) return openPostgresLedger(location, options);
  return new FileLedger(location, options);
}

export { FileLedger } from './file.js';
export { PostgresLedger, SCHEMA_VERSION, describePostgresUrl, isPostgresUrl, openPostgresLedger } from './postgres.js';
export { GENESIS_HASH, canonicalJson, entryHash } from './hash.js';
export { tagKey } from './chain.js';
export {
  EVENT_FOR_KIND,
  classify,
  observationEntry,
  tagState,
  type Classification,
  type ClassificationKind,
  type Observation,
  type TagState,
} from './state.js';
export * from './types.js';
export { LedgerError, LedgerUnavailableError } from '../errors.js';
