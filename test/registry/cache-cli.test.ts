/**
 * The on-disk cache through the real CLI against the real docker-registry (token auth): how many
 * requests `verify` makes cold and warm (exact figures, so a regression fails), that --no-cache
 * is cold every time, that a tag moved between runs is still caught with a warm cache, and that a
 * corrupted cache file is never trusted.
 */
import { readdirSync, readFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoScenario, statsOf, strictScenario, type Scenario } from '../helpers/cache-scenarios.js';
import { runCli } from '../helpers/cli.js';
import { blobFile, startRegistry, type TestRegistry } from '../helpers/registry.js';

interface Report {
  exitCode: number;
  images: Array<{ ref: string; digest?: string; findings?: Array<{ rule: string }> }>;
}

function cacheFiles(dir: string): string[] {
  const root = join(dir, 'kamal-gate', 'blobs', 'sha256');
  return existsSync(root) ? readdirSync(root) : [];
}

describe('content cache: requests of verify through the CLI', () => {
  let reg: TestRegistry;
  let demo: Scenario;
  let cacheHome: string;
  const verify = (extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
    runCli(['verify', '--version', 'v1', '--format', 'json', '--stats', ...extra], { cwd: demo.app, env: { ...demo.env, XDG_CACHE_HOME: cacheHome, ...env } });

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token', users: { demo: `demo-${Math.random().toString(36).slice(2)}` } });
    demo = await demoScenario(reg);
    cacheHome = mkdtempSync(join(tmpdir(), 'kg-cache-home-'));
    const rec = await runCli(['record', '--version', 'v1', '--no-cache'], { cwd: demo.app, env: { ...demo.env, XDG_CACHE_HOME: cacheHome } });
    expect(rec.code, rec.stderr).toBe(0);
  });
  afterAll(async () => {
    demo?.cleanup();
    if (cacheHome) rmSync(cacheHome, { recursive: true, force: true });
    await reg?.stop();
  });

  it('demo app: 25 requests cold, 10 warm; --no-cache is cold every time and writes nothing', async () => {
    const none1 = await verify(['--no-cache']);
    expect(none1.code, none1.stderr).toBe(0);
    expect(cacheFiles(cacheHome)).toEqual([]);
    expect(statsOf(none1.stdout, reg.host)).toMatchObject({ requests: 25, cacheHits: 0 });

    const cold = await verify();
    expect(cold.code, cold.stderr).toBe(0);
    expect(statsOf(cold.stdout, reg.host)).toMatchObject({ requests: 25, cacheHits: 0 });
    expect(cacheFiles(cacheHome).length).toBeGreaterThan(0);

    const warm = await verify();
    expect(warm.code, warm.stderr).toBe(0);
    // warm: the signature is re-checked where it was found (its .sig tag, conditionally), the rest is looked
    // for with one tag list (signatures/memo.ts); the .sig manifest comes from the cache
    expect(statsOf(warm.stdout, reg.host)).toMatchObject({ requests: 10, cacheHits: 10 });
    // the same verdict and digests as the cold run
    const digests = (out: string) => (JSON.parse(out) as Report).images.map((i) => `${i.ref}@${i.digest}`);
    expect(digests(warm.stdout)).toEqual(digests(cold.stdout));

    const none2 = await verify(['--no-cache']);
    expect(statsOf(none2.stdout, reg.host)).toMatchObject({ requests: 25, cacheHits: 0 });
  });

  it('--cache-dir and KAMAL_GATE_CACHE_DIR choose the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-cache-dir-'));
    const dir2 = mkdtempSync(join(tmpdir(), 'kg-cache-env-'));
    try {
      const a = await verify(['--cache-dir', dir]);
      expect(a.code, a.stderr).toBe(0);
      expect(readdirSync(join(dir, 'blobs', 'sha256')).length).toBeGreaterThan(0);
      const b = await verify([], { KAMAL_GATE_CACHE_DIR: dir2 });
      expect(b.code, b.stderr).toBe(0);
      expect(readdirSync(join(dir2, 'blobs', 'sha256')).length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  it('an unwritable cache directory: one warning, and the run still verifies', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kg-cache-file-')), 'file');
    writeFileSync(file, 'not a directory');
    const r = await verify(['--cache-dir', join(file, 'cache')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/warning: the cache directory .* cannot be written/g)).toHaveLength(1);
    expect(statsOf(r.stdout, reg.host)).toMatchObject({ requests: 25, cacheHits: 0 });
  });

  it('a corrupted cache file is never trusted: the right digest is fetched again and verify passes', async () => {
    const warm = await verify();
    expect(warm.code).toBe(0);
    const config = demo.app_image.manifests[0]!.configDigest;
    const path = join(cacheHome, 'kamal-gate', 'blobs', 'sha256', config.slice(7));
    const good = readFileSync(path);
    writeFileSync(path, Buffer.from(good.toString('utf8').replace('"amd64"', '"amd65"')));
    const r = await verify();
    expect(r.code, r.stderr).toBe(0);
    // one cache hit fewer, one request more: the config came from the registry
    expect(statsOf(r.stdout, reg.host)).toMatchObject({ requests: 11, cacheHits: 9 });
    expect(readFileSync(path)).toEqual(good); // and the cache holds the right bytes again
  });

  it('a corrupted cache file does not hide content the registry corrupted: could not verify (3)', async () => {
    const config = demo.app_image.manifests[0]!.configDigest;
    const cached = join(cacheHome, 'kamal-gate', 'blobs', 'sha256', config.slice(7));
    const stored = blobFile(reg, config);
    const original = readFileSync(stored);
    try {
      writeFileSync(cached, 'garbage');
      writeFileSync(stored, Buffer.from(original.toString('utf8').replace('"amd64"', '"amd65"')));
      const r = await verify();
      expect(r.code, r.stdout).toBe(3);
      expect(r.stdout).toMatch(/does not match its digest/);
    } finally {
      writeFileSync(stored, original);
    }
  });

  it('a tag moved between runs is caught with a warm cache (tag.overwritten)', async () => {
    const warm = await verify();
    expect(warm.code).toBe(0);
    const evil = await demo.builder.pushImage('acme/shop', 'v1', {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      seed: 'backdoor',
    });
    try {
      const r = await verify();
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.stdout) as Report;
      const shop = doc.images.find((i) => i.ref.endsWith('/acme/shop:v1'))!;
      expect(shop.digest).toBe(evil.digest);
      expect(shop.findings?.map((f) => f.rule)).toContain('tag.overwritten');
    } finally {
      await demo.builder.pushManifest('acme/shop', 'v1', demo.app_image.bytes, demo.app_image.mediaType);
    }
  });
});

describe('content cache: an app with four accessories and kamal-proxy under policies/strict.yml', () => {
  it('38 requests cold, 11 warm, two token requests each (one token for the whole app)', async () => {
    const reg = await startRegistry({ auth: 'token', users: { demo: `demo-${Math.random().toString(36).slice(2)}` } });
    const cacheHome = mkdtempSync(join(tmpdir(), 'kg-cache-home-'));
    let s: Scenario | undefined;
    try {
      s = await strictScenario(reg);
      const env = { ...s.env, XDG_CACHE_HOME: cacheHome };
      const rec = await runCli(['record', '--version', 'v1', '--no-cache'], { cwd: s.app, env });
      expect(rec.code, rec.stderr + rec.stdout).toBe(0);
      const run = async () => {
        reg.tokenServer!.reset();
        const r = await runCli(['verify', '--version', 'v1', '--format', 'json', '--stats'], { cwd: s!.app, env });
        expect(r.code, r.stdout).toBe(0);
        return { ...statsOf(r.stdout, reg.host), tokens: reg.tokenServer!.requests, scopes: [...reg.tokenServer!.scopes] };
      };
      const cold = await run();
      expect(cold).toMatchObject({ requests: 38, cacheHits: 0, tokens: 2 });
      // the first token covers every repository of the config at once
      expect(cold.scopes.filter((sc) => sc !== 'repository:library/debian:pull').sort()).toEqual(
        ['acme/shop', 'basecamp/kamal-proxy', 'library/opensearch', 'library/postgres', 'library/rabbitmq', 'library/valkey'].map((r) => `repository:${r}:pull`),
      );
      const warm = await run();
      expect(warm).toMatchObject({ requests: 11, cacheHits: 21, tokens: 2 });
    } finally {
      s?.cleanup();
      rmSync(cacheHome, { recursive: true, force: true });
      await reg.stop();
    }
  });
});
