/**
 * Proves the test harness itself: real registries in every auth mode, the token server, the image
 * builder, OCI layouts with skopeo, and that stop() really stops.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import setup, { onPath } from './global-setup.js';
import { buildImage, ImageBuilder, MANIFEST_ACCEPT, MediaType, sha256, type PushedImage } from './helpers/image-builder.js';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { skopeoCopy, skopeoInspectRaw, writeOciLayout } from './helpers/skopeo.js';
import { parseScope } from './helpers/token-server.js';

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

async function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(url, { method, headers, redirect: 'manual' });
  const body = method === 'HEAD' ? '' : await res.text();
  return { status: res.status, headers: res.headers, body };
}

/** Resolves to the connect error code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function tokenFor(reg: TestRegistry, scopes: string[], creds?: [string, string]) {
  const ts = reg.tokenServer;
  if (!ts) throw new Error('not a token-mode registry');
  const url = new URL(ts.realm);
  url.searchParams.set('service', ts.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  const res = await get(url.toString(), creds ? { authorization: basic(...creds) } : {});
  return { status: res.status, json: res.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined };
}

/** Reads a pushed image back with the full Accept list and checks every manifest's bytes against its digest. */
async function expectReadBack(b: ImageBuilder, img: PushedImage) {
  const top = await b.getManifest(img.repo, img.tag);
  expect(top.status).toBe(200);
  expect(top.computedDigest).toBe(img.digest);
  expect(top.digest).toBe(img.digest);
  expect(top.contentType).toBe(img.mediaType);
  expect(top.bytes.equals(img.bytes)).toBe(true);
  const head = await b.headManifest(img.repo, img.tag);
  expect(head.status).toBe(200);
  expect(head.digest).toBe(img.digest);
  expect(head.contentLength).toBe(img.size);
  for (const m of img.manifests) {
    const child = await b.getManifest(img.repo, m.digest);
    expect(child.status).toBe(200);
    expect(child.computedDigest).toBe(m.digest);
    expect(child.contentType).toBe(m.mediaType);
    const config = await b.getBlob(img.repo, m.configDigest);
    expect(sha256(config)).toBe(m.configDigest);
    const parsed = JSON.parse(config.toString('utf8')) as { architecture: string; os: string; rootfs: { diff_ids: string[] } };
    expect(parsed.architecture).toBe(m.platform.architecture);
    expect(parsed.rootfs.diff_ids).toEqual(m.layers.map((l) => l.diffId));
    for (const l of m.layers) expect(sha256(await b.getBlob(img.repo, l.descriptor.digest))).toBe(l.descriptor.digest);
  }
}

describe('global setup', () => {
  it('finds the installed tools and names the missing ones with the fix', () => {
    expect(onPath('docker-registry')).toBe(true);
    expect(onPath('skopeo')).toBe(true);
    expect(onPath('openssl')).toBe(true);
    expect(() => setup()).not.toThrow();
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent-kamal-gate-test';
    try {
      expect(() => setup()).toThrow(/docker-registry, skopeo, openssl.*npm test.*apt-get install -y --no-install-recommends docker-registry skopeo openssl/s);
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe("registry, auth 'none'", () => {
  let reg: TestRegistry;
  let b: ImageBuilder;
  beforeAll(async () => {
    reg = await startRegistry();
    b = new ImageBuilder(reg);
  });
  afterAll(() => reg?.stop());

  it('serves /v2/ anonymously on 127.0.0.1', async () => {
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(reg.url).toBe(`http://${reg.host}`);
    expect(reg.username).toBe('');
    const res = await get(`${reg.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('pushes a single-platform OCI image and reads it back byte for byte', async () => {
    const img = await b.pushImage('oci/single', 'v1', {
      labels: { 'org.opencontainers.image.source': 'https://example.test/app' },
      annotations: { 'org.opencontainers.image.base.name': 'docker.io/library/debian:12' },
      created: '2026-01-02T03:04:05Z',
    });
    expect(img.isIndex).toBe(false);
    expect(img.mediaType).toBe(MediaType.ociManifest);
    expect(img.manifests).toHaveLength(1);
    expect(img.manifests[0]?.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(img.ref).toBe(`${reg.host}/oci/single:v1`);
    await expectReadBack(b, img);
    const manifest = JSON.parse(img.bytes.toString('utf8')) as { mediaType: string; annotations: Record<string, string> };
    expect(manifest.mediaType).toBe(MediaType.ociManifest);
    expect(manifest.annotations['org.opencontainers.image.base.name']).toBe('docker.io/library/debian:12');
    const config = img.manifests[0]!.config.json;
    expect(config.created).toBe('2026-01-02T03:04:05Z');
    expect(config.config.Labels).toEqual({ 'org.opencontainers.image.source': 'https://example.test/app' });
  });

  it('pushes an OCI index (linux/amd64, linux/arm64/v8) whose children resolve by digest', async () => {
    const img = await b.pushImage('oci/multi', 'v1', {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    });
    expect(img.isIndex).toBe(true);
    expect(img.mediaType).toBe(MediaType.ociIndex);
    await expectReadBack(b, img);
    const index = JSON.parse(img.bytes.toString('utf8')) as {
      manifests: Array<{ digest: string; platform: unknown }>;
      annotations: Record<string, string>;
    };
    expect(index.manifests.map((m) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]);
    expect(index.manifests.map((m) => m.digest)).toEqual(img.manifests.map((m) => m.digest));
    expect(index.annotations['org.opencontainers.image.created']).toBe('2026-01-01T00:00:00Z');
    // children carry the annotations too, and the two platforms have different layers
    const arm = JSON.parse(img.manifests[1]!.bytes.toString('utf8')) as { annotations: Record<string, string> };
    expect(arm.annotations['org.opencontainers.image.created']).toBe('2026-01-01T00:00:00Z');
    expect(img.manifests[0]!.layers[0]!.descriptor.digest).not.toBe(img.manifests[1]!.layers[0]!.descriptor.digest);
  });

  it('pushes a Docker schema 2 manifest list', async () => {
    const img = await b.pushImage('docker/list', 'v1', {
      format: 'docker',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
    });
    expect(img.mediaType).toBe(MediaType.dockerList);
    expect(img.manifests.every((m) => m.mediaType === MediaType.dockerManifest)).toBe(true);
    expect(img.manifests.every((m) => m.config.descriptor.mediaType === MediaType.dockerConfig)).toBe(true);
    expect(img.manifests[0]!.layers.every((l) => l.descriptor.mediaType === MediaType.dockerLayerGzip)).toBe(true);
    await expectReadBack(b, img);
  });

  it('shows the 2.8 Accept quirks the client must handle (why MANIFEST_ACCEPT exists)', async () => {
    const oci = await b.pushImage('quirks/oci', 'v1', {});
    const noAccept = await get(`${reg.url}/v2/quirks/oci/manifests/v1`);
    expect(noAccept.status).toBe(404);
    expect(noAccept.body).toContain('MANIFEST_UNKNOWN');
    expect((await get(`${reg.url}/v2/quirks/oci/manifests/v1`, { accept: MANIFEST_ACCEPT })).status).toBe(200);

    const docker = await b.pushImage('quirks/docker', 'v1', { format: 'docker' });
    const schema1 = await b.getManifest('quirks/docker', 'v1', '*/*');
    expect(schema1.status).toBe(200);
    expect(schema1.computedDigest).not.toBe(docker.digest); // rewritten to schema1 on the fly
    expect((await b.getManifest('quirks/docker', docker.digest, '*/*')).computedDigest).toBe(docker.digest);
    expect(oci.digest).not.toBe(docker.digest);
  });

  it('builds an image FROM another one: shared layer and diff_id prefix, history continued', async () => {
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ];
    const base = await b.pushImage('library/base', '12', { platforms, seed: 'base', layerCount: 3 });
    const app = await b.pushImage('app/web', 'v1', { platforms, base, seed: 'app' });
    for (const [i, m] of app.manifests.entries()) {
      const baseM = base.manifests[i]!;
      expect(m.layers).toHaveLength(5);
      expect(m.layers.slice(0, 3).map((l) => l.descriptor.digest)).toEqual(baseM.layers.map((l) => l.descriptor.digest));
      expect(m.config.json.rootfs.diff_ids.slice(0, 3)).toEqual(baseM.config.json.rootfs.diff_ids);
      expect(m.config.json.history.slice(0, 3)).toEqual(baseM.config.json.history);
      expect(m.config.json.history).toHaveLength(5);
    }
    await expectReadBack(b, app);
    // a Docker image FROM an OCI base shares the blobs, with Docker layer media types
    const dockerApp = buildImage({ format: 'docker', base, seed: 'app' });
    expect(dockerApp.manifests[0]!.layers[0]!.descriptor).toEqual({ ...base.manifests[0]!.layers[0]!.descriptor, mediaType: MediaType.dockerLayerGzip });
  });

  it('is reproducible with a seed and a created date, and random without', () => {
    const spec = { seed: 's', created: '2026-01-01T00:00:00Z' };
    expect(buildImage(spec).digest).toBe(buildImage(spec).digest);
    expect(buildImage({ created: spec.created }).digest).not.toBe(buildImage({ created: spec.created }).digest);
  });

  it('adds BuildKit-style attestation manifests to the index', async () => {
    const img = await b.pushImage('app/attested', 'v1', {
      attestations: [{ predicateType: 'https://slsa.dev/provenance/v0.2', predicate: { materials: [] } }],
    });
    expect(img.isIndex).toBe(true);
    expect(img.attestations).toHaveLength(1);
    const index = JSON.parse(img.bytes.toString('utf8')) as { manifests: Array<{ digest: string; platform: unknown; annotations?: Record<string, string> }> };
    expect(index.manifests[1]).toMatchObject({
      digest: img.attestations[0]!.digest,
      platform: { architecture: 'unknown', os: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': img.manifests[0]!.digest },
    });
    const att = await b.getManifest('app/attested', img.attestations[0]!.digest);
    expect(att.computedDigest).toBe(img.attestations[0]!.digest);
  });

  it('re-tags, deletes by digest, and lists tags', async () => {
    const img = await b.pushImage('app/tags', 'v1', {});
    await b.tagExisting('app/tags', img.digest, 'latest');
    expect((await b.headManifest('app/tags', 'latest')).digest).toBe(img.digest);
    expect((await b.listTags('app/tags')).sort()).toEqual(['latest', 'v1']);
    await b.deleteManifest('app/tags', img.digest);
    expect((await b.headManifest('app/tags', 'v1')).status).toBe(404);
    expect((await b.getManifest('app/tags', img.digest)).status).toBe(404);
  });
});

describe("registry, auth 'htpasswd'", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd', users: { alice: 'alice-secret', bob: 'bob-secret' } });
  });
  afterAll(() => reg?.stop());

  it('challenges with Basic and accepts only the right passwords', async () => {
    expect(reg.username).toBe('alice');
    expect(reg.password).toBe('alice-secret');
    const anon = await get(`${reg.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Basic realm="test-registry"');
    expect((await get(`${reg.url}/v2/`, { authorization: basic('alice', 'alice-secret') })).status).toBe(200);
    expect((await get(`${reg.url}/v2/`, { authorization: basic('bob', 'bob-secret') })).status).toBe(200);
    expect((await get(`${reg.url}/v2/`, { authorization: basic('alice', 'wrong') })).status).toBe(401);
    expect((await get(`${reg.url}/v2/`, { authorization: basic('mallory', 'alice-secret') })).status).toBe(401);
  });

  it('the builder pushes with Basic auth; anonymous reads are refused', async () => {
    const b = new ImageBuilder(reg);
    const img = await b.pushImage('private/app', 'v1', { platforms: [{ os: 'linux', architecture: 'amd64' }] });
    await expectReadBack(b, img);
    const anon = await get(`${reg.url}/v2/private/app/manifests/v1`, { accept: MANIFEST_ACCEPT });
    expect(anon.status).toBe(401);
    expect(anon.body).toContain('UNAUTHORIZED');
  });

  it('default user is tester with a random password', async () => {
    const other = await startRegistry({ auth: 'htpasswd' });
    try {
      expect(other.username).toBe('tester');
      expect(other.password).toMatch(/^[0-9a-f]{24}$/);
      expect((await get(`${other.url}/v2/`, { authorization: basic(other.username, other.password) })).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});

describe("registry, auth 'token'", () => {
  let reg: TestRegistry;
  let b: ImageBuilder;
  let img: PushedImage;
  beforeAll(async () => {
    reg = await startRegistry({
      auth: 'token',
      users: { tester: 'tester-secret', limited: 'limited-secret' },
      acl: { limited: [{ repository: 'other/*', actions: ['pull'] }] },
    });
    b = new ImageBuilder(reg);
    img = await b.pushImage('app/web', 'v1', {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
    });
  });
  afterAll(() => reg?.stop());

  it('challenges with Bearer realm and service (no scope on /v2/, a scope on a repository)', async () => {
    const ts = reg.tokenServer!;
    expect(ts.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const root = await get(`${reg.url}/v2/`);
    expect(root.status).toBe(401);
    expect(root.headers.get('www-authenticate')).toBe(`Bearer realm="${ts.realm}",service="test-registry"`);
    const repo = await get(`${reg.url}/v2/app/web/manifests/v1`, { accept: MANIFEST_ACCEPT });
    expect(repo.status).toBe(401);
    expect(repo.headers.get('www-authenticate')).toBe(`Bearer realm="${ts.realm}",service="test-registry",scope="repository:app/web:pull"`);
  });

  it('the builder pushed through minted tokens, which the counters do not include', async () => {
    await expectReadBack(b, img);
    expect(reg.tokenServer!.requests).toBe(0);
  });

  it('issues pull tokens over HTTP that the registry accepts, and counts requests and scopes', async () => {
    const ts = reg.tokenServer!;
    ts.reset();
    const t = await tokenFor(reg, ['repository:app/web:pull'], ['tester', 'tester-secret']);
    expect(t.status).toBe(200);
    expect(t.json?.token).toBe(t.json?.access_token);
    expect(t.json?.expires_in).toBe(300);
    expect(typeof t.json?.issued_at).toBe('string');
    const [header, claims] = String(t.json?.token)
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(claims).toMatchObject({ iss: 'kamal-gate-test', sub: 'tester', aud: 'test-registry', access: [{ type: 'repository', name: 'app/web', actions: ['pull'] }] });

    const res = await get(`${reg.url}/v2/app/web/manifests/v1`, { accept: MANIFEST_ACCEPT, authorization: `Bearer ${String(t.json?.token)}` });
    expect(res.status).toBe(200);
    expect(sha256(res.body)).toBe(img.digest);
    // a pull token does not allow a push
    const push = await get(`${reg.url}/v2/app/web/blobs/uploads/`, { authorization: `Bearer ${String(t.json?.token)}` }, 'POST');
    expect(push.status).toBe(401);
    expect(push.headers.get('www-authenticate')).toContain('error="insufficient_scope"');

    expect(ts.requests).toBe(1);
    expect(ts.scopes).toEqual(['repository:app/web:pull']);
    expect(ts.log[0]).toMatchObject({ account: 'tester', service: 'test-registry', status: 200 });
  });

  it('handles several scopes in one request, split across scope parameters and spaces', async () => {
    const ts = reg.tokenServer!;
    ts.reset();
    const t = await tokenFor(reg, ['repository:app/web:pull repository:127.0.0.1:5000/x:pull,push', 'registry:catalog:*'], ['tester', 'tester-secret']);
    expect(t.status).toBe(200);
    expect(ts.scopes).toEqual(['repository:app/web:pull', 'repository:127.0.0.1:5000/x:pull,push', 'registry:catalog:*']);
    expect(ts.log[0]?.granted).toEqual([
      { type: 'repository', name: 'app/web', actions: ['pull'] },
      { type: 'repository', name: '127.0.0.1:5000/x', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    expect(parseScope('repository:127.0.0.1:5000/x:pull')).toEqual({ type: 'repository', name: '127.0.0.1:5000/x', actions: ['pull'] });
  });

  it('refuses wrong credentials and anonymous requests (anonymousPull off)', async () => {
    expect((await tokenFor(reg, ['repository:app/web:pull'], ['tester', 'wrong'])).status).toBe(401);
    expect((await tokenFor(reg, ['repository:app/web:pull'], ['nobody', 'tester-secret'])).status).toBe(401);
    expect((await tokenFor(reg, ['repository:app/web:pull'])).status).toBe(401);
  });

  it('an ACL-restricted user gets an empty grant, and the registry answers insufficient_scope', async () => {
    const t = await tokenFor(reg, ['repository:app/web:pull'], ['limited', 'limited-secret']);
    expect(t.status).toBe(200);
    const res = await get(`${reg.url}/v2/app/web/manifests/v1`, { accept: MANIFEST_ACCEPT, authorization: `Bearer ${String(t.json?.token)}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const allowed = await tokenFor(reg, ['repository:other/thing:pull,push'], ['limited', 'limited-secret']);
    const claims = JSON.parse(Buffer.from(String(allowed.json?.token).split('.')[1]!, 'base64url').toString('utf8')) as { access: unknown };
    expect(claims.access).toEqual([{ type: 'repository', name: 'other/thing', actions: ['pull'] }]);
  });

  it('the registry rejects a token with a bad signature as invalid_token', async () => {
    const t = await tokenFor(reg, ['repository:app/web:pull'], ['tester', 'tester-secret']);
    const [h, c] = String(t.json?.token).split('.');
    const forged = `${h}.${c}.${Buffer.alloc(64, 1).toString('base64url')}`;
    const res = await get(`${reg.url}/v2/app/web/manifests/v1`, { accept: MANIFEST_ACCEPT, authorization: `Bearer ${forged}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('anonymousPull grants anonymous pull only', async () => {
    const open = await startRegistry({ auth: 'token', anonymousPull: true, tokenTtlSeconds: 120 });
    try {
      const pushed = await new ImageBuilder(open).pushImage('public/app', 'v1', {});
      const t = await tokenFor(open, ['repository:public/app:pull,push']);
      expect(t.status).toBe(200);
      expect(t.json?.expires_in).toBe(120);
      expect(open.tokenServer!.log[0]?.granted).toEqual([{ type: 'repository', name: 'public/app', actions: ['pull'] }]);
      const res = await get(`${open.url}/v2/public/app/manifests/v1`, { accept: MANIFEST_ACCEPT, authorization: `Bearer ${String(t.json?.token)}` });
      expect(res.status).toBe(200);
      expect(sha256(res.body)).toBe(pushed.digest);
    } finally {
      await open.stop();
    }
  });
});

describe('skopeo and OCI layouts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kamal-gate-layout-'));
  });
  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  it('copies an OCI layout into an anonymous registry unchanged', async () => {
    const reg = await startRegistry();
    try {
      const layout = await writeOciLayout(join(dir, 'single'), { seed: 'skopeo-single', labels: { a: 'b' } }, 'v1');
      expect(layout.ref).toBe(`oci:${join(dir, 'single')}:v1`);
      await skopeoCopy(layout.ref, `docker://${reg.host}/copied/app:v1`);
      const b = new ImageBuilder(reg);
      const m = await b.getManifest('copied/app', 'v1');
      expect(m.status).toBe(200);
      expect(m.computedDigest).toBe(layout.content.digest);
      const raw = await skopeoInspectRaw(`${reg.host}/copied/app:v1`);
      expect(sha256(raw)).toBe(layout.content.digest);
    } finally {
      await reg.stop();
    }
  });

  it('copies a multi-platform layout (--all) into an htpasswd registry with credentials, and fails without', async () => {
    const reg = await startRegistry({ auth: 'htpasswd' });
    try {
      const layout = await writeOciLayout(join(dir, 'multi'), {
        seed: 'skopeo-multi',
        platforms: [
          { os: 'linux', architecture: 'amd64' },
          { os: 'linux', architecture: 'arm64', variant: 'v8' },
        ],
      });
      await expect(skopeoCopy(layout.ref, `docker://${reg.host}/private/app:v1`, { all: true })).rejects.toThrow(/skopeo .*copy.*(unauthorized|authentication required)/is);
      await expect(skopeoCopy(layout.ref, `docker://${reg.host}/private/app:v1`, { all: true, destCreds: `${reg.username}:wrong` })).rejects.toThrow(/--dest-creds tester:\*\*\*/);
      await skopeoCopy(layout.ref, `docker://${reg.host}/private/app:v1`, { all: true, preserveDigests: true, destCreds: `${reg.username}:${reg.password}` });
      const b = new ImageBuilder(reg);
      const top = await b.getManifest('private/app', 'v1');
      expect(top.computedDigest).toBe(layout.content.digest);
      for (const child of layout.content.manifests) {
        expect((await b.getManifest('private/app', child.digest)).computedDigest).toBe(child.digest);
      }
      const raw = await skopeoInspectRaw(`${reg.host}/private/app:v1`, { creds: `${reg.username}:${reg.password}` });
      expect(sha256(raw)).toBe(layout.content.digest);
    } finally {
      await reg.stop();
    }
  });
});

describe('stop()', () => {
  it('kills the registry and the token server, removes the temp dir, and is idempotent', async () => {
    const reg = await startRegistry({ auth: 'token' });
    const port = Number(reg.host.split(':')[1]);
    const tokenPort = Number(new URL(reg.tokenServer!.url).port);
    expect(await tryConnect(port)).toBe('connected');
    expect(await tryConnect(tokenPort)).toBe('connected');
    expect(existsSync(reg.dir)).toBe(true);
    await Promise.all([reg.stop(), reg.stop()]);
    await reg.stop();
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(await tryConnect(tokenPort)).toBe('ECONNREFUSED');
    expect(existsSync(reg.dir)).toBe(false);
  });

  it('a registry that cannot start fails with its output in the error', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent-kamal-gate-test';
    try {
      await expect(startRegistry()).rejects.toThrow(/docker-registry did not come up .*\(it exited\).*spawn failed: spawn docker-registry ENOENT/s);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('several registries run side by side on different ports', async () => {
    const regs = await Promise.all([startRegistry(), startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    try {
      expect(new Set(regs.map((r) => r.host)).size).toBe(3);
      for (const r of regs) expect((await get(`${r.url}/v2/`)).status).toBe(r.auth === 'none' ? 200 : 401);
    } finally {
      await Promise.all(regs.map((r) => r.stop()));
    }
  });
});
