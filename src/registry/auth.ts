/**
 * Registry authentication: anonymous, Basic, and the Bearer token flow from `WWW-Authenticate`
 * (realm/service/scope). Tokens are cached per realm, service, scope set and credential until
 * shortly before they expire. What a registry asked for once is remembered, so later requests
 * carry credentials up front instead of paying a 401 each time.
 */
import { AuthError, ProtocolError, RegistryError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { Credential, CredentialSource } from './credentials.js';
import type { HttpResponse, HttpTransport } from './http.js';
import { isLoopbackHost } from './reference.js';

const TOKEN_MAX_BYTES = 1024 * 1024;
/**
 * A bearer token longer than this is refused: it would go out in an Authorization header on every
 * request, and proxies and registries cap request headers well below it (nginx at 8 KiB a line).
 */
const TOKEN_MAX_CHARS = 32 * 1024;
const DEFAULT_TOKEN_TTL_S = 60;
const EXPIRY_SKEW_S = 30;

interface RegistryAuthState {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Where a registry's API lives: its name, and the base URL (scheme + host). */
export interface Endpoint {
  registry: string;
  base: URL;
}

export class Authenticator {
  private readonly state = new Map<string, RegistryAuthState>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  /** Token requests made, for tests and --stats. */
  tokenRequests = 0;

  constructor(
    private readonly http: HttpTransport,
    private readonly credentials: CredentialSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header to send up front, when the registry's scheme is already known. */
  async authorization(ep: Endpoint, scope: string): Promise<string | undefined> {
    const st = this.state.get(ep.registry);
    if (!st) return undefined;
    const cred = await this.credentials.get(ep.registry);
    if (st.scheme === 'basic') return cred?.kind === 'basic' ? basicHeader(cred) : undefined;
    if (cred?.kind === 'registry-token') return `Bearer ${cred.token}`;
    const t = await this.token(ep, st, scope, cred, false);
    return `Bearer ${t.token}`;
  }

  /**
   * A 401 came back: learns the scheme from the challenge and returns the header to retry with.
   * `fresh` asks for a new token even when a cached one has not expired (the registry called it
   * invalid or short of scope); a refused Basic or static credential is final. `refused` is the
   * Authorization header the registry refused: when the cached token is already another one (a
   * request in flight beside this one renewed it), that one is used, so the requests refused
   * together renew the token once.
   */
  async onUnauthorized(ep: Endpoint, scope: string, res: HttpResponse, fresh: boolean, refused?: string): Promise<string> {
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const cred = await this.credentials.get(ep.registry);
    if (bearer) {
      const realm = bearer.params['realm'];
      if (!realm) throw new ProtocolError(`${ep.registry}: Bearer challenge without a realm`, ep.registry, 401);
      const st: RegistryAuthState = { scheme: 'bearer', realm, service: bearer.params['service'] };
      this.state.set(ep.registry, st);
      if (cred?.kind === 'registry-token') {
        if (fresh) throw await this.refusal(ep, res);
        return `Bearer ${cred.token}`;
      }
      // The challenge names what this request needs; a wider scope asked for (several repositories
      // in one token) is kept when it includes that.
      const wanted = challengeScope(bearer);
      const t = await this.token(ep, st, wanted && !covers(scope, wanted) ? wanted : scope, cred, fresh, refused);
      return `Bearer ${t.token}`;
    }
    if (basic) {
      this.state.set(ep.registry, { scheme: 'basic' });
      if (!cred || fresh) throw await this.refusal(ep, res);
      if (cred.kind !== 'basic') throw new AuthError(`${ep.registry} asks for Basic auth but the credential from ${cred.origin} is a token`, ep.registry, 401);
      return basicHeader(cred);
    }
    throw new AuthError(`${ep.registry} answered 401 without a usable WWW-Authenticate challenge`, ep.registry, 401);
  }

  /** The error for a request the registry still refuses after authenticating. */
  async refusal(ep: Endpoint, res: HttpResponse): Promise<AuthError> {
    const cred = await this.credentials.get(ep.registry);
    const err = parseChallenges(res.headers['www-authenticate']).find((c) => c.params['error'])?.params['error'];
    return new AuthError(
      cred
        ? `${ep.registry} refused the credentials from ${cred.origin}${err ? ` (${err})` : ''}; check the username, password and access to the repository`
        : (this.missingCredentials(ep.registry) ??
            `${ep.registry} requires credentials${err ? ` (${err})` : ''}: run docker login ${ep.registry}, set registry.username/password in the Kamal config, or pass --registry-username and --registry-password-stdin`),
      ep.registry,
      res.status,
    );
  }

  /** The Kamal config names credentials for `registry` whose password is missing: that is the cause of a refusal, said first. */
  private missingCredentials(registry: string): string | undefined {
    const why = this.credentials.missing?.(registry);
    return why === undefined ? undefined : `${registry} requires credentials, and the Kamal config's are incomplete: ${why}`;
  }

  private async token(ep: Endpoint, st: RegistryAuthState, scope: string, cred: Credential | undefined, fresh: boolean, refused?: string): Promise<CachedToken> {
    const key = tokenKey(st, scope, cred);
    const cached = this.tokens.get(key);
    const renewed = fresh && refused !== undefined && cached !== undefined && `Bearer ${cached.token}` !== refused;
    if (cached && (!fresh || renewed) && cached.expiresAt > this.now()) return cached;
    if (fresh) this.tokens.delete(key);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(ep, st, scope, cred).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const t = await p;
    this.tokens.set(key, t);
    return t;
  }

  private async fetchToken(ep: Endpoint, st: RegistryAuthState, scope: string, cred: Credential | undefined): Promise<CachedToken> {
    const realm = this.checkRealm(ep, st.realm!);
    const headers: Record<string, string> = { accept: 'application/json' };
    let res: HttpResponse;
    this.tokenRequests++;
    if (cred?.kind === 'identity-token') {
      // OAuth2 refresh-token grant: the only way to use an identity token.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.token, client_id: 'kamal-gate' });
      if (st.service) form.set('service', st.service);
      if (scope) form.set('scope', scope);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      res = await this.http.send({ method: 'POST', url: realm, headers, body: form.toString(), maxBytes: TOKEN_MAX_BYTES, registry: ep.registry });
    } else {
      const url = new URL(realm);
      if (st.service) url.searchParams.set('service', st.service);
      for (const s of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', s);
      if (cred?.kind === 'basic') headers['authorization'] = basicHeader(cred);
      res = await this.http.send({ method: 'GET', url, headers, maxBytes: TOKEN_MAX_BYTES, registry: ep.registry });
    }
    if (res.status === 401 || res.status === 403) {
      throw new AuthError(
        cred
          ? `${ep.registry}: the token service ${realm.host} refused the credentials from ${cred.origin}; check the username and password`
          : (this.missingCredentials(ep.registry) ??
              `${ep.registry}: the token service ${realm.host} refused anonymous access to ${scope || 'the registry'}; log in (docker login ${ep.registry}) or pass --registry-username`),
        ep.registry,
        res.status,
      );
    }
    if (res.status !== 200) {
      throw new RegistryError(`${ep.registry}: the token service ${realm.host} answered ${res.status}`, ep.registry, res.status);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body;
    } catch {
      throw new ProtocolError(`${ep.registry}: the token service returned something that is not JSON`, ep.registry);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ProtocolError(`${ep.registry}: the token service returned JSON that is not an object`, ep.registry);
    }
    const token = typeof body.token === 'string' && body.token ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (!token || !/^[\x21-\x7e]+$/.test(token)) {
      throw new ProtocolError(`${ep.registry}: the token service returned no usable token`, ep.registry);
    }
    if (token.length > TOKEN_MAX_CHARS) {
      throw new ProtocolError(`${ep.registry}: the token service ${realm.host} returned a ${token.length}-character token, over the ${TOKEN_MAX_CHARS}-character limit; refusing it`, ep.registry);
    }
    registerSecret(token);
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_TTL_S;
    const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
    const start = Number.isNaN(issued) ? this.now() : Math.min(issued, this.now());
    const skew = Math.min(EXPIRY_SKEW_S, ttl / 2);
    return { token, expiresAt: start + (ttl - skew) * 1000 };
  }

  /**
   * The realm comes from the registry, so it is not trusted blindly: plain http only when the
   * registry itself is plain http, and no loopback realm for a registry that is not on loopback.
   */
  private checkRealm(ep: Endpoint, realm: string): URL {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ProtocolError(`${ep.registry}: token realm "${realm}" is not a URL`, ep.registry);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ep.base.protocol === 'http:')) {
      throw new ProtocolError(`${ep.registry}: refusing token realm ${url.origin}: it must be https`, ep.registry);
    }
    if (isLoopbackHost(url.host) && !isLoopbackHost(ep.base.host)) {
      throw new ProtocolError(`${ep.registry}: refusing token realm on loopback (${url.host}) for a remote registry`, ep.registry);
    }
    if (url.username || url.password) throw new ProtocolError(`${ep.registry}: token realm must not carry credentials`, ep.registry);
    return url;
  }
}

function challengeScope(c: Challenge): string | undefined {
  const s = c.params['scope'];
  return s && s.trim() ? s.trim() : undefined;
}

/** Whether every scope in `wanted` is one of the scopes in `scope` (both space-separated). */
function covers(scope: string, wanted: string): boolean {
  const have = new Set(scope.split(' ').filter(Boolean));
  return wanted
    .split(' ')
    .filter(Boolean)
    .every((s) => have.has(s));
}

function tokenKey(st: RegistryAuthState, scope: string, cred: Credential | undefined): string {
  const who = !cred ? 'anonymous' : cred.kind === 'basic' ? `basic:${cred.username}` : `${cred.kind}:${cred.origin}`;
  const scopes = scope.split(' ').filter(Boolean).sort().join(' ');
  return `${st.realm}|${st.service ?? ''}|${scopes}|${who}`;
}

function basicHeader(cred: Extract<Credential, { kind: 'basic' }>): string {
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
}
