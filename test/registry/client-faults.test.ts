import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, DigestMismatchError, NotFoundError, ProtocolError, RegistryError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/client.js';
import { StaticCredentials, basicCredential } from '../../src/registry/credentials.js';
import { parseReference } from '../../src/registry/reference.js';
import { fakeImage, honest, sha256, startFakeServer, type FakeServer } from '../helpers/fake-registry.js';

const servers: FakeServer[] = [];
const clients: RegistryClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function setup(handler: Parameters<typeof startFakeServer>[0], opts: ConstructorParameters<typeof RegistryClient>[0] = {}) {
  const server = await startFakeServer(handler);
  servers.push(server);
  const client = new RegistryClient({ http: { retryBaseMs: 5, timeoutMs: 5000 }, ...opts });
  clients.push(client);
  return { server, client, ref: (r: string) => parseReference(`${server.host}/${r}`) };
}

describe('the client refuses what does not match its digest', () => {
  it('resolves an honest registry', async () => {
    const img = fakeImage({ created: '2026-10-01T12:00:00Z' });
    const { client, ref } = await setup(honest('app', 'v1', img));
    const r = await client.resolve(ref('app:v1'));
    expect(r.digest).toBe(img.manifestDigest);
    expect(r.config?.created).toBe('2026-10-01T12:00:00Z');
    expect(r.config?.labels).toEqual({ service: 'app' });
  });

  it('refuses a tag whose Docker-Content-Digest disagrees with the body', async () => {
    const img = fakeImage();
    const other = fakeImage({ created: '2020-01-01T00:00:00Z' });
    const { client, ref } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': img.mediaType, 'docker-content-digest': other.manifestDigest });
      res.end(img.manifest);
    });
    const err = await client.resolve(ref('app:v1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toContain(other.manifestDigest);
    expect((err as DigestMismatchError).exitCode).toBe(3);
  });

  it('refuses a manifest fetched by digest whose bytes hash differently', async () => {
    const img = fakeImage();
    const evil = fakeImage({ labels: { backdoor: 'yes' } });
    const { client, ref } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': img.mediaType });
      res.end(evil.manifest);
    });
    await expect(client.resolve(ref(`app@${img.manifestDigest}`))).rejects.toThrow(DigestMismatchError);
  });

  it('refuses a config blob that does not match the manifest', async () => {
    const img = fakeImage();
    const { client, ref } = await setup((req, res) => {
      if (req.url?.includes('/blobs/')) {
        const fake = Buffer.alloc(img.config.length, 'x');
        res.writeHead(200, { 'content-length': fake.length });
        return void res.end(fake);
      }
      return honest('app', 'v1', img)(req, res, Buffer.alloc(0));
    });
    const err = await client.resolve(ref('app:v1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toContain(img.configDigest);
  });

  it('refuses a manifest over 4 MiB without reading it all', async () => {
    const { client, ref } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': 5 * 1024 * 1024 });
      res.end(Buffer.alloc(5 * 1024 * 1024, ' '));
    });
    await expect(client.resolve(ref('app:v1'))).rejects.toThrow(/over the 4194304-byte limit/);
  });

  it('refuses a body that ends early (truncated)', async () => {
    const img = fakeImage();
    const { client, ref } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': img.mediaType, 'content-length': img.manifest.length });
      res.write(img.manifest.subarray(0, 20));
      res.destroy();
    });
    await expect(client.resolve(ref('app:v1'))).rejects.toBeInstanceOf(RegistryError);
  });
});

describe('errors name the ref and say what to do', () => {
  it('unknown tag is NotFoundError (exit 3) naming the ref', async () => {
    const { client, ref, server } = await setup(honest('app', 'v1', fakeImage()));
    const err = await client.resolve(ref('app:v2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain(`${server.host}/app:v2`);
  });

  it('a HEAD 404 is confirmed with a GET before calling the tag missing', async () => {
    const { client, ref, server } = await setup(honest('app', 'v1', fakeImage()));
    await expect(client.headManifest(ref('app:nope'), 'nope')).rejects.toBeInstanceOf(NotFoundError);
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD', 'GET']);
  });

  it('an unreachable registry is a RegistryError saying so', async () => {
    const { client, server } = await setup(honest('app', 'v1', fakeImage()));
    await server.stop();
    const err = await client.resolve(parseReference(`${server.host}/app:v1`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/refused the connection|failed/);
  });
});

describe('network behaviour', () => {
  it('retries 503 and 429 (honouring Retry-After), then succeeds', async () => {
    const img = fakeImage();
    let n = 0;
    const ok = honest('app', 'v1', img);
    const { client, ref } = await setup((req, res, body) => {
      n++;
      if (n === 1) return void res.writeHead(503).end();
      if (n === 2) return void res.writeHead(429, { 'retry-after': '0' }).end();
      return ok(req, res, body);
    });
    const r = await client.resolve(ref('app:v1'));
    expect(r.digest).toBe(img.manifestDigest);
    expect(n).toBe(4); // 2 failures + manifest + config
  });

  it('gives up after bounded retries on a 429 storm', async () => {
    const { client, ref, server } = await setup((_req, res) => void res.writeHead(429, { 'retry-after': '0' }).end());
    const err = await client.resolve(ref('app:v1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/rate limiting/);
    expect(server.requests.length).toBe(4);
  });

  it('does not wait for a Retry-After beyond the limit', async () => {
    const { client, ref, server } = await setup((_req, res) => void res.writeHead(429, { 'retry-after': '3600' }).end());
    await expect(client.resolve(ref('app:v1'))).rejects.toThrow(/Retry-After 3600/);
    expect(server.requests.length).toBe(1);
  });

  it('never sends Authorization to another host on a redirect, and still verifies the blob', async () => {
    const img = fakeImage();
    const cdn = await startFakeServer((_req, res) => {
      res.writeHead(200, { 'content-length': img.config.length });
      res.end(img.config);
    });
    servers.push(cdn);
    const creds = new StaticCredentials();
    const inner = honest('app', 'v1', img);
    const { client, ref, server } = await setup(
      (req, res, body) => {
        if (!req.headers.authorization) {
          return void res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
        }
        if (req.url?.includes('/blobs/')) return void res.writeHead(307, { location: `${cdn.url}/blob-store/x` }).end();
        return inner(req, res, body);
      },
      { credentials: creds },
    );
    creds.set(server.host, basicCredential('u', 'sekrit-password', 'test'));
    const r = await client.resolve(ref('app:v1'));
    expect(r.config?.digest).toBe(img.configDigest);
    expect(cdn.requests.length).toBe(1);
    expect(cdn.requests[0]!.headers.authorization).toBeUndefined();
    expect(server.requests.some((q) => q.headers.authorization?.startsWith('Basic '))).toBe(true);
  });

  it('stops a redirect loop', async () => {
    const { client, ref } = await setup((req, res) => void res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' }).end());
    await expect(client.resolve(ref('app:v1'))).rejects.toThrow(/redirect loop|too many redirects/);
  });

  it('refuses a redirect to a non-http scheme', async () => {
    const { client, ref } = await setup((_req, res) => void res.writeHead(302, { location: 'file:///etc/passwd' }).end());
    await expect(client.resolve(ref('app:v1'))).rejects.toBeInstanceOf(ProtocolError);
  });

  it('times out a body that drips', async () => {
    const img = fakeImage();
    const { ref } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': img.mediaType, 'content-length': img.manifest.length });
      res.write(img.manifest.subarray(0, 1));
      // never finishes
    });
    const client = new RegistryClient({ http: { timeoutMs: 300, maxRetries: 0 } });
    clients.push(client);
    await expect(client.resolve(ref('app:v1'))).rejects.toThrow(/did not answer|failed/);
  });
});

describe('authentication', () => {
  it('lets only the first request to a registry meet the 401; concurrent ones wait and reuse the answer', async () => {
    const img = fakeImage();
    const inner = honest('app', 'v1', img);
    let unauthorized = 0;
    const creds = new StaticCredentials();
    const { client, ref, server } = await setup(
      (req, res, body) => {
        if (!req.headers.authorization) {
          unauthorized++;
          return void res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        }
        return inner(req, res, body);
      },
      { credentials: creds },
    );
    creds.set(server.host, basicCredential('u', 'pw-123456', 'test'));
    const results = await Promise.all([client.resolve(ref('app:v1')), client.resolve(ref('app:v1')), client.resolve(ref(`app@${img.manifestDigest}`))]);
    expect(results.map((r) => r.digest)).toEqual([img.manifestDigest, img.manifestDigest, img.manifestDigest]);
    expect(unauthorized).toBe(1);
    // 1 × 401, 2 × GET by tag, at most 1 × GET by digest (none when a tag GET has already brought
    // those bytes), 1 × config shared by all three.
    expect(server.requests.length).toBeGreaterThanOrEqual(4);
    expect(server.requests.length).toBeLessThanOrEqual(5);
    expect(server.requests.filter((r) => r.path.includes('/blobs/')).length).toBe(1);
  });

  it('fails clearly when a Basic registry gets no credentials', async () => {
    const { client, ref, server } = await setup((_req, res) => void res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end());
    const err = await client.resolve(ref('app:v1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toContain(`docker login ${server.host}`);
  });

  it('uses an identity token through the OAuth2 refresh-token grant (POST)', async () => {
    const img = fakeImage();
    const inner = honest('app', 'v1', img);
    let posted = '';
    const creds = new StaticCredentials();
    const { client, ref, server } = await setup(
      (req, res, body) => {
        if (req.url === '/oauth2/token' && req.method === 'POST') {
          posted = body.toString();
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'acc-token-1', expires_in: 300 }));
        }
        if (req.headers.authorization !== 'Bearer acc-token-1') {
          return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/oauth2/token",service="fake"` }).end();
        }
        return inner(req, res, body);
      },
      { credentials: creds },
    );
    creds.set(server.host, { kind: 'identity-token', token: 'refresh-abc', origin: 'test' });
    const r = await client.resolve(ref('app:v1'));
    expect(r.digest).toBe(img.manifestDigest);
    const form = new URLSearchParams(posted);
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.get('refresh_token')).toBe('refresh-abc');
    expect(form.get('scope')).toBe('repository:app:pull');
    expect(form.get('service')).toBe('fake');
  });

  it('refuses a plain-http token realm for an https registry', async () => {
    const { client } = await setup(() => {});
    const ep = { registry: 'ghcr.io', base: new URL('https://ghcr.io') };
    const res = { status: 401, headers: { 'www-authenticate': 'Bearer realm="http://127.0.0.1:1/token",service="x"' }, body: Buffer.alloc(0), url: new URL('https://ghcr.io/v2/') };
    await expect(client.auth.onUnauthorized(ep, 'repository:a:pull', res, false)).rejects.toThrow(/must be https/);
  });
});

describe('tagDigest (drift)', () => {
  it('asks with If-None-Match and takes a 304 as unchanged, with no body', async () => {
    const img = fakeImage();
    const { client, server } = await setup((req, res) => {
      if (req.headers['if-none-match'] === `"${img.manifestDigest}"`) return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': img.mediaType, 'docker-content-digest': img.manifestDigest });
      res.end(img.manifest);
    });
    const repo = { registry: server.host, repository: 'app' };
    expect(await client.tagDigest(repo, 'v1', img.manifestDigest)).toBe(img.manifestDigest);
    expect(server.requests.map((r) => [r.method, r.headers['if-none-match']])).toEqual([['GET', `"${img.manifestDigest}"`]]);
  });

  it('hashes the body when the tag moved, or when the registry ignores If-None-Match', async () => {
    const old = fakeImage({ created: '2020-01-01T00:00:00Z' });
    const now = fakeImage();
    const { client, server } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': now.mediaType });
      res.end(now.manifest);
    });
    expect(await client.tagDigest({ registry: server.host, repository: 'app' }, 'v1', old.manifestDigest)).toBe(now.manifestDigest);
  });

  it('refuses a moved tag whose body does not match its Docker-Content-Digest', async () => {
    const old = fakeImage({ created: '2020-01-01T00:00:00Z' });
    const now = fakeImage();
    const { client, server } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': now.mediaType, 'docker-content-digest': old.manifestDigest });
      res.end(now.manifest);
    });
    await expect(client.tagDigest({ registry: server.host, repository: 'app' }, 'v1', old.manifestDigest)).rejects.toThrow(DigestMismatchError);
  });

  it('without a known digest it is one HEAD', async () => {
    const img = fakeImage();
    const { client, server } = await setup(honest('app', 'v1', img));
    expect(await client.tagDigest({ registry: server.host, repository: 'app' }, 'v1')).toBe(img.manifestDigest);
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD']);
  });
});

describe('listTags', () => {
  it('follows Link rel="next" relative to the request URL', async () => {
    const { client, server } = await setup((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.searchParams.get('last') === 'b') return void res.writeHead(200).end(JSON.stringify({ name: 'app', tags: ['c'] }));
      res.writeHead(200, { link: '</v2/app/tags/list?n=2&last=b>; rel="next"' });
      res.end(JSON.stringify({ name: 'app', tags: ['a', 'b'] }));
    });
    expect(await client.listTags({ registry: server.host, repository: 'app' })).toEqual(['a', 'b', 'c']);
  });
  it('handles a null tag list', async () => {
    const { client, server } = await setup((_req, res) => void res.writeHead(200).end(JSON.stringify({ name: 'app', tags: null })));
    expect(await client.listTags({ registry: server.host, repository: 'app' })).toEqual([]);
  });
});

it('sha256 helper sanity', () => {
  expect(sha256('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});
