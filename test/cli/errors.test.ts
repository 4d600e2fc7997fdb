/**
 * Bad input through the real CLI: one line saying what, where and what to do; the documented exit
 * code; never a stack trace.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { fakeImage, honest, startFakeServer, type FakeServer } from '../helpers/fake-registry.js';

let dir: string;
const servers: FakeServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-errors-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** A Kamal app folder with the given files (relative path → content). */
function appWith(files: Record<string, string>): string {
  const app = mkdtempSync(join(dir, 'app-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(app, path, '..'), { recursive: true });
    writeFileSync(join(app, path), content);
  }
  return app;
}

function expectCleanError(r: CliResult, code: number, ...patterns: RegExp[]) {
  expect(r.code).toBe(code);
  const err = r.stderr.trim();
  expect(err.split('\n')).toHaveLength(1);
  expect(err).toMatch(/^kamal-gate: /);
  for (const p of patterns) expect(err).toMatch(p);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const noDocker = () => ({ DOCKER_CONFIG: join(dir, 'no-docker') });

describe('config errors exit 2 and name the file and line', () => {
  it('malformed YAML', async () => {
    const app = appWith({ 'config/deploy.yml': 'service: shop\nimage: acme/shop\nservers: [a, b\n' });
    expectCleanError(await runCli(['targets', '--version', 'v1'], { cwd: app }), 2, /config\/deploy\.yml:\d+/);
  });
  it('missing service', async () => {
    const app = appWith({ 'config/deploy.yml': 'image: acme/shop\nregistry:\n  server: localhost:5555\nbuilder:\n  arch: amd64\n' });
    expectCleanError(await runCli(['verify', '--version', 'v1'], { cwd: app }), 2, /config\/deploy\.yml/, /service/);
  });
  it('missing image', async () => {
    const app = appWith({ 'config/deploy.yml': 'service: shop\nregistry:\n  server: ghcr.io\n  username: u\n  password: p\nbuilder:\n  arch: amd64\nservers: [1.1.1.1]\n' });
    expectCleanError(await runCli(['targets', '--version', 'v1'], { cwd: app }), 2, /config\/deploy\.yml/, /image/);
  });
  it('unknown destination', async () => {
    const app = appWith({ 'config/deploy.yml': 'service: shop\nimage: acme/shop\n' });
    expectCleanError(await runCli(['verify', '-d', 'mars', '--version', 'v1'], { cwd: app }), 2, /deploy\.mars\.yml/);
  });
  it('no config at all', async () => {
    const app = appWith({ README: 'x' });
    expectCleanError(await runCli(['verify', '--version', 'v1'], { cwd: app }), 2, /config\/deploy\.yml/);
  });
  it('Ruby in the ERB is refused, never run', async () => {
    const marker = join(dir, 'ran');
    const app = appWith({ 'config/deploy.yml': `service: shop\nimage: acme/shop\nregistry:\n  password: <%= \`touch ${marker}\` %>\n` });
    const r = await runCli(['targets', '--version', 'v1'], { cwd: app });
    expectCleanError(r, 2, /config\/deploy\.yml:4/, /ENV/);
    const { existsSync } = await import('node:fs');
    expect(existsSync(marker)).toBe(false);
  });
  it('no version and no git repository', async () => {
    const app = appWith({ 'config/deploy.yml': 'service: shop\nimage: acme/shop\nregistry:\n  server: localhost:5555\nbuilder:\n  arch: amd64\nservers: [1.1.1.1]\n' });
    expectCleanError(await runCli(['targets'], { cwd: app, env: { GIT_CEILING_DIRECTORIES: dir } }), 2, /--version|VERSION/);
  });
  it('an invalid accessory reference is named at verify time', async () => {
    const app = appWith({
      'config/deploy.yml':
        'service: shop\nimage: acme/shop\nregistry:\n  server: 127.0.0.1:1\n  username: u\n  password: p\naccessories:\n  db:\n    image: Postgres:16\n    host: 1.2.3.4\nbuilder:\n  arch: amd64\n',
    });
    const r = await runCli(['verify', '--version', 'v1', '--format', 'json'], { cwd: app, env: noDocker() });
    const report = JSON.parse(r.stdout) as { images: Array<{ name: string; error?: { message: string } }> };
    expect(report.images.find((i) => i.name === 'db')?.error?.message).toMatch(/invalid image reference "Postgres:16": .*lowercase/);
    // the app's registry is unreachable too (3), but the config mistake decides the exit code
    expect(report.images.find((i) => i.name === 'shop')?.error?.message).toMatch(/refused the connection/);
    expect(r.code).toBe(2);
  });
});

describe('usage errors exit 2', () => {
  it('a bad reference on the command line', async () => {
    expectCleanError(await runCli(['verify', 'ghcr.io/Acme/App:1']), 2, /invalid image reference "ghcr\.io\/Acme\/App:1": repository name must be lowercase/);
  });
  it('an unknown option', async () => {
    const r = await runCli(['verify', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
  });
  it('a bad --platform', async () => {
    expectCleanError(await runCli(['verify', 'alpine:3', '--platform', 'linux']), 2, /--platform: "linux" is not a platform/);
  });
  it('refs together with -c', async () => {
    expectCleanError(await runCli(['verify', 'alpine:3', '-c', 'x.yml']), 2, /either image references or a Kamal config/);
  });
  it('a file the user names that cannot be written: exit 2, the path and why, not an internal error', async () => {
    const work = appWith({ 'l.jsonl': '', 'a-file': 'x' });
    expectCleanError(await runCli(['ledger', 'export', '--ledger', 'l.jsonl', '-o', 'nowhere/x.json'], { cwd: work }), 2, /--output nowhere\/x\.json: cannot write it \(its folder does not exist\)/);
    expectCleanError(await runCli(['policy', 'init', '--path', 'a-file/policy.yml'], { cwd: work }), 2, /--path a-file\/policy\.yml: cannot write it \(a part of the path is not a folder\)/);
  });
  it('--version of kamal-gate itself and --help work', async () => {
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = await runCli(['verify', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Examples:/);
  });
});

describe('registry failures exit 3 and name the ref', () => {
  it('an unreachable registry', async () => {
    const s = await startFakeServer(() => {});
    const host = s.host;
    await s.stop();
    const r = await runCli(['verify', `${host}/app:v1`], { env: noDocker() });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(new RegExp(`${host.replace(/\./g, '\\.')}.*refused the connection`));
  });

  it('a 403', async () => {
    const s = await startFakeServer((_req, res) => void res.writeHead(403).end());
    servers.push(s);
    const r = await runCli(['verify', `${s.host}/app:v1`], { env: noDocker() });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/denied access to app/);
  });

  it('a tag served with bytes that do not match its Docker-Content-Digest', async () => {
    const img = fakeImage();
    const s = await startFakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': img.mediaType, 'docker-content-digest': 'sha256:' + 'b'.repeat(64) });
      res.end(img.manifest);
    });
    servers.push(s);
    const r = await runCli(['verify', `${s.host}/app:v1`, '--format', 'json'], { env: noDocker() });
    expect(r.code).toBe(3);
    const report = JSON.parse(r.stdout) as { images: Array<{ status: string; error: { kind: string; message: string } }> };
    expect(report.images[0]).toMatchObject({ status: 'error', error: { kind: 'digest_mismatch' } });
    expect(report.images[0]!.error.message).toContain(`${s.host}/app:v1`);
  });

  it('an oversized manifest', async () => {
    const s = await startFakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': 4 * 1024 * 1024 + 1 });
      res.end(Buffer.alloc(4 * 1024 * 1024 + 1, ' '));
    });
    servers.push(s);
    const r = await runCli(['verify', `${s.host}/app:v1`], { env: noDocker() });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/over the 4194304-byte limit/);
  });

  it('inspect of a missing tag', async () => {
    const s = await startFakeServer(honest('app', 'v1', fakeImage()));
    servers.push(s);
    expectCleanError(await runCli(['inspect', `${s.host}/app:v9`], { env: noDocker() }), 3, new RegExp(`${s.host.replace(/\./g, '\\.')}/app:v9: not found`));
  });
});

describe('inspect and targets', () => {
  it('inspect shows digest, platform, created, labels and annotations', async () => {
    const img = fakeImage({ created: '2026-05-05T05:05:05Z', labels: { 'org.opencontainers.image.source': 'https://example.com/app' } });
    const s = await startFakeServer(honest('app', 'v1', img));
    servers.push(s);
    const r = await runCli(['inspect', `${s.host}/app:v1`], { env: noDocker() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Digest:       ${img.manifestDigest}`);
    expect(r.stdout).toContain('Created:      2026-05-05T05:05:05Z');
    expect(r.stdout).toContain('org.opencontainers.image.source=https://example.com/app');
    const j = JSON.parse((await runCli(['inspect', `${s.host}/app:v1`, '--format', 'json'], { env: noDocker() })).stdout) as { digest: string; config: { created: string } };
    expect(j).toMatchObject({ digest: img.manifestDigest, config: { created: '2026-05-05T05:05:05Z' } });
  });

  it('targets lists roles, refs and source lines as JSON without touching the network', async () => {
    const app = appWith({
      'config/deploy.yml':
        'service: shop\nimage: acme/shop\nregistry: { server: registry.invalid:5000, username: u, password: p }\n\naccessories:\n  db:\n    image: postgres:16\n    host: 1.2.3.4\nbuilder:\n  arch: amd64\n',
    });
    const r = await runCli(['targets', '--version', 'v7', '--format', 'json'], { cwd: app });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { targets: Array<{ role: string; ref: string; source: { line: number } }> };
    expect(doc.targets.map((t) => [t.role, t.ref, t.source.line])).toEqual([
      ['app', 'registry.invalid:5000/acme/shop:v7', 2],
      ['app', 'registry.invalid:5000/acme/shop:latest', 2],
      ['accessory', 'postgres:16', 7],
    ]);
  });
});
