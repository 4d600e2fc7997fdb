/**
 * The OCI distribution client: authenticated requests, manifests and blobs verified against their
 * digests, tag lists, and tag → digest → platform manifest → config resolution.
 */
import { AuthError, DigestMismatchError, NotFoundError, PlatformMissingError, ProtocolError, RegistryError, TagNotFoundError } from '../errors.js';
import type { Descriptor, Platform } from '../types.js';
import { Authenticator, type Endpoint } from './auth.js';
import type { ContentCache } from './cache.js';
import { ChainedCredentials, type CredentialSource } from './credentials.js';
import { checkNotModified, computeDigest, digestAlgorithm, verifyDigest } from './digest.js';
import { printable } from '../printable.js';
import { HttpTransport, type HttpOptions, type HttpResponse } from './http.js';
import {
  CONFIG_MAX_BYTES,
  IMAGE_CONFIG_TYPES,
  MANIFEST_ACCEPT,
  MANIFEST_MAX_BYTES,
  MEDIA_TYPES,
  configPlatform,
  formatPlatform,
  hostRuns,
  indexPlatforms,
  parseManifest,
  samePlatform,
  selectPlatform,
  type ImageIndex,
  type ImageManifest,
  type Manifest,
} from './manifest.js';
import { DOCKER_HUB, apiHost, formatReference, isLoopbackHost, validateDigest, type ImageReference } from './reference.js';
import { Stats } from './stats.js';

/** A repository on a registry. */
export interface Repo {
  registry: string;
  repository: string;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  size: number;
  bytes: Buffer;
  manifest: Manifest;
}

export interface ImageConfigFacts {
  digest: string;
  mediaType: string;
  created?: string;
  labels: Record<string, string>;
  os?: string;
  architecture?: string;
  variant?: string;
  diffIds: string[];
}

export interface Resolution {
  ref: ImageReference;
  /** What the reference points to now: the index digest for a multi-platform image. */
  digest: string;
  mediaType: string;
  size: number;
  index?: ImageIndex;
  /** Platforms the image offers. */
  platforms: Platform[];
  /** The platform manifest chosen (for a single-platform image: the manifest itself). */
  manifest: ImageManifest;
  manifestDigest: string;
  platform?: Platform;
  /** For every platform asked for, the manifest digest that host would pull. */
  platformDigests: Array<{ platform: Platform; digest: string }>;
  config?: ImageConfigFacts;
}

export interface RegistryClientOptions {
  credentials?: CredentialSource;
  /** Registries reached over plain HTTP besides loopback ones. */
  insecureRegistries?: string[];
  http?: Partial<HttpOptions>;
  stats?: Stats;
  /**
   * The on-disk content-addressed cache for what is fetched by digest. Only content is cached,
   * never what a tag points to: every tag is still asked of the registry.
   */
  cache?: ContentCache;
}

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Repositories asked for in one token request at most (URL length, token size). */
export const MAX_SCOPES_PER_TOKEN = 25;

interface ErrorBody {
  code: string;
  message: string;
}

function registryErrors(res: HttpResponse): ErrorBody[] {
  try {
    const doc = JSON.parse(res.body.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors
      .filter((e): e is { code?: unknown; message?: unknown } => typeof e === 'object' && e !== null)
      .map((e) => ({ code: printable(String(e.code ?? ''), 64), message: printable(String(e.message ?? '')) }));
  } catch {
    return [];
  }
}

export class RegistryClient {
  readonly stats: Stats;
  readonly http: HttpTransport;
  readonly auth: Authenticator;
  private readonly insecure: Set<string>;
  /** Content fetched by digest during this run: immutable, so shared by every lookup. */
  private readonly content = new Map<string, Buffer>();
  /** Fetches by digest under way, so concurrent lookups of the same content make one request. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  /**
   * The first request to each registry, while it is under way: it learns whether and how the
   * registry wants credentials, so concurrent requests wait for it instead of each paying a 401.
   */
  private readonly probes = new Map<string, Promise<void>>();
  private readonly probed = new Set<string>();
  readonly cache?: ContentCache;
  /**
   * Registries whose referrers API answered 404 in this run. The distribution spec (v1.1) says a
   * registry that supports the API MUST NOT answer it with 404, so the answer holds for every digest
   * of that registry and the API is not asked again (the `sha256-<hex>` fallback tag is). Kept in
   * memory for the run only: a registry can be upgraded.
   */
  private readonly noReferrersApi = new Set<string>();
  /**
   * While a verify run is under way (beginSnapshot … endSnapshot): what each tag HEAD and tag list
   * answered, so several images on one base ask about the base tag once. One run's verdict is one
   * observation of the registry; a long-lived client (drift --watch) never snapshots, and nothing
   * about a tag is ever kept beyond the run or written to disk.
   */
  private snapshot?: Map<string, Promise<unknown>>;
  /**
   * Repositories each registry is expected to be asked about in this run: one token is requested
   * for all of them (several `scope` parameters), where the token service grants that. A repository
   * the shared token turned out not to cover gets its own token (`solo`).
   */
  private readonly expected = new Map<string, Set<string>>();
  private readonly solo = new Set<string>();
  /** The first referrers lookup per registry, while it is under way. */
  private readonly referrersProbes = new Map<string, Promise<void>>();

  constructor(opts: RegistryClientOptions = {}) {
    this.stats = opts.stats ?? new Stats();
    this.cache = opts.cache;
    this.http = new HttpTransport(this.stats, opts.http);
    this.auth = new Authenticator(this.http, opts.credentials ?? new ChainedCredentials([]));
    this.insecure = new Set((opts.insecureRegistries ?? []).map((r) => r.toLowerCase()));
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** Starts a run's snapshot of tag answers (see `snapshot`). */
  beginSnapshot(): void {
    this.snapshot = new Map();
  }

  endSnapshot(): void {
    this.snapshot = undefined;
  }

  private snapshotted<T>(key: string, f: () => Promise<T>): Promise<T> {
    if (!this.snapshot) return f();
    let p = this.snapshot.get(key) as Promise<T> | undefined;
    if (!p) this.snapshot.set(key, (p = f()));
    return p;
  }

  /** Announces the repositories a run will read, so one token can cover them all (see `expected`). */
  expectRepositories(repos: Repo[]): void {
    for (const r of repos) {
      let set = this.expected.get(r.registry);
      if (!set) this.expected.set(r.registry, (set = new Set()));
      set.add(r.repository);
    }
  }

  /** The token scope for a request to `repo`: every expected repository of its registry, or its own. */
  private scopeFor(repo: Repo): string {
    const own = `repository:${repo.repository}:pull`;
    const set = this.expected.get(repo.registry);
    if (!set?.has(repo.repository) || this.solo.has(`${repo.registry}/${repo.repository}`)) return own;
    // The same scope set every time (solo repositories included), so the shared token stays one;
    // a long list (a drift ledger) is split into fixed groups, so the token request stays short.
    const sorted = [...set].sort();
    const at = sorted.indexOf(repo.repository);
    const start = at - (at % MAX_SCOPES_PER_TOKEN);
    return sorted
      .slice(start, start + MAX_SCOPES_PER_TOKEN)
      .map((r) => `repository:${r}:pull`)
      .join(' ');
  }

  endpoint(registry: string): Endpoint {
    const host = apiHost(registry);
    const plain = isLoopbackHost(host) || this.insecure.has(registry.toLowerCase()) || this.insecure.has(host.toLowerCase());
    return { registry, base: new URL(`${plain ? 'http' : 'https'}://${host}`) };
  }

  /** An authenticated request to a repository's API, retried once per authentication step. */
  private async request(
    repo: Repo,
    method: 'GET' | 'HEAD',
    path: string,
    opts: { accept?: string; maxBytes: number; headers?: Record<string, string> },
  ): Promise<HttpResponse> {
    const ep = this.endpoint(repo.registry);
    const scope = this.scopeFor(repo);
    const url = new URL(`/v2/${repo.repository}/${path}`, ep.base);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.accept) headers['accept'] = opts.accept;
    let endProbe: (() => void) | undefined;
    if (!this.probed.has(repo.registry)) {
      const probe = this.probes.get(repo.registry);
      if (probe) await probe;
      else this.probes.set(repo.registry, new Promise<void>((resolve) => (endProbe = resolve)));
    }
    try {
      return await this.authenticated(repo, ep, scope, method, url, headers, opts.maxBytes);
    } finally {
      if (endProbe) {
        this.probed.add(repo.registry);
        this.probes.delete(repo.registry);
        endProbe();
      }
    }
  }

  private async authenticated(
    repo: Repo,
    ep: Endpoint,
    scopeWanted: string,
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    maxBytes: number,
  ): Promise<HttpResponse> {
    let scope = scopeWanted;
    let auth = await this.auth.authorization(ep, scope);
    for (let attempt = 0; ; attempt++) {
      const h = auth ? { ...headers, authorization: auth } : headers;
      const res = await this.http.send({ method, url, headers: h, maxBytes, registry: repo.registry });
      if (res.status !== 401) {
        if (res.status === 403) {
          throw new AuthError(`${repo.registry} denied access to ${repo.repository} (403); check the credentials have pull access`, repo.registry, 403);
        }
        return res;
      }
      if (attempt >= 2) throw await this.auth.refusal(ep, res);
      if (auth !== undefined && scope.includes(' ')) {
        // The shared token did not cover this repository (the token service grants only the
        // intersection of what was asked and what the credentials may read): it gets its own.
        this.solo.add(`${repo.registry}/${repo.repository}`);
        scope = `repository:${repo.repository}:pull`;
      }
      auth = await this.auth.onUnauthorized(ep, scope, res, auth !== undefined);
    }
  }

  private fail(res: HttpResponse, repo: Repo, what: string): never {
    const errs = registryErrors(res);
    const detail = errs.length ? `: ${errs.map((e) => `${e.code} ${e.message}`.trim()).join('; ')}` : '';
    if (res.status === 404) {
      const codes = new Set(errs.map((e) => e.code));
      const reason = codes.has('NAME_UNKNOWN')
        ? `repository ${repo.repository} does not exist in ${repo.registry}`
        : codes.has('BLOB_UNKNOWN')
          ? `blob not found in ${repo.registry}`
          : `not found in ${repo.registry}`;
      throw new NotFoundError(`${what}: ${reason}; check the name, tag and that it was pushed`, repo.registry, 404);
    }
    if (res.status === 429) {
      const after = res.headers['retry-after'];
      throw new RegistryError(`${repo.registry} is rate limiting requests (429${after ? `, Retry-After ${after}` : ''}) for ${what}; try again later or log in for a higher limit`, repo.registry, 429);
    }
    throw new RegistryError(`${repo.registry} answered ${res.status} for ${what}${detail}`, repo.registry, res.status);
  }

  /**
   * The digest a tag (or digest) points to, with one HEAD where the registry gives a
   * Docker-Content-Digest; otherwise the manifest is fetched and hashed.
   */
  headManifest(repo: Repo, reference: string): Promise<{ digest: string; mediaType: string; size: number }> {
    if (reference.includes(':')) return this.headManifestNow(repo, reference);
    return this.snapshotted(`h|${repo.registry}/${repo.repository}:${reference}`, () => this.headManifestNow(repo, reference));
  }

  private async headManifestNow(repo: Repo, reference: string): Promise<{ digest: string; mediaType: string; size: number }> {
    const what = refName(repo, reference);
    const res = await this.request(repo, 'HEAD', `manifests/${reference}`, { accept: MANIFEST_ACCEPT, maxBytes: 0 });
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
    if (res.status !== 200 && res.status !== 404 && res.status !== 405) this.fail(res, repo, what);
    // No usable HEAD (or a 404, whose body-less answer cannot say why): ask with GET.
    const m = await this.getManifest(repo, reference);
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
    if (!known || repo.registry === DOCKER_HUB) return (await this.headManifest(repo, tag)).digest;
    const m = await this.fetchManifestIfChanged(repo, tag, undefined, known);
    return m ? m.digest : known;
  }

  /**
   * A manifest by tag or digest, hashed and checked: by digest it must match; by tag a
   * Docker-Content-Digest header, when sent, must match what was served.
   */
  getManifest(repo: Repo, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    if (!reference.includes(':')) return this.fetchManifest(repo, reference, expected);
    return this.once(`m|${repo.registry}/${repo.repository}|${reference}|${expected?.mediaType ?? ''}`, () => this.fetchManifest(repo, reference, expected));
  }

  /** Runs `f` once for concurrent callers with the same key. */
  private once<T>(key: string, f: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = f().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchManifest(repo: Repo, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    return (await this.fetchManifestIfChanged(repo, reference, expected))!;
  }

  /** As fetchManifest; with `ifNoneMatch` (a digest) a 304 from the registry returns undefined. */
  private async fetchManifestIfChanged(repo: Repo, reference: string, expected?: Descriptor, ifNoneMatch?: string): Promise<FetchedManifest | undefined> {
    const what = refName(repo, reference);
    const byDigest = reference.includes(':');
    const cached = byDigest ? (this.content.get(reference) ?? (await this.fromDisk(repo, reference))) : undefined;
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
      const res = await this.request(repo, 'GET', `manifests/${reference}`, { accept: MANIFEST_ACCEPT, maxBytes: MANIFEST_MAX_BYTES, headers });
      if (res.status === 304 && ifNoneMatch) return void checkNotModified(res.headers, ifNoneMatch, what, repo.registry);
      if (res.status !== 200) this.fail(res, repo, what);
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
            throw new DigestMismatchError(
              `${what}: the registry says the tag points to ${claimed} but served content with digest ${actual}; refusing it`,
              repo.registry,
            );
          }
        }
      }
      this.content.set(digest, bytes);
      // Stored under the digest the bytes hash to (put hashes again), so content fetched by tag is
      // as safe to keep as content fetched by digest; what the tag pointed to is not kept.
      await this.cache?.put(digest, bytes);
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

  /** A blob by descriptor, size-checked and hashed. Redirects to a CDN never carry credentials. */
  getBlob(repo: Repo, desc: Descriptor, maxBytes: number): Promise<Buffer> {
    return this.once(`b|${repo.registry}/${repo.repository}|${desc.digest}|${desc.size}`, () => this.fetchBlob(repo, desc, maxBytes));
  }

  private async fetchBlob(repo: Repo, desc: Descriptor, maxBytes: number): Promise<Buffer> {
    const what = `${repo.registry}/${repo.repository}@${desc.digest}`;
    if (desc.size > maxBytes) {
      throw new ProtocolError(`${what}: blob is ${desc.size} bytes, over the ${maxBytes}-byte limit`, repo.registry);
    }
    const cached = this.content.get(desc.digest) ?? (await this.fromDisk(repo, desc.digest));
    if (cached) {
      if (cached.length !== desc.size) {
        throw new ProtocolError(`${what}: blob is ${cached.length} bytes but its descriptor says ${desc.size}`, repo.registry);
      }
      return cached;
    }
    const res = await this.request(repo, 'GET', `blobs/${desc.digest}`, { maxBytes });
    if (res.status !== 200) this.fail(res, repo, what);
    if (res.body.length !== desc.size) {
      throw new ProtocolError(`${what}: blob is ${res.body.length} bytes but its descriptor says ${desc.size}`, repo.registry);
    }
    verifyDigest(res.body, desc.digest, what, repo.registry);
    this.content.set(desc.digest, res.body);
    await this.cache?.put(desc.digest, res.body);
    return res.body;
  }

  /** Content by digest from the on-disk cache (re-hashed by the cache; a bad file is a miss). */
  private async fromDisk(repo: Repo, digest: string): Promise<Buffer | undefined> {
    if (!this.cache) return undefined;
    const bytes = await this.cache.get(digest);
    if (!bytes) return undefined;
    this.stats.cacheHit(repo.registry);
    this.content.set(digest, bytes);
    return bytes;
  }

  /**
   * The OCI 1.1 referrers of a manifest (`GET /v2/<repo>/referrers/<digest>`): the status, and on a
   * 200 that is an OCI index, the index. The registry generates it, so it has no digest to check;
   * every manifest it lists must be fetched by digest (getManifest verifies it). Any other answer
   * (distribution 2.8 says 404) means: use the `sha256-<hex>` fallback tag.
   */
  async referrers(repo: Repo, digest: string): Promise<{ status: number; index?: ImageIndex }> {
    validateDigest(digest);
    // The first lookup per registry runs alone, so concurrent lookups can learn from its answer.
    const probe = this.referrersProbes.get(repo.registry);
    if (probe) await probe;
    if (this.noReferrersApi.has(repo.registry)) return { status: 404 };
    let endProbe: (() => void) | undefined;
    if (!this.referrersProbes.has(repo.registry)) this.referrersProbes.set(repo.registry, new Promise<void>((r) => (endProbe = r)));
    let res: HttpResponse;
    try {
      res = await this.request(repo, 'GET', `referrers/${digest}`, { accept: MEDIA_TYPES.ociIndex, maxBytes: MANIFEST_MAX_BYTES });
    } finally {
      endProbe?.();
    }
    // A 404 that is a registry error (NAME_UNKNOWN: the repository does not exist) says nothing
    // about the API; a bare 404 (distribution 2.8's router) says it is not there.
    if (res.status === 404 && registryErrors(res).length === 0) this.noReferrersApi.add(repo.registry);
    if (res.status !== 200) return { status: res.status };
    const first = referrersPage(res, repo, digest);
    if (!first) return { status: 200 };
    // Later pages (`Link: rel="next"`), up to a bound: a registry that pages forever cannot hold the
    // run, and a page that fails or leaves the repository ends the list. Stopping early can only hide
    // signatures, which fails an image, never passes it.
    const manifests = [...first.manifests];
    let next = safeNextLink(res, repo);
    for (let page = 1; next && page < REFERRERS_MAX_PAGES; page++) {
      const more = await this.request(repo, 'GET', next, { accept: MEDIA_TYPES.ociIndex, maxBytes: MANIFEST_MAX_BYTES });
      const index = more.status === 200 ? referrersPage(more, repo, digest) : undefined;
      if (!index) break;
      manifests.push(...index.manifests);
      next = safeNextLink(more, repo);
    }
    return { status: 200, index: { ...first, manifests } };
  }

  /** Every tag of a repository, following `Link: rel="next"` (relative to the request URL). */
  listTags(repo: Repo): Promise<string[]> {
    return this.snapshotted(`t|${repo.registry}/${repo.repository}`, () => this.listTagsNow(repo));
  }

  private async listTagsNow(repo: Repo): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = 'tags/list?n=1000';
    for (let page = 0; path; page++) {
      if (page >= 10_000) throw new ProtocolError(`${repo.registry}: tag list for ${repo.repository} never ends`, repo.registry);
      const res = await this.request(repo, 'GET', path, { maxBytes: MANIFEST_MAX_BYTES, headers: { accept: 'application/json' } });
      if (res.status !== 200) this.fail(res, repo, `${repo.registry}/${repo.repository} tags`);
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(res.body.toString('utf8')) as typeof doc;
      } catch {
        throw new ProtocolError(`${repo.registry}: tag list for ${repo.repository} is not JSON`, repo.registry);
      }
      if (typeof doc !== 'object' || doc === null) throw new ProtocolError(`${repo.registry}: tag list for ${repo.repository} is not a JSON object`, repo.registry);
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === 'string') tags.push(t);
      path = nextLink(res, repo);
    }
    return tags;
  }

  /**
   * Resolves a reference: tag → digest, index → the manifest for the first requested platform,
   * and that manifest's config. Every platform asked for must exist.
   */
  async resolve(ref: ImageReference, platforms: Platform[] = [DEFAULT_PLATFORM]): Promise<Resolution> {
    const repo: Repo = { registry: ref.registry, repository: ref.repository };
    const shown = formatReference(ref);
    const wanted = platforms.length ? platforms : [DEFAULT_PLATFORM];
    let top: FetchedManifest;
    try {
      top = await this.getManifest(repo, ref.digest ?? ref.tag!);
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
      const child = await this.getManifest(repo, first.digest, first);
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
      throw new ProtocolError(`${shown}: ${manifestDigest} is not a container image (its config is a ${printable(manifest.config.mediaType)}); check the reference names the image Kamal deploys`, ref.registry);
    }
    const blob = await this.getBlob(repo, manifest.config, CONFIG_MAX_BYTES);
    const config: ImageConfigFacts | undefined = parseImageConfig(blob, manifest.config, shown);
    // The platform the image says it is must be the one the index (or the deploy) expects.
    const own = configPlatform(config, top.manifest.kind === 'index' ? platform : undefined, shown, ref.registry);
    // An entry without a platform is chosen only when no labelled one matches, and a host runs it only
    // when its config names the host's platform (platforms.ts, rule 5).
    for (const u of unlabelled) {
      const named = u.d.digest === manifestDigest ? own : await this.entryConfigPlatform(repo, u.d, shown);
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
  private async entryConfigPlatform(repo: Repo, d: Descriptor, shown: string): Promise<Platform> {
    const child = await this.getManifest(repo, d.digest, d);
    if (child.manifest.kind !== 'manifest') {
      throw new ProtocolError(`${shown}: index entry ${d.digest} is itself an index; nested indexes are not supported`, repo.registry);
    }
    const blob = await this.getBlob(repo, child.manifest.config, CONFIG_MAX_BYTES);
    return configPlatform(parseImageConfig(blob, child.manifest.config, shown), undefined, shown, repo.registry);
  }
}

function refName(repo: Repo, reference: string): string {
  return `${repo.registry}/${repo.repository}${reference.includes(':') ? '@' : ':'}${reference}`;
}

/** How many pages of referrers are read for one digest at most. */
const REFERRERS_MAX_PAGES = 16;

function referrersPage(res: HttpResponse, repo: Repo, digest: string): ImageIndex | undefined {
  try {
    const m = parseManifest(res.body, `${refName(repo, digest)} referrers`, { contentType: res.headers['content-type'] });
    return m.kind === 'index' ? m : undefined;
  } catch {
    return undefined;
  }
}

function safeNextLink(res: HttpResponse, repo: Repo): string | undefined {
  try {
    return nextLink(res, repo);
  } catch {
    return undefined;
  }
}

function nextLink(res: HttpResponse, repo: Repo): string | undefined {
  const link = res.headers['link'];
  if (!link) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link);
  if (!m) return undefined;
  const next = new URL(m[1]!, res.url);
  if (next.origin !== res.url.origin) throw new ProtocolError(`${repo.registry}: tag list pagination points at another host`, repo.registry);
  const prefix = `/v2/${repo.repository}/`;
  if (!next.pathname.startsWith(prefix)) throw new ProtocolError(`${repo.registry}: tag list pagination points outside the repository`, repo.registry);
  return next.pathname.slice(prefix.length) + next.search;
}

export function parseImageConfig(blob: Buffer, desc: Descriptor, where: string): ImageConfigFacts {
  let doc: Record<string, unknown>;
  try {
    const parsed = JSON.parse(blob.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    doc = parsed as Record<string, unknown>;
  } catch {
    throw new ProtocolError(`${where}: image config ${desc.digest} is not a JSON object`);
  }
  const cfg = (typeof doc.config === 'object' && doc.config !== null ? doc.config : {}) as Record<string, unknown>;
  const labels: Record<string, string> = {};
  if (typeof cfg.Labels === 'object' && cfg.Labels !== null) {
    for (const [k, v] of Object.entries(cfg.Labels as Record<string, unknown>)) if (typeof v === 'string') labels[k] = v;
  }
  const rootfs = (typeof doc.rootfs === 'object' && doc.rootfs !== null ? doc.rootfs : {}) as { diff_ids?: unknown };
  const diffIds = Array.isArray(rootfs.diff_ids) ? rootfs.diff_ids.filter((d): d is string => typeof d === 'string') : [];
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return {
    digest: desc.digest,
    mediaType: desc.mediaType,
    created: str(doc.created),
    labels,
    os: str(doc.os),
    architecture: str(doc.architecture),
    variant: str(doc.variant),
    diffIds,
  };
}
