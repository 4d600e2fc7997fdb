/**
 * The policy through `kamal-gate verify`, against the real registry: images on old and fresh bases
 * (annotated, with BuildKit-style provenance, and unannotated with a layer prefix) give the right
 * findings under the shipped baseline and strict policies and under policies written here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder, dockerPurl, slsaProvenance, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString().replace(/\.\d+Z$/, 'Z');
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

let reg: TestRegistry;
let work: string;
let oldRuby: PushedImage;
let freshDebian: PushedImage;
const img: Record<string, PushedImage> = {};

interface Finding {
  rule: string;
  severity: string;
  mode: string;
  fails: boolean;
  message: string;
  evidence: Record<string, unknown>;
  waivedBy?: { reason: string };
}
interface Report {
  exitCode: number;
  images: Array<{ ref: string; status: string; findings?: Finding[]; base?: { source: string; name?: string; ageDays?: number; staleDays?: number } }>;
  policyFindings?: Finding[];
}

async function verify(refs: string[], policy: string, extra: string[] = []): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await runCli(['verify', ...refs, '--policy', policy, '--no-ledger', '--format', 'json', ...extra], { cwd: work });
  return { code: r.code, report: JSON.parse(r.stdout || '{}') as Report, stderr: r.stderr };
}

function policyFile(name: string, yaml: string): string {
  const p = join(work, name);
  writeFileSync(p, yaml.replaceAll('REG', reg.host));
  return p;
}

const rules = (r: Report, i = 0) => (r.images[i]!.findings ?? []).map((f) => `${f.rule}:${f.fails ? 'fail' : f.waivedBy ? 'waived' : 'warn'}`).sort();

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  work = mkdtempSync(join(tmpdir(), 'kg-policy-'));
  const b = new ImageBuilder(reg);
  oldRuby = await b.pushImage('library/ruby', '3.3.4', { seed: 'ruby-334', created: ago(400), platforms: [AMD64, ARM64] });
  await b.pushImage('library/ruby', '3.3.5', { seed: 'ruby-335', created: ago(200), platforms: [AMD64, ARM64] });
  freshDebian = await b.pushImage('library/debian', '12', { seed: 'debian-12', created: ago(5) });
  const rubyAmd = oldRuby.manifests[0]!;
  // 1. annotated with the OCI base annotations, on the old ruby
  img.annotated = await b.pushImage('acme/annotated', 'v1', {
    seed: 'annotated',
    created: ago(10),
    base: oldRuby,
    platforms: [AMD64, ARM64],
    annotations: { 'org.opencontainers.image.base.name': `${reg.host}/library/ruby:3.3.4`, 'org.opencontainers.image.base.digest': oldRuby.digest },
  });
  // 2. BuildKit min-mode provenance listing two images; the layers say debian is the base
  img.provenance = await b.pushImage('acme/provenance', 'v1', {
    seed: 'prov',
    created: ago(3),
    base: freshDebian,
    attestations: [
      slsaProvenance('v0.2', [
        { uri: dockerPurl(`${reg.host}/library/ruby`, '3.3.4', { platform: AMD64 }), digest: oldRuby.digest },
        { uri: dockerPurl(`${reg.host}/library/debian`, '12', { platform: AMD64 }), digest: freshDebian.digest },
      ]),
    ],
  });
  // 3. no metadata at all; only its layers tell
  img.bare = await b.pushImage('acme/bare', 'v1', { seed: 'bare', created: ago(2), baseLayers: rubyAmd.layers });
  // 4. nothing to go on
  img.unknown = await b.pushImage('acme/unknown', 'v1', { seed: 'unknown', created: ago(400) });
  img.latest = await b.pushImage('acme/annotated', 'latest', { seed: 'annotated-latest', created: ago(1) });
});

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the shipped baseline policy', () => {
  it('warns about an old base and an unknown one, and passes', async () => {
    const { code, report } = await verify([img.annotated!.ref, img.unknown!.ref, img.provenance!.ref], join(POLICIES, 'baseline.yml'));
    expect(code).toBe(0);
    expect(rules(report, 0)).toEqual(['base.too_old:warn']);
    const tooOld = report.images[0]!.findings![0]!;
    expect(tooOld.evidence).toMatchObject({ source: 'annotation', createdSource: 'config', maxAge: '180d' });
    expect(tooOld.evidence['ageDays']).toBeGreaterThanOrEqual(399);
    expect(report.images[0]!.base).toMatchObject({ source: 'annotation', name: `${reg.host}/library/ruby:3.3.4` });
    expect(rules(report, 1)).toEqual(['base.unknown:warn']);
    // min-mode provenance listed ruby and debian: the layer prefix picked debian, which is fresh
    expect(rules(report, 2)).toEqual([]);
    expect(report.images[2]!.base).toMatchObject({ source: 'provenance', name: `${reg.host}/library/debian:12` });
  });

  it('warns about deploying the latest tag of an app', async () => {
    const { code, report } = await verify([img.latest!.ref], join(POLICIES, 'baseline.yml'));
    expect(code).toBe(0);
    expect(rules(report)).toContain('tag.forbidden:warn');
  });
});

describe('the shipped strict policy', () => {
  it('fails the old base, the old image, the unknown base, and the missing signatures', async () => {
    const a = await verify([img.annotated!.ref], join(POLICIES, 'strict.yml'));
    expect(a.code).toBe(1);
    expect(rules(a.report)).toEqual(['attestation.missing:warn', 'base.too_old:fail', 'signature.missing:fail']);
    const u = await verify([img.unknown!.ref], join(POLICIES, 'strict.yml'));
    expect(rules(u.report)).toEqual(['attestation.missing:warn', 'base.unknown:fail', 'image.too_old:fail', 'signature.missing:fail']);
  });
});

describe('policies written for this registry', () => {
  it('finds the base by layer prefix from policy candidates, and holds its age', async () => {
    const p = policyFile(
      'candidates.yml',
      `version: 1
defaults:
  base:
    maxAge: 90d
    candidates: ["REG/library/debian:12", "REG/library/ruby:3.3.4"]
`,
    );
    const { code, report } = await verify([img.bare!.ref], p);
    expect(code).toBe(1);
    expect(report.images[0]!.base).toMatchObject({ source: 'layers', name: `${reg.host}/library/ruby:3.3.4` });
    expect(rules(report)).toEqual(['base.too_old:fail']);
  });

  it('base.not_allowed names the allowed bases', async () => {
    const p = policyFile(
      'allowed.yml',
      `version: 1
rules:
  - name: only-debian
    match: { images: ["REG/acme/*"] }
    base:
      allowed: ["REG/library/debian"]
`,
    );
    const { code, report } = await verify([img.annotated!.ref, img.provenance!.ref], p);
    expect(code).toBe(1);
    expect(rules(report, 0)).toEqual(['base.not_allowed:fail']);
    expect(report.images[0]!.findings![0]!.message).toContain(`${reg.host}/library/debian`);
    expect(rules(report, 1)).toEqual([]);
  });

  it('base.stale: the base tag moved to a newer image long enough ago', async () => {
    const b = new ImageBuilder(reg);
    const built = await b.pushImage('library/node', '22', { seed: 'node-a', created: ago(60) });
    const app = await b.pushImage('acme/on-node', 'v1', {
      seed: 'on-node',
      created: ago(50),
      base: built,
      annotations: { 'org.opencontainers.image.base.name': `${reg.host}/library/node:22`, 'org.opencontainers.image.base.digest': built.digest },
    });
    await b.pushImage('library/node', '22', { seed: 'node-b', created: ago(40) });
    const p = policyFile(
      'stale.yml',
      `version: 1
defaults:
  base:
    maxStaleness: 30d
`,
    );
    const { code, report } = await verify([app.ref], p);
    expect(code).toBe(1);
    expect(rules(report)).toEqual(['base.stale:fail']);
    expect(report.images[0]!.findings![0]!.evidence).toMatchObject({ maxStaleness: '30d', staleDays: 40 });
    const lenient = policyFile(
      'stale-lenient.yml',
      `version: 1
defaults:
  base:
    maxStaleness: 6w
`,
    );
    expect((await verify([app.ref], lenient)).code).toBe(0);
  });

  it('image.maxAge, tags.forbid, tags.requireDigest and platforms.require', async () => {
    const p = policyFile(
      'image.yml',
      `version: 1
defaults:
  image:
    maxAge: 30d
  tags:
    immutable: true
    forbid: ["v*"]
    requireDigest: true
  platforms:
    require: [linux/amd64, linux/arm64, linux/s390x]
`,
    );
    const { code, report } = await verify([img.unknown!.ref], p);
    expect(code).toBe(1);
    expect(rules(report)).toEqual(['image.too_old:fail', 'platform.missing:fail', 'tag.forbidden:fail', 'tag.not_pinned:fail']);
    const missing = report.images[0]!.findings!.find((f) => f.rule === 'platform.missing')!;
    expect(missing.evidence).toMatchObject({ offered: ['linux/amd64'] });
    const pinned = await verify([img.unknown!.pinned], p);
    expect(rules(pinned.report)).toEqual(['image.too_old:fail', 'platform.missing:fail']);
  });

  it('warn mode reports without failing; off skips the check', async () => {
    const warn = policyFile(
      'warn.yml',
      `version: 1
defaults:
  image: { mode: warn, maxAge: 30d }
`,
    );
    const w = await verify([img.unknown!.ref], warn);
    expect(w.code).toBe(0);
    expect(rules(w.report)).toEqual(['image.too_old:warn']);
    const off = policyFile(
      'off.yml',
      `version: 1
defaults:
  image: { mode: off, maxAge: 30d }
`,
    );
    expect(rules((await verify([img.unknown!.ref], off)).report)).toEqual([]);
  });

  it('an active exception waives a finding; an expired one waives nothing and is reported', async () => {
    const p = policyFile(
      'exceptions.yml',
      `version: 1
defaults:
  image: { maxAge: 30d }
exceptions:
  - images: ["REG/acme/unknown:*"]
    rules: [image.*]
    reason: "legacy image, replacement tracked in OPS-1"
    expires: 2999-12-31
  - images: ["REG/acme/annotated"]
    rules: [base.too_old]
    reason: "old exception"
    expires: 2020-01-01
`,
    );
    const { code, report } = await verify([img.unknown!.ref], p);
    expect(code).toBe(0);
    expect(rules(report)).toEqual(['image.too_old:waived']);
    expect(report.images[0]!.findings![0]!.waivedBy?.reason).toContain('OPS-1');
    expect(report.policyFindings?.map((f) => f.rule)).toEqual(['policy.exception_expired']);
    expect(report.policyFindings![0]!.message).toContain('expired on 2020-01-01');
  });

  it('a policy with a typo or a wrong type is refused with line-numbered errors, before any network', async () => {
    const p = policyFile(
      'typo.yml',
      `version: 1
defaults:
  base:
    maxAg: 90d
  image:
    maxAge: ninety
`,
    );
    const r = await runCli(['verify', img.unknown!.ref, '--policy', p, '--no-ledger'], { cwd: work });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/typo\.yml:4:5: defaults\.base\.maxAg: unknown key.*maxAge/);
    expect(r.stderr).toMatch(/typo\.yml:6:13: defaults\.image\.maxAge/);
    expect(r.stdout).toBe('');
  });

  it('text output groups findings per image, failing first', async () => {
    const p = policyFile(
      'text.yml',
      `version: 1
defaults:
  image: { mode: warn, maxAge: 30d }
  base: { maxAge: 90d }
`,
    );
    const r = await runCli(['verify', img.unknown!.ref, img.annotated!.ref, '--policy', p, '--no-ledger'], { cwd: work });
    expect(r.code).toBe(1);
    const failAt = r.stdout.indexOf('FAIL high base.too_old');
    const warnAt = r.stdout.indexOf('WARN medium image.too_old');
    expect(failAt).toBeGreaterThan(0);
    expect(warnAt).toBeGreaterThan(failAt);
    // base.unknown is enforced: the policy's base group does not say unknown: warn
    expect(r.stdout).toMatch(/2 failing findings, 1 warning/);
    expect(r.stdout).toMatch(/FAIL medium base\.unknown/);
  });
});

describe('policy keys that reach the ledger and the Kamal config', () => {
  it('ledger trust strict fails a tag never recorded; immutable false turns an overwrite into a warning', async () => {
    const b = new ImageBuilder(reg);
    const first = await b.pushImage('acme/mutable', 'v1', { seed: 'm1', created: ago(1) });
    const ledger = join(work, 'policy-ledger.jsonl');
    const strict = policyFile(
      'trust-strict.yml',
      `version: 1
defaults:
  ledger: { trust: strict }
  base: { mode: off }
`,
    );
    const run = (policy: string) => runCli(['verify', first.ref, '--policy', policy, '--ledger', ledger, '--format', 'json'], { cwd: work });
    const unrecorded = await run(strict);
    expect(unrecorded.code).toBe(1);
    expect((JSON.parse(unrecorded.stdout) as Report).images[0]!.findings!.map((f) => f.rule)).toEqual(['tag.unrecorded']);
    expect((await runCli(['record', first.ref, '--ledger', ledger], { cwd: work })).code).toBe(0);
    expect((await run(strict)).code).toBe(0);
    await b.pushImage('acme/mutable', 'v1', { seed: 'm2', created: ago(1) });
    const immutable = await run(strict);
    expect(immutable.code).toBe(1);
    const mutable = policyFile(
      'mutable.yml',
      `version: 1
defaults:
  base: { mode: off }
rules:
  - name: mutable-tags
    match: { images: ["REG/acme/mutable"] }
    tags: { immutable: false }
`,
    );
    const warned = await run(mutable);
    expect(warned.code).toBe(0);
    expect(rules(JSON.parse(warned.stdout) as Report)).toEqual(['tag.overwritten:warn']);
  });

  it('base unknown: ignore reports nothing; the base tag is recorded in the ledger for staleness', async () => {
    const ignore = policyFile(
      'ignore.yml',
      `version: 1
defaults:
  base: { unknown: ignore }
`,
    );
    expect(rules((await verify([img.unknown!.ref], ignore)).report)).toEqual([]);
    const ledger = join(work, 'base-ledger.jsonl');
    const r = await runCli(['verify', img.annotated!.ref, '--policy', join(POLICIES, 'baseline.yml'), '--ledger', ledger, '--format', 'json'], { cwd: work });
    expect(r.code).toBe(0);
    const show = JSON.parse((await runCli(['ledger', 'show', `${reg.host}/library/ruby:3.3.4`, '--ledger', ledger, '--format', 'json'], { cwd: work })).stdout) as {
      entries: Array<{ digest: string; source: string }>;
    };
    expect(show.entries.map((e) => [e.digest, e.source])).toEqual([[oldRuby.digest, 'verify']]);
  });

  it('platforms require builder holds every image to the Kamal config builder.arch', async () => {
    const b = new ImageBuilder(reg);
    await b.pushImage('acme/shop', 'v9', { seed: 'shop-amd64-only', created: ago(1), labels: { service: 'shop' } });
    const app = mkdtempSync(join(work, 'app-'));
    const { cpSync } = await import('node:fs');
    cpSync(resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app'), app, { recursive: true });
    const p = policyFile(
      'builder.yml',
      `version: 1
defaults:
  base: { mode: off }
  platforms: { require: builder }
`,
    );
    const r = await runCli(['verify', '--version', 'v9', '--policy', p, '--no-ledger', '--format', 'json', '--platform', 'linux/amd64'], {
      cwd: app,
      env: { DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: 'unused', DOCKER_CONFIG: join(app, '.none') },
    });
    const report = JSON.parse(r.stdout) as Report;
    const shop = report.images.find((i) => i.ref.endsWith('acme/shop:v9'))!;
    expect(shop.findings?.map((f) => f.rule)).toEqual(['platform.missing']);
    expect(shop.findings![0]!.evidence).toMatchObject({ required: ['linux/amd64', 'linux/arm64'], offered: ['linux/amd64'] });
  });
});

describe('--trusted-root', () => {
  it('verifies against the given Sigstore root, and names the file when it cannot be read', async () => {
    const p = policyFile(
      'keyless.yml',
      `version: 1
defaults:
  base: { mode: off }
  signatures:
    keyless:
      - identity: release@example.com
        issuer: https://accounts.example.com
`,
    );
    const root = resolve(import.meta.dirname, '..', '..', 'fixtures', 'third-party-vectors', 'trusted_root_public_good.json');
    const ok = await verify([img.unknown!.ref], p, ['--trusted-root', root]);
    expect(ok.code).toBe(1);
    expect(rules(ok.report)).toEqual(['signature.missing:fail']);
    const missing = await runCli(['verify', img.unknown!.ref, '--policy', p, '--no-ledger', '--trusted-root', join(work, 'no-such-root.json')], { cwd: work });
    expect(missing.code).toBe(2);
    expect(missing.stdout + missing.stderr).toContain('no-such-root.json');
  });
});
