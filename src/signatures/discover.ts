/**
 * Finds every signature and attestation of an image, for the index digest and the platform
 * digests, in all the places they live (shared/notes/sigstore.md §1–2):
 *   - legacy cosign tags `sha256-<hex>.sig` / `.att` (one signature per layer);
 *   - Sigstore bundles attached as OCI 1.1 referrers: the referrers API, else the `sha256-<hex>`
 *     fallback tag (distribution 2.8 has no referrers API);
 *   - BuildKit attestation manifests inside the index (unsigned in-toto statements).
 * What a referrer is comes from its manifest, never from the index entry alone: writers label
 * entries differently (go-containerregistry ≤ v0.21.5, so cosign v2.5–v3.0.x, puts the config
 * media type `application/vnd.oci.empty.v1+json` there; newer ggcr, oras and @sigstore/oci the
 * bundle type). The entry's artifactType only orders the reading, within a cap.
 * With `signatureRepository` (like COSIGN_REPOSITORY) signatures are looked for there instead.
 * Everything is fetched by digest and verified by the registry client; counts and sizes are capped.
 */
import { NotFoundError } from '../errors.js';
import type { Repo, RegistryClient } from '../registry/client.js';
import type { ImageIndex, ImageManifest, Manifest } from '../registry/manifest.js';
import { parseReference } from '../registry/reference.js';
import { printable } from '../printable.js';
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

/** Referrers read that were not signatures, kept for the `signature.missing` finding. */
const IGNORED_SHOWN = 20;

class Collector {
  readonly candidates: Candidate[] = [];
  readonly searched: string[] = [];
  readonly ignored: string[] = [];
  ignoredCount = 0;
  truncated?: string;

  ignore(note: string): void {
    if (++this.ignoredCount <= IGNORED_SHOWN) this.ignored.push(note);
  }

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

/** Signature layers of a manifest (a legacy tag, or a referrer): other layers are skipped. Returns how many it read. */
async function readLayers(client: RegistryClient, repo: Repo, digest: string, layers: Descriptor[], where: string, out: Collector, only?: Format): Promise<number> {
  let read = 0;
  for (const [i, layer] of out.capped(layers, LIMITS.layersPerManifest, where).entries()) {
    const source = `${where}#${i}`;
    const t = layer.mediaType;
    const format: Format | undefined = t.startsWith(MEDIA.bundlePrefix) ? 'bundle' : t === MEDIA.simpleSigning ? 'legacy-sig' : t === MEDIA.dsse ? 'legacy-att' : undefined;
    if (!format || (only && format !== only)) continue;
    read++;
    const max = format === 'legacy-sig' ? LIMITS.payloadBytes : LIMITS.envelopeBytes;
    if (layer.size > max) {
      out.add({ format, kind: format === 'legacy-att' ? 'attestation' : 'signature', source, attachedTo: digest, malformed: `${layer.size} bytes, over the ${max}-byte limit` });
      continue;
    }
    const blob = await client.getBlob(repo, layer, max);
    out.add(format === 'bundle' ? bundleCandidate(blob, source, digest) : legacyCandidate({ mediaType: t, annotations: layer.annotations ?? {}, blob }, format, source, digest));
  }
  return read;
}

/** Entry artifactTypes that name a signature format: Sigstore bundles, cosign's referrer forms, in-toto / DSSE. */
const SIGNATURE_ENTRY = [MEDIA.bundlePrefix, 'application/vnd.dev.cosign.', MEDIA.inToto, MEDIA.dsse];
/** Entry artifactTypes of things that are never signatures (SBOMs, Notation, BuildKit attestations): read last. */
const NON_SIGNATURE_ENTRY = [/spdx/i, /cyclonedx/i, /syft/i, /^application\/vnd\.cncf\.notary\./, /^application\/vnd\.docker\.attestation\.manifest/];

/**
 * The order referrers are read in: entries typed as a signature first, then untyped or generic ones
 * (ggcr ≤ v0.21.5 lists a cosign bundle as `application/vnd.oci.empty.v1+json`), then types that
 * are never signatures. Nothing is skipped for its entry alone; under the cap the order decides what is read.
 */
function readingOrder(entries: Descriptor[]): Descriptor[] {
  const rank = (t: string | undefined) => (!t ? 1 : SIGNATURE_ENTRY.some((p) => t.startsWith(p)) ? 0 : NON_SIGNATURE_ENTRY.some((re) => re.test(t)) ? 2 : 1);
  const unique = [...new Map(entries.map((d) => [d.digest, d])).values()];
  return unique
    .map((d, i) => ({ d, i, r: rank(d.artifactType) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.d);
}

function describeManifest(m: ImageManifest): string {
  const layers = [...new Set(m.layers.map((l) => l.mediaType))];
  return printable(`artifactType ${m.artifactType ?? '(none)'}, config ${m.config.mediaType}, layers: ${layers.join(', ') || '(none)'}`, 300);
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
  // As cosign does, every referrer is read and judged by its manifest (its layers' media types), up
  // to a cap against an index with thousands of entries; each manifest is fetched by digest and checked.
  const entries = readingOrder(index.manifests);
  if (entries.length > LIMITS.referrers) {
    out.truncated = `${base} referrers of ${digest}: read ${LIMITS.referrers} of ${entries.length} referrers (signature types first, SBOMs and other non-signature types last); the rest were not read`;
  }
  for (const d of entries.slice(0, LIMITS.referrers)) {
    const where = `${base}@${d.digest}`;
    const m = await manifestOrNone(client, repo, d.digest, d);
    if (!m) out.ignore(`${where}: listed as a referrer of ${digest}, but not in the registry`);
    else if (m.kind !== 'manifest') out.ignore(`${where}: an index, not a signature manifest`);
    // A referrer must say what it refers to: an entry of a hand-edited fallback index may not.
    else if (m.subject?.digest !== digest) out.ignore(`${where}: refers to ${m.subject ? printable(m.subject.digest, 100) : 'nothing (no subject)'}, not ${digest}`);
    else if (!(await readLayers(client, repo, digest, m.layers, where, out))) out.ignore(`${where}: no signature layer (${describeManifest(m)})`);
  }
}

/** BuildKit attestation manifests in the index for the given platform digests (unsigned statements). */
async function buildkit(client: RegistryClient, repo: Repo, index: ImageIndex, digests: string[], out: Collector): Promise<void> {
  out.searched.push(`BuildKit attestation manifests in ${repo.registry}/${repo.repository}@${digests[0]}`);
  const entries = index.manifests.filter((d) => d.annotations?.[ANNOTATION.buildkitRefType] === 'attestation-manifest' && digests.includes(d.annotations[ANNOTATION.buildkitRefDigest] ?? ''));
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
    ...(out.ignoredCount ? { ignored: out.ignored, ignoredCount: out.ignoredCount } : {}),
  };
}
