/**
 * `kamal-gate verify` through the real CLI, on a Kamal app with a destination and two accessories,
 * against the real registry.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { blobFile, startRegistry, type TestRegistry } from '../helpers/registry.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app');
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

interface ImageJson {
  role: string;
  name: string;
  ref: string;
  status: string;
  digest?: string;
  platformDigest?: string;
  platformDigests?: Record<string, string>;
  platform?: string;
  created?: string;
  source?: { file: string; line: number };
  error?: { kind: string; message: string };
}

let reg: TestRegistry;
let app: string;
let env: NodeJS.ProcessEnv;
let shop: PushedImage;
let pg: PushedImage;
let valkey: PushedImage;
let valkeyStaging: PushedImage;

beforeAll(async () => {
  reg = await startRegistry({ auth: 'htpasswd', users: { demo: 'demo-registry-password-42' } });
  const b = new ImageBuilder(reg);
  shop = await b.pushImage('acme/shop', 'v1', { platforms: [AMD64, ARM64], created: '2026-11-01T10:00:00Z', labels: { service: 'shop' } });
  await b.tagExisting('acme/shop', shop.digest, 'latest-staging');
  pg = await b.pushImage('library/postgres', '16.4', { created: '2026-08-14T09:00:00Z' });
  valkey = await b.pushImage('library/valkey', '8.0', { platforms: [AMD64, ARM64] });
  valkeyStaging = await b.pushImage('library/valkey', '8.0-staging', { format: 'docker', platforms: [AMD64, ARM64] });
  app = mkdtempSync(join(tmpdir(), 'kg-cli-'));
  cpSync(FIXTURE, app, { recursive: true });
  env = { DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(app, '.no-docker') };
});

afterAll(async () => {
  await reg?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

async function verifyJson(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = await runCli(['verify', '--format', 'json', ...args], { cwd: app, env: { ...env, ...extraEnv } });
  return { ...r, report: r.stdout ? (JSON.parse(r.stdout) as { images: ImageJson[]; exitCode: number; destination?: string; version?: string; versionSource?: string }) : undefined };
}

describe('kamal-gate verify on a Kamal app', () => {
  it('pins every image of the staging destination to the right digest and platform', async () => {
    const { code, report, stderr } = await verifyJson(['-d', 'staging', '--version', 'v1']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(report!.destination).toBe('staging');
    const byRef = Object.fromEntries(report!.images.map((i) => [i.ref, i]));
    const app1 = byRef[`${reg.host}/acme/shop:v1`]!;
    expect(app1).toMatchObject({ role: 'app', name: 'shop', status: 'pinned', digest: shop.digest, platform: 'linux/amd64', created: '2026-11-01T10:00:00Z' });
    expect(app1.platformDigest).toBe(shop.manifests[0]!.digest);
    // builder.arch is [amd64, arm64]: both hosts' manifests are pinned
    expect(app1.platformDigests).toEqual({ 'linux/amd64': shop.manifests[0]!.digest, 'linux/arm64': shop.manifests[1]!.digest });
    expect(app1.source).toEqual(expect.objectContaining({ file: 'config/deploy.yml', line: 4 }));
    expect(byRef[`${reg.host}/acme/shop:latest-staging`]).toMatchObject({ status: 'pinned', digest: shop.digest });
    expect(byRef[`${reg.host}/library/postgres:16.4`]).toMatchObject({ role: 'accessory', name: 'db', digest: pg.digest });
    // the overlay replaced the cache accessory's image
    const cache = byRef[`${reg.host}/library/valkey:8.0-staging`]!;
    expect(cache).toMatchObject({ role: 'accessory', name: 'cache', digest: valkeyStaging.digest, platformDigest: valkeyStaging.manifests[0]!.digest });
    expect(cache.source?.file).toBe('config/deploy.staging.yml');
    expect(report!.images.map((i) => i.ref)).not.toContain(`${reg.host}/library/valkey:8.0`);
  });

  it('resolves the arm64 manifest with --platform, and fails an image that has no arm64 build', async () => {
    const { code, report } = await verifyJson(['--version', 'v1', '--platform', 'linux/arm64']);
    const v = report!.images.find((i) => i.name === 'cache')!;
    expect(v).toMatchObject({ digest: valkey.digest, platform: 'linux/arm64/v8', platformDigest: valkey.manifests[1]!.digest });
    const db = report!.images.find((i) => i.name === 'db')!;
    expect(db.status).toBe('error');
    expect(db.error?.message).toMatch(/single-platform linux\/amd64 image, but the deploy needs linux\/arm64/);
    expect(code).toBe(3);
  });

  it('takes the version from KAMAL_VERSION, as in a Kamal hook, and reports an absent latest alias as a note', async () => {
    const { code, report } = await verifyJson([], { KAMAL_VERSION: 'v1' });
    expect(code).toBe(0);
    expect(report!.versionSource).toBe('KAMAL_VERSION');
    expect(report!.images.find((i) => i.ref.endsWith('acme/shop:latest'))?.status).toBe('absent');
  });

  it('prints a table and the pinned references, and --stats per registry', async () => {
    const { code, stdout, stderr } = await runCli(['verify', '--version', 'v1', '--stats'], { cwd: app, env });
    expect(code).toBe(0);
    expect(stdout).toMatch(/ROLE\s+IMAGE\s+DIGEST\s+PLATFORM\s+CREATED/);
    expect(stdout).toContain(`${reg.host}/acme/shop@${shop.digest}`);
    expect(stdout).toContain(`linux/arm64 → ${shop.manifests[1]!.digest}`);
    expect(stderr).toMatch(new RegExp(`${reg.host.replace(/\./g, '\\.')}\\s+\\d+`));
    expect(stderr).toMatch(/requests for 4 images \([0-9.]+ per image\)/);
  });

  it('fails with exit 3 when the app tag does not exist, naming it', async () => {
    const { code, report } = await verifyJson(['--version', 'v404']);
    expect(code).toBe(3);
    const bad = report!.images.find((i) => i.ref.endsWith(':v404'))!;
    expect(bad.status).toBe('error');
    expect(bad.error?.message).toContain(`${reg.host}/acme/shop:v404`);
  });

  it('never prints the registry password, even when the registry refuses it', async () => {
    const { code, stdout, stderr } = await runCli(['verify', '--version', 'v1'], { cwd: app, env: { ...env, KAMAL_REGISTRY_PASSWORD: 'wrong-secret-password-1' } });
    expect(code).toBe(3);
    expect(stdout + stderr).toMatch(/refused the credentials/);
    expect(stdout + stderr).not.toContain('wrong-secret-password-1');
    expect(stdout + stderr).not.toContain(reg.password);
  });

  it('verifies explicit refs with --registry-password-stdin', async () => {
    const r = await runCli(['verify', `${reg.host}/library/postgres:16.4`, '--registry-username', 'demo', '--registry-password-stdin', '--format', 'json'], {
      env: { DOCKER_CONFIG: join(app, '.no-docker') },
      input: `${reg.password}\n`,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).images[0].digest).toBe(pg.digest);
  });

  it('uses credentials from Docker config.json (DOCKER_CONFIG)', async () => {
    const dir = join(app, '.docker');
    cpSync(FIXTURE, join(app, 'unused'), { recursive: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`demo:${reg.password}`).toString('base64') } } }));
    const r = await runCli(['verify', `${reg.host}/library/postgres:16.4`], { env: { DOCKER_CONFIG: dir } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(pg.digest);
    const anon = await runCli(['verify', `${reg.host}/library/postgres:16.4`], { env: { DOCKER_CONFIG: join(app, '.no-docker') } });
    expect(anon.code).toBe(3);
    expect(anon.stderr + anon.stdout).toContain(`docker login ${reg.host}`);
  });
});

describe('content that does not match its digest', () => {
  it('is refused with exit 3 when the registry storage was tampered with', async () => {
    const b = new ImageBuilder(reg);
    const img = await b.pushImage('acme/tampered', 'v1', { created: '2026-01-01T00:00:00Z' });
    const blob = blobFile(reg, img.manifests[0]!.configDigest);
    const bytes = img.manifests[0]!.config.bytes.toString('utf8').replace('2026-01-01', '2016-01-01');
    writeFileSync(blob, bytes);
    const r = await runCli(['verify', img.ref, '--registry-username', 'demo', '--registry-password-stdin'], { input: reg.password, env: { DOCKER_CONFIG: join(app, '.no-docker') } });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`content does not match its digest (asked for ${img.manifests[0]!.configDigest}`);
    expect(r.stdout).not.toContain('2016-01-01');
  });
});
