/**
 * The registry client against Debian's real docker-registry (distribution 2.8) in its three auth
 * modes, with images pushed by the test builder and by skopeo.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, NotFoundError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/client.js';
import { StaticCredentials, basicCredential } from '../../src/registry/credentials.js';
import { parseReference } from '../../src/registry/reference.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type AuthMode, type TestRegistry } from '../helpers/registry.js';
import { skopeoCopy, writeOciLayout } from '../helpers/skopeo.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

function clientFor(reg: TestRegistry, creds?: { username: string; password: string }) {
  const store = new StaticCredentials();
  if (creds) store.set(reg.host, basicCredential(creds.username, creds.password, 'test'));
  return new RegistryClient({ credentials: store });
}

describe.each<AuthMode>(['none', 'htpasswd', 'token'])('real registry, auth %s', (auth) => {
  let reg: TestRegistry;
  let builder: ImageBuilder;
  let client: RegistryClient;
  beforeAll(async () => {
    reg = await startRegistry({ auth });
    builder = new ImageBuilder(reg);
    client = clientFor(reg, auth === 'none' ? undefined : { username: reg.username, password: reg.password });
  });
  afterAll(async () => {
    await client?.close();
    await reg?.stop();
  });

  it('resolves a single-platform OCI image to its digest, config and labels', async () => {
    const img = await builder.pushImage('acme/app', 'v1', { created: '2026-10-01T00:00:00Z', labels: { service: 'app' }, annotations: { 'org.example': 'x' } });
    const r = await client.resolve(parseReference(img.ref));
    expect(r.digest).toBe(img.digest);
    expect(r.manifestDigest).toBe(img.digest);
    expect(r.config?.created).toBe('2026-10-01T00:00:00Z');
    expect(r.config?.labels).toEqual({ service: 'app' });
    expect(r.manifest.annotations['org.example']).toBe('x');
    expect(r.platform).toEqual(AMD64);
  });

  it('resolves a multi-platform OCI index to the requested platform', async () => {
    const img = await builder.pushImage('acme/multi', 'v2', { platforms: [AMD64, ARM64], created: '2026-09-01T00:00:00Z' });
    const amd = await client.resolve(parseReference(img.ref));
    expect(amd.digest).toBe(img.digest);
    expect(amd.manifestDigest).toBe(img.manifests[0]!.digest);
    const arm = await client.resolve(parseReference(img.ref), [{ os: 'linux', architecture: 'arm64' }]);
    expect(arm.manifestDigest).toBe(img.manifests[1]!.digest);
    expect(arm.config?.architecture).toBe('arm64');
    expect(arm.platforms).toEqual([AMD64, ARM64]);
    const both = await client.resolve(parseReference(img.ref), [AMD64, ARM64]);
    expect(both.platformDigests.map((p) => p.digest)).toEqual([img.manifests[0]!.digest, img.manifests[1]!.digest]);
  });

  it('resolves a Docker schema 2 manifest list without schema 1 rewriting', async () => {
    const img = await builder.pushImage('acme/docker', 'v3', { format: 'docker', platforms: [AMD64, ARM64] });
    const r = await client.resolve(parseReference(img.ref), [ARM64]);
    expect(r.digest).toBe(img.digest);
    expect(r.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(r.manifestDigest).toBe(img.manifests[1]!.digest);
    const single = await builder.pushImage('acme/docker', 'single', { format: 'docker' });
    expect((await client.resolve(parseReference(single.ref))).digest).toBe(single.digest);
  });

  it('pins by digest and by tag@digest', async () => {
    const img = await builder.pushImage('acme/pin', 'v1', {});
    const r = await client.resolve(parseReference(img.pinned));
    expect(r.digest).toBe(img.digest);
    expect((await client.resolve(parseReference(`${img.ref}@${img.digest}`))).digest).toBe(img.digest);
  });

  it('HEAD gives the tag digest in one request once authenticated', async () => {
    const img = await builder.pushImage('acme/head', 'v1', { platforms: [AMD64, ARM64] });
    await client.headManifest({ registry: reg.host, repository: 'acme/head' }, 'v1'); // learns the auth scheme, caches a token
    const before = client.stats.get(reg.host).requests;
    const head = await client.headManifest({ registry: reg.host, repository: 'acme/head' }, 'v1');
    expect(head.digest).toBe(img.digest);
    expect(client.stats.get(reg.host).requests - before).toBe(1);
  });

  it('a drift check of an unchanged tag is one conditional GET answered 304', async () => {
    const img = await builder.pushImage('acme/etag', 'v1', { platforms: [AMD64, ARM64] });
    const repo = { registry: reg.host, repository: 'acme/etag' };
    await client.tagDigest(repo, 'v1', img.digest); // learns the auth scheme, caches a token
    const before = client.stats.get(reg.host);
    expect(await client.tagDigest(repo, 'v1', img.digest)).toBe(img.digest);
    const after = client.stats.get(reg.host);
    expect(after.requests - before.requests).toBe(1);
    expect(after.bytes - before.bytes).toBe(0);
    const moved = await builder.pushImage('acme/etag', 'v1', { seed: 'moved' });
    expect(await client.tagDigest(repo, 'v1', img.digest)).toBe(moved.digest);
  });

  it('says which platform is missing', async () => {
    const img = await builder.pushImage('acme/amdonly', 'v1', { platforms: [AMD64] });
    await expect(client.resolve(parseReference(img.ref), [ARM64])).rejects.toThrow(/no linux\/arm64\/v8 image in the index \(it offers linux\/amd64\)/);
  });

  it('reports an unknown tag and an unknown repository as NotFoundError', async () => {
    await builder.pushImage('acme/known', 'v1', {});
    const e1 = await client.resolve(parseReference(`${reg.host}/acme/known:nope`)).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(NotFoundError);
    expect((e1 as Error).message).toContain(`${reg.host}/acme/known:nope`);
    const e2 = await client.listTags({ registry: reg.host, repository: 'acme/never-pushed' }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(NotFoundError);
    expect((e2 as Error).message).toMatch(/does not exist/);
  });

  it('lists tags', async () => {
    await builder.pushImage('acme/tags', 'a', {});
    await builder.pushImage('acme/tags', 'b', {});
    expect((await client.listTags({ registry: reg.host, repository: 'acme/tags' })).sort()).toEqual(['a', 'b']);
  });

  it('reads what skopeo pushed from an OCI layout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-layout-'));
    try {
      const layout = await writeOciLayout(dir, { created: '2026-08-01T00:00:00Z', labels: { via: 'skopeo' } }, 'v1');
      await skopeoCopy(`oci:${dir}:v1`, `docker://${reg.host}/acme/skopeo:v1`, auth === 'none' ? {} : { destCreds: `${reg.username}:${reg.password}` });
      const r = await client.resolve(parseReference(`${reg.host}/acme/skopeo:v1`));
      expect(r.config?.labels).toEqual({ via: 'skopeo' });
      expect(r.config?.created).toBe('2026-08-01T00:00:00Z');
      expect(r.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(layout).toBeTruthy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (auth !== 'none') {
    it('refuses wrong credentials with an AuthError naming the registry', async () => {
      await builder.pushImage('acme/secret', 'v1', {});
      const bad = clientFor(reg, { username: reg.username, password: 'wrong-password-123' });
      try {
        const err = await bad.resolve(parseReference(`${reg.host}/acme/secret:v1`)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AuthError);
        expect((err as Error).message).toContain(reg.host);
        expect((err as Error).message).not.toContain('wrong-password-123');
        expect((err as AuthError).exitCode).toBe(3);
      } finally {
        await bad.close();
      }
    });

    it('refuses anonymous access, saying how to log in', async () => {
      await builder.pushImage('acme/secret2', 'v1', {});
      const anon = clientFor(reg);
      try {
        await expect(anon.resolve(parseReference(`${reg.host}/acme/secret2:v1`))).rejects.toThrow(/docker login|refused anonymous/);
      } finally {
        await anon.close();
      }
    });
  }
});

describe('token auth details', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token', users: { ci: 'ci-pass-1', limited: 'lim-pass-1' }, acl: { limited: [{ repository: 'team/*', actions: ['pull'] }] } });
  });
  afterAll(async () => reg?.stop());

  it('caches one token per repository scope and reuses it until expiry', async () => {
    const builder = new ImageBuilder(reg);
    await builder.pushImage('team/one', 'v1', { platforms: [AMD64, ARM64] });
    await builder.pushImage('team/two', 'v1', {});
    reg.tokenServer!.reset();
    const client = clientFor(reg, { username: 'ci', password: 'ci-pass-1' });
    try {
      await client.resolve(parseReference(`${reg.host}/team/one:v1`));
      await client.resolve(parseReference(`${reg.host}/team/one:v1`), [ARM64]);
      await client.resolve(parseReference(`${reg.host}/team/two:v1`));
      expect(reg.tokenServer!.requests).toBe(2);
      expect(reg.tokenServer!.scopes).toEqual(['repository:team/one:pull', 'repository:team/two:pull']);
      // 401 only on the very first request: afterwards tokens go up front.
      expect(client.auth.tokenRequests).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('a user without access to a repository gets an AuthError, not a pass', async () => {
    const builder = new ImageBuilder(reg);
    await builder.pushImage('other/app', 'v1', {});
    const client = clientFor(reg, { username: 'limited', password: 'lim-pass-1' });
    try {
      const err = await client.resolve(parseReference(`${reg.host}/other/app:v1`)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect((err as Error).message).toMatch(/refused|denied/);
    } finally {
      await client.close();
    }
  });
});
