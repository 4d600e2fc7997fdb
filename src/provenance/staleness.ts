/**
 * Whether the base tag has moved on since the image was built on it, and for how long a newer base
 * has existed; plus the ledger entry recording what the tag points to now, so later runs can
 * measure staleness from when a newer base was first observed.
 */
import { isUnanswered, NotFoundError } from '../errors.js';
import { baseObservationEntry } from '../ledger/state.js';
import type { LedgerEntry, NewEntry } from '../ledger/types.js';
import type { RegistryClient, Resolution } from '../registry/client.js';
import { platformDigestMap } from '../registry/manifest.js';
import { formatReference, type ImageReference } from '../registry/reference.js';
import type { Platform } from '../registry/oci.js';
import { createdOf, ledgerFirstSeen } from './created.js';
import { dated, formatAge } from './dates.js';
import { fetchBase } from './layers.js';
import type { Staleness } from './types.js';

export interface StalenessInput {
  client: RegistryClient;
  /** The base, with its tag. */
  ref: ImageReference & { tag: string };
  platform: Platform;
  /** The base the image was built on: its digests as recorded and its real creation time when known. */
  builtOn: { digests: string[]; created?: string };
  /** The ledger's history of the base tag, when there is a ledger. */
  history?: readonly LedgerEntry[];
  now: Date;
  evidence: string[];
}

export async function measureStaleness(inp: StalenessInput): Promise<{ staleness?: Staleness; entry?: NewEntry }> {
  const { client, ref, platform, now, evidence } = inp;
  const tag = formatReference({ ...ref, digest: undefined });
  let digestNow: string | null;
  try {
    digestNow = (await client.headManifest({ registry: ref.registry, repository: ref.repository }, ref.tag)).digest;
  } catch (e) {
    if (e instanceof NotFoundError) digestNow = null;
    else if (!isUnanswered(e)) throw e;
    else {
      evidence.push(`could not resolve the base tag ${tag} now: ${e.message}`);
      return {};
    }
  }
  let nowRes: Resolution | undefined;
  if (digestNow) {
    const got = await fetchBase(client, { ...ref, digest: digestNow }, platform);
    if (got.ok) nowRes = got.res;
    else evidence.push(`could not fetch ${tag}@${digestNow}: ${got.reason}`);
  }
  const entry = inp.history ? ledgerEntry(ref, digestNow, nowRes, inp.history, now) : undefined;
  const result = (staleness?: Staleness) => ({ ...(staleness ? { staleness } : {}), ...(entry ? { entry } : {}) });

  if (digestNow === null) {
    evidence.push(`the base tag ${tag} no longer exists`);
    return result({ tag, digestNow, moved: false });
  }
  const staleness: Staleness = { tag, digestNow, moved: false };
  if (nowRes) staleness.platformDigestNow = nowRes.manifestDigest;
  const built = inp.builtOn.digests;
  if (built.length === 0) {
    evidence.push(`${tag} points to ${digestNow} now; the digest the image was built on is unknown, so staleness cannot be measured`);
    return result();
  }
  // An index digest and a platform digest may name the same base: compare at both levels.
  if (built.includes(digestNow) || (nowRes && built.includes(nowRes.manifestDigest))) {
    evidence.push(`${tag} still points to the base the image was built on (${digestNow})`);
    return result(staleness);
  }
  staleness.moved = true;
  evidence.push(`${tag} now points to ${digestNow}, not to the base the image was built on (${built.join(', ')})`);
  const created = nowRes ? createdOf(nowRes, now, evidence, 'newer base') : undefined;
  if (created && inp.builtOn.created && Date.parse(created.time) < Date.parse(inp.builtOn.created)) {
    evidence.push(`the image ${tag} points to now was created before the one the image was built on: a rollback, not a newer base`);
    return result(staleness);
  }
  const seen = ledgerFirstSeen(inp.history ?? [], [digestNow, nowRes?.manifestDigest]);
  staleness.newerSince = created ? dated(created.time, created.source, now) : seen ? dated(seen, 'ledger', now) : dated(now.toISOString(), 'now', now);
  const how = { config: 'created', annotation: 'created (annotation)', label: 'created (label)', ledger: 'first seen by the ledger', now: 'first seen now' }[staleness.newerSince.source];
  evidence.push(`a newer base exists since ${staleness.newerSince.time} (${how}): ${formatAge(staleness.newerSince.ageMs)}`);
  return result(staleness);
}

function ledgerEntry(ref: ImageReference & { tag: string }, digest: string | null, res: Resolution | undefined, history: readonly LedgerEntry[], now: Date): NewEntry | undefined {
  const observed = {
    digest,
    ...(res?.index ? { platformDigests: platformDigestMap(res.platformDigests) } : {}),
  };
  const tagRef = { registry: ref.registry, repository: ref.repository, tag: ref.tag };
  return baseObservationEntry(tagRef, observed, { source: 'verify', time: now }, history) ?? undefined;
}
