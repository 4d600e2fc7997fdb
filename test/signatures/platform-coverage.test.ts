/**
 * Issue 13 items 4 and 5 through the built CLI on a Kamal app (`builder.arch: [amd64, arm64]`)
 * against a real docker-registry 2.8: every manifest a host of the deploy can pull must be covered
 * by a signature (src/signatures/coverage.ts), and the manifest checked is the one the container
 * runtime pulls (src/registry/platforms.ts). Signatures are cosign-style legacy `.sig` tags signed
 * here with a P-256 key; attestations are cosign-style `.att` DSSE envelopes.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupOf } from '../../src/policy/rules.js';
import { runCli } from '../helpers/cli.js';
import { pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { ImageBuilder, MediaType, type Platform } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };
const ARM64: Platform = { os: 'linux', architecture: 'arm64' };
/** Each test runs the CLI several times (a process each): room for a shared, busy machine. */
const CLI_TIMEOUT = 120_000;

let reg: TestRegistry;
let b: ImageBuilder;
let work: string;
let ours: { priv: KeyObject; pub: string };
let second: { priv: KeyObject; pub: string };
let keyPolicy: string;

interface Finding {
  rule: string;
  severity: string;
  fails: boolean;
  message: string;
  evidence?: Record<string, unknown>;
}
interface Report {
  exitCode: number;
  images: Array<{ ref: string; status: string; platformDigest?: string; platformDigests?: Record<string, string>; findings?: Finding[]; error?: { kind: string; message: string } }>;
}

function keyPair(name: string): { priv: KeyObject; pub: string } {
  const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pub = join(work, `${name}.pub`);
  writeFileSync(pub, kp.publicKey.export({ format: 'pem', type: 'spki' }));
  return { priv: kp.privateKey, pub };
}

function policy(name: string, yaml: string): string {
  const p = join(work, name);
  writeFileSync(p, yaml);
  return p;
}

/** A Kamal app whose image is `<registry>/<image>:v1`, built for `arch`. */
function kamalApp(image: string, arch: string[]): string {
  const dir = mkdtempSync(join(work, 'app-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(
    join(dir, 'config', 'deploy.yml'),
    `service: cov\nimage: ${image}\nservers:\n  web:\n    - 192.0.2.10\nregistry:\n  server: ${reg.host}\n  username: ci\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: [${arch.join(', ')}]\n`,
  );
  return dir;
}

async function verify(app: string, policyFile: string, args: string[] = []): Promise<{ code: number; report: Report; stderr: string; stdout: string }> {
  const r = await runCli(['verify', '--version', 'v1', '--policy', policyFile, '--no-ledger', '--format', 'json', ...args], { cwd: app, env: { KAMAL_REGISTRY_PASSWORD: 'unused' } });
  let report: Report = { exitCode: -1, images: [] };
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    // no report: the test's expectations show stderr
  }
  return { ...r, report };
}

/** The app image (not Kamal's latest alias) of a report. */
const appImage = (r: Report) => r.images.find((i) => i.ref.endsWith(':v1'))!;
/** `rule:fail|ok` of the signature and attestation findings of the app image. */
const rules = (r: Report) =>
  (appImage(r)?.findings ?? [])
    .filter((f) => /^(signature|attestation)\./.test(f.rule))
    .map((f) => `${f.rule}:${f.fails ? 'fail' : 'ok'}`)
    .sort();

async function signLegacy(repo: string, digest: string, key: KeyObject): Promise<void> {
  const payload = simpleSigning(`${reg.host}/${repo}`, digest);
  await pushLegacy(b, repo, digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, key) } }]);
}

/** A cosign `.att` (legacy) attestation of `digest`: a DSSE envelope over an SLSA v1 statement, signed with `key`. */
async function attestLegacy(repo: string, digest: string, key: KeyObject): Promise<void> {
  const type = 'application/vnd.in-toto+json';
  const body = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: repo, digest: { sha256: digest.replace(/^sha256:/, '') } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: {}, runDetails: { builder: { id: 'https://ci.example/builder' } } },
    }),
  );
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${body.length} `), body]);
  const envelope = Buffer.from(JSON.stringify({ payloadType: type, payload: body.toString('base64'), signatures: [{ keyid: '', sig: sign('sha256', pae, key).toString('base64') }] }));
  await pushLegacy(
    b,
    repo,
    digest,
    [{ payload: envelope, mediaType: 'application/vnd.dsse.envelope.v1+json', annotations: { 'dev.cosignproject.cosign/signature': '', predicateType: 'https://slsa.dev/provenance/v1' } }],
    'att',
  );
}

let parts = 0;
/** A platform manifest (pushed by digest, its config naming `p`), as an index entry. */
async function platformImage(repo: string, p: Platform, annotations?: Record<string, string>) {
  const m = (await b.pushImage(repo, `part-${++parts}`, { platforms: [p], layerCount: 1 })).manifests[0]!;
  return { mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { ...p }, ...(annotations ? { annotations } : {}) };
}

async function pushIndex(repo: string, entries: object[]): Promise<string> {
  return (await b.pushManifest(repo, 'v1', { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries })).digest;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-coverage-'));
  reg = await startRegistry();
  b = new ImageBuilder(reg);
  ours = keyPair('ours');
  second = keyPair('second');
  keyPolicy = policy('key.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${ours.pub}]\n    tlog: optional\n`);
});

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('one signed platform does not cover the index (issue 13.5)', { timeout: CLI_TIMEOUT }, () => {
  it('an old signed amd64 manifest beside an unsigned arm64 one fails, naming linux/arm64 and its digest', async () => {
    const repo = 'cov/reused';
    const old = await platformImage(repo, AMD64);
    await signLegacy(repo, old.digest, ours.priv);
    const arm = await platformImage(repo, ARM64);
    const index = await pushIndex(repo, [old, arm]);
    const app = kamalApp(repo, ['amd64', 'arm64']);

    const r = await verify(app, keyPolicy);
    expect(r.code, r.stderr).toBe(1);
    expect(appImage(r.report).platformDigests).toEqual({ 'linux/amd64': old.digest, 'linux/arm64': arm.digest });
    expect(rules(r.report)).toEqual(['signature.platform_uncovered:fail']);
    const f = appImage(r.report).findings!.find((x) => x.rule === 'signature.platform_uncovered')!;
    expect(f.severity).toBe('high');
    expect(f.message).toContain(`the linux/arm64 image ${arm.digest}`);
    expect(f.message).toContain(`nor has the index ${index}`);
    expect(f.message).toContain(`linux/amd64 by key ${ours.pub}`);
    expect(f.evidence).toMatchObject({ platform: 'linux/arm64', platformDigest: arm.digest, index });
    expect(groupOf(f.rule)).toBe('signatures');

    // The same index for a deploy that runs amd64 hosts only: every manifest it pulls is signed.
    const amdOnly = await verify(kamalApp(repo, ['amd64']), keyPolicy);
    expect(rules(amdOnly.report)).toEqual(['signature.verified:ok']);
    expect(amdOnly.code, amdOnly.stderr).toBe(0);

    // SARIF describes the new rule.
    const sarif = await runCli(['verify', '--version', 'v1', '--policy', keyPolicy, '--no-ledger', '--format', 'sarif'], { cwd: app, env: { KAMAL_REGISTRY_PASSWORD: 'unused' } });
    const rule = (JSON.parse(sarif.stdout) as { runs: Array<{ tool: { driver: { rules: Array<{ id: string; shortDescription: { text: string } }> } } }> }).runs[0]!.tool.driver.rules.find(
      (x) => x.id === 'signature.platform_uncovered',
    );
    expect(rule?.shortDescription.text).toMatch(/no valid signature covers/);
  });

  it('passes an index signed at the index digest, and one whose every targeted platform is signed', async () => {
    const atIndex = 'cov/index-signed';
    const built = await b.pushImage(atIndex, 'v1', { platforms: [AMD64, ARM64] });
    await signLegacy(atIndex, built.digest, ours.priv);
    const r = await verify(kamalApp(atIndex, ['amd64', 'arm64']), keyPolicy);
    expect(rules(r.report)).toEqual(['signature.verified:ok']);
    expect(r.code, r.stderr).toBe(0);

    const each = 'cov/each-signed';
    const both = await b.pushImage(each, 'v1', { platforms: [AMD64, ARM64] });
    for (const m of both.manifests) await signLegacy(each, m.digest, ours.priv);
    const e = await verify(kamalApp(each, ['amd64', 'arm64']), keyPolicy);
    expect(rules(e.report)).toEqual(['signature.verified:ok']);
    expect(e.code, e.stderr).toBe(0);
  });

  it('with count: 2, a platform needs two signers between the index and its own manifest', async () => {
    const repo = 'cov/two-signers';
    const img = await b.pushImage(repo, 'v1', { platforms: [AMD64, ARM64] });
    await signLegacy(repo, img.digest, ours.priv);
    await signLegacy(repo, img.manifests[0]!.digest, second.priv);
    const two = policy('two.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${ours.pub}, ${second.pub}]\n    count: 2\n    tlog: optional\n`);
    const r = await verify(kamalApp(repo, ['amd64', 'arm64']), two);
    expect(r.code, r.stderr).toBe(1);
    expect(rules(r.report)).toEqual(['signature.platform_uncovered:fail']);
    const f = appImage(r.report).findings!.find((x) => x.rule === 'signature.platform_uncovered')!;
    expect(f.message).toContain(`the linux/arm64 image ${img.manifests[1]!.digest}`);
    expect(f.message).toContain(`1 of the 2 required signers: key ${ours.pub}`);

    await signLegacy(repo, img.manifests[1]!.digest, second.priv);
    const ok = await verify(kamalApp(repo, ['amd64', 'arm64']), two);
    expect(rules(ok.report)).toEqual(['signature.verified:ok']);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('attestations follow the same rule: provenance on amd64 only does not cover arm64; on the index it does', async () => {
    const attPolicy = policy(
      'att.yml',
      `version: 1\ndefaults:\n  signatures:\n    mode: off\n    tlog: optional\n  attestations:\n    require:\n      - type: slsa-provenance\n        signedBy: { key: ${ours.pub} }\n`,
    );
    const repo = 'cov/attested';
    const img = await b.pushImage(repo, 'v1', { platforms: [AMD64, ARM64] });
    await attestLegacy(repo, img.manifests[0]!.digest, ours.priv);
    const r = await verify(kamalApp(repo, ['amd64', 'arm64']), attPolicy);
    expect(r.code, r.stderr).toBe(1);
    expect(rules(r.report)).toEqual(['attestation.platform_uncovered:fail']);
    const f = appImage(r.report).findings!.find((x) => x.rule === 'attestation.platform_uncovered')!;
    expect(f.message).toContain(`the linux/arm64 image ${img.manifests[1]!.digest}`);
    expect(f.evidence).toMatchObject({ platform: 'linux/arm64', platformDigest: img.manifests[1]!.digest });

    await attestLegacy(repo, img.digest, ours.priv);
    const ok = await verify(kamalApp(repo, ['amd64', 'arm64']), attPolicy);
    expect(rules(ok.report)).toEqual([]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('the manifest checked is the one the runtime pulls (issue 13.4)', { timeout: CLI_TIMEOUT }, () => {
  it('an unsigned first amd64 entry annotated as an attestation manifest is what amd64 hosts pull, and it fails', async () => {
    const repo = 'cov/decoy';
    const real = await platformImage(repo, AMD64);
    const arm = await platformImage(repo, ARM64);
    const decoy = await platformImage(repo, AMD64, { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': real.digest });
    for (const m of [real, arm]) await signLegacy(repo, m.digest, ours.priv);
    await pushIndex(repo, [decoy, real, arm]);

    // amd64 hosts only: the decoy is the only manifest deployed, and it carries no signature.
    const one = await verify(kamalApp(repo, ['amd64']), keyPolicy);
    expect(one.code, one.stderr).toBe(1);
    expect(appImage(one.report).platformDigest).toBe(decoy.digest);
    expect(rules(one.report)).toEqual(['signature.missing:fail']);

    // amd64 and arm64 hosts: arm64 is signed, amd64 hosts pull the unsigned decoy.
    const both = await verify(kamalApp(repo, ['amd64', 'arm64']), keyPolicy);
    expect(both.code, both.stderr).toBe(1);
    expect(appImage(both.report).platformDigests).toEqual({ 'linux/amd64': decoy.digest, 'linux/arm64': arm.digest });
    expect(rules(both.report)).toEqual(['signature.platform_uncovered:fail']);
    expect(appImage(both.report).findings!.find((x) => x.rule === 'signature.platform_uncovered')!.message).toContain(`the linux/amd64 image ${decoy.digest}`);
  });
});
