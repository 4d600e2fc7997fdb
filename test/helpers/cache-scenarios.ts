/**
 * Two Kamal apps on a test registry, for counting registry requests with and without the on-disk
 * cache (test/registry/cache-cli.test.ts and bench/requests.ts):
 *
 *   - `demo`: what `npm run demo` pushes: a signed two-platform app on a ruby base (with a newer
 *     ruby release), two accessories, under the demo's policy (fixtures/demo-gate-policy.yml).
 *   - `strict`: one signed two-platform app, four accessories pinned by digest and kamal-proxy,
 *     every image with a base annotation, under policies/strict.yml (its keyless placeholder
 *     replaced by the key the app is signed with).
 */
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pushLegacy, signPayload, simpleSigning } from './cosign-format.js';
import { ImageBuilder, type PushedImage } from './image-builder.js';
import type { TestRegistry } from './registry.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');

export interface Scenario {
  /** The app folder (config/deploy.yml, .kamal/gate-policy.yml, .kamal/cosign.pub). */
  app: string;
  env: NodeJS.ProcessEnv;
  /** Images a verify run resolves (the targets of the config). */
  images: number;
  app_image: PushedImage;
  builder: ImageBuilder;
  cleanup(): void;
}

function sign(builder: ImageBuilder, reg: TestRegistry, repo: string, img: PushedImage): { publicPem: string; done: Promise<void> } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const payload = simpleSigning(`${reg.host}/${repo}`, img.digest);
  const done = pushLegacy(builder, repo, img.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, privateKey) } }]);
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), done };
}

function baseEnv(reg: TestRegistry, app: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(app, '.docker') };
  return env;
}

/** The demo app (scripts/demo.ts) on `reg` (htpasswd or token auth, user `demo`). */
export async function demoScenario(reg: TestRegistry): Promise<Scenario> {
  const builder = new ImageBuilder(reg);
  const ruby = await builder.pushImage('library/ruby', '3.3.4-slim', { platforms: [amd64, arm64], created: ago(300), seed: 'ruby-3.3.4' });
  await builder.pushImage('library/ruby', '3.3.6-slim', { platforms: [amd64, arm64], created: ago(40), seed: 'ruby-3.3.6' });
  const shop = await builder.pushImage('acme/shop', 'v1', {
    platforms: [amd64, arm64],
    created: ago(0.05),
    labels: { service: 'shop' },
    base: ruby,
    annotations: { 'org.opencontainers.image.base.name': `${reg.host}/library/ruby:3.3.4-slim`, 'org.opencontainers.image.base.digest': ruby.digest },
  });
  await builder.tagExisting('acme/shop', shop.digest, 'latest');
  const signed = sign(builder, reg, 'acme/shop', shop);
  await signed.done;
  await builder.pushImage('library/postgres', '16.4', { created: '2026-08-14T09:00:00Z' });
  await builder.pushImage('library/valkey', '8.0', { platforms: [amd64, arm64], created: '2026-10-02T12:00:00Z' });
  const app = mkdtempSync(join(tmpdir(), 'kg-cache-demo-'));
  cpSync(join(ROOT, 'fixtures', 'demo-app'), app, { recursive: true });
  mkdirSync(join(app, '.kamal'), { recursive: true });
  writeFileSync(join(app, '.kamal', 'cosign.pub'), signed.publicPem);
  cpSync(join(ROOT, 'fixtures', 'demo-gate-policy.yml'), join(app, '.kamal', 'gate-policy.yml'));
  // shop:v1, shop:latest (the alias, resolved but not checked), postgres, valkey
  return { app, env: baseEnv(reg, app), images: 4, app_image: shop, builder, cleanup: () => rmSync(app, { recursive: true, force: true }) };
}

/** One app image, four accessories pinned by digest and kamal-proxy, under policies/strict.yml. */
export async function strictScenario(reg: TestRegistry): Promise<Scenario> {
  const builder = new ImageBuilder(reg);
  const debian = await builder.pushImage('library/debian', '12.7-slim', { platforms: [amd64, arm64], created: ago(20), seed: 'debian-12.7' });
  const onDebian = (extra: Record<string, unknown> = {}) => ({
    platforms: [amd64, arm64],
    created: ago(2),
    base: debian,
    annotations: { 'org.opencontainers.image.base.name': `${reg.host}/library/debian:12.7-slim`, 'org.opencontainers.image.base.digest': debian.digest },
    ...extra,
  });
  const shop = await builder.pushImage('acme/shop', 'v1', onDebian({ labels: { service: 'shop' } }));
  const signed = sign(builder, reg, 'acme/shop', shop);
  await signed.done;
  const accessories: Array<[string, string, PushedImage]> = [];
  for (const [name, repo, tag] of [
    ['db', 'library/postgres', '16.4'],
    ['cache', 'library/valkey', '8.0'],
    ['search', 'library/opensearch', '2.17'],
    ['queue', 'library/rabbitmq', '4.0'],
  ] as const) {
    accessories.push([name, `${repo}:${tag}`, await builder.pushImage(repo, tag, onDebian())]);
  }
  await builder.pushImage('basecamp/kamal-proxy', 'v0.9.2', onDebian());
  const app = mkdtempSync(join(tmpdir(), 'kg-cache-strict-'));
  mkdirSync(join(app, 'config'), { recursive: true });
  mkdirSync(join(app, '.kamal'), { recursive: true });
  const lines = [
    'service: shop',
    'image: acme/shop',
    'servers:',
    '  web:',
    '    - 192.0.2.10',
    'proxy:',
    '  host: shop.example.com',
    '  run:',
    '    registry: <%= ENV["DEMO_REGISTRY"] %>',
    '    version: v0.9.2',
    'registry:',
    '  server: <%= ENV["DEMO_REGISTRY"] %>',
    '  username: demo',
    '  password:',
    '    - KAMAL_REGISTRY_PASSWORD',
    'builder:',
    '  arch:',
    '    - amd64',
    '    - arm64',
    'accessories:',
  ];
  for (const [name, ref, img] of accessories) {
    lines.push(`  ${name}:`, `    image: <%= ENV["DEMO_REGISTRY"] %>/${ref}@${img.digest}`, '    host: 192.0.2.12');
  }
  writeFileSync(join(app, 'config', 'deploy.yml'), lines.join('\n') + '\n');
  writeFileSync(join(app, '.kamal', 'secrets'), 'KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\n');
  writeFileSync(join(app, '.kamal', 'cosign.pub'), signed.publicPem);
  // policies/strict.yml as shipped, except the keyless placeholder: the app is signed with a key
  // (no Rekor here, so the tlog cannot be required).
  const strict = readFileSync(join(ROOT, 'policies', 'strict.yml'), 'utf8');
  const policy = strict.replace(/      keyless:\n        - identity: "[^"]*"\n          issuer: [^\n]*\n/, '      keys: [cosign.pub]\n').replace('      tlog: required\n', '      tlog: optional\n');
  if (!policy.includes('keys: [cosign.pub]')) throw new Error('strictScenario: policies/strict.yml changed; update the keyless replacement');
  writeFileSync(join(app, '.kamal', 'gate-policy.yml'), policy);
  // shop:v1, shop:latest (alias), 4 accessories, kamal-proxy
  return { app, env: baseEnv(reg, app), images: 7, app_image: shop, builder, cleanup: () => rmSync(app, { recursive: true, force: true }) };
}

/** Registry requests, bytes and cache hits of a `--format json --stats` report. */
export function statsOf(stdout: string, host: string): { requests: number; bytes: number; cacheHits: number } {
  const doc = JSON.parse(stdout) as { stats?: Record<string, { requests: number; bytes: number; cacheHits: number }> };
  const s = doc.stats?.[host];
  if (!s) throw new Error(`no stats for ${host} in the report`);
  return s;
}
