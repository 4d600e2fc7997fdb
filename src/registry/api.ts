/**
 * Requests to a repository's API (`/v2/<repository>/…`): the endpoint (https, or http for loopback
 * and insecure registries), the token scope (one token for every repository a run expects), the
 * first request per registry going alone, the 401 → token → retry steps, and the registry's error
 * answers turned into errors a user can act on.
 */
import { AuthError, NotFoundError, RegistryError } from '../errors.js';
import { printable } from '../printable.js';
import type { Authenticator, Endpoint } from './auth.js';
import { FirstGate } from './first-gate.js';
import type { HttpResponse, HttpTransport } from './http.js';
import { apiHost, isLoopbackHost } from './reference.js';
import type { Repo } from './types.js';

/** Repositories asked for in one token request at most (URL length, token size). */
export const MAX_SCOPES_PER_TOKEN = 25;

export interface RequestOptions {
  accept?: string;
  maxBytes: number;
  headers?: Record<string, string>;
}

export class RegistryApi {
  private readonly insecure: Set<string>;
  /** The first request to each registry, while it is under way (see first-gate.ts). */
  private readonly firstRequest = new FirstGate();
  /**
   * Repositories each registry is expected to be asked about in this run: one token is requested
   * for all of them (several `scope` parameters), where the token service grants that. A repository
   * the shared token turned out not to cover gets its own token (`solo`).
   */
  private readonly expected = new Map<string, Set<string>>();
  /** Each registry's expected repositories in order, made once (not on every request of a drift over thousands). */
  private readonly sortedExpected = new Map<string, string[]>();
  private readonly solo = new Set<string>();

  constructor(
    private readonly http: HttpTransport,
    private readonly auth: Authenticator,
    insecureRegistries: string[] = [],
  ) {
    this.insecure = new Set(insecureRegistries.map((r) => r.toLowerCase()));
  }

  /** Announces the repositories a run will read, so one token can cover them all (see `expected`). */
  expectRepositories(repos: Repo[]): void {
    for (const r of repos) {
      let set = this.expected.get(r.registry);
      if (!set) this.expected.set(r.registry, (set = new Set()));
      set.add(r.repository);
      this.sortedExpected.delete(r.registry);
    }
  }

  /** The token scope for a request to `repo`: every expected repository of its registry, or its own. */
  private scopeFor(repo: Repo): string {
    const own = `repository:${repo.repository}:pull`;
    const set = this.expected.get(repo.registry);
    if (!set?.has(repo.repository) || this.solo.has(`${repo.registry}/${repo.repository}`)) return own;
    // The same scope set every time (solo repositories included), so the shared token stays one;
    // a long list (a drift ledger) is split into fixed groups, so the token request stays short.
    let sorted = this.sortedExpected.get(repo.registry);
    if (!sorted) this.sortedExpected.set(repo.registry, (sorted = [...set].sort()));
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
  async request(repo: Repo, method: 'GET' | 'HEAD', path: string, opts: RequestOptions): Promise<HttpResponse> {
    const ep = this.endpoint(repo.registry);
    const scope = this.scopeFor(repo);
    const url = new URL(`/v2/${repo.repository}/${path}`, ep.base);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.accept) headers['accept'] = opts.accept;
    return this.firstRequest.run(repo.registry, () => this.authenticated(repo, ep, scope, method, url, headers, opts.maxBytes));
  }

  private async authenticated(repo: Repo, ep: Endpoint, scopeWanted: string, method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>, maxBytes: number): Promise<HttpResponse> {
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
      auth = await this.auth.onUnauthorized(ep, scope, res, auth !== undefined, auth);
    }
  }
}

interface ErrorBody {
  code: string;
  message: string;
}

/** The `errors` a registry put in an answer's body (distribution spec), printable; none if it is not that. */
export function registryErrors(res: HttpResponse): ErrorBody[] {
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

/** The error for an answer that is not the one wanted: not found, rate limited, or the status. */
export function fail(res: HttpResponse, repo: Repo, what: string): never {
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

/** `registry/repository:tag` or `registry/repository@digest`, for messages. */
export function refName(repo: Repo, reference: string): string {
  return `${repo.registry}/${repo.repository}${reference.includes(':') ? '@' : ':'}${reference}`;
}
