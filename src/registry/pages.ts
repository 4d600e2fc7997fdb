/**
 * The one pager for lists a registry splits with `Link: <…>; rel="next"` (the tag list, referrers):
 * each next page is asked relative to the answer that named it, must stay on the same host and in
 * the same repository, and a list stops after a bound so a registry that pages forever cannot hold
 * the run.
 */
import { ProtocolError } from '../errors.js';
import type { RegistryApi, RequestOptions } from './api.js';
import type { HttpResponse } from './http.js';
import type { Repo } from './types.js';

export interface PageOptions extends RequestOptions {
  /** Pages read at most, the first one included. */
  maxPages: number;
  /**
   * What a list that breaks the rules does: strict, a next link elsewhere or a list longer than
   * `maxPages` is a ProtocolError; lenient, the list ends where it is.
   */
  strict: boolean;
}

/**
 * The pages of a list: `first`, then every next page while the caller reads on. The caller judges
 * each page (and stops early by leaving the loop); a failed request throws.
 */
export async function* pages(api: RegistryApi, repo: Repo, first: HttpResponse, opts: PageOptions): AsyncGenerator<HttpResponse, void, undefined> {
  const { maxPages, strict, ...request } = opts;
  let res = first;
  for (let page = 1; ; page++) {
    yield res;
    const next = strict ? nextLink(res, repo) : safeNextLink(res, repo);
    if (!next) return;
    if (page >= maxPages) {
      if (strict) throw new ProtocolError(`${repo.registry}: tag list for ${repo.repository} never ends`, repo.registry);
      return;
    }
    res = await api.request(repo, 'GET', next, request);
  }
}

function safeNextLink(res: HttpResponse, repo: Repo): string | undefined {
  try {
    return nextLink(res, repo);
  } catch {
    return undefined;
  }
}

/** The next page's path below `/v2/<repository>/`, from the `Link` header; none on the last page. */
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
