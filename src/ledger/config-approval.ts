/**
 * Approved Kamal configs in the ledger: the effective deploy (src/kamal/effective.ts) that
 * `kamal-gate record` approved for a service and destination, as a `config-approved` entry
 * (types.ts): registry `kamal-config`, repository the service, tag the destination or `default`,
 * digest the fingerprint, `config` the version and document. The latest entry is the approved one.
 */
import { CONFIG_REGISTRY, type Ledger, type LedgerEntry, type NewEntry } from './types.js';

/** The tag `config-approved` entries use for a deploy without a destination. */
const DEFAULT_DESTINATION = 'default';

export interface ApprovedConfig {
  fingerprint: string;
  document: Record<string, unknown>;
  version: string;
  seq: number;
}

function destinationTag(destination: string | undefined): string {
  return destination === undefined || destination === '' ? DEFAULT_DESTINATION : destination;
}

/**
 * The config approved last for `service` and `destination` (undefined: none), or with `version`
 * the one approved last with that version.
 */
export async function approvedConfig(ledger: Ledger, service: string, destination: string | undefined, version?: string): Promise<ApprovedConfig | undefined> {
  const tag = destinationTag(destination);
  let found: LedgerEntry | undefined;
  for (const e of await ledger.all()) {
    if (e.event !== 'config-approved' || e.registry !== CONFIG_REGISTRY || e.repository !== service || e.tag !== tag || !e.config || e.digest === null) continue;
    if (version !== undefined && e.config.version !== version) continue;
    found = e;
  }
  if (!found?.config || found.digest === null) return undefined;
  return { fingerprint: found.digest, document: found.config.document, version: found.config.version, seq: found.seq };
}

/** The entry that approves `document` (with its `fingerprint`) for a service, destination and version. */
export function configApprovalEntry(input: { service: string; destination: string | undefined; version: string; fingerprint: string; document: Record<string, unknown>; actor?: string }): NewEntry {
  return {
    registry: CONFIG_REGISTRY,
    repository: input.service,
    tag: destinationTag(input.destination),
    digest: input.fingerprint,
    event: 'config-approved',
    source: 'record',
    config: { version: input.version, document: input.document },
    ...(input.actor ? { actor: input.actor } : {}),
  };
}
