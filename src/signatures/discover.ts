/**
 * Finds every signature and attestation of an image, for the index digest and the platform
 * digests, in all the places they live (shared/notes/sigstore.md §1–2):
 *   - legacy cosign tags `sha256-<hex>.sig` / `.att` (one signature per layer);
 *   - Sigstore bundles attached as OCI 1.1 referrers: the referrers API, else the `sha256-<hex>`
 *     fallback tag (distribution 2.8 has no referrers API);
 *   - BuildKit attestation manifests inside the index (unsigned in-toto statements).
 * With `signatureRepository` (like COSIGN_REPOSITORY) signatures are looked for there instead.
 * Everything is fetched by digest and verified by the registry client; counts and sizes are capped.
 */
import { NotFoundError } from '../errors.js';
import type { Repo, RegistryClient } from '../registry/client.js';
import type { ImageIndex, Manifest } from '../registry/manifest.js';
import { parseReference } from '../registry/reference.js';
import type { Descriptor } from '../types.js';
import { ANNOTATION, LIMITS, MEDIA } from './constants.js';
import { bundleCandidate, buildkitCandidate, legacyCandidate } from './candidates.js';
import type { Candidate, Discovery, Format } from './types.js';

export interface DiscoverInput {
  registry: string;
  repository: string;
  /** The digests to look for: the index the tag points to, then the platform manifests. */
  digests: string[];
  /** The index the tag points to, for BuildKit attestation manifests. */
  index?: ImageIndex;
  /** `registry/repository` where signatures are kept, when not beside the image. */
  signatureRepository?: string;
  want: { signatures: boolean; attestations: boolean };
}

const hexOf = (digest: string) => digest.replace(':', '-');

async function manifestOrNone(client: RegistryClient, repo: Repo, reference: string, expected?: Descriptor): Promise<Manifest | undefined> {
  try {
    return (await client.getManifest(repo, reference, expected)).manifest;
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

class Collector {
  readonly candidates: Candidate[] = [];
  readonly searched: string[] = [];
  truncated?: string;

  add(c: Candidate): void {
    if (this.candidates.length >= LIMITS.candidates) {
      this.truncated = `stopped after ${LIMITS.candidates} signatures and attestations`;
      return;
    }
    this.candidates.push(c);
  }

  capped<T>(items: T[], limit: number, where: string): T[] {
    if (items.length > limit) this.truncated = `${where}: read the first ${limit} of ${items.length}`;
    return items.slice(0, limit);
  }
}

/** One `.sig`/`.att` tag: each layer of the right type is one signature. */
async function legacyTag(client: RegistryClient, repo: Repo, digest: string, format: 'legacy-sig' | 'legacy-att', out: Collector): Promise<void> {
  const tag = `${hexOf(digest)}.${format === 'legacy-sig' ? 'sig' : 'att'}`;
  const where = `${repo.registry}/${repo.repository}:${tag}`;
  out.searched.push(where);
  const m = await manifestOrNone(client, repo, tag);
  if (!m || m.kind !== 'manifest') return;
  await readLayers(client, repo, digest, m.layers, where, out, format);
}

/** Signature layers of a manifest (a legacy tag, or a referrer): other layers are skipped. */
async function readLayers(client: RegistryClient, repo: Repo, digest: string, layers: Descriptor[], where: string, out: Collector, only?: Format): Promise<void> {
  for (const [i, layer] of out.capped(layers, LIMITS.layersPerManifest, where).entries()) {
    const source = `${where}#${i}`;
    const t = layer.mediaType;
    const format: Format | undefined = t.startsWith(MEDIA.bundlePrefix) ? 'bundle' : t === MEDIA.simpleSigning ? 'legacy-sig' : t === MEDIA.dsse ? 'legacy-att' : undefined;
    if (!format || (only && format !== only)) continue;
    const max = format === 'legacy-sig' ? LIMITS.payloadBytes : LIMITS.envelopeBytes;
    if (layer.size > max) {
      out.add({ format, kind: format === 'legacy-att' ? 'attestation' : 'signature', source, attachedTo: digest, malformed: `${layer.size} bytes, over the ${max}-byte limit` });
      continue;
    }
    const blob = await client.getBlob(repo, layer, max);
    out.add(format === 'bundle' ? bundleCandidate(blob, source, digest) : legacyCandidate({ mediaType: t, annotations: layer.annotations ?? {}, blob }, format, source, digest));
  }
}

/** Bundles (and cosign's rare legacy-signature referrers) attached to `digest`. */
async function referrers(client: RegistryClient, repo: Repo, digest: string, out: Collector): Promise<void> {
  const api = await client.referrers(repo, digest);
  let index = api.index;
  const base = `${repo.registry}/${repo.repository}`;
  if (index) out.searched.push(`${base} referrers of ${digest}`);
  else {
    const tag = hexOf(digest);
    out.searched.push(`${base} referrers of ${digest} (API answered ${api.status}; fallback tag ${tag})`);
    const m = await manifestOrNone(client, repo, tag);
    index = m?.kind === 'index' ? m : undefined;
  }
  if (!index) return;
  for (const d of out.capped(index.manifests, LIMITS.referrers, `${base} referrers of ${digest}`)) {
    // Fallback-tag entries written by ggcr carry no annotations: read each manifest to know what it is.
    if (d.artifactType && !d.artifactType.startsWith(MEDIA.bundlePrefix) && !d.artifactType.startsWith('application/vnd.dev.cosign.')) continue;
    const m = await manifestOrNone(client, repo, d.digest, d);
    // A referrer must say what it refers to: an entry of a hand-edited fallback index may not.
    if (!m || m.kind !== 'manifest' || m.subject?.digest !== digest) continue;
    await readLayers(client, repo, digest, m.layers, `${base}@${d.digest}`, out);
  }
}

/** BuildKit attestation manifests in the index for the given platform digests (unsigned statements). */
async function buildkit(client: RegistryClient, repo: Repo, index: ImageIndex, digests: string[], out: Collector): Promise<void> {
  out.searched.push(`BuildKit attestation manifests in ${repo.registry}/${repo.repository}@${digests[0]}`);
  const entries = index.manifests.filter(
    (d) => d.annotations?.[ANNOTATION.buildkitRefType] === 'attestation-manifest' && digests.includes(d.annotations[ANNOTATION.buildkitRefDigest] ?? ''),
  );
  for (const d of out.capped(entries, LIMITS.referrers, 'BuildKit attestations')) {
    const m = await manifestOrNone(client, repo, d.digest, d);
    if (!m || m.kind !== 'manifest') continue;
    const forDigest = d.annotations?.[ANNOTATION.buildkitRefDigest] ?? '';
    for (const [i, layer] of out.capped(m.layers, LIMITS.layersPerManifest, `${repo.repository}@${d.digest}`).entries()) {
      if (layer.mediaType !== MEDIA.inToto || layer.size > LIMITS.envelopeBytes) continue;
      const blob = await client.getBlob(repo, layer, LIMITS.envelopeBytes);
      out.add(buildkitCandidate(blob, `${repo.registry}/${repo.repository}@${d.digest}#${i}`, forDigest, layer.annotations?.[ANNOTATION.intotoPredicateType]));
    }
  }
}

export async function discover(client: RegistryClient, input: DiscoverInput): Promise<Discovery> {
  const before = client.stats.total().requests;
  const image: Repo = { registry: input.registry, repository: input.repository };
  const sigRepo: Repo = input.signatureRepository ? parseReference(input.signatureRepository) : image;
  const digests = [...new Set(input.digests)];
  const out = new Collector();
  // Every place is looked at for every digest, concurrently; the client shares fetches of the same content.
  const jobs: Array<Promise<void>> = [];
  for (const digest of digests) {
    if (input.want.signatures) jobs.push(legacyTag(client, sigRepo, digest, 'legacy-sig', out));
    if (input.want.attestations) jobs.push(legacyTag(client, sigRepo, digest, 'legacy-att', out));
    jobs.push(referrers(client, sigRepo, digest, out));
  }
  if (input.want.attestations && input.index) jobs.push(buildkit(client, image, input.index, digests, out));
  await Promise.all(jobs);
  const formats = [...new Set(out.candidates.filter((c) => !c.malformed || c.bundle).map((c) => c.format))];
  return {
    candidates: out.candidates,
    formats,
    searched: out.searched,
    requests: client.stats.total().requests - before,
    ...(out.truncated ? { truncated: out.truncated } : {}),
  };
}
