/**
 * The referrers API pages its answer with `Link: rel="next"` (distribution-spec 1.1): every page is
 * read, up to a bound, so a signature listed on a later page is found and a registry that pages
 * forever cannot hold the run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/client.js';
import { MEDIA_TYPES as MediaType } from '../../src/registry/manifest.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-registry.js';

const SUBJECT = `sha256:${'1'.repeat(64)}`;
const referrer = (n: number) => ({
  mediaType: MediaType.ociManifest,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
  size: 100 + n,
  artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
});
const page = (n: number) => JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [referrer(n)] });

const servers: FakeServer[] = [];
const clients: RegistryClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(pages: number, linkFor: (host: string, next: number) => string) {
  const server = await startFakeServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== `/v2/app/referrers/${SUBJECT}`) return void res.writeHead(404).end();
    const n = Number(url.searchParams.get('page') ?? '1');
    const headers: Record<string, string> = { 'content-type': MediaType.ociIndex };
    if (n < pages) headers.link = linkFor(server.host, n + 1);
    res.writeHead(200, headers).end(page(n));
  });
  servers.push(server);
  const client = new RegistryClient({ http: { retryBaseMs: 5, timeoutMs: 5000 } });
  clients.push(client);
  return { server, client };
}

describe('referrers pages', () => {
  it('reads every page: a referrer on page 3 is listed', async () => {
    const { server, client } = await serve(3, (_h, next) => `</v2/app/referrers/${SUBJECT}?page=${next}>; rel="next"`);
    const r = await client.referrers({ registry: server.host, repository: 'app' }, SUBJECT);
    expect(r.status).toBe(200);
    expect(r.index?.manifests.map((m) => m.digest)).toEqual([referrer(1).digest, referrer(2).digest, referrer(3).digest]);
  });

  it('stops at 16 pages when the registry pages forever', async () => {
    const { server, client } = await serve(Number.POSITIVE_INFINITY, (_h, next) => `</v2/app/referrers/${SUBJECT}?page=${next}>; rel="next"`);
    const r = await client.referrers({ registry: server.host, repository: 'app' }, SUBJECT);
    expect(r.index?.manifests).toHaveLength(16);
    expect(server.requests.filter((q) => q.path.includes('/referrers/'))).toHaveLength(16);
  });

  it('does not follow a next link to another host or outside the repository', async () => {
    for (const link of [`<http://127.0.0.1:1/v2/app/referrers/${SUBJECT}?page=2>; rel="next"`, `</v2/other/referrers/${SUBJECT}?page=2>; rel="next"`]) {
      const { server, client } = await serve(2, () => link);
      const r = await client.referrers({ registry: server.host, repository: 'app' }, SUBJECT);
      expect(r.index?.manifests.map((m) => m.digest)).toEqual([referrer(1).digest]);
      expect(server.requests).toHaveLength(1);
    }
  });
});
