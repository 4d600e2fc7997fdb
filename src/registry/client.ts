/**
 * The OCI distribution client: the one object the rest of kamal-gate talks to. It composes the
 * endpoint modules (manifests, blobs, referrers, tags, resolve) over one authenticated request layer
 * (api.ts), one run's content store (content.ts) and one run's snapshot of tag answers.
 */
import type { Descriptor, Platform } from './oci.js';
import { RegistryApi } from './api.js';
import { Authenticator, type Endpoint } from './auth.js';
import { Blobs } from './blobs.js';
import type { ContentCache } from './cache.js';
import { RunContent } from './content.js';
import { ChainedCredentials, type CredentialSource } from './credentials.js';
import { HttpTransport, type HttpOptions } from './http.js';
import type { ImageIndex } from './manifest.js';
import { Manifests, type ManifestHead } from './manifests.js';
import type { ImageReference } from './reference.js';
import { Referrers } from './referrers.js';
import { DEFAULT_PLATFORM, resolveReference } from './resolve.js';
import { Snapshot } from './single-flight.js';
import { Stats } from './stats.js';
import { Tags } from './tags.js';
import type { FetchedManifest, Repo, Resolution } from './types.js';

// Where signatures/, provenance/, checks/ and verify.ts import these from.
export type { Repo, Resolution } from './types.js';
export { DEFAULT_PLATFORM } from './resolve.js';

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

export class RegistryClient {
  readonly stats: Stats;
  readonly http: HttpTransport;
  readonly auth: Authenticator;
  readonly cache?: ContentCache;
  private readonly api: RegistryApi;
  /** While a verify run is under way (beginSnapshot … endSnapshot): one answer per tag HEAD and tag list. */
  private readonly snapshot = new Snapshot();
  private readonly content: RunContent;
  private readonly manifests: Manifests;
  private readonly blobs: Blobs;
  private readonly referrersApi: Referrers;
  private readonly tags: Tags;

  constructor(opts: RegistryClientOptions = {}) {
    this.stats = opts.stats ?? new Stats();
    this.cache = opts.cache;
    this.http = new HttpTransport(this.stats, opts.http);
    this.auth = new Authenticator(this.http, opts.credentials ?? new ChainedCredentials([]));
    this.api = new RegistryApi(this.http, this.auth, opts.insecureRegistries);
    this.content = new RunContent(this.stats, this.cache);
    this.manifests = new Manifests(this.api, this.content, this.snapshot);
    this.blobs = new Blobs(this.api, this.content);
    this.referrersApi = new Referrers(this.api);
    this.tags = new Tags(this.api, this.snapshot);
  }

  /** Waits for the content still being written to the on-disk cache, then closes the connections. */
  async close(): Promise<void> {
    await this.content.flush();
    await this.http.close();
  }

  /** Closes at once, dropping the requests still under way (a run that failed waits for none of them). */
  async abort(): Promise<void> {
    await this.content.flush();
    await this.http.abort();
  }

  /** Starts a run's snapshot of tag answers (see single-flight.ts). */
  beginSnapshot(): void {
    this.snapshot.begin();
  }

  endSnapshot(): void {
    this.snapshot.end();
  }

  /** Announces the repositories a run will read, so one token can cover them all. */
  expectRepositories(repos: Repo[]): void {
    this.api.expectRepositories(repos);
  }

  endpoint(registry: string): Endpoint {
    return this.api.endpoint(registry);
  }

  /**
   * The digest a tag (or digest) points to, with one HEAD where the registry gives a
   * Docker-Content-Digest; otherwise the manifest is fetched and hashed.
   */
  headManifest(repo: Repo, reference: string): Promise<ManifestHead> {
    return this.manifests.head(repo, reference);
  }

  /** The digest a tag points to now, for drift checks that already know the digest they expect. */
  tagDigest(repo: Repo, tag: string, known?: string): Promise<string> {
    return this.manifests.tagDigest(repo, tag, known);
  }

  /**
   * A manifest by tag or digest, hashed and checked: by digest it must match; by tag a
   * Docker-Content-Digest header, when sent, must match what was served.
   */
  getManifest(repo: Repo, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    return this.manifests.get(repo, reference, expected);
  }

  /** A blob by descriptor, size-checked and hashed. Redirects to a CDN never carry credentials. */
  getBlob(repo: Repo, desc: Descriptor, maxBytes: number): Promise<Buffer> {
    return this.blobs.get(repo, desc, maxBytes);
  }

  /**
   * The OCI 1.1 referrers of a manifest: the status, and on a 200 that is an OCI index, the index
   * (every page of it). Any other answer means: use the `sha256-<hex>` fallback tag.
   */
  referrers(repo: Repo, digest: string): Promise<{ status: number; index?: ImageIndex }> {
    return this.referrersApi.list(repo, digest);
  }

  /** Every tag of a repository, following `Link: rel="next"` (relative to the request URL). */
  listTags(repo: Repo): Promise<string[]> {
    return this.tags.list(repo);
  }

  /**
   * Resolves a reference: tag → digest, index → the manifest for the first requested platform,
   * and that manifest's config. Every platform asked for must exist.
   */
  resolve(ref: ImageReference, platforms: Platform[] = [DEFAULT_PLATFORM]): Promise<Resolution> {
    return resolveReference(this, ref, platforms);
  }
}
