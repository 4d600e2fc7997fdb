/**
 * How old the base an image was built on is, whether its tag has a newer image, and which newer
 * releases its repository has. Read-only: ledger entries are returned for the caller to append.
 */
import { isUnanswered } from '../errors.js';
import type { Ledger, LedgerEntry } from '../ledger/types.js';
import type { RegistryClient, Resolution } from '../registry/client.js';
import { parseReference, type ImageReference } from '../registry/reference.js';
import { createdOf, ledgerFirstSeen } from './created.js';
import { dated, formatAge } from './dates.js';
import { fetchBase } from './layers.js';
import { newerReleases, parseDockerTag } from './releases.js';
import { measureStaleness } from './staleness.js';
import type { BaseAge, BaseDiscovery } from './types.js';

export interface BaseAgeOptions {
  /** Read for when the base digests were first seen; never written (see `BaseAge.ledgerEntries`). */
  ledger?: Ledger;
  now: Date;
}

/**
 * Measures the base found by `findBase`. Registry failures become evidence (the part they affect
 * is left out), except a digest mismatch, which is thrown; a ledger that does not verify throws
 * LedgerError. Ledger entries for the base tag are returned only when a ledger is given.
 */
export async function baseAge(client: RegistryClient, base: BaseDiscovery, opts: BaseAgeOptions): Promise<BaseAge> {
  const { now } = opts;
  const evidence: string[] = [];
  const out: BaseAge = { ledgerEntries: [], evidence };
  let ref: ImageReference | undefined;
  try {
    ref = base.name ? parseReference(base.name) : undefined;
  } catch {
    // findBase only names bases it could parse; anything else is treated as unnamed
  }
  if (!ref) {
    evidence.push('the base has no usable name: its age, staleness and newer releases cannot be looked up');
    return out;
  }
  const history: readonly LedgerEntry[] | undefined = opts.ledger && ref.tag ? await opts.ledger.history(ref.registry, ref.repository, ref.tag) : undefined;

  const builtOnDigest = base.digest ?? base.platformDigest;
  let builtOn: Resolution | undefined;
  if (builtOnDigest) {
    const got = await fetchBase(client, { ...ref, digest: builtOnDigest }, base.platform);
    if (got.ok) builtOn = got.res;
    else evidence.push(`could not fetch the base ${base.name}@${builtOnDigest}: ${got.reason}`);
  } else evidence.push('the digest the image was built on is unknown, so the base age cannot be told');
  const created = builtOn ? createdOf(builtOn, now, evidence, 'base') : undefined;
  if (created) out.created = dated(created.time, created.source, now);
  else if (builtOnDigest) {
    const seen = ledgerFirstSeen(history ?? [], [base.digest, base.platformDigest, builtOn?.manifestDigest]);
    if (seen) {
      out.created = dated(seen, 'ledger', now);
      evidence.push(`the ledger first saw the base ${builtOnDigest} at ${seen}: at least ${formatAge(out.created.ageMs)} old`);
    } else evidence.push('the base has no real creation time and the ledger never saw its digest: its age is unknown');
  }

  if (ref.tag) {
    const digests = [base.digest, base.platformDigest, builtOn?.manifestDigest].filter((d): d is string => !!d);
    // The tag list (for newer releases) is asked while the staleness is measured: two round trips at once.
    const listing = parseDockerTag(ref.tag)
      ? client.listTags({ registry: ref.registry, repository: ref.repository }).then(
          (tags) => ({ tags }),
          (error: unknown) => ({ error }),
        )
      : undefined;
    const s = await measureStaleness({
      client,
      ref: { ...ref, tag: ref.tag },
      platform: base.platform,
      builtOn: { digests: [...new Set(digests)], ...(created ? { created: created.time } : {}) },
      history,
      now,
      evidence,
    });
    if (s.staleness) out.staleness = s.staleness;
    if (s.entry) out.ledgerEntries.push(s.entry);
    if (listing) {
      const listed = await listing;
      if ('tags' in listed) {
        const releases = newerReleases(ref.tag, listed.tags);
        if (releases) out.releases = releases;
      } else {
        if (!isUnanswered(listed.error)) throw listed.error;
        evidence.push(`could not list the tags of ${ref.registry}/${ref.repository}: ${listed.error.message}`);
      }
    }
  }
  return out;
}
