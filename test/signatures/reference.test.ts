/**
 * What binds a cosign signature to the image (issue 13): the signed digest, as in cosign
 * (pkg/cosign/verifiers.go SimpleClaimVerifier never reads `critical.identity.docker-reference`),
 * so an image copied with its `.sig` to another repository or registry (a mirror, `cosign copy`, a
 * private registry) still verifies; the docker-reference is held only under
 * `signatures.reference: match`, against the image's own repository or `signatures.allowedReferences`.
 * And the messages: what @sigstore/verify raises (TIMESTAMP_ERROR, TLOG_ERROR, …) reaches the user as
 * a sentence naming the setting that governs it, the library's code kept in the evidence.
 *
 * Everything runs through the built CLI against two real docker-registry 2.8 instances; signatures
 * are made here (keyed ones logged in a mock Rekor, keyless ones by @sigstore/sign against @sigstore/mock).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceMismatch } from '../../src/signatures/binding.js';
import { runCli } from '../helpers/cli.js';
import { cosignSignStatement, pushBundleReferrer, pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startMockSigstore, type MockSigstore } from './sigstore-mock.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ISSUER = 'https://fake.oidcissuer.com';
const me = { email: 'release@acme.test', iss: ISSUER };
/** Each test runs the CLI several times (a process each): room for a shared, busy machine. */
const CLI_TIMEOUT = 180_000;
const LIBRARY_CODE = /\b[A-Z_]+_ERROR\b/;

interface Finding {
  rule: string;
  fails: boolean;
  mode: string;
  message: string;
  remedy?: string;
  evidence?: { signatures?: Array<{ reason?: string; libraryError?: string; signedReference?: string; signedDigest?: string }> };
}
interface Report {
  exitCode: number;
  images: Array<{ ref: string; status: string; findings?: Finding[] }>;
}

let origin: TestRegistry;
let mirror: TestRegistry;
let sigstore: MockSigstore;
let a: ImageBuilder;
let m: ImageBuilder;
let work: string;
let root: string;
let emptyPolicy: string;

function policy(name: string, yaml: string): string {
  const p = join(work, name);
  writeFileSync(p, yaml);
  return p;
}

async function verify(ref: string, args: string[], policyFile = emptyPolicy): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await runCli(['verify', ref, '--policy', policyFile, '--no-ledger', '--format', 'json', '--trusted-root', root, ...args], { cwd: work });
  let report: Report = { exitCode: -1, images: [] };
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    // usage and policy errors print no report
  }
  return { code: r.code, report, stderr: r.stderr };
}

const sigFindings = (r: Report) => (r.images[0]?.findings ?? []).filter((f) => f.rule.startsWith('signature.'));
/** `rule:fail|warn|ok` of every signature finding of the image. */
const rules = (r: Report) =>
  sigFindings(r)
    .map((f) => `${f.rule}:${f.fails ? 'fail' : f.mode === 'warn' ? 'warn' : 'ok'}`)
    .sort();

/**
 * Copies a manifest (an index with its children, or an image) and every blob it names from one
 * registry/repository to another, byte for byte, as `cosign copy` / `crane cp` do: the digest stays.
 */
async function copyManifest(from: ImageBuilder, fromRepo: string, ref: string, to: ImageBuilder, toRepo: string, toRef = ref): Promise<string> {
  const got = await from.getManifest(fromRepo, ref);
  if (got.status !== 200 || !got.contentType) throw new Error(`copy: ${fromRepo}:${ref} answered HTTP ${got.status}`);
  const doc = JSON.parse(got.bytes.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
  for (const child of doc.manifests ?? []) await copyManifest(from, fromRepo, child.digest, to, toRepo);
  for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) await to.pushBlob(toRepo, await from.getBlob(fromRepo, blob.digest));
  await to.pushManifest(toRepo, toRef, got.bytes, got.contentType);
  return got.computedDigest;
}

const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

/** The image and its legacy `.sig` to another repository (and registry): what `cosign copy` does. */
async function cosignCopy(img: PushedImage, to: ImageBuilder, toRepo: string): Promise<string> {
  await copyManifest(a, img.repo, img.tag, to, toRepo, img.tag);
  await copyManifest(a, img.repo, sigTag(img.digest), to, toRepo);
  return `${to.reg.host}/${toRepo}:${img.tag}`;
}

/** A legacy `.sig` as `cosign sign --key` writes it: the payload names `repository`, and the signature is logged in (mock) Rekor. */
async function signLogged(b: ImageBuilder, repo: string, attachTo: string, repository: string, signedDigest: string, key: KeyObject): Promise<void> {
  const payload = simpleSigning(repository, signedDigest);
  const logged = await sigstore.logKeyedSignature(payload, key);
  await pushLegacy(b, repo, attachTo, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': logged.signature, 'dev.sigstore.cosign/bundle': logged.annotation } }]);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-sig-ref-'));
  [origin, mirror, sigstore] = await Promise.all([startRegistry(), startRegistry(), startMockSigstore()]);
  a = new ImageBuilder(origin);
  m = new ImageBuilder(mirror);
  root = join(work, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(sigstore.trustedRoot));
  emptyPolicy = policy('empty.yml', 'version: 1\n');
});

afterAll(async () => {
  await Promise.all([origin?.stop(), mirror?.stop(), sigstore?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('referenceMismatch (signatures.reference: match)', () => {
  const own = ['127.0.0.1:5000/mirror/app'];
  it('accepts the own repository whatever tag or digest the reference carries, and allowed globs', () => {
    expect(referenceMismatch('127.0.0.1:5000/mirror/app', own, [])).toBeUndefined();
    // skopeo writes the tag into the payload
    expect(referenceMismatch('127.0.0.1:5000/mirror/app:v1', own, [])).toBeUndefined();
    expect(referenceMismatch(`127.0.0.1:5000/mirror/app@sha256:${'a'.repeat(64)}`, own, [])).toBeUndefined();
    expect(referenceMismatch('ghcr.io/acme/app', own, ['ghcr.io/acme/*'])).toBeUndefined();
    expect(referenceMismatch('ghcr.io/acme/team/app', own, ['ghcr.io/acme/**'])).toBeUndefined();
    // Docker Hub names are normalized before matching
    expect(referenceMismatch('acme/app', own, ['docker.io/acme/*'])).toBeUndefined();
  });
  it('names both repositories otherwise; a missing or unparsable reference fails too', () => {
    expect(referenceMismatch('ghcr.io/acme/team/app', own, ['ghcr.io/acme/*'])).toMatch(
      /names ghcr\.io\/acme\/team\/app, which is neither this image's repository 127\.0\.0\.1:5000\/mirror\/app nor in signatures\.allowedReferences \(ghcr\.io\/acme\/\*\)/,
    );
    expect(referenceMismatch('ghcr.io/acme/app', own, [])).toMatch(/names ghcr\.io\/acme\/app, not this image's repository 127\.0\.0\.1:5000\/mirror\/app/);
    expect(referenceMismatch(undefined, own, [])).toMatch(/names no docker-reference/);
    expect(referenceMismatch('Not A Reference!', own, [])).toMatch(/is not an image reference/);
  });
});

describe('a signed image copied to another repository and registry', { timeout: CLI_TIMEOUT }, () => {
  let key: KeyObject;
  let pub: string;
  let signed: PushedImage;
  let signedRepo: string;
  /** The copies: another repository of the same registry, and the same path on another registry. */
  let otherRepo: string;
  let otherRegistry: string;
  let keyPolicy: string;

  beforeAll(async () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    key = kp.privateKey;
    pub = join(work, 'cosign.pub');
    writeFileSync(pub, kp.publicKey.export({ format: 'pem', type: 'spki' }));
    signed = await a.pushImage('acme/app', 'v1', { platforms: [AMD64] });
    signedRepo = `${origin.host}/acme/app`;
    await signLogged(a, signed.repo, signed.digest, signedRepo, signed.digest, key);
    otherRepo = await cosignCopy(signed, a, 'mirror/app');
    otherRegistry = await cosignCopy(signed, m, 'acme/app');
    keyPolicy = policy('keys.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n`);
  });

  it('verifies under the default policy (reference: ignore) and under cosign-style --key, like cosign', async () => {
    for (const ref of [signed.ref, otherRepo, otherRegistry]) {
      const byPolicy = await verify(ref, [], keyPolicy);
      expect(rules(byPolicy.report), ref).toEqual(['signature.verified:ok']);
      expect(byPolicy.code, ref).toBe(0);
      const byFlag = await verify(ref, ['--key', pub]);
      expect(rules(byFlag.report), ref).toEqual(['signature.verified:ok']);
      expect(byFlag.code, ref).toBe(0);
    }
  });

  it('with reference: match, the original passes and each copy fails naming both references', async () => {
    const match = policy('match.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    reference: match\n`);
    expect(rules((await verify(signed.ref, [], match)).report)).toEqual(['signature.verified:ok']);
    for (const [ref, repo] of [
      [otherRepo, `${origin.host}/mirror/app`],
      [otherRegistry, `${mirror.host}/acme/app`],
    ] as const) {
      const r = await verify(ref, [], match);
      expect(r.code, ref).toBe(1);
      expect(rules(r.report), ref).toEqual(['signature.reference_mismatch:fail']);
      const f = sigFindings(r.report)[0]!;
      expect(f.message).toContain(`names ${signedRepo}, not this image's repository ${repo}`);
      expect(f.remedy).toContain('signatures.allowedReferences');
      expect(f.evidence?.signatures?.[0]?.signedReference).toBe(signedRepo);
    }
    // The command line's --key does not check the reference (cosign never does): it still passes there, but the policy fails.
    const both = await verify(otherRegistry, ['--key', pub], match);
    expect(rules(both.report)).toEqual(['signature.reference_mismatch:fail', 'signature.verified:ok']);
    expect(both.code).toBe(1);
  });

  it('with reference: match, a copy passes when the signed repository is in allowedReferences, and only then', async () => {
    const allowed = policy('allowed.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    reference: match\n    allowedReferences: ["${origin.host}/acme/*"]\n`);
    for (const ref of [otherRepo, otherRegistry]) {
      const r = await verify(ref, [], allowed);
      expect(rules(r.report), ref).toEqual(['signature.verified:ok']);
      expect(r.code, ref).toBe(0);
    }
    const elsewhere = policy('elsewhere.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    reference: match\n    allowedReferences: ["${origin.host}/other/*", "ghcr.io/acme/**"]\n`);
    const r = await verify(otherRegistry, [], elsewhere);
    expect(rules(r.report)).toEqual(['signature.reference_mismatch:fail']);
    expect(sigFindings(r.report)[0]!.message).toContain(
      `names ${signedRepo}, which is neither this image's repository ${mirror.host}/acme/app nor in signatures.allowedReferences (${origin.host}/other/*, ghcr.io/acme/**)`,
    );
  });

  it('the digest binds: a signature for another digest copied next to an image fails, whatever the reference setting', async () => {
    const other = await m.pushImage('acme/app', 'v2', { platforms: [AMD64] });
    expect(other.digest).not.toBe(signed.digest);
    // The valid signature of v1 (it names this very repository's original), stored as v2's.
    await copyManifest(a, signed.repo, sigTag(signed.digest), m, 'acme/app', sigTag(other.digest));
    const allowed = policy('allowed-all.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    reference: match\n    allowedReferences: ["**"]\n`);
    for (const [args, pol] of [
      [[], keyPolicy],
      [['--key', pub], emptyPolicy],
      [[], allowed],
    ] as const) {
      const r = await verify(other.ref, [...args], pol);
      expect(r.code, pol).toBe(1);
      expect(rules(r.report), pol).toEqual(['signature.digest_mismatch:fail']);
      expect(sigFindings(r.report)[0]!.evidence?.signatures?.[0]?.signedDigest).toBe(signed.digest);
    }
  });

  it('a payload without docker-reference binds by digest by default, and fails under match', async () => {
    const img = await a.pushImage('acme/bare', 'v1', { platforms: [AMD64] });
    const payload = Buffer.from(JSON.stringify({ critical: { identity: {}, image: { 'docker-manifest-digest': img.digest }, type: 'cosign container image signature' }, optional: null }));
    await pushLegacy(a, img.repo, img.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, key) } }]);
    const optional = policy('bare.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    tlog: optional\n`);
    expect(rules((await verify(img.ref, [], optional)).report)).toEqual(['signature.verified:ok']);
    const match = policy('bare-match.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    tlog: optional\n    reference: match\n`);
    const r = await verify(img.ref, [], match);
    expect(rules(r.report)).toEqual(['signature.reference_mismatch:fail']);
    expect(sigFindings(r.report)[0]!.message).toContain(`names no docker-reference, and signatures.reference: match requires it to name ${origin.host}/acme/bare`);
  });

  it('refuses allowedReferences without reference: match, and a bad glob, naming the key (exit 2)', async () => {
    const stray = policy('stray.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    allowedReferences: ["ghcr.io/acme/*"]\n`);
    const r = await verify(signed.ref, [], stray);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stray\.yml:\d+:\d+: defaults\.signatures\.allowedReferences: allowedReferences applies only with reference: match/);
    const bad = policy('bad-glob.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    reference: match\n    allowedReferences: ["acme/*"]\n`);
    const g = await verify(signed.ref, [], bad);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/bad-glob\.yml:\d+:\d+: defaults\.signatures\.allowedReferences\[0\]: names no registry/);
    const mode = policy('bad-mode.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${pub}]\n    reference: exact\n`);
    const x = await verify(signed.ref, [], mode);
    expect(x.code).toBe(2);
    expect(x.stderr).toMatch(/defaults\.signatures\.reference/);
  });
});

describe('verification errors read as sentences, the library code kept in the evidence', { timeout: CLI_TIMEOUT }, () => {
  const subjectOf = (img: PushedImage) => ({ digest: img.digest, size: img.size, mediaType: img.mediaType });
  const only = (r: Report) => {
    const f = sigFindings(r);
    expect(f).toHaveLength(1);
    return f[0]!;
  };

  it('a keyless signature with neither Rekor entry nor signed timestamp', async () => {
    const bare = await a.pushImage('keyless/app', 'bare', { platforms: [AMD64] });
    await pushBundleReferrer(a, bare.repo, subjectOf(bare), await sigstore.signStatement(cosignSignStatement(bare.digest), me, { tlog: false }));
    for (const extra of [[], ['--insecure-ignore-tlog']]) {
      const r = await verify(bare.ref, ['--certificate-identity', me.email, '--certificate-oidc-issuer', ISSUER, ...extra]);
      expect(r.code).toBe(1);
      const f = only(r.report);
      expect(f.rule).toBe('signature.no_tlog');
      expect(f.message).toContain('no transparency-log (Rekor) entry and no signed timestamp: nothing proves when the signature was made');
      expect(f.message).toContain('a keyless signature needs a Rekor entry or an RFC 3161 signed timestamp whatever signatures.tlog or --insecure-ignore-tlog say');
      expect(f.message).not.toMatch(LIBRARY_CODE);
      expect(f.evidence?.signatures?.[0]?.libraryError).toBe('TIMESTAMP_ERROR: expected 1 timestamps, got 0');
    }
  });

  it('a keyless signature with a signed timestamp but no Rekor entry, where the policy requires one', async () => {
    const stamped = await a.pushImage('keyless/app', 'stamped', { platforms: [AMD64] });
    await pushBundleReferrer(a, stamped.repo, subjectOf(stamped), await sigstore.signStatement(cosignSignStatement(stamped.digest), me, { tlog: false, tsa: true }));
    const pol = policy('keyless.yml', `version: 1\ndefaults:\n  signatures:\n    keyless:\n      - identity: ${me.email}\n        issuer: ${ISSUER}\n`);
    const r = await verify(stamped.ref, [], pol);
    const f = only(r.report);
    expect(f.rule).toBe('signature.no_tlog');
    expect(f.message).toContain('no transparency-log (Rekor) entry: the signature was never recorded in the public log');
    expect(f.message).toContain("the policy's signatures.tlog: required asks for one");
    expect(f.message).not.toMatch(LIBRARY_CODE);
    expect(f.evidence?.signatures?.[0]?.libraryError).toBe('TLOG_ERROR: expected 1 tlog entries, got 0');
  });

  it('a key signature without a Rekor entry, and one made with another key', async () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pub = join(work, 'messages.pub');
    writeFileSync(pub, kp.publicKey.export({ format: 'pem', type: 'spki' }));
    const img = await a.pushImage('keyed/app', 'v1', { platforms: [AMD64] });
    const payload = simpleSigning(`${origin.host}/keyed/app`, img.digest);
    await pushLegacy(a, img.repo, img.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, kp.privateKey) } }]);

    const noTlog = only((await verify(img.ref, ['--key', pub])).report);
    expect(noTlog.rule).toBe('signature.no_tlog');
    expect(noTlog.message).toContain('no transparency-log (Rekor) entry or signed timestamp: the signature has no proof of when it was made');
    expect(noTlog.message).toContain('--insecure-ignore-tlog');
    expect(noTlog.message).not.toMatch(LIBRARY_CODE);
    expect(noTlog.evidence?.signatures?.[0]?.libraryError).toBe('TIMESTAMP_ERROR: expected 1 timestamps, got 0');

    const other = join(work, 'other.pub');
    writeFileSync(other, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }));
    const wrong = only((await verify(img.ref, ['--key', other, '--insecure-ignore-tlog'])).report);
    expect(wrong.rule).toBe('signature.untrusted_key');
    expect(wrong.message).toContain(`the signature does not verify with key ${other}: it was made with another key`);
    expect(wrong.message).not.toMatch(LIBRARY_CODE);
    expect(wrong.evidence?.signatures?.[0]?.libraryError).toBe('SIGNATURE_ERROR: signature verification failed');
  });
});
