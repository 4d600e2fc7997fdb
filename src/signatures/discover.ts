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
 *
 * `discover` looks in every place; `discoverPlaces` in the given ones only (the places that
 * satisfied the policy on the last run, signatures/memo.ts), each re-asked of the registry: a
 * legacy tag with a conditional request on the manifest it pointed to, the referrers list afresh.
 * A tag list (`tags`) may stand in for lookups of tags it does not name: it can only hide places.
 */
import { NotFoundError } from '../errors.js';
import type { Repo, RegistryClient } from '../registry/client.js';
import type { FetchedManifest } from '../registry/types.js';
import type { ImageIndex, ImageManifest, Manifest } from '../registry/manifest.js';
import { parseReference } from '../registry/reference.js';
import { printable } from '../printable.js';
import type { Descriptor } from '../types.js';
import { ANNOTATION, LIMITS, MEDIA } from './constants.js';
import { bundleCandidate, buildkitCandidate, legacyCandidate } from './candidates.js';
import type { Candidate, Discovery, Format, Place } from './types.js';

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
  /**
   * Every tag of the signature repository, read in this run: a legacy or fallback tag not in it is
   * not looked up. Only for a re-check after a memo (check.ts), never for a verdict that fails in enforce mode.
   */
  tags?: ReadonlySet<string>;
  /** Places already looked at in this run (`placeKey`), not looked at again. */
  skip?: ReadonlySet<string>;
}

/** The places' identity, kind and digest. */
export const placeKey = (p: Place): string => `${p.kind}|${p.at}`;

const hexOf = (digest: string) => digest.replace(':', '-');

async function manifestOrNone(client: RegistryClient, repo: Repo, reference: string, expected?: Descriptor): Promise<Manifest | undefined> {
  return (await fetchedOrNone(client, repo, reference, expected))?.manifest;
}

async function fetchedOrNone(client: RegistryClient, repo: Repo, reference: string, expected?: Descriptor): Promise<FetchedManifest | undefined> {
  try {
    return await client.getManifest(repo, reference, expected);
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

  add(c: Candidate, place?: Place): void {
    if (this.candidates.length >= LIMITS.candidates) {
      this.truncated = `stopped after ${LIMITS.candidates} signatures and attestations`;
      return;
    }
    this.candidates.push(place ? { ...c, place } : c);
  }

  capped<T>(items: T[], limit: number, where: string): T[] {
    if (items.length > limit) this.truncated = `${where}: read the first ${limit} of ${items.length}`;
    return items.slice(0, limit);
  }
}

/**
 * What a tag points to now: with `known` (the manifest it pointed to last run), a conditional
 * request that costs no body when nothing changed; then the manifest by digest (cached content).
 */
async function tagNow(client: RegistryClient, repo: Repo, tag: string, known?: string): Promise<FetchedManifest | undefined> {
  if (!known) return fetchedOrNone(client, repo, tag);
  try {
    return await fetchedOrNone(client, repo, await client.tagDigest(repo, tag, known));
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/** One `.sig`/`.att` tag: each layer of the right type is one signature. */
async function legacyTag(client: RegistryClient, repo: Repo, digest: string, format: 'legacy-sig' | 'legacy-att', out: Collector, tags?: ReadonlySet<string>, known?: string): Promise<void> {
  const tag = `${hexOf(digest)}.${format === 'legacy-sig' ? 'sig' : 'att'}`;
  const where = `${repo.registry}/${repo.repository}:${tag}`;
  if (tags && !tags.has(tag)) {
    out.searched.push(`${where} (not in the tag list)`);
    return;
  }
  out.searched.push(where);
  const f = await tagNow(client, repo, tag, known);
  if (!f || f.manifest.kind !== 'manifest') return;
  await readLayers(client, repo, digest, f.manifest.layers, where, out, { kind: format === 'legacy-sig' ? 'sig' : 'att', at: digest, manifest: f.digest }, format);
}

/** Signature layers of a manifest (a legacy tag, or a referrer): other layers are skipped. Returns how many it read. */
async function readLayers(client: RegistryClient, repo: Repo, digest: string, layers: Descriptor[], where: string, out: Collector, place: Place, only?: Format): Promise<number> {
  let read = 0;
  for (const [i, layer] of out.capped(layers, LIMITS.layersPerManifest, where).entries()) {
    const source = `${where}#${i}`;
    const t = layer.mediaType;
    const format: Format | undefined = t.startsWith(MEDIA.bundlePrefix) ? 'bundle' : t === MEDIA.simpleSigning ? 'legacy-sig' : t === MEDIA.dsse ? 'legacy-att' : undefined;
    if (!format || (only && format !== only)) continue;
    read++;
    const max = format === 'legacy-sig' ? LIMITS.payloadBytes : LIMITS.envelopeBytes;
    if (layer.size > max) {
      out.add({ format, kind: format === 'legacy-att' ? 'attestation' : 'signature', source, attachedTo: digest, malformed: `${layer.size} bytes, over the ${max}-byte limit` }, place);
      continue;
    }
    const blob = await client.getBlob(repo, layer, max);
    out.add(format === 'bundle' ? bundleCandidate(blob, source, digest) : legacyCandidate({ mediaType: t, annotations: layer.annotations ?? {}, blob }, format, source, digest), place);
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
async function referrers(client: RegistryClient, repo: Repo, digest: string, out: Collector, tags?: ReadonlySet<string>): Promise<void> {
  const api = await client.referrers(repo, digest);
  let index = api.index;
  const base = `${repo.registry}/${repo.repository}`;
  if (index) out.searched.push(`${base} referrers of ${digest}`);
  else {
    const tag = hexOf(digest);
    const listed = !tags || tags.has(tag);
    out.searched.push(`${base} referrers of ${digest} (API answered ${api.status}; fallback tag ${tag}${listed ? '' : ', not in the tag list'})`);
    const m = listed ? await manifestOrNone(client, repo, tag) : undefined;
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
    else if (!(await readLayers(client, repo, digest, m.layers, where, out, { kind: 'referrers', at: digest }))) out.ignore(`${where}: no signature layer (${describeManifest(m)})`);
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
      out.add(buildkitCandidate(blob, `${repo.registry}/${repo.repository}@${d.digest}#${i}`, forDigest, layer.annotations?.[ANNOTATION.intotoPredicateType]), { kind: 'buildkit', at: forDigest });
    }
  }
}

/** Every place discovery looks in for `input`: per digest its legacy tags (as wanted), referrers and BuildKit attestations. */
export function allPlaces(input: DiscoverInput): Place[] {
  const out: Place[] = [];
  for (const at of new Set(input.digests)) {
    if (input.want.signatures) out.push({ kind: 'sig', at });
    if (input.want.attestations) out.push({ kind: 'att', at });
    out.push({ kind: 'referrers', at });
    if (input.want.attestations && input.index) out.push({ kind: 'buildkit', at });
  }
  return out;
}

/** Looks in every place of `input` (but those in `input.skip`). */
export function discover(client: RegistryClient, input: DiscoverInput): Promise<Discovery> {
  return discoverPlaces(client, input, allPlaces(input));
}

/**
 * Looks in the given places only. A place that is not one of `allPlaces(input)` (another digest, a
 * kind not wanted) is not looked in: a remembered place can only narrow where discovery looks.
 */
export async function discoverPlaces(client: RegistryClient, input: DiscoverInput, places: Place[]): Promise<Discovery> {
  const before = client.stats.total().requests;
  const image: Repo = { registry: input.registry, repository: input.repository };
  const sigRepo: Repo = input.signatureRepository ? parseReference(input.signatureRepository) : image;
  const allowed = new Set(allPlaces(input).map(placeKey));
  const chosen = new Map<string, Place>();
  for (const p of places) if (allowed.has(placeKey(p)) && !input.skip?.has(placeKey(p)) && !chosen.has(placeKey(p))) chosen.set(placeKey(p), p);
  const out = new Collector();
  // The places are looked at concurrently; the client shares fetches of the same content.
  const jobs: Array<Promise<void>> = [];
  const buildkitDigests: string[] = [];
  for (const p of chosen.values()) {
    if (p.kind === 'sig' || p.kind === 'att') jobs.push(legacyTag(client, sigRepo, p.at, p.kind === 'sig' ? 'legacy-sig' : 'legacy-att', out, input.tags, p.manifest));
    else if (p.kind === 'referrers') jobs.push(referrers(client, sigRepo, p.at, out, input.tags));
    else buildkitDigests.push(p.at);
  }
  if (buildkitDigests.length && input.index) jobs.push(buildkit(client, image, input.index, buildkitDigests, out));
  await Promise.all(jobs);
  const formats = [...new Set(out.candidates.filter((c) => !c.malformed || c.bundle).map((c) => c.format))];
  return {
    candidates: out.candidates,
    formats,
    searched: out.searched,
    requests: client.stats.total().requests - before,
    places: [...chosen.values()].map((p) => ({ kind: p.kind, at: p.at })),
    ...(out.truncated ? { truncated: out.truncated } : {}),
    ...(out.ignoredCount ? { ignored: out.ignored, ignoredCount: out.ignoredCount } : {}),
  };
}
