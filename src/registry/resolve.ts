/**
 * Resolving a reference as the container runtime would pull it: tag → digest, an index → the
 * manifest for each platform asked for (the choice as platforms.ts makes it), and that manifest's
 * config, whose platform must be the one expected. Every platform asked for must exist.
 */
import { NotFoundError, PlatformMissingError, ProtocolError, TagNotFoundError } from '../errors.js';
import { printable } from '../printable.js';
import type { Descriptor, Platform } from './oci.js';
import { fetchImageConfig, type BlobSource } from './image-config.js';
import { IMAGE_CONFIG_TYPES, configPlatform, formatPlatform, hostRuns, indexPlatforms, samePlatform, selectPlatform, type ImageManifest } from './manifest.js';
import { formatReference, type ImageReference } from './reference.js';
import type { FetchedManifest, ImageConfigFacts, Repo, Resolution } from './types.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** What resolving reads from the registry: manifests and blobs, verified (RegistryClient). */
export interface ResolveSource extends BlobSource {
  getManifest(repo: Repo, reference: string, expected?: Descriptor): Promise<FetchedManifest>;
}

/**
 * Resolves a reference: tag → digest, index → the manifest for the first requested platform,
 * and that manifest's config. Every platform asked for must exist.
 */
export async function resolveReference(src: ResolveSource, ref: ImageReference, platforms: Platform[] = [DEFAULT_PLATFORM]): Promise<Resolution> {
  const repo: Repo = { registry: ref.registry, repository: ref.repository };
  const shown = formatReference(ref);
  const wanted = platforms.length ? platforms : [DEFAULT_PLATFORM];
  let top: FetchedManifest;
  try {
    top = await src.getManifest(repo, ref.digest ?? ref.tag!);
  } catch (e) {
    if (e instanceof NotFoundError) throw new TagNotFoundError(e.message, ref.registry, e.status);
    throw e;
  }
  let manifest: ImageManifest;
  let manifestDigest: string;
  let platform: Platform | undefined;
  let offered: Platform[];
  const platformDigests: Array<{ platform: Platform; digest: string }> = [];
  const unlabelled: Array<{ want: Platform; d: Descriptor }> = [];
  if (top.manifest.kind === 'index') {
    offered = indexPlatforms(top.manifest.manifests);
    const missing: Platform[] = [];
    let first: Descriptor | undefined;
    for (const want of wanted) {
      const d = selectPlatform(top.manifest.manifests, want);
      if (!d) missing.push(want);
      else {
        if (!d.platform) unlabelled.push({ want, d });
        platformDigests.push({ platform: want, digest: d.digest });
        first ??= d;
      }
    }
    if (missing.length || !first) {
      throw new PlatformMissingError(
        `${shown}: no ${missing.map(formatPlatform).join(', ')} image in the index (it offers ${offered.map(formatPlatform).join(', ') || 'no runnable platform'}); build for the platform or pass --platform`,
        ref.registry,
      );
    }
    const child = await src.getManifest(repo, first.digest, first);
    if (child.manifest.kind !== 'manifest') {
      throw new ProtocolError(`${shown}: index entry ${first.digest} is itself an index; nested indexes are not supported`, ref.registry);
    }
    manifest = child.manifest;
    manifestDigest = child.digest;
    platform = first.platform ? { ...first.platform } : undefined;
    if (platform && !platform.variant) delete platform.variant;
  } else {
    manifest = top.manifest;
    manifestDigest = top.digest;
    offered = [];
  }
  if (!IMAGE_CONFIG_TYPES.has(manifest.config.mediaType)) {
    throw new ProtocolError(
      `${shown}: ${manifestDigest} is not a container image (its config is a ${printable(manifest.config.mediaType)}); check the reference names the image Kamal deploys`,
      ref.registry,
    );
  }
  const config: ImageConfigFacts | undefined = await fetchImageConfig(src, repo, manifest, shown);
  // The platform the image says it is must be the one the index (or the deploy) expects.
  const own = configPlatform(config, top.manifest.kind === 'index' ? platform : undefined, shown, ref.registry);
  // An entry without a platform is chosen only when no labelled one matches, and a host runs it only
  // when its config names the host's platform (platforms.ts, rule 5).
  for (const u of unlabelled) {
    const named = u.d.digest === manifestDigest ? own : await entryConfigPlatform(src, repo, u.d, shown);
    if (!hostRuns(u.want, named)) {
      throw new PlatformMissingError(
        `${shown}: no ${formatPlatform(u.want)} image in the index: a ${formatPlatform(u.want)} host would pull the entry without a platform, ${u.d.digest}, which is a ${printable(formatPlatform(named), 80)} image; build for the platform or pass --platform`,
        ref.registry,
      );
    }
  }
  if (top.manifest.kind === 'index') platform ??= own;
  if (top.manifest.kind !== 'index') {
    offered = [own];
    platform = own;
    const mismatch = wanted.filter((w) => !samePlatform(w, own));
    if (mismatch.length) {
      throw new PlatformMissingError(
        `${shown}: is a single-platform ${formatPlatform(own)} image, but the deploy needs ${mismatch.map(formatPlatform).join(', ')}; build for the platform or pass --platform`,
        ref.registry,
      );
    }
    for (const w of wanted) platformDigests.push({ platform: w, digest: top.digest });
  }
  return {
    ref,
    digest: top.digest,
    mediaType: top.mediaType,
    size: top.size,
    index: top.manifest.kind === 'index' ? top.manifest : undefined,
    platforms: offered,
    manifest,
    manifestDigest,
    platform,
    platformDigests,
    config,
  };
}

/** The platform named by the config of an index entry that carries none. */
async function entryConfigPlatform(src: ResolveSource, repo: Repo, d: Descriptor, shown: string): Promise<Platform> {
  const child = await src.getManifest(repo, d.digest, d);
  if (child.manifest.kind !== 'manifest') {
    throw new ProtocolError(`${shown}: index entry ${d.digest} is itself an index; nested indexes are not supported`, repo.registry);
  }
  return configPlatform(await fetchImageConfig(src, repo, child.manifest, shown), undefined, shown, repo.registry);
}
