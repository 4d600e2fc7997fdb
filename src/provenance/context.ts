/** What every discovery source works from, and the layer-prefix confirmation they share. */
import type { Ledger } from '../ledger/types.js';
import type { RegistryClient, Resolution } from '../registry/client.js';
import { formatReference, type ImageReference } from '../registry/reference.js';
import type { Platform } from '../registry/oci.js';
import { describePrefix, fetchBase, isPrefix, matchTag } from './layers.js';

export interface DiscoveryContext {
  client: RegistryClient;
  r: Resolution;
  platform: Platform;
  /** The image's own `rootfs.diff_ids`. */
  diffIds: string[];
  ledger?: Ledger;
  /** Facts gathered so far, in order; every source appends to it. */
  evidence: string[];
}

export interface Confirmation {
  /** The digest the base was fetched by (as given, or what its tag resolved to). */
  digest?: string;
  platformDigest?: string;
  confirmedByLayers?: boolean;
  /** How many layers the base has, when it was fetched. */
  layers?: number;
}

/** `registry/repository[:tag]`, without a digest: how a base is named in results. */
export function baseName(ref: ImageReference): string {
  return formatReference({ registry: ref.registry, repository: ref.repository, tag: ref.tag });
}

/**
 * Fetches a named base for the context's platform and compares its layers with the image's: by
 * `digest` when the source recorded one (an index digest selects the platform), else by its tag
 * (its image now, then earlier digests the ledger saw).
 */
export async function confirmBase(ctx: DiscoveryContext, ref: ImageReference, digest: string | undefined): Promise<Confirmation> {
  const out: Confirmation = digest ? { digest } : {};
  if (ctx.diffIds.length === 0) {
    ctx.evidence.push('the image config lists no diff_ids, so no base can be confirmed by layers');
    return out;
  }
  const name = baseName(ref);
  if (digest) {
    const got = await fetchBase(ctx.client, { ...ref, digest }, ctx.platform);
    if (!got.ok) {
      ctx.evidence.push(`could not fetch ${name}@${digest}: ${got.reason}`);
      return out;
    }
    ctx.evidence.push(describePrefix(`${name}@${digest}`, got.diffIds, ctx.diffIds));
    return { ...out, platformDigest: got.res.manifestDigest, confirmedByLayers: isPrefix(got.diffIds, ctx.diffIds), layers: got.diffIds.length };
  }
  const { match, checked } = await matchTag(ctx.client, ref, ctx.platform, ctx.diffIds, ctx.ledger, ctx.evidence);
  if (match) return { digest: match.res.digest, platformDigest: match.res.manifestDigest, confirmedByLayers: true, layers: match.layers };
  return checked ? { confirmedByLayers: false } : {};
}
