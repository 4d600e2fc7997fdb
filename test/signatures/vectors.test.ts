/**
 * Interop: every third-party vector in fixtures/third-party-vectors gives the result its README states
 * (real cosign / containers-image / sigstore-js signatures, verified offline).
 */
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { describe, expect, it } from 'vitest';
import { referenceRepository, readSimpleSigning } from '../../src/signatures/binding.js';
import { bundleCandidate, legacyCandidate } from '../../src/signatures/candidates.js';
import { signerSpecs, type SignerSpec } from '../../src/signatures/signers.js';
import { verifyCandidate, type Outcome, type VerifyContext } from '../../src/signatures/verify.js';
import type { Candidate } from '../../src/signatures/types.js';

const VECTORS = resolve(import.meta.dirname, '../../fixtures/third-party-vectors');
if (!existsSync(resolve(VECTORS, 'README.md'))) {
  throw new Error(`the third-party test vectors are missing: expected ${VECTORS} (fixtures/third-party-vectors in the repository)`);
}
const legacyDir = (name: string) => resolve(VECTORS, 'cosign-legacy', name);

/**
 * The vectors keep containers/image's git symlinks as text files holding the link target. Follow
 * them; two targets (unknown-cosign-key.signature, v2s1-invalid-signatures.manifest.json) were not
 * copied, and read as undefined.
 */
function readVector(path: string): Buffer | undefined {
  const raw = readFileSync(path);
  if (raw.length > 200 || !raw.subarray(0, 3).equals(Buffer.from('../'))) return raw;
  const target = resolve(path, '..', raw.toString('utf8').trim());
  return existsSync(target) ? readVector(target) : undefined;
}
const root = TrustedRoot.fromJSON(JSON.parse(readFileSync(resolve(VECTORS, 'trusted_root_public_good.json'), 'utf8')));
const key = (name: string) => ({ path: name, resolved: resolve(VECTORS, 'cosign-legacy', name) });

/** containers/image `dir:` signatures: "\0sigstore-json\n" + {mimeType, payload, annotations}. */
function dirSignatures(name: string): Candidate[] {
  const dir = legacyDir(name);
  return readdirSync(dir)
    .filter((f) => f.startsWith('signature-'))
    .sort()
    .map((f) => {
      const raw = readVector(resolve(dir, f));
      if (!raw) return { format: 'legacy-sig', kind: 'signature', source: f, attachedTo: '', malformed: 'link target not in the vectors' } satisfies Candidate;
      const nl = raw.indexOf(0x0a);
      expect(raw.subarray(0, nl).toString('latin1')).toBe('\0sigstore-json');
      const doc = JSON.parse(raw.subarray(nl + 1).toString('utf8')) as { mimeType: string; payload: string; annotations: Record<string, string> };
      return legacyCandidate({ mediaType: doc.mimeType, annotations: doc.annotations, blob: Buffer.from(doc.payload, 'base64') }, 'legacy-sig', `${name}/${f}`, '');
    });
}

function manifestDigest(name: string): string {
  const p = resolve(legacyDir(name), 'manifest.json');
  const bytes = existsSync(p) ? readVector(p) : undefined;
  // No manifest (or its link target absent): a digest nothing was signed for.
  return `sha256:${createHash('sha256')
    .update(bytes ?? `absent:${name}`)
    .digest('hex')}`;
}

/** The repository the c/image tests signed for, from the payload itself: these vectors test the crypto and the digest. */
function repositoriesOf(cands: Candidate[]): string[] {
  return cands.flatMap((c) => {
    const p = c.payload ? readSimpleSigning(c.payload) : undefined;
    const r = p?.ok && p.value.reference ? referenceRepository(p.value.reference) : undefined;
    return r ? [r] : [];
  });
}

function run(name: string, specs: SignerSpec[], tlog: 'required' | 'optional'): Outcome[] {
  const cands = dirSignatures(name);
  const ctx: VerifyContext = { root, tlog, digests: [manifestDigest(name)], repositories: repositoriesOf(cands) };
  return cands.map((c) => {
    const outcomes = specs.map((s) => verifyCandidate(c, s, ctx));
    return outcomes.find((o) => o.ok) ?? outcomes[0]!;
  });
}

const mitr = { identity: 'mitr@redhat.com', issuer: 'https://github.com/login/oauth' };

describe('containers/image legacy cosign vectors', () => {
  it('dir-img-cosign-valid verifies with cosign.pub, no transparency log', async () => {
    const specs = await signerSpecs([key('cosign.pub')], []);
    expect(run('dir-img-cosign-valid', specs, 'optional').map((o) => o.ok)).toEqual([true]);
    // the same signature when the policy requires Rekor: it has none
    expect(run('dir-img-cosign-valid', specs, 'required')[0]).toMatchObject({ ok: false, failure: 'no_tlog' });
    // another key: not ours
    expect(run('dir-img-cosign-valid', await signerSpecs([key('cosign2.pub')], []), 'optional')[0]).toMatchObject({ ok: false, failure: 'untrusted_key' });
  });

  it('dir-img-cosign-valid-2 and -valid-with-tag verify with cosign.pub', async () => {
    const specs = await signerSpecs([key('cosign.pub')], []);
    expect(run('dir-img-cosign-valid-2', specs, 'optional').some((o) => o.ok)).toBe(true);
    expect(run('dir-img-cosign-valid-with-tag', specs, 'optional').every((o) => o.ok)).toBe(true);
  });

  it('dir-img-cosign-mixed: one of the two signatures is valid', async () => {
    const outcomes = run('dir-img-cosign-mixed', await signerSpecs([key('cosign.pub')], []), 'optional');
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
  });

  it('dir-img-cosign-key-rekor-valid verifies with cosign2.pub and its Rekor SET', async () => {
    const outcomes = run('dir-img-cosign-key-rekor-valid', await signerSpecs([key('cosign2.pub')], []), 'required');
    expect(outcomes.map((o) => o.ok)).toEqual([true]);
  });

  it('dir-img-cosign-fulcio-rekor-valid verifies keyless (mitr@redhat.com, GitHub OAuth)', async () => {
    expect(run('dir-img-cosign-fulcio-rekor-valid', await signerSpecs([], [mitr]), 'required')).toMatchObject([{ ok: true }]);
    const wrongId = run('dir-img-cosign-fulcio-rekor-valid', await signerSpecs([], [{ ...mitr, identity: 'mitr@redhat.co' }]), 'required');
    expect(wrongId[0]).toMatchObject({ ok: false, failure: 'untrusted_identity', found: { identity: 'mitr@redhat.com', issuer: 'https://github.com/login/oauth' } });
    // an unanchored match would accept these
    const partial = run('dir-img-cosign-fulcio-rekor-valid', await signerSpecs([], [{ identityRegexp: 'mitr', issuer: mitr.issuer }]), 'required');
    expect(partial[0]).toMatchObject({ ok: false, failure: 'untrusted_identity' });
    const dot = run('dir-img-cosign-fulcio-rekor-valid', await signerSpecs([], [{ identity: 'mitr@redhat.com', issuer: 'https://github.com/login/oauth2' }]), 'required');
    expect(dot[0]).toMatchObject({ ok: false, failure: 'untrusted_identity' });
    const regexp = run('dir-img-cosign-fulcio-rekor-valid', await signerSpecs([], [{ identityRegexp: '.*@redhat\\.com', issuerRegexp: 'https://github\\.com/.*' }]), 'required');
    expect(regexp[0]).toMatchObject({ ok: true });
  });

  it('dir-img-cosign-pki-valid: a private PKI certificate is not trusted by the public-good root', async () => {
    const outcomes = run('dir-img-cosign-pki-valid', await signerSpecs([], [{ identityRegexp: '.*', issuerRegexp: '.*' }]), 'optional');
    expect(outcomes[0]).toMatchObject({ ok: false });
    expect((outcomes[0] as { failure: string }).failure).not.toBe('digest_mismatch');
  });

  it('negative vectors fail with the right finding', async () => {
    const specs = await signerSpecs([key('cosign.pub'), key('cosign2.pub')], [mitr]);
    expect(run('dir-img-cosign-manifest-digest-error', specs, 'optional')[0]).toMatchObject({ ok: false, failure: 'digest_mismatch' });
    expect(run('dir-img-cosign-modified-manifest', specs, 'optional')[0]).toMatchObject({ ok: false, failure: 'digest_mismatch' });
    expect(run('dir-img-cosign-other-attachment', specs, 'optional')[0]).toMatchObject({ ok: false, failure: 'invalid' });
    expect(run('dir-img-cosign-no-manifest', specs, 'optional')[0]).toMatchObject({ ok: false });
  });
});

describe('sigstore-js and cosign bundles', () => {
  const dir = resolve(VECTORS, 'sigstore-bundles');
  const statement = JSON.parse(readFileSync(resolve(dir, 'statement.json'), 'utf8')) as { subject: Array<{ digest: { sha512: string } }> };
  const npmDigest = `sha512:${statement.subject[0]!.digest.sha512}`;

  for (const f of readdirSync(dir).filter((n) => n.startsWith('bundleV0'))) {
    it(`${f} verifies (brian@dehamer.com, GitHub OAuth)`, async () => {
      const c = bundleCandidate(readFileSync(resolve(dir, f)), f, npmDigest);
      expect(c.malformed).toBeUndefined();
      const ctx: VerifyContext = { root, tlog: 'required', digests: [npmDigest], repositories: [] };
      const [ok] = await signerSpecs([], [{ identity: 'brian@dehamer.com', issuer: 'https://github.com/login/oauth' }]);
      expect(verifyCandidate(c, ok!, ctx)).toMatchObject({ ok: true, boundTo: npmDigest });
      const [other] = await signerSpecs([], [{ identity: 'brian@dehamer.co', issuer: 'https://github.com/login/oauth' }]);
      expect(verifyCandidate(c, other!, ctx)).toMatchObject({ ok: false, failure: 'untrusted_identity' });
    });
  }

  it('cosign-oci-attestation.sigstore.json verifies as an attestation of its image digest (cody@soyland.com)', async () => {
    const c = bundleCandidate(readFileSync(resolve(dir, 'cosign-oci-attestation.sigstore.json')), 'cosign', '');
    expect(c).toMatchObject({ kind: 'attestation', predicateType: 'https://cosign.sigstore.dev/attestation/v1' });
    const digest = 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4';
    const [spec] = await signerSpecs([], [{ identity: 'cody@soyland.com', issuerRegexp: '.+' }]);
    expect(verifyCandidate(c, spec!, { root, tlog: 'required', digests: [digest], repositories: [] })).toMatchObject({ ok: true, boundTo: digest });
    // the same attestation for another image
    expect(verifyCandidate(c, spec!, { root, tlog: 'required', digests: [`sha256:${'1'.repeat(64)}`], repositories: [] })).toMatchObject({ ok: false, failure: 'digest_mismatch' });
  });
});

describe('coverage of the vectors', () => {
  it('every cosign-legacy vector folder and sigstore bundle is exercised above; the two missing link targets are known', () => {
    const tested = [
      'dir-img-cosign-valid',
      'dir-img-cosign-valid-2',
      'dir-img-cosign-valid-with-tag',
      'dir-img-cosign-mixed',
      'dir-img-cosign-key-rekor-valid',
      'dir-img-cosign-fulcio-rekor-valid',
      'dir-img-cosign-pki-valid',
      'dir-img-cosign-manifest-digest-error',
      'dir-img-cosign-modified-manifest',
      'dir-img-cosign-other-attachment',
      'dir-img-cosign-no-manifest',
    ];
    const folders = readdirSync(resolve(VECTORS, 'cosign-legacy'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect(folders.sort()).toEqual([...tested].sort());
    // Link targets the vectors do not carry (containers/image keeps them one level up): their
    // candidates read as malformed, so dir-img-cosign-mixed's second signature and
    // dir-img-cosign-manifest-digest-error's manifest stand in as "not valid".
    const missing = folders.flatMap((f) =>
      readdirSync(legacyDir(f)).flatMap((n) => {
        const raw = readFileSync(resolve(legacyDir(f), n));
        const target = raw.subarray(0, 3).equals(Buffer.from('../')) ? resolve(legacyDir(f), raw.toString('utf8').trim()) : undefined;
        return target && !existsSync(target) ? [`${f}/${n} -> ${raw.toString('utf8').trim()}`] : [];
      }),
    );
    expect(missing.sort()).toEqual([
      'dir-img-cosign-manifest-digest-error/manifest.json -> ../v2s1-invalid-signatures.manifest.json',
      'dir-img-cosign-mixed/signature-1 -> ../unknown-cosign-key.signature',
    ]);
  });

  it('rekor.pub and fulcio_v1.crt.pem are the Rekor key and a Fulcio CA of the public-good trusted root the vectors verify against', () => {
    const rekorDer = createPublicKey(readFileSync(resolve(VECTORS, 'cosign-legacy', 'rekor.pub'))).export({ format: 'der', type: 'spki' });
    const logIds = root.tlogs.map((t) => Buffer.from(t.logId!.keyId).toString('hex'));
    expect(logIds).toContain(createHash('sha256').update(rekorDer).digest('hex'));
    const fulcio = new X509Certificate(readFileSync(resolve(VECTORS, 'cosign-legacy', 'fulcio_v1.crt.pem'))).raw;
    const cas = root.certificateAuthorities.flatMap((ca) => ca.certChain?.certificates.map((c) => Buffer.from(c.rawBytes)) ?? []);
    expect(cas.some((c) => c.equals(fulcio))).toBe(true);
  });
});
