/**
 * A Docker token server (distribution `docs/spec/auth/token.md`) for the test registry's token
 * auth: GET /token?service=…&scope=…(&scope=…) with optional Basic credentials answers
 * {token, access_token, expires_in, issued_at}; the token is an ES256 JWT whose header carries the
 * self-signed certificate (x5c) that the registry trusts through `auth.token.rootcertbundle`.
 * Listens on 127.0.0.1 on a random port; stop() closes it.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

type Action = 'pull' | 'push' | 'delete' | '*';

/** One access entry: the JWT `access` claim and the parsed form of a requested scope. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** A grant in an ACL: a repository (exact name, or a pattern with `*` matching any characters) and the actions allowed there. */
export interface AclRule {
  repository: string;
  actions: Action[];
}

export interface TokenServerOptions {
  /** username → password; these users are granted pull, push and delete everywhere unless `acl` restricts them */
  users: Record<string, string>;
  /** username → rules. A user listed here gets only what the rules grant (so tests can produce insufficient_scope). */
  acl?: Record<string, AclRule[]>;
  /** anonymous requests (no Authorization) get pull on every repository; without this they get 401 */
  anonymousPull?: boolean;
  /** `expires_in` and the JWT lifetime; default 300. The registry allows 60 s of leeway past `exp`. */
  ttlSeconds?: number;
  service: string;
  issuer: string;
  /** directory to write key.pem and cert.pem into (the caller owns and removes it) */
  dir: string;
}

interface TokenRequest {
  /** the authenticated user, or '' for anonymous */
  account: string;
  service: string;
  /** every scope asked for, each one `type:name:actions` */
  scopes: string[];
  /** HTTP status answered */
  status: number;
  /** what the token granted (empty on refusal) */
  granted: Access[];
  /** the token issued (absent on refusal): tests check it never leaks */
  token?: string;
}

export interface TokenServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** url + '/token', the registry's auth.token.realm */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate path: the registry's rootcertbundle */
  certPath: string;
  /** HTTP requests to /token so far (refused ones included). Tokens from mint() are not counted. */
  requests: number;
  /** every scope requested over HTTP so far, in order, one `type:name:actions` string per scope */
  scopes: string[];
  /** one entry per HTTP request */
  log: TokenRequest[];
  /** zero `requests`, empty `scopes` and `log` (e.g. after setting up images, before the code under test runs) */
  reset(): void;
  /** Sign a token directly, without HTTP and without ACL checks (for the test harness's own pushes). */
  mint(subject: string, access: Access[], ttlSeconds?: number): string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * Parses one scope (`type:name:actions`). The name may contain `host:port`, so the type ends at the
 * first colon and the actions start after the last one.
 */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return re.test(name);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Generates a P-256 key and a self-signed certificate with openssl into `dir`. */
async function makeKeyAndCert(dir: string): Promise<{ key: KeyObject; certPath: string; certDerB64: string }> {
  const keyPath = join(dir, 'token-key.pem');
  const certPath = join(dir, 'token-cert.pem');
  await execFileAsync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPath]);
  await execFileAsync('openssl', ['req', '-x509', '-new', '-key', keyPath, '-sha256', '-days', '3650', '-subj', '/CN=kamal-gate-test-token-signer', '-out', certPath]);
  const key = createPrivateKey(await readFile(keyPath));
  const cert = new X509Certificate(await readFile(certPath));
  return { key, certPath, certDerB64: cert.raw.toString('base64') };
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const { key, certPath, certDerB64 } = await makeKeyAndCert(opts.dir);
  const ttl = opts.ttlSeconds ?? 300;

  const mint = (subject: string, access: Access[], ttlSeconds = ttl): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [certDerB64] };
    const claims = {
      iss: opts.issuer,
      sub: subject,
      aud: opts.service,
      exp: now + ttlSeconds,
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${b64url(signature)}`;
  };

  /** What `account` may do on repository `name` (anonymous = ''). */
  const allowed = (account: string, type: string, name: string): string[] => {
    if (account === '') return type === 'repository' && opts.anonymousPull ? ['pull'] : [];
    if (type === 'registry') return name === 'catalog' ? ['*'] : [];
    if (type !== 'repository') return [];
    const rules = opts.acl?.[account];
    if (!rules) return ['pull', 'push', 'delete'];
    const actions = new Set<string>();
    for (const rule of rules) {
      if (!globMatch(rule.repository, name)) continue;
      for (const a of rule.actions) {
        if (a === '*') ['pull', 'push', 'delete'].forEach((x) => actions.add(x));
        else actions.add(a);
      }
    }
    return [...actions];
  };

  const state: TokenServer = {
    url: '',
    realm: '',
    service: opts.service,
    issuer: opts.issuer,
    certPath,
    requests: 0,
    scopes: [],
    log: [],
    reset() {
      state.requests = 0;
      state.scopes.length = 0;
      state.log.length = 0;
    },
    mint,
    stop: async () => {},
  };

  const refuse = (res: ServerResponse, entry: TokenRequest, status: number, code: string, message: string) => {
    entry.status = status;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 401) headers['www-authenticate'] = `Basic realm="${opts.service}"`;
    res.writeHead(status, headers);
    res.end(JSON.stringify({ errors: [{ code, message }] }));
  };

  const server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/token') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    const service = url.searchParams.get('service') ?? '';
    const entry: TokenRequest = { account: '', service, scopes, status: 0, granted: [] };
    state.requests++;
    state.scopes.push(...scopes);
    state.log.push(entry);

    const authz = req.headers.authorization;
    if (authz !== undefined) {
      const m = /^Basic\s+(\S+)$/i.exec(authz);
      const decoded = m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      const user = colon > 0 ? decoded.slice(0, colon) : '';
      const password = colon > 0 ? decoded.slice(colon + 1) : '';
      const expected = opts.users[user];
      if (!m || expected === undefined || !safeEqual(password, expected)) {
        refuse(res, entry, 401, 'UNAUTHORIZED', 'invalid username or password');
        return;
      }
      entry.account = user;
    } else if (!opts.anonymousPull) {
      refuse(res, entry, 401, 'UNAUTHORIZED', 'authentication required');
      return;
    }
    if (service !== opts.service) {
      refuse(res, entry, 400, 'INVALID_REQUEST', `unknown service "${service}"`);
      return;
    }

    // The token grants the intersection of what was asked and what is allowed (never an error for less).
    for (const scope of scopes) {
      const asked = parseScope(scope);
      if (!asked) continue;
      const may = allowed(entry.account, asked.type, asked.name);
      const actions = asked.actions.filter((a) => may.includes(a) || may.includes('*'));
      if (actions.length > 0) entry.granted.push({ type: asked.type, name: asked.name, actions });
    }
    const token = mint(entry.account, entry.granted);
    entry.token = token;
    entry.status = 200;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: ttl, issued_at: new Date().toISOString() }));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${port}`;
  state.realm = `${state.url}/token`;
  let stopping: Promise<void> | undefined;
  state.stop = () => {
    stopping ??= new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
    return stopping;
  };
  return state;
}
