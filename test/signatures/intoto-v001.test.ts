/**
 * Rekor `intoto` 0.0.1 entries (src/signatures/intoto-v001.ts), on real attestations by GitHub's
 * SLSA container generator (fixtures/slsa-verifier-intoto-v001, from slsa-verifier's test data).
 *
 * Tampered entries must be refused by the body rules themselves, not by a broken SET: they are
 * logged again in @sigstore/mock's Rekor (which signs whatever entry it is given) at the real
 * entry's integrated time, with a trusted root that adds that mock log to the public-good one.
 * The untampered entry logged the same way passes, so each refusal below is the rule it names.
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Envelope } from '@sigstore/bundle';
import { initializeTLog } from '@sigstore/mock';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { beforeAll, describe, expect, it } from 'vitest';
import { legacyCandidate } from '../../src/signatures/candidates.js';
import { intotoV001BodyProblem, intotoV001BundleProblem, unsupportedTlogKind } from '../../src/signatures/intoto-v001.js';
import type { LegacyLayer } from '../../src/signatures/legacy.js';
import { signerSpecs, type SignerSpec } from '../../src/signatures/signers.js';
import { tlogSignerMismatch } from '../../src/signatures/tlog-signer.js';
import { seededPublicGoodRoot } from '../../src/signatures/trust.js';
import type { Candidate } from '../../src/signatures/types.js';
import { verifyCandidate, type Outcome } from '../../src/signatures/verify.js';

const DIR = resolve(import.meta.dirname, '../../fixtures/slsa-verifier-intoto-v001');
const ISSUER = 'https://token.actions.githubusercontent.com';
const BUNDLE = 'dev.sigstore.cosign/bundle';

interface Vector {
  tag: string;
  /** The image index digest the statement names. */
  digest: string;
  layer: LegacyLayer;
  workflow: string;
}

function blob(tag: string, digest: string): Buffer {
  const bytes = readFileSync(resolve(DIR, tag, 'blobs/sha256', digest.replace('sha256:', '')));
  expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(digest);
  return bytes;
}

function load(tag: string): Vector {
  const index = JSON.parse(readFileSync(resolve(DIR, tag, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const att = index.manifests.find((m) => m.annotations?.kind === 'dev.cosignproject.cosign/atts')!;
  const manifest = JSON.parse(blob(tag, att.digest).toString('utf8')) as { layers: Array<{ mediaType: string; digest: string; annotations: Record<string, string> }> };
  const l = manifest.layers[0]!;
  return {
    tag,
    digest: readFileSync(resolve(DIR, tag, 'container_workflow_dispatch.digest'), 'utf8').trim(),
    layer: { mediaType: l.mediaType, annotations: l.annotations, blob: blob(tag, l.digest) },
    workflow: `https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/${tag}`,
  };
}

interface RekorBundle {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}
const rekorBundle = (l: LegacyLayer) => JSON.parse(l.annotations[BUNDLE]!) as RekorBundle;
interface Hash {
  algorithm: string;
  value: string;
}
interface Body {
  kind: string;
  apiVersion: string;
  spec: { publicKey?: string; content: { hash: Hash; payloadHash?: Hash } };
}
const bodyOf = (l: LegacyLayer) => JSON.parse(Buffer.from(rekorBundle(l).Payload.body, 'base64').toString('utf8')) as Body;
const withBundle = (l: LegacyLayer, rb: RekorBundle): LegacyLayer => ({ ...l, annotations: { ...l.annotations, [BUNDLE]: JSON.stringify(rb) } });
const candidate = (v: Vector, layer = v.layer): Candidate => legacyCandidate(layer, 'legacy-att', `${v.tag}.att`, v.digest);
const entryBody = (c: Candidate) => Buffer.from(c.bundle!.verificationMaterial.tlogEntries[0]!.canonicalizedBody);
const cert15 = () => ({ certificate: new X509Certificate(v15.layer.annotations['dev.sigstore.cosign/certificate']!).raw });
function dsseOf(c: Candidate): Envelope {
  if (c.bundle?.content.$case !== 'dsseEnvelope') throw new Error('not a DSSE bundle');
  return c.bundle.content.dsseEnvelope;
}
const pemOf = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

const v15 = load('v1.5.0');
const v19 = load('v1.9.0');
let publicGood: TrustedRoot;
const specs = new Map<string, SignerSpec>();
/** Verifies `c` for the signer of vector `v` (its generator workflow), with the Rekor entry required. */
const run = (c: Candidate, v: Vector, root = publicGood, digests = [v.digest]): Outcome => verifyCandidate(c, specs.get(v.tag)!, { root, tlog: 'required', digests, repositories: [] });

beforeAll(async () => {
  publicGood = TrustedRoot.fromJSON(JSON.parse(await seededPublicGoodRoot()));
  for (const v of [v15, v19]) specs.set(v.tag, (await signerSpecs([], [{ identity: v.workflow, issuer: ISSUER }]))[0]!);
});

describe('real SLSA generator attestations with an intoto 0.0.1 entry', () => {
  it('the fixtures are what the README says: legacy .att layers, keyless, intoto 0.0.1 in the public-good Rekor', () => {
    for (const v of [v15, v19]) {
      const rb = rekorBundle(v.layer);
      expect(JSON.parse(Buffer.from(rb.Payload.body, 'base64').toString('utf8'))).toMatchObject({ kind: 'intoto', apiVersion: '0.0.1' });
      expect(rb.Payload.logID).toBe('c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d');
      expect(new X509Certificate(v.layer.annotations['dev.sigstore.cosign/certificate']!).subjectAltName).toBe(`URI:${v.workflow}`);
    }
  });

  it('@sigstore/verify alone refuses them (the reason this module exists)', () => {
    const c = candidate(v15);
    const verifier = new Verifier(toTrustMaterial(publicGood), { tlogThreshold: 1, timestampThreshold: 1, ctlogThreshold: 1 });
    expect(() => verifier.verify(toSignedEntity(c.bundle!))).toThrow(/unsupported intoto version: 0\.0\.1/);
  });

  for (const v of [v15, v19]) {
    it(`${v.tag} verifies for the generator workflow's identity, bound to the image index`, () => {
      const o = run(candidate(v), v);
      expect(o).toMatchObject({ ok: true, boundTo: v.digest, statement: { predicateType: 'https://slsa.dev/provenance/v0.2' } });
    });
  }

  it('another identity, another image: refused as such', async () => {
    const [other] = await signerSpecs([], [{ identity: v19.workflow, issuer: ISSUER }]);
    expect(verifyCandidate(candidate(v15), other!, { root: publicGood, tlog: 'required', digests: [v15.digest], repositories: [] })).toMatchObject({ ok: false, failure: 'untrusted_identity' });
    expect(run(candidate(v15), v15, publicGood, [v19.digest])).toMatchObject({ ok: false, failure: 'digest_mismatch' });
  });

  it('tlog-signer reads spec.publicKey of an intoto 0.0.1 entry', () => {
    const entries = candidate(v15).bundle!.verificationMaterial.tlogEntries;
    const certKey = new X509Certificate(v15.layer.annotations['dev.sigstore.cosign/certificate']!).publicKey;
    expect(tlogSignerMismatch(entries, certKey)).toBeUndefined();
    expect(tlogSignerMismatch(entries, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey)).toMatch(/another key or certificate/);
  });

  it('with the original SET, any change to the entry is refused by the SET', () => {
    const rb = rekorBundle(v15.layer);
    const body = bodyOf(v15.layer);
    body.spec.content.payloadHash!.value = '0'.repeat(64);
    const c = candidate(v15, withBundle(v15.layer, { ...rb, Payload: { ...rb.Payload, body: Buffer.from(JSON.stringify(body)).toString('base64') } }));
    expect(run(c, v15)).toMatchObject({ ok: false, failure: 'invalid', reason: expect.stringMatching(/intoto 0\.0\.1.*signed entry timestamp does not verify/) });
  });
});

describe('tampered intoto 0.0.1 entries, logged with a valid SET, are refused', () => {
  let root: TrustedRoot;
  let relog: (v: Vector, mutate: (body: Body) => void) => Promise<Candidate>;

  beforeAll(async () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const tlog = await initializeTLog('https://rekor.mock.test', kp, new Date(rekorBundle(v15.layer).Payload.integratedTime * 1000));
    const spki = kp.publicKey.export({ format: 'der', type: 'spki' });
    const json = TrustedRoot.toJSON(publicGood) as { tlogs: unknown[] };
    json.tlogs.push({
      baseUrl: 'https://rekor.mock.test',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2021-01-01T00:00:00Z' } },
      logId: { keyId: createHash('sha256').update(spki).digest('base64') },
    });
    root = TrustedRoot.fromJSON(json);
    relog = async (v, mutate) => {
      const body = bodyOf(v.layer);
      mutate(body);
      const logged = Object.values(await tlog.log(body))[0] as { body: string; integratedTime: number; logIndex: number; logID: string; verification: { signedEntryTimestamp: string } };
      const { verification, ...payload } = logged;
      return candidate(v, withBundle(v.layer, { SignedEntryTimestamp: verification.signedEntryTimestamp, Payload: payload }));
    };
  });

  const refused = (o: Outcome, why: RegExp) => expect(o).toMatchObject({ ok: false, failure: 'invalid', reason: expect.stringMatching(why) });

  it('control: the same entry logged again by the mock log verifies (so the refusals below are the body rules)', async () => {
    expect(run(await relog(v15, () => {}), v15, root)).toMatchObject({ ok: true, boundTo: v15.digest });
  });

  it('payload hash changed', async () => {
    refused(run(await relog(v15, (b) => (b.spec.content.payloadHash!.value = 'f'.repeat(64))), v15, root), /payload hash sha256:f{64}, but this attestation's payload hashes to/);
    refused(run(await relog(v15, (b) => delete b.spec.content.payloadHash), v15, root), /records no payload hash/);
  });

  it('envelope hash changed, in upper case, or of another algorithm', async () => {
    refused(run(await relog(v15, (b) => (b.spec.content.hash.value = '1'.repeat(64))), v15, root), /envelope hash sha256:1{64}/);
    const upper = await relog(v15, (b) => (b.spec.content.hash.value = String(b.spec.content.hash.value).toUpperCase()));
    refused(run(upper, v15, root), /envelope hash/);
    refused(run(await relog(v15, (b) => (b.spec.content.hash.algorithm = 'sha512')), v15, root), /envelope hash uses "sha512", not sha256/);
  });

  it('the key: another certificate, the same key as a bare public key, or extra PEM blocks', async () => {
    const other = bodyOf(v19.layer).spec.publicKey!;
    refused(run(await relog(v15, (b) => (b.spec.publicKey = other)), v15, root), /logged for another certificate than the one that signed/);
    // cosign compares the certificate itself, not only its key (tlog-signer.ts alone would accept this)
    const certKey = new X509Certificate(v15.layer.annotations['dev.sigstore.cosign/certificate']!).publicKey.export({ format: 'der', type: 'spki' });
    const bareKey = Buffer.from(pemOf('PUBLIC KEY', certKey)).toString('base64');
    refused(run(await relog(v15, (b) => (b.spec.publicKey = bareKey)), v15, root), /logged for another certificate/);
    const doubled = (b: Body) => (b.spec.publicKey = Buffer.from(Buffer.from(b.spec.publicKey!, 'base64').toString() + pemOf('CERTIFICATE', Buffer.from('x'))).toString('base64'));
    refused(run(await relog(v15, doubled), v15, root), /not a single PEM block/);
    refused(run(await relog(v15, (b) => delete b.spec.publicKey), v15, root), /names no public key/);
  });

  it('another kind or version in the body than the entry claims', async () => {
    // a legacy layer takes kind and version from the body: an unknown version is refused as such
    refused(run(await relog(v15, (b) => (b.apiVersion = '0.0.9')), v15, root), /of kind "intoto 0\.0\.9", which kamal-gate cannot match/);
    // a bundle states them beside the body: an entry that claims intoto 0.0.1 over another body
    const c = await relog(v15, (b) => (b.apiVersion = '0.0.2'));
    const entry = { ...c.bundle!.verificationMaterial.tlogEntries[0]!, kindVersion: { kind: 'intoto', version: '0.0.1' } };
    const bundle = { ...c.bundle!, verificationMaterial: { ...c.bundle!.verificationMaterial, tlogEntries: [entry] } };
    refused(run({ ...c, bundle }, v15, root), /its body is not an intoto 0\.0\.1 entry/);
  });

  it('the signature: another one in the stored envelope (the logged envelope hash no longer matches)', async () => {
    const env = JSON.parse(v15.layer.blob.toString('utf8')) as { signatures: Array<{ sig: string }> };
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    sig[sig.length - 1]! ^= 1;
    env.signatures[0]!.sig = sig.toString('base64');
    const altered = candidate(v15, { ...v15.layer, blob: Buffer.from(JSON.stringify(env)) });
    // through the verifier: the library refuses the altered signature first
    expect(run(altered, v15, root)).toMatchObject({ ok: false, failure: 'invalid' });
    // the body rule on its own: the entry logged the original envelope, not this one
    expect(intotoV001BodyProblem(entryBody(candidate(v15)), { envelopeBytes: altered.envelope, envelope: dsseOf(altered), signer: cert15() })).toMatch(/envelope hash/);
  });

  it('stored envelope bytes that are not the envelope whose signature was verified, or with two signatures', () => {
    const c = candidate(v15);
    const verified = dsseOf(c);
    const other = { ...verified, signatures: [{ ...verified.signatures[0]!, sig: Buffer.from('other') }] };
    expect(intotoV001BodyProblem(entryBody(c), { envelopeBytes: c.envelope, envelope: other, signer: cert15() })).toMatch(/not the one whose signature was verified/);
    // two signatures, in an entry whose hashes match them (only the count rule can refuse it)
    const env = JSON.parse(v15.layer.blob.toString('utf8')) as { signatures: unknown[] };
    const two = Buffer.from(JSON.stringify({ ...env, signatures: [...env.signatures, ...env.signatures] }));
    const body = bodyOf(v15.layer);
    body.spec.content.hash.value = createHash('sha256').update(two).digest('hex');
    expect(intotoV001BodyProblem(Buffer.from(JSON.stringify(body)), { envelopeBytes: two, envelope: verified, signer: cert15() })).toMatch(/carries 2 signatures/);
    // and the same body rule accepts the real entry
    expect(intotoV001BodyProblem(entryBody(c), { envelopeBytes: c.envelope, envelope: verified, signer: cert15() })).toBeUndefined();
  });

  it('a SET from a log the trusted root does not list, or altered', async () => {
    const c = await relog(v15, () => {});
    refused(run(c, v15, publicGood), /transparency log the trusted root does not list/);
    const rb = rekorBundle(v15.layer);
    const set = Buffer.from(rb.SignedEntryTimestamp, 'base64');
    set[10]! ^= 1;
    refused(run(candidate(v15, withBundle(v15.layer, { ...rb, SignedEntryTimestamp: set.toString('base64') })), v15), /signed entry timestamp does not verify/);
  });

  it('a bundle (no stored envelope bytes) with an intoto 0.0.1 entry is refused with a sentence', () => {
    const c = candidate(v15);
    const key = new X509Certificate(v15.layer.annotations['dev.sigstore.cosign/certificate']!).publicKey;
    expect(intotoV001BundleProblem(c.bundle!, undefined, key, toTrustMaterial(publicGood).tlogs)).toMatch(/only a legacy \.att layer keeps those/);
    expect(intotoV001BundleProblem(c.bundle!, c.envelope, key, toTrustMaterial(publicGood).tlogs)).toBeUndefined();
  });
});

describe('entry kinds nothing here checks', () => {
  it('a rekord entry (old cosign) fails with a sentence, not a library code', () => {
    const c = candidate(v15);
    const entry = c.bundle!.verificationMaterial.tlogEntries[0]!;
    for (const kind of ['rekord', 'constructor', '__proto__']) {
      const other = { ...entry, kindVersion: { kind, version: '0.0.1' } };
      const bundle = { ...c.bundle!, verificationMaterial: { ...c.bundle!.verificationMaterial, tlogEntries: [other] } };
      const o = run({ ...c, bundle }, v15);
      expect(o).toMatchObject({ ok: false, failure: 'invalid', reason: expect.stringContaining(`of kind "${kind} 0.0.1", which kamal-gate cannot match against a signature`) });
      expect((o as { reason: string }).reason).not.toMatch(/TLOG_BODY_ERROR|unsupported kind/);
    }
    expect(unsupportedTlogKind([{ ...entry, kindVersion: { kind: 'intoto', version: '0.0.3' } }])).toMatch(/"intoto 0\.0\.3"/);
    expect(unsupportedTlogKind([entry])).toBeUndefined();
  });
});
