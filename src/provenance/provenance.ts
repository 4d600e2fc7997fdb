/**
 * The base named by BuildKit provenance: attestation manifests in the image index
 * (`vnd.docker.reference.type: attestation-manifest`, `vnd.docker.reference.digest` = the platform
 * manifest), whose in-toto layers carry SLSA statements listing every image the build used.
 * Min-mode provenance does not say which of them the final stage is FROM (build stages and
 * `COPY --from` images are listed too), so each is confirmed by layer prefix before it is called
 * the base.
 */
import { isUnanswered } from '../errors.js';
import type { Repo } from '../registry/client.js';
import { formatReference } from '../registry/reference.js';
import type { Descriptor } from '../registry/oci.js';
import { baseName, confirmBase, type Confirmation, type DiscoveryContext } from './context.js';
import { PROVENANCE_TYPES, readProvenanceStatement, type ImageMaterial } from './slsa.js';
import type { BaseDiscovery } from './types.js';

/** A provenance statement larger than this is skipped (BuildKit's max mode stays well below). */
const ATTESTATION_MAX_BYTES = 4 * 1024 * 1024;
const MAX_ATTESTATION_MANIFESTS = 4;
const MAX_STATEMENTS = 8;
/** Images fetched to confirm by layer prefix; a real build uses a few. */
export const MAX_CANDIDATES = 16;

/** Runs a fetch of the image's own attestation content; failures other than a digest mismatch become a note. */
async function attempt<T>(ctx: DiscoveryContext, what: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (!isUnanswered(e)) throw e;
    ctx.evidence.push(`${what}: ${e.message}`);
    return undefined;
  }
}

function attestationEntries(ctx: DiscoveryContext): Descriptor[] {
  return (ctx.r.index?.manifests ?? []).filter((d) => d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' && d.annotations['vnd.docker.reference.digest'] === ctx.r.manifestDigest);
}

/** Every image the provenance statements for the platform manifest list, deduplicated. */
async function readMaterials(ctx: DiscoveryContext, entries: Descriptor[]): Promise<ImageMaterial[]> {
  const repo: Repo = { registry: ctx.r.ref.registry, repository: ctx.r.ref.repository };
  const images = new Map<string, ImageMaterial>();
  for (const entry of entries.slice(0, MAX_ATTESTATION_MANIFESTS)) {
    const m = await attempt(ctx, `attestation manifest ${entry.digest}`, () => ctx.client.getManifest(repo, entry.digest, entry));
    if (!m) continue;
    if (m.manifest.kind !== 'manifest') {
      ctx.evidence.push(`attestation ${entry.digest} is an index, not a manifest; ignored`);
      continue;
    }
    const layers = m.manifest.layers.filter((l) => PROVENANCE_TYPES.has(l.annotations?.['in-toto.io/predicate-type'] ?? ''));
    for (const layer of layers.slice(0, MAX_STATEMENTS)) {
      const bytes = await attempt(ctx, `provenance statement ${layer.digest}`, () => ctx.client.getBlob(repo, layer, ATTESTATION_MAX_BYTES));
      if (!bytes) continue;
      const read = readProvenanceStatement(bytes, ctx.r.manifestDigest);
      ctx.evidence.push(...read.notes.map((n) => `${n} (${layer.digest})`));
      if (read.predicateType) ctx.evidence.push(`${read.predicateType} provenance ${layer.digest} lists ${read.images.length} image(s)`);
      for (const img of read.images) {
        const key = `${formatReference(img.ref)}|${img.resolvedDigest ?? img.digest ?? ''}`;
        if (!images.has(key)) images.set(key, img);
      }
    }
  }
  return [...images.values()];
}

export async function fromProvenance(ctx: DiscoveryContext): Promise<BaseDiscovery | undefined> {
  const entries = attestationEntries(ctx);
  if (entries.length === 0) return undefined;
  const images = await readMaterials(ctx, entries);
  if (images.length === 0) return undefined;
  if (images.length > MAX_CANDIDATES) ctx.evidence.push(`provenance lists ${images.length} images; only the first ${MAX_CANDIDATES} were checked`);

  const checked: Array<{ img: ImageMaterial; c: Confirmation }> = [];
  for (const img of images.slice(0, MAX_CANDIDATES)) {
    checked.push({ img, c: await confirmBase(ctx, img.ref, img.resolvedDigest ?? img.digest) });
  }
  const confirmed = checked.filter((x) => x.c.confirmedByLayers).sort((a, b) => (b.c.layers ?? 0) - (a.c.layers ?? 0));
  // Several prefixes match when a stage is itself FROM another listed image: the longest is the nearest base.
  const pick = confirmed[0] ?? (checked.length === 1 ? checked[0] : undefined);
  if (!pick) {
    ctx.evidence.push(`provenance lists ${images.length} images and none has layers that are a prefix of the image's`);
    return undefined;
  }
  if (!pick.c.confirmedByLayers) ctx.evidence.push(`provenance lists one image, ${pick.img.uri.slice(0, 200)}; taken as the base without layer confirmation`);
  return {
    source: 'provenance',
    name: baseName(pick.img.ref),
    digest: pick.c.digest,
    platformDigest: pick.c.platformDigest,
    confirmedByLayers: pick.c.confirmedByLayers,
    platform: ctx.platform,
    evidence: ctx.evidence,
  };
}
