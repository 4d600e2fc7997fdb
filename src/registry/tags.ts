/**
 * The tag list endpoint: every tag of a repository, page after page. While a run's snapshot is open
 * a repository's list is asked for once.
 */
import { ProtocolError } from '../errors.js';
import { fail, type RegistryApi, type RequestOptions } from './api.js';
import { MANIFEST_MAX_BYTES } from './manifest.js';
import { pages } from './pages.js';
import type { Snapshot } from './single-flight.js';
import type { Repo } from './types.js';

/** Pages of one tag list at most: a list longer than this is a registry that never ends it. */
const TAGS_MAX_PAGES = 10_000;

export class Tags {
  constructor(
    private readonly api: RegistryApi,
    private readonly snapshot: Snapshot,
  ) {}

  /** Every tag of a repository, following `Link: rel="next"` (relative to the request URL). */
  list(repo: Repo): Promise<string[]> {
    return this.snapshot.run(`t|${repo.registry}/${repo.repository}`, () => this.listNow(repo));
  }

  private async listNow(repo: Repo): Promise<string[]> {
    const tags: string[] = [];
    const request: RequestOptions = { maxBytes: MANIFEST_MAX_BYTES, headers: { accept: 'application/json' } };
    const first = await this.api.request(repo, 'GET', 'tags/list?n=1000', request);
    for await (const res of pages(this.api, repo, first, { ...request, maxPages: TAGS_MAX_PAGES, strict: true })) {
      if (res.status !== 200) fail(res, repo, `${repo.registry}/${repo.repository} tags`);
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(res.body.toString('utf8')) as typeof doc;
      } catch {
        throw new ProtocolError(`${repo.registry}: tag list for ${repo.repository} is not JSON`, repo.registry);
      }
      if (typeof doc !== 'object' || doc === null) throw new ProtocolError(`${repo.registry}: tag list for ${repo.repository} is not a JSON object`, repo.registry);
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === 'string') tags.push(t);
    }
    return tags;
  }
}
