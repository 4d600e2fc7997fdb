/**
 * The OCI 1.1 referrers endpoint (`GET /v2/<repo>/referrers/<digest>`), with every page of its
 * answer, and what one registry's answer says about the API for the rest of the run.
 */
import { validateDigest } from './reference.js';
import { registryErrors, refName, type RegistryApi, type RequestOptions } from './api.js';
import { FirstGate } from './first-gate.js';
import type { HttpResponse } from './http.js';
import { MANIFEST_MAX_BYTES, MEDIA_TYPES, parseManifest, type ImageIndex } from './manifest.js';
import { pages } from './pages.js';
import type { Repo } from './types.js';

/** How many pages of referrers are read for one digest at most. */
const REFERRERS_MAX_PAGES = 16;

export class Referrers {
  /**
   * Registries whose referrers API answered 404 in this run. The distribution spec (v1.1) says a
   * registry that supports the API MUST NOT answer it with 404, so the answer holds for every digest
   * of that registry and the API is not asked again (the `sha256-<hex>` fallback tag is). Kept in
   * memory for the run only: a registry can be upgraded.
   */
  private readonly noReferrersApi = new Set<string>();
  /** The first referrers lookup per registry goes alone, so concurrent lookups can learn from its answer. */
  private readonly firstLookup = new FirstGate();

  constructor(private readonly api: RegistryApi) {}

  /**
   * The referrers of a manifest: the status, and on a 200 that is an OCI index, the index. The
   * registry generates it, so it has no digest to check; every manifest it lists must be fetched by
   * digest (getManifest verifies it). Any other answer (distribution 2.8 says 404) means: use the
   * `sha256-<hex>` fallback tag.
   */
  async list(repo: Repo, digest: string): Promise<{ status: number; index?: ImageIndex }> {
    validateDigest(digest);
    const request: RequestOptions = { accept: MEDIA_TYPES.ociIndex, maxBytes: MANIFEST_MAX_BYTES };
    const res = await this.firstLookup.run(repo.registry, async () => {
      if (this.noReferrersApi.has(repo.registry)) return undefined;
      const res = await this.api.request(repo, 'GET', `referrers/${digest}`, request);
      // A 404 that is a registry error (NAME_UNKNOWN: the repository does not exist) says nothing
      // about the API; a bare 404 (distribution 2.8's router) says it is not there.
      if (res.status === 404 && registryErrors(res).length === 0) this.noReferrersApi.add(repo.registry);
      return res;
    });
    if (!res) return { status: 404 };
    if (res.status !== 200) return { status: res.status };
    // Later pages (`Link: rel="next"`), up to a bound; a page that fails or leaves the repository
    // ends the list. Stopping early can only hide signatures, which fails an image, never passes it.
    let first: ImageIndex | undefined;
    const manifests: ImageIndex['manifests'] = [];
    for await (const page of pages(this.api, repo, res, { ...request, maxPages: REFERRERS_MAX_PAGES, strict: false })) {
      const index = page.status === 200 ? referrersPage(page, repo, digest) : undefined;
      if (!index) break;
      first ??= index;
      manifests.push(...index.manifests);
    }
    return first ? { status: 200, index: { ...first, manifests } } : { status: 200 };
  }
}

function referrersPage(res: HttpResponse, repo: Repo, digest: string): ImageIndex | undefined {
  try {
    const m = parseManifest(res.body, `${refName(repo, digest)} referrers`, { contentType: res.headers['content-type'] });
    return m.kind === 'index' ? m : undefined;
  } catch {
    return undefined;
  }
}
