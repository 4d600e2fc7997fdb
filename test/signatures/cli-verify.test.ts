/**
 * Signatures and attestations through the built CLI (`kamal-gate verify`) against a real
 * docker-registry 2.8: the cosign-style signer flags, Ed25519 legacy signatures, cosign's
 * encrypted private keys, and attestation requirements of the policy. Every fixture is signed here:
 * keyed ones with keys that went through cosign's encrypted key format (encrypt, then decrypt with
 * the passphrase), keyless ones by @sigstore/sign against @sigstore/mock.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureRules, verifyReport } from '../helpers/verify-report.js';
import { cosignSignStatement, pushBundleReferrer, pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { COSIGN_LABEL, decryptCosignKey, encryptCosignKey } from '../helpers/cosign-keys.js';
import { ImageBuilder, slsaProvenance, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startMockSigstore, type MockSigstore } from './sigstore-mock.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ISSUER = 'https://fake.oidcissuer.com';
const me = { email: 'release@acme.test', iss: ISSUER };
const PASSPHRASE = 'correct horse battery staple';
const BUILDER = 'https://github.com/actions/runner/github-hosted';
const SOURCE = 'https://github.com/acme/app';
/** Each test runs the CLI several times (a process each): room for a shared, busy machine. */
const CLI_TIMEOUT = 120_000;
const COSIGN_KEYS = resolve(import.meta.dirname, '../../fixtures/third-party-vectors/cosign-keys');

let reg: TestRegistry;
let sigstore: MockSigstore;
let b: ImageBuilder;
let work: string;
let root: string;

/** A signing key that went through cosign's encrypted key file (as `cosign generate-key-pair` writes it) and back. */
interface Signer {
  priv: KeyObject;
  /** The public key file (cosign.pub). */
  pub: string;
  /** The encrypted private key file (cosign.key). */
  encrypted: string;
}

function cosignKeyPair(name: string, kind: 'p256' | 'ed25519' = 'p256'): Signer {
  const kp = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const encrypted = join(work, `${name}.key`);
  writeFileSync(encrypted, encryptCosignKey(kp.privateKey, PASSPHRASE));
  const pub = join(work, `${name}.pub`);
  writeFileSync(pub, kp.publicKey.export({ format: 'pem', type: 'spki' }));
  // Sign only with what the passphrase unlocks from the file.
  const priv = decryptCosignKey(readFileSync(encrypted, 'utf8'), PASSPHRASE);
  return { priv, pub, encrypted };
}

function policy(name: string, yaml: string): string {
  const p = join(work, name);
  writeFileSync(p, yaml);
  return p;
}

/** A policy that asks for nothing beyond what the command line adds. */
let emptyPolicy: string;

function verify(refs: string[], args: string[], policyFile = emptyPolicy): ReturnType<typeof verifyReport> {
  return verifyReport([...refs, '--policy', policyFile, '--no-ledger', '--trusted-root', root, ...args], { cwd: work });
}

const rules = signatureRules;

async function signLegacy(img: PushedImage, key: KeyObject, payloadDigest = img.digest): Promise<void> {
  const payload = simpleSigning(`${reg.host}/${img.repo}`, payloadDigest);
  await pushLegacy(b, img.repo, img.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, key) } }]);
}

/** DSSE pre-authentication encoding (DSSE v1 spec). */
function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

function statement(subjectDigest: string, predicateType: string, predicate: unknown): object {
  return { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'app', digest: { sha256: subjectDigest.replace(/^sha256:/, '') } }], predicateType, predicate };
}

function slsaV1(builderId: string, source: string): unknown {
  return {
    buildDefinition: {
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      externalParameters: { workflow: { ref: 'refs/heads/main', repository: source, path: '.github/workflows/release.yml' } },
      resolvedDependencies: [{ uri: `git+${source}@refs/heads/main`, digest: { gitCommit: 'a'.repeat(40) } }],
    },
    runDetails: { builder: { id: builderId }, metadata: { invocationId: '1' } },
  };
}

/** A cosign `.att` attestation (legacy): a DSSE envelope signed with `key`, one layer of `sha256-<hex>.att`. */
async function attestLegacy(img: PushedImage, key: KeyObject, stmts: object[]): Promise<void> {
  const layers = stmts.map((s) => {
    const body = Buffer.from(JSON.stringify(s));
    const type = 'application/vnd.in-toto+json';
    const sig = sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', pae(type, body), key).toString('base64');
    const envelope = Buffer.from(JSON.stringify({ payloadType: type, payload: body.toString('base64'), signatures: [{ keyid: '', sig }] }));
    return {
      payload: envelope,
      mediaType: 'application/vnd.dsse.envelope.v1+json',
      annotations: { 'dev.cosignproject.cosign/signature': '', predicateType: (s as { predicateType: string }).predicateType },
    };
  });
  await pushLegacy(b, img.repo, img.digest, layers, 'att');
}

const subjectOf = (img: PushedImage) => ({ digest: img.digest, size: img.size, mediaType: img.mediaType });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-sig-cli-'));
  [reg, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
  b = new ImageBuilder(reg);
  root = join(work, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(sigstore.trustedRoot));
  emptyPolicy = policy('empty.yml', 'version: 1\n');
});

afterAll(async () => {
  await Promise.all([reg?.stop(), sigstore?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('verify --key (keys from cosign encrypted key files)', { timeout: CLI_TIMEOUT }, () => {
  let ours: Signer;
  let theirs: Signer;
  let signed: PushedImage;
  let unsigned: PushedImage;

  beforeAll(async () => {
    [ours, theirs] = [cosignKeyPair('ours'), cosignKeyPair('theirs')];
    signed = await b.pushImage('flags/app', 'signed', { platforms: [AMD64] });
    await signLegacy(signed, ours.priv);
    unsigned = await b.pushImage('flags/app', 'unsigned', { platforms: [AMD64] });
  });

  it('passes with the right key and --insecure-ignore-tlog; the finding names the command line', async () => {
    const { code, report } = await verify([signed.ref], ['--key', ours.pub, '--insecure-ignore-tlog']);
    expect(rules(report)).toEqual(['signature.verified:ok']);
    expect(code).toBe(0);
    const f = report.images[0]!.findings!.find((x) => x.rule === 'signature.verified')!;
    expect(f.setBy).toEqual({ rule: 'command line' });
    expect(f.message).toContain(`key ${ours.pub}`);
  });

  it('fails another key (signature.untrusted_key), no tlog entry without --insecure-ignore-tlog, and an unsigned image', async () => {
    const other = await verify([signed.ref], ['--key', theirs.pub, '--insecure-ignore-tlog']);
    expect(other.code).toBe(1);
    expect(rules(other.report)).toEqual(['signature.untrusted_key:fail']);
    expect(other.report.images[0]!.findings![0]!.message).toContain(`expected key ${theirs.pub}`);

    const tlog = await verify([signed.ref], ['--key', ours.pub]);
    expect(tlog.code).toBe(1);
    expect(rules(tlog.report)).toEqual(['signature.no_tlog:fail']);

    const none = await verify([unsigned.ref], ['--key', ours.pub, '--insecure-ignore-tlog']);
    expect(none.code).toBe(1);
    expect(rules(none.report)).toEqual(['signature.missing:fail']);
    expect(none.report.images[0]!.findings![0]!.message).toContain(`${unsigned.digest.replace(':', '-')}.sig`);
  });

  it('with a Rekor entry (what cosign sign --key uploads by default) passes without --insecure-ignore-tlog; an entry for another signature or a forged SET is signature.invalid', async () => {
    const img = await b.pushImage('flags/rekor', 'v1', { platforms: [AMD64] });
    const payload = simpleSigning(`${reg.host}/flags/rekor`, img.digest);
    const logged = await sigstore.logKeyedSignature(payload, ours.priv);
    await pushLegacy(b, img.repo, img.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': logged.signature, 'dev.sigstore.cosign/bundle': logged.annotation } }]);
    const ok = await verify([img.ref], ['--key', ours.pub]);
    expect(rules(ok.report)).toEqual(['signature.verified:ok']);
    expect(ok.code).toBe(0);
    expect(rules((await verify([img.ref], ['--key', theirs.pub])).report)).toEqual(['signature.untrusted_key:fail']);

    // The Rekor entry of another key's signature over the same payload, attached to ours.
    const img2 = await b.pushImage('flags/rekor', 'v2', { platforms: [AMD64] });
    const p2 = simpleSigning(`${reg.host}/flags/rekor`, img2.digest);
    const theirsLogged = await sigstore.logKeyedSignature(p2, theirs.priv);
    await pushLegacy(b, img2.repo, img2.digest, [
      { payload: p2, annotations: { 'dev.cosignproject.cosign/signature': signPayload(p2, ours.priv), 'dev.sigstore.cosign/bundle': theirsLogged.annotation } },
    ]);
    expect(rules((await verify([img2.ref], ['--key', ours.pub])).report)).toEqual(['signature.invalid:fail']);

    // A SET that does not cover the entry (integratedTime moved).
    const img3 = await b.pushImage('flags/rekor', 'v3', { platforms: [AMD64] });
    const p3 = simpleSigning(`${reg.host}/flags/rekor`, img3.digest);
    const l3 = await sigstore.logKeyedSignature(p3, ours.priv);
    const forged = JSON.parse(l3.annotation) as { Payload: { integratedTime: number } };
    forged.Payload.integratedTime -= 3600;
    await pushLegacy(b, img3.repo, img3.digest, [{ payload: p3, annotations: { 'dev.cosignproject.cosign/signature': l3.signature, 'dev.sigstore.cosign/bundle': JSON.stringify(forged) } }]);
    expect(rules((await verify([img3.ref], ['--key', ours.pub])).report)).toEqual(['signature.invalid:fail']);
  });

  it('accepts any one of several --key (a key rotation)', async () => {
    const { code, report } = await verify([signed.ref], ['--key', theirs.pub, '--key', ours.pub, '--insecure-ignore-tlog']);
    expect(code).toBe(0);
    expect(rules(report)).toEqual(['signature.verified:ok']);
  });

  it('adds to the policy and never relaxes it: a policy requiring another key still fails; a warn policy still warns', async () => {
    const strict = policy('theirs-enforce.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${theirs.pub}]\n    tlog: optional\n`);
    const enforced = await verify([signed.ref], ['--key', ours.pub, '--insecure-ignore-tlog'], strict);
    expect(rules(enforced.report)).toEqual(['signature.untrusted_key:fail', 'signature.verified:ok']);
    expect(enforced.code).toBe(1);

    // The policy's own group in warn mode: its finding warns, the command line's requirement is enforced.
    const warn = policy('ours-warn.yml', `version: 1\ndefaults:\n  signatures:\n    mode: warn\n    keys: [${ours.pub}]\n    tlog: optional\n`);
    const w = await verify([signed.ref], ['--key', theirs.pub, '--insecure-ignore-tlog'], warn);
    expect(rules(w.report)).toEqual(['signature.untrusted_key:fail', 'signature.verified:warn']);
    const cli = w.report.images[0]!.findings!.find((f) => f.rule === 'signature.untrusted_key')!;
    expect(cli.setBy).toEqual({ rule: 'command line' });
    expect(w.code).toBe(1);
  });

  it('refuses bad flags and keys with exit 2 and a message naming the flag or file, before any registry request', async () => {
    const missing = join(work, 'nope.pub');
    const cases: Array<[string[], RegExp]> = [
      [['--key', missing], new RegExp(`--key ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read the public key \\(no such file`)],
      [['--key', ours.encrypted], /this is a private key \(PEM "ENCRYPTED SIGSTORE PRIVATE KEY"\).*cosign public-key --key /],
      [['--certificate-identity', 'release@acme.test'], /--certificate-identity needs the OIDC issuer too: add --certificate-oidc-issuer/],
      [['--certificate-identity-regexp', '.*@acme\\.test'], /--certificate-identity-regexp needs the OIDC issuer too/],
      [['--certificate-oidc-issuer', ISSUER], /need the identity too: add --certificate-identity/],
      [['--certificate-identity', 'a@b', '--certificate-identity-regexp', 'a', '--certificate-oidc-issuer', ISSUER], /not both/],
      [['--key', ours.pub, '--certificate-identity', 'a@b', '--certificate-oidc-issuer', ISSUER], /give either --key or --certificate-identity/],
      [['--insecure-ignore-tlog'], /--insecure-ignore-tlog applies to the signer given with --key/],
      [['--certificate-identity-regexp', '(', '--certificate-oidc-issuer', ISSUER], /--certificate-identity-regexp: not a valid regular expression/],
    ];
    // A registry that does not exist: a request to it would end in exit 3, not 2.
    const results = await Promise.all(cases.map(([args]) => verify(['127.0.0.1:9/none/app:v1'], args)));
    cases.forEach(([args, message], i) => {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
    // An unencrypted PKCS#8 private key: node:crypto would silently derive the public key from it.
    const plain = join(work, 'plain.key');
    writeFileSync(plain, ours.priv.export({ format: 'pem', type: 'pkcs8' }));
    const p = await verify(['127.0.0.1:9/none/app:v1'], ['--key', plain]);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/this is a private key \(PEM "PRIVATE KEY"\).*openssl pkey -in .*plain\.key -pubout/);
  });

  it('a private key listed in the policy is a config error (exit 2) naming the file, not a verdict', async () => {
    const bad = policy('private-in-policy.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${ours.encrypted}]\n    tlog: optional\n`);
    const r = await verify([signed.ref], [], bad);
    expect(r.code).toBe(2);
    expect(r.report.images[0]!.error?.message).toMatch(/ours\.key: this is a private key .*cosign public-key/);
  });

  it("decrypts cosign's own published test key (pemcosignkey, passphrase hello) and signs with it", async () => {
    // sigstore/cosign pkg/cosign/keys_test.go, Apache-2.0; copied as data into fixtures/third-party-vectors.
    const text = readFileSync(join(COSIGN_KEYS, 'pemcosignkey.key'), 'utf8');
    expect(text).toContain(`BEGIN ${COSIGN_LABEL}`);
    const priv = decryptCosignKey(text, 'hello');
    expect(priv.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(() => decryptCosignKey(text, 'hellO')).toThrow();
    const sigstoreLabelled = decryptCosignKey(readFileSync(join(COSIGN_KEYS, 'pemsigstorekey.key'), 'utf8'), 'hello');
    expect(sigstoreLabelled.asymmetricKeyType).toBe('ec');
    const pub = join(work, 'cosign-test.pub');
    writeFileSync(pub, createPublicKey(priv).export({ format: 'pem', type: 'spki' }));
    const img = await b.pushImage('flags/cosign-key', 'v1', { platforms: [AMD64] });
    await signLegacy(img, priv);
    const r = await verify([img.ref], ['--key', pub, '--insecure-ignore-tlog']);
    expect(rules(r.report)).toEqual(['signature.verified:ok']);
    // The same file relabelled as an encrypted private key is refused as --key.
    const asKey = await verify([img.ref], ['--key', join(COSIGN_KEYS, 'pemcosignkey.key')]);
    expect(asKey.code).toBe(2);
    expect(asKey.stderr).toContain('ENCRYPTED COSIGN PRIVATE KEY');
  });
});

describe('Ed25519 keys on legacy .sig signatures', { timeout: CLI_TIMEOUT }, () => {
  it('verifies a correct pure-Ed25519 signature; fails another key, another payload and a missing tlog entry', async () => {
    const [ed, edOther] = [cosignKeyPair('ed', 'ed25519'), cosignKeyPair('ed-other', 'ed25519')];
    const img = await b.pushImage('ed25519/app', 'v1', { platforms: [AMD64] });
    await signLegacy(img, ed.priv);
    // A signature by the right key over other bytes, attached to this payload.
    const img2 = await b.pushImage('ed25519/app', 'v2', { platforms: [AMD64] });
    const payload = simpleSigning(`${reg.host}/ed25519/app`, img2.digest);
    const wrong = sign(null, Buffer.concat([payload, Buffer.from(' ')]), ed.priv).toString('base64');
    await pushLegacy(b, 'ed25519/app', img2.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': wrong } }]);
    // A signature over the payload's SHA-512 digest instead of the payload itself.
    const img3 = await b.pushImage('ed25519/app', 'v3', { platforms: [AMD64] });
    const p3 = simpleSigning(`${reg.host}/ed25519/app`, img3.digest);
    const overDigest = sign(null, createHash('sha512').update(p3).digest(), ed.priv).toString('base64');
    await pushLegacy(b, 'ed25519/app', img3.digest, [{ payload: p3, annotations: { 'dev.cosignproject.cosign/signature': overDigest } }]);
    const pol = policy('ed.yml', `version: 1\ndefaults:\n  signatures:\n    keys: [${ed.pub}]\n    tlog: optional\n`);

    const [ok, other, noTlog, bad, digest, viaPolicy] = await Promise.all([
      verify([img.ref], ['--key', ed.pub, '--insecure-ignore-tlog']),
      verify([img.ref], ['--key', edOther.pub, '--insecure-ignore-tlog']),
      verify([img.ref], ['--key', ed.pub]),
      verify([img2.ref], ['--key', ed.pub, '--insecure-ignore-tlog']),
      verify([img3.ref], ['--key', ed.pub, '--insecure-ignore-tlog']),
      // the policy's keys take Ed25519 the same way
      verify([img.ref], [], pol),
    ]);
    expect(rules(ok.report)).toEqual(['signature.verified:ok']);
    expect(ok.code).toBe(0);
    expect(rules(other.report)).toEqual(['signature.untrusted_key:fail']);
    // the transparency-log rule still applies
    expect(rules(noTlog.report)).toEqual(['signature.no_tlog:fail']);
    expect(bad.code).toBe(1);
    expect(rules(bad.report)).toEqual(['signature.untrusted_key:fail']);
    expect(rules(digest.report)).toEqual(['signature.untrusted_key:fail']);
    expect(rules(viaPolicy.report)).toEqual(['signature.verified:ok']);
    expect(viaPolicy.code).toBe(0);
  });

  it('with a Rekor entry, an Ed25519 signature passes without --insecure-ignore-tlog, and a forged SET still fails', async () => {
    const ed = cosignKeyPair('ed-rekor', 'ed25519');
    // With a Rekor entry the transparency-log rules still apply to Ed25519: the SET must verify and
    // the entry must carry this signature. (The mock Rekor logs what it is given; public Rekor would
    // ask cosign for Ed25519ph, see the README.)
    const img4 = await b.pushImage('ed25519/app', 'v4', { platforms: [AMD64] });
    const p4 = simpleSigning(`${reg.host}/ed25519/app`, img4.digest);
    const logged = await sigstore.logKeyedSignature(p4, ed.priv);
    await pushLegacy(b, 'ed25519/app', img4.digest, [{ payload: p4, annotations: { 'dev.cosignproject.cosign/signature': logged.signature, 'dev.sigstore.cosign/bundle': logged.annotation } }]);
    expect(rules((await verify([img4.ref], ['--key', ed.pub])).report)).toEqual(['signature.verified:ok']);
    const img5 = await b.pushImage('ed25519/app', 'v5', { platforms: [AMD64] });
    const p5 = simpleSigning(`${reg.host}/ed25519/app`, img5.digest);
    const forged = JSON.parse((await sigstore.logKeyedSignature(p5, ed.priv)).annotation) as { Payload: { logIndex: number } };
    forged.Payload.logIndex += 1;
    await pushLegacy(b, 'ed25519/app', img5.digest, [
      { payload: p5, annotations: { 'dev.cosignproject.cosign/signature': signPayload(p5, ed.priv), 'dev.sigstore.cosign/bundle': JSON.stringify(forged) } },
    ]);
    expect(rules((await verify([img5.ref], ['--key', ed.pub])).report)).toEqual(['signature.invalid:fail']);
  });

  it('an Ed25519 signature of an older image copied onto a new one is signature.digest_mismatch', async () => {
    const ed = cosignKeyPair('ed-copy', 'ed25519');
    const old = await b.pushImage('ed25519/copy', 'old', { platforms: [AMD64] });
    const fresh = await b.pushImage('ed25519/copy', 'new', { platforms: [AMD64] });
    await signLegacy(fresh, ed.priv, old.digest);
    const r = await verify([fresh.ref], ['--key', ed.pub, '--insecure-ignore-tlog']);
    expect(rules(r.report)).toEqual(['signature.digest_mismatch:fail']);
  });
});

describe('verify --certificate-identity (keyless bundles from @sigstore/mock)', { timeout: CLI_TIMEOUT }, () => {
  let img: PushedImage;
  beforeAll(async () => {
    img = await b.pushImage('keyless/cli', 'v1', { platforms: [AMD64] });
    await pushBundleReferrer(b, img.repo, subjectOf(img), await sigstore.signStatement(cosignSignStatement(img.digest), me));
  });

  it('passes the right identity and issuer, exact or as anchored regular expressions', async () => {
    const ok = await verify([img.ref], ['--certificate-identity', me.email, '--certificate-oidc-issuer', ISSUER]);
    expect(rules(ok.report)).toEqual(['signature.verified:ok']);
    expect(ok.code).toBe(0);
    const re = await verify([img.ref], ['--certificate-identity-regexp', '.*@acme\\.test', '--certificate-oidc-issuer-regexp', 'https://fake\\..*']);
    expect(rules(re.report)).toEqual(['signature.verified:ok']);
  });

  it('fails another identity, a partial regular expression, another issuer and GitHub claims the certificate lacks', async () => {
    const wrong = await verify([img.ref], ['--certificate-identity', 'deploy@acme.test', '--certificate-oidc-issuer', ISSUER]);
    expect(wrong.code).toBe(1);
    expect(rules(wrong.report)).toEqual(['signature.untrusted_identity:fail']);
    expect(wrong.report.images[0]!.findings![0]!.message).toContain(`found ${me.email} from ${ISSUER}`);
    expect(rules((await verify([img.ref], ['--certificate-identity-regexp', 'release', '--certificate-oidc-issuer', ISSUER])).report)).toEqual(['signature.untrusted_identity:fail']);
    expect(rules((await verify([img.ref], ['--certificate-identity', me.email, '--certificate-oidc-issuer', 'https://token.actions.githubusercontent.com'])).report)).toEqual([
      'signature.untrusted_identity:fail',
    ]);
    const gh = await verify([img.ref], ['--certificate-identity', me.email, '--certificate-oidc-issuer', ISSUER, '--certificate-github-workflow-repository', 'acme/app']);
    expect(rules(gh.report)).toEqual(['signature.untrusted_identity:fail']);
    expect(gh.report.images[0]!.findings![0]!.message).toContain('GitHub repository is (absent), expected acme/app');
  });

  it('keyless with --insecure-ignore-tlog still needs a timestamp: a bundle with neither Rekor entry nor TSA stamp fails', async () => {
    const bare = await b.pushImage('keyless/cli', 'bare', { platforms: [AMD64] });
    await pushBundleReferrer(b, bare.repo, subjectOf(bare), await sigstore.signStatement(cosignSignStatement(bare.digest), me, { tlog: false }));
    const r = await verify([bare.ref], ['--certificate-identity', me.email, '--certificate-oidc-issuer', ISSUER, '--insecure-ignore-tlog']);
    expect(rules(r.report)).toEqual(['signature.no_tlog:fail']);
    const stamped = await b.pushImage('keyless/cli', 'stamped', { platforms: [AMD64] });
    await pushBundleReferrer(b, stamped.repo, subjectOf(stamped), await sigstore.signStatement(cosignSignStatement(stamped.digest), me, { tlog: false, tsa: true }));
    expect(rules((await verify([stamped.ref], ['--certificate-identity', me.email, '--certificate-oidc-issuer', ISSUER, '--insecure-ignore-tlog'])).report)).toEqual(['signature.verified:ok']);
    expect(rules((await verify([stamped.ref], ['--certificate-identity', me.email, '--certificate-oidc-issuer', ISSUER])).report)).toEqual(['signature.no_tlog:fail']);
  });
});

describe('attestations required by the policy', { timeout: CLI_TIMEOUT }, () => {
  let key: Signer;
  let other: Signer;

  /** Keyed `.att` attestations carry no Rekor entry here: the signatures group's tlog setting (optional) applies to them. */
  const keyedPolicy = (name: string, require: string) => policy(name, `version: 1\ndefaults:\n  signatures:\n    mode: off\n    tlog: optional\n  attestations:\n    require:\n${require}`);

  beforeAll(() => {
    [key, other] = [cosignKeyPair('att'), cosignKeyPair('att-other')];
  });

  it('SLSA v1 provenance signed by the right key, naming the builder and source, passes; wrong builder or source is attestation.invalid', async () => {
    const img = await b.pushImage('att/keyed', 'v1', { platforms: [AMD64] });
    await attestLegacy(img, key.priv, [statement(img.digest, 'https://slsa.dev/provenance/v1', slsaV1(BUILDER, SOURCE))]);
    const req = (builder: string, source: string, signer = key.pub) =>
      `      - type: slsa-provenance\n        signedBy: { key: ${signer} }\n        builderId: ${builder}\n        sourceRepository: ${source}\n`;
    const ok = await verify([img.ref], [], keyedPolicy('prov-ok.yml', req(BUILDER, 'github.com/acme/app')));
    expect(rules(ok.report)).toEqual([]);
    expect(ok.code).toBe(0);

    const builder = await verify([img.ref], [], keyedPolicy('prov-builder.yml', req('https://evil.example/builder', 'github.com/acme/app')));
    expect(builder.code).toBe(1);
    expect(rules(builder.report)).toEqual(['attestation.invalid:fail']);
    expect(builder.report.images[0]!.findings![0]!.message).toContain(`builder.id is ${BUILDER}, expected https://evil.example/builder`);

    const source = await verify([img.ref], [], keyedPolicy('prov-source.yml', req(BUILDER, 'github.com/evil/app')));
    expect(rules(source.report)).toEqual(['attestation.invalid:fail']);
    expect(source.report.images[0]!.findings![0]!.message).toContain(`source repository is ${SOURCE}, expected github.com/evil/app`);

    const signer = await verify([img.ref], [], keyedPolicy('prov-signer.yml', req(BUILDER, 'github.com/acme/app', other.pub)));
    expect(rules(signer.report)).toEqual(['attestation.invalid:fail']);

    // tlog required (the default) and the attestation has no Rekor entry
    const tlog = await verify([img.ref], [], policy('prov-tlog.yml', `version: 1\ndefaults:\n  attestations:\n    require:\n${req(BUILDER, 'github.com/acme/app')}`));
    expect(rules(tlog.report)).toEqual(['attestation.invalid:fail']);
  });

  it('a missing attestation is attestation.missing; SPDX and CycloneDX are told apart', async () => {
    const img = await b.pushImage('att/sbom', 'v1', { platforms: [AMD64] });
    await attestLegacy(img, key.priv, [statement(img.digest, 'https://spdx.dev/Document', { spdxVersion: 'SPDX-2.3', name: 'app' })]);
    const spdx = await verify([img.ref], [], keyedPolicy('spdx.yml', `      - type: spdx\n        signedBy: { key: ${key.pub} }\n`));
    expect(rules(spdx.report)).toEqual([]);
    expect(spdx.code).toBe(0);
    const cdx = await verify([img.ref], [], keyedPolicy('cdx.yml', `      - type: cyclonedx\n        signedBy: { key: ${key.pub} }\n`));
    expect(cdx.code).toBe(1);
    expect(rules(cdx.report)).toEqual(['attestation.missing:fail']);
    expect(cdx.report.images[0]!.findings![0]!.message).toContain('has no signed cyclonedx attestation');

    const bare = await b.pushImage('att/sbom', 'bare', { platforms: [AMD64] });
    const none = await verify([bare.ref], [], keyedPolicy('prov-missing.yml', `      - type: slsa-provenance\n        signedBy: { key: ${key.pub} }\n`));
    expect(rules(none.report)).toEqual(['attestation.missing:fail']);
    expect(none.report.images[0]!.findings![0]!.message).toContain(`${bare.digest.replace(':', '-')}.att`);
  });

  it("a signed attestation whose subject is another image's digest is rejected", async () => {
    const old = await b.pushImage('att/copied', 'old', { platforms: [AMD64] });
    const fresh = await b.pushImage('att/copied', 'new', { platforms: [AMD64] });
    await attestLegacy(fresh, key.priv, [statement(old.digest, 'https://slsa.dev/provenance/v1', slsaV1(BUILDER, SOURCE))]);
    const r = await verify([fresh.ref], [], keyedPolicy('copied.yml', `      - type: slsa-provenance\n        signedBy: { key: ${key.pub} }\n`));
    expect(r.code).toBe(1);
    expect(rules(r.report)).toEqual(['attestation.invalid:fail']);
    expect(r.report.images[0]!.findings![0]!.message).toContain(old.digest);
  });

  it('an unsigned BuildKit provenance manifest is reported as unsigned and does not satisfy a signed requirement; it counts by presence without signedBy', async () => {
    const img = await b.pushImage('att/buildkit', 'v1', { platforms: [AMD64], attestations: [slsaProvenance('v0.2', [])] });
    const signedReq = await verify([img.ref], [], keyedPolicy('bk-signed.yml', `      - type: slsa-provenance\n        signedBy: { key: ${key.pub} }\n`));
    expect(signedReq.code).toBe(1);
    expect(rules(signedReq.report)).toEqual(['attestation.missing:fail']);
    const f = signedReq.report.images[0]!.findings!.find((x) => x.rule === 'attestation.missing')!;
    expect(f.message).toContain('found 1 unsigned BuildKit attestation(s), which do not satisfy signedBy');
    expect((f.evidence!.unsigned as string[])[0]).toContain(img.attestations[0]!.digest);

    const presence = await verify([img.ref], [], keyedPolicy('bk-presence.yml', `      - type: slsa-provenance\n`));
    expect(rules(presence.report)).toEqual([]);
    expect(presence.code).toBe(0);
    // BuildKit's provenance names no builder id: a required one is not there
    const withBuilder = await verify([img.ref], [], keyedPolicy('bk-builder.yml', `      - type: slsa-provenance\n        builderId: ${BUILDER}\n`));
    expect(rules(withBuilder.report)).toEqual(['attestation.invalid:fail']);
  });

  it('keyless SLSA v0.2 provenance as a bundle referrer: the right identity passes, another fails', async () => {
    const img = await b.pushImage('att/keyless', 'v1', { platforms: [AMD64] });
    const v02 = {
      builder: { id: BUILDER },
      buildType: 'https://github.com/slsa-framework/slsa-github-generator/generic@v1',
      invocation: { configSource: { uri: `git+${SOURCE}@refs/heads/main`, entryPoint: '.github/workflows/release.yml' } },
    };
    await pushBundleReferrer(b, img.repo, subjectOf(img), await sigstore.signStatement(statement(img.digest, 'https://slsa.dev/provenance/v0.2', v02), me));
    const req = (identity: string) =>
      policy(
        `kl-${identity}.yml`,
        `version: 1\ndefaults:\n  attestations:\n    require:\n      - type: slsa-provenance\n        signedBy: { identity: ${identity}, issuer: ${ISSUER} }\n        builderId: ${BUILDER}\n        sourceRepository: github.com/acme/app\n`,
      );
    const ok = await verify([img.ref], [], req(me.email));
    expect(rules(ok.report)).toEqual([]);
    expect(ok.code).toBe(0);
    const wrong = await verify([img.ref], [], req('mallory@acme.test'));
    expect(rules(wrong.report)).toEqual(['attestation.invalid:fail']);
    expect(wrong.report.images[0]!.findings![0]!.message).toContain(`found ${me.email} from ${ISSUER}`);
  });
});
