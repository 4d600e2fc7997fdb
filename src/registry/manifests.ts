/**
 * The manifests endpoint: what a tag points to (HEAD, or a conditional GET for drift), and manifests
 * by tag or digest, hashed and checked against the digest asked for or the one the registry claims.
 */
import { DigestMismatchError, ProtocolError } from '../errors.js';
import type { Descriptor } from './oci.js';
import { fail, refName, type RegistryApi } from './api.js';
import type { RunContent } from './content.js';
import { checkNotModified, computeDigest, digestAlgorithm, verifyDigest } from './digest.js';
import { MANIFEST_ACCEPT, MANIFEST_MAX_BYTES, parseManifest } from './manifest.js';
import { DOCKER_HUB, validateDigest } from './reference.js';
import { SingleFlight, type Snapshot } from './single-flight.js';
import type { FetchedManifest, Repo } from './types.js';

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export class Manifests {
  /** Fetches by digest under way, so concurrent lookups of the same manifest make one request. */
  private readonly inflight = new SingleFlight();

  constructor(
    private readonly api: RegistryApi,
    private readonly content: RunContent,
    private readonly snapshot: Snapshot,
  ) {}

  /**
   * The digest a tag (or digest) points to, with one HEAD where the registry gives a
   * Docker-Content-Digest; otherwise the manifest is fetched and hashed.
   */
  head(repo: Repo, reference: string): Promise<ManifestHead> {
    if (reference.includes(':')) return this.headNow(repo, reference);
    return this.snapshot.run(`h|${repo.registry}/${repo.repository}:${reference}`, () => this.headNow(repo, reference));
  }

  private async headNow(repo: Repo, reference: string): Promise<ManifestHead> {
    const what = refName(repo, reference);
    const res = await this.api.request(repo, 'HEAD', `manifests/${reference}`, { accept: MANIFEST_ACCEPT, maxBytes: 0 });
    const claimed = res.headers['docker-content-digest'];
    if (res.status === 200 && claimed && res.headers['content-length'] !== undefined) {
      try {
        validateDigest(claimed);
      } catch {
        throw new ProtocolError(`${what}: registry sent an invalid Docker-Content-Digest "${claimed.slice(0, 100)}"`, repo.registry);
      }
      if (reference.includes(':') && claimed !== reference) {
        throw new ProtocolError(`${what}: registry says it is ${claimed}`, repo.registry);
      }
      return { digest: claimed, mediaType: (res.headers['content-type'] ?? '').split(';')[0]!.trim(), size: Number(res.headers['content-length']) };
    }
    if (res.status !== 200 && res.status !== 404 && res.status !== 405) fail(res, repo, what);
    // No usable HEAD (or a 404, whose body-less answer cannot say why): ask with GET.
    const m = await this.get(repo, reference);
    return { digest: m.digest, mediaType: m.mediaType, size: m.size };
  }

  /**
   * The digest a tag points to now, for drift checks that already know the digest they expect.
   * undici closes the connection after every HEAD (undici#258), which costs a new TCP (and TLS)
   * connection per tag; a conditional GET with `If-None-Match: "<known>"` keeps the connection and
   * costs no body when nothing changed (304), and when something did, the body is hashed here.
   * Docker Hub counts GETs against its pull limits and HEADs not, so Hub tags get a HEAD.
   */
  async tagDigest(repo: Repo, tag: string, known?: string): Promise<string> {
    if (!known || repo.registry === DOCKER_HUB) return (await this.head(repo, tag)).digest;
    const m = await this.fetchIfChanged(repo, tag, undefined, known);
    return m ? m.digest : known;
  }

  /**
   * A manifest by tag or digest, hashed and checked: by digest it must match; by tag a
   * Docker-Content-Digest header, when sent, must match what was served.
   */
  get(repo: Repo, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    if (!reference.includes(':')) return this.fetch(repo, reference, expected);
    return this.inflight.run(`m|${repo.registry}/${repo.repository}|${reference}|${expected?.mediaType ?? ''}`, () => this.fetch(repo, reference, expected));
  }

  private async fetch(repo: Repo, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    return (await this.fetchIfChanged(repo, reference, expected))!;
  }

  /** As fetch; with `ifNoneMatch` (a digest) a 304 from the registry returns undefined. */
  private async fetchIfChanged(repo: Repo, reference: string, expected?: Descriptor, ifNoneMatch?: string): Promise<FetchedManifest | undefined> {
    const what = refName(repo, reference);
    const byDigest = reference.includes(':');
    const cached = byDigest ? (this.content.inMemory(reference) ?? (await this.content.fromDisk(repo, reference))) : undefined;
    let bytes: Buffer;
    let contentType: string | undefined;
    let digest: string;
    if (cached) {
      bytes = cached;
      digest = reference;
    } else {
      if (expected && expected.size > MANIFEST_MAX_BYTES) {
        throw new ProtocolError(`${what}: manifest is ${expected.size} bytes, over the ${MANIFEST_MAX_BYTES}-byte limit`, repo.registry);
      }
      const headers: Record<string, string> = ifNoneMatch ? { 'if-none-match': `"${ifNoneMatch}"` } : {};
      const res = await this.api.request(repo, 'GET', `manifests/${reference}`, { accept: MANIFEST_ACCEPT, maxBytes: MANIFEST_MAX_BYTES, headers });
      if (res.status === 304 && ifNoneMatch) return void checkNotModified(res.headers, ifNoneMatch, what, repo.registry);
      if (res.status !== 200) fail(res, repo, what);
      bytes = res.body;
      contentType = res.headers['content-type'];
      const claimed = res.headers['docker-content-digest'];
      if (byDigest) {
        verifyDigest(bytes, reference, what, repo.registry);
        digest = reference;
        if (claimed && claimed !== reference) {
          throw new ProtocolError(`${what}: Docker-Content-Digest header ${claimed} disagrees with the digest asked for`, repo.registry);
        }
      } else {
        digest = computeDigest(bytes);
        if (claimed) {
          const algo = digestAlgorithm(claimed);
          let actual: string;
          try {
            validateDigest(claimed);
            actual = algo === 'sha256' ? digest : computeDigest(bytes, algo);
          } catch {
            throw new ProtocolError(`${what}: registry sent an invalid Docker-Content-Digest "${claimed.slice(0, 100)}"`, repo.registry);
          }
          if (actual !== claimed) {
            throw new DigestMismatchError(`${what}: the registry says the tag points to ${claimed} but served content with digest ${actual}; refusing it`, repo.registry);
          }
        }
      }
      // Stored under the digest the bytes hash to (put hashes again), so content fetched by tag is
      // as safe to keep as content fetched by digest; what the tag pointed to is not kept.
      this.content.put(digest, bytes);
    }
    if (expected) {
      if (expected.digest !== digest) verifyDigest(bytes, expected.digest, what, repo.registry);
      if (bytes.length !== expected.size) {
        throw new ProtocolError(`${what}: manifest is ${bytes.length} bytes but its descriptor says ${expected.size}`, repo.registry);
      }
    }
    const manifest = parseManifest(bytes, what, { contentType, expectedMediaType: expected?.mediaType });
    return { digest, mediaType: manifest.mediaType, size: bytes.length, bytes, manifest };
  }
}
