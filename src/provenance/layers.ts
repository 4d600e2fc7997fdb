/**
 * Layer-prefix matching (oci.md §7, regctl `image check-base`): an image built FROM a base starts
 * with the base's layers. Compared on `rootfs.diff_ids` (uncompressed), which survive recompression
 * where compressed layer digests do not.
 */
import { isUnanswered } from '../errors.js';
import { seenDigests } from '../ledger/state.js';
import type { Ledger } from '../ledger/types.js';
import type { RegistryClient, Resolution } from '../registry/client.js';
import { formatReference, type ImageReference } from '../registry/reference.js';
import type { Platform } from '../registry/oci.js';

/** Older digests of a candidate tag (from the ledger) tried when its current one does not match. */
const MAX_LEDGER_DIGESTS = 20;

export function isPrefix(base: readonly string[], image: readonly string[]): boolean {
  return base.length > 0 && base.length <= image.length && base.every((d, i) => d === image[i]);
}

export type FetchedBase = { ok: true; res: Resolution; diffIds: string[] } | { ok: false; reason: string };

/**
 * A base image's platform manifest and config. Registry failures become a reason (a base on an
 * unreachable registry is unconfirmed, not fatal), except a digest mismatch: a registry serving
 * wrong bytes is never passed over quietly.
 */
export async function fetchBase(client: RegistryClient, ref: ImageReference, platform: Platform): Promise<FetchedBase> {
  try {
    const res = await client.resolve(ref, [platform]);
    if (!res.config) return { ok: false, reason: `${formatReference(ref)} has no image config` };
    return { ok: true, res, diffIds: res.config.diffIds };
  } catch (e) {
    if (!isUnanswered(e)) throw e;
    return { ok: false, reason: e.message };
  }
}

/** How a base's layers compare with the image's, in words. */
export function describePrefix(name: string, base: readonly string[], image: readonly string[]): string {
  if (isPrefix(base, image)) return `${name}: its ${base.length} layer(s) are the first ${base.length} of the image's ${image.length}`;
  if (base.length === 0) return `${name}: has no layers to compare`;
  if (base.length > image.length) return `${name}: has ${base.length} layers, more than the image's ${image.length}`;
  const at = base.findIndex((d, i) => d !== image[i]);
  return `${name}: its layers are not a prefix of the image's (layer ${at + 1} differs)`;
}

export interface TagMatch {
  res: Resolution;
  layers: number;
  /** 'now' when the tag's current image matched; else the time the ledger first saw the matching digest. */
  seen: 'now' | string;
}

/**
 * Whether `ref` (a tag) is the base: its image now, then the digests the ledger saw it point to
 * before (newest first), since the image may have been built before the tag moved.
 * `checked` is false when nothing could be fetched at all.
 */
export async function matchTag(
  client: RegistryClient,
  ref: ImageReference,
  platform: Platform,
  imageDiffIds: readonly string[],
  ledger: Ledger | undefined,
  notes: string[],
): Promise<{ match?: TagMatch; checked: boolean }> {
  const shown = formatReference(ref);
  let checked = false;
  const now = await fetchBase(client, { ...ref, digest: undefined }, platform);
  if (now.ok) {
    checked = true;
    notes.push(describePrefix(`${shown} (${now.res.digest})`, now.diffIds, imageDiffIds));
    if (isPrefix(now.diffIds, imageDiffIds)) return { match: { res: now.res, layers: now.diffIds.length, seen: 'now' }, checked };
  } else notes.push(`could not fetch ${shown}: ${now.reason}`);
  if (!ledger || !ref.tag) return { checked };
  const state = seenDigests(await ledger.history(ref.registry, ref.repository, ref.tag));
  const older = state.digests
    .filter((d) => !now.ok || d !== now.res.digest)
    .reverse()
    .slice(0, MAX_LEDGER_DIGESTS);
  for (const digest of older) {
    const past = await fetchBase(client, { ...ref, digest }, platform);
    if (!past.ok) {
      notes.push(`could not fetch ${shown}@${digest} (seen by the ledger): ${past.reason}`);
      continue;
    }
    checked = true;
    if (isPrefix(past.diffIds, imageDiffIds)) {
      const seen = state.firstSeen.get(digest)!;
      notes.push(`${describePrefix(`${shown}@${digest}`, past.diffIds, imageDiffIds)}; the ledger saw the tag point to it from ${seen}`);
      return { match: { res: past.res, layers: past.diffIds.length, seen }, checked };
    }
  }
  if (older.length) notes.push(`none of the ${older.length} earlier digest(s) of ${shown} in the ledger is a layer prefix of the image`);
  return { checked };
}
