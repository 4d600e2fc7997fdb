/**
 * Which image a deployed image is built FROM. Sources are tried in order of how directly they name
 * the base; the first that answers wins, and `evidence` keeps what every source tried said.
 */
import type { Ledger } from '../ledger/types.js';
import type { RegistryClient, Resolution } from '../registry/client.js';
import type { Platform } from '../registry/oci.js';
import { fromAnnotations } from './annotations.js';
import { fromBuildpacks } from './buildpacks.js';
import { fromCandidates } from './candidates.js';
import type { DiscoveryContext } from './context.js';
import { fromProvenance } from './provenance.js';
import type { BaseDiscovery } from './types.js';

export interface FindBaseOptions {
  /** Base references the policy names (`docker.io/library/ruby:3.3-slim`), matched by layer prefix. */
  candidates?: string[];
  /** The platform whose manifest `r` is, and whose base is wanted. */
  platform: Platform;
  /**
   * When given, a candidate tag that has moved since the image was built is also tried at the
   * digests the ledger saw it point to before. Only read, never written.
   */
  ledger?: Ledger;
}

/**
 * Finds the base of the resolved image `r`. Every fetch goes through `client` (digest-verified).
 * Registry failures on the way become evidence, except a digest mismatch (DigestMismatchError is
 * thrown: a registry serving wrong bytes is never passed over); a ledger that does not verify
 * throws LedgerError.
 */
export async function findBase(client: RegistryClient, r: Resolution, opts: FindBaseOptions): Promise<BaseDiscovery> {
  const ctx: DiscoveryContext = { client, r, platform: opts.platform, diffIds: r.config?.diffIds ?? [], ledger: opts.ledger, evidence: [] };
  const found = (await fromAnnotations(ctx)) ?? (await fromProvenance(ctx)) ?? (await fromBuildpacks(ctx)) ?? (await fromCandidates(ctx, opts.candidates ?? []));
  if (found) return withoutUndefined(found);
  ctx.evidence.push('no base annotation, provenance, buildpacks metadata or matching candidate: the base is unknown');
  return { source: 'unknown', platform: opts.platform, evidence: ctx.evidence };
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
