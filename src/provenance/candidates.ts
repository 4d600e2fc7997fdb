/**
 * The base found without metadata: each base the policy names (`docker.io/library/ruby:3.3-slim`)
 * is resolved now (and at the digests the ledger saw its tag point to before) and matched by layer
 * prefix. The longest prefix wins, as Docker Scout does: `ruby:3.3-slim` beats the `debian` it is
 * itself built on.
 */
import { parseReference, type ImageReference } from '../registry/reference.js';
import { baseName, confirmBase, type Confirmation, type DiscoveryContext } from './context.js';
import type { BaseDiscovery } from './types.js';

/** Candidates looked at; a policy naming more is cut here, with a note. */
const MAX_POLICY_CANDIDATES = 32;

export async function fromCandidates(ctx: DiscoveryContext, candidates: readonly string[]): Promise<BaseDiscovery | undefined> {
  if (candidates.length === 0) return undefined;
  if (candidates.length > MAX_POLICY_CANDIDATES) ctx.evidence.push(`the policy names ${candidates.length} candidate bases; only the first ${MAX_POLICY_CANDIDATES} were checked`);
  let best: { ref: ImageReference; c: Confirmation } | undefined;
  for (const candidate of candidates.slice(0, MAX_POLICY_CANDIDATES)) {
    let ref: ImageReference;
    try {
      ref = parseReference(candidate);
    } catch (e) {
      ctx.evidence.push(`candidate base ${JSON.stringify(candidate)} is not an image reference: ${(e as Error).message}`);
      continue;
    }
    const c = await confirmBase(ctx, ref, ref.digest);
    if (c.confirmedByLayers && (!best || (c.layers ?? 0) > (best.c.layers ?? 0))) best = { ref, c };
  }
  if (!best) {
    ctx.evidence.push(`none of the ${candidates.length} candidate base(s) in the policy is a layer prefix of the image`);
    return undefined;
  }
  return {
    source: 'layers',
    name: baseName(best.ref),
    digest: best.c.digest,
    platformDigest: best.c.platformDigest,
    confirmedByLayers: true,
    platform: ctx.platform,
    evidence: ctx.evidence,
  };
}
