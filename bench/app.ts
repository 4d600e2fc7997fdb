/**
 * The Kamal app the verify benchmarks run on, generated into a local docker-registry: one app image
 * (signed with a key, the cosign way), four accessories pinned by digest, and kamal-proxy, every one
 * multi-platform and built FROM a base image in the same registry (named in its annotations), under
 * policies/strict.yml with the signing key filled in. `kamal-gate record` has run, as the build
 * pipeline would, so the strict ledger trust passes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pushLegacy, signPayload, simpleSigning } from '../test/helpers/cosign-format.js';
import { ImageBuilder, type PushedImage } from '../test/helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { CLI, mustRun, NODE } from './common.js';

const ROOT = resolve(import.meta.dirname, '..');
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64' };

export interface BenchApp {
  reg: TestRegistry;
  dir: string;
  /** Every image the deploy pulls, as the config names it. */
  refs: string[];
  /** The same images by tag (for tools that take a tag). */
  tagged: string[];
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');

/** policies/strict.yml with the app's signing key instead of the keyless placeholder (no Rekor on loopback). */
function strictWithKey(): string {
  const strict = readFileSync(join(ROOT, 'policies', 'strict.yml'), 'utf8');
  const keyless = /      keyless:\n        - identity: [^\n]*\n          issuer: [^\n]*\n/;
  const tlog = /      tlog: required\n/;
  if (!keyless.test(strict) || !tlog.test(strict)) throw new Error('policies/strict.yml changed: update bench/app.ts, which swaps its keyless signer for a key');
  return strict.replace(keyless, '      keys: [cosign.pub]\n').replace(tlog, '      tlog: optional   # loopback has no Rekor\n');
}

export async function benchApp(): Promise<BenchApp> {
  const reg = await startRegistry({ auth: 'none' });
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-app-'));
  try {
    const b = new ImageBuilder(reg);
    const platforms = [AMD64, ARM64];
    const base = await b.pushImage('library/debian', 'bookworm-slim', { platforms, created: ago(20), seed: 'debian' });
    const fromBase = (repo: string, tag: string, seed: string): Promise<PushedImage> =>
      b.pushImage(repo, tag, {
        platforms,
        created: ago(2),
        seed,
        base,
        annotations: { 'org.opencontainers.image.base.name': `${reg.host}/library/debian:bookworm-slim`, 'org.opencontainers.image.base.digest': base.digest },
      });
    const app = await fromBase('acme/shop', 'v1', 'shop');
    const accessories = await Promise.all(
      [
        ['library/postgres', '16.4'],
        ['library/valkey', '8.0'],
        ['library/memcached', '1.6'],
        ['acme/search', '2.1'],
      ].map(([repo, tag]) => fromBase(repo!, tag!, repo!)),
    );
    const proxy = await fromBase('basecamp/kamal-proxy', 'v0.9.2', 'proxy');

    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const payload = simpleSigning(`${reg.host}/acme/shop`, app.digest);
    await pushLegacy(b, 'acme/shop', app.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, privateKey) } }]);

    mkdirSync(join(dir, 'config'));
    mkdirSync(join(dir, '.kamal'));
    const names = ['db', 'cache', 'memcached', 'search'];
    writeFileSync(
      join(dir, 'config', 'deploy.yml'),
      [
        'service: shop',
        `image: acme/shop`,
        'servers:',
        '  web:',
        '    - 192.0.2.10',
        'registry:',
        `  server: ${reg.host}`,
        // Kamal 2 requires credentials for any registry but localhost:PORT; this one asks for none.
        '  username: bench',
        '  password: [KAMAL_REGISTRY_PASSWORD]',
        'builder:',
        '  arch: [amd64, arm64]',
        'proxy:',
        '  host: shop.example.com',
        '  run:',
        `    registry: ${reg.host}`,
        '    repository: basecamp/kamal-proxy',
        '    version: v0.9.2',
        'accessories:',
        ...accessories.flatMap((a, i) => [`  ${names[i]}:`, `    image: ${a.pinned.replace('@', `:${a.tag}@`)}`, '    host: 192.0.2.12']),
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, '.kamal', 'secrets'), 'KAMAL_REGISTRY_PASSWORD=bench-password\n');
    writeFileSync(join(dir, '.kamal', 'gate-policy.yml'), strictWithKey());
    writeFileSync(join(dir, '.kamal', 'cosign.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: join(dir, '.docker'), XDG_CACHE_HOME: join(dir, 'cache-record') };
    delete env['KAMAL_VERSION'];
    delete env['VERSION'];
    delete env['KAMAL_GATE_LEDGER_URL'];
    await mustRun('kamal-gate record', NODE, [CLI, 'record', '--version', 'v1'], { cwd: dir, env });
    const all = [app, ...accessories, proxy];
    return {
      reg,
      dir,
      refs: [app.ref, ...accessories.map((a) => a.pinned.replace('@', `:${a.tag}@`)), proxy.ref],
      tagged: all.map((i) => i.ref),
      env,
      async stop() {
        await reg.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

interface RegistryStats {
  requests: number;
  bytes: number;
  ms: number;
}

export interface VerifyRun {
  ms: number;
  exitCode: number;
  images: number;
  requests: number;
  bytes: number;
}

/** One `kamal-gate verify --format json --stats` of the app, a whole process as CI runs it, with `cacheHome` as its content cache. */
export async function verifyOnce(app: BenchApp, cacheHome: string): Promise<VerifyRun> {
  const r = await mustRun('kamal-gate verify', NODE, [CLI, 'verify', '--version', 'v1', '--format', 'json', '--stats'], {
    cwd: app.dir,
    // The content cache is the one named (fresh for a cold run); $XDG_CACHE_HOME stays the app's, so
    // Node's compile cache (bin/kamal-gate.mjs keeps it there) is warm, as on any machine after its first run.
    env: { ...app.env, KAMAL_GATE_CACHE_DIR: cacheHome },
  });
  const doc = JSON.parse(r.stdout) as { exitCode: number; images: unknown[]; stats?: Record<string, RegistryStats> };
  if (!doc.stats) throw new Error('kamal-gate verify --stats printed no stats');
  const stats = Object.values(doc.stats);
  return {
    ms: r.ms,
    exitCode: doc.exitCode,
    images: doc.images.length,
    requests: stats.reduce((n, s) => n + s.requests, 0),
    bytes: stats.reduce((n, s) => n + s.bytes, 0),
  };
}
