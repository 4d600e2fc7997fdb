/**
 * Sigstore bundles attached as OCI referrers by producers that are not ours, pushed to a real
 * docker-registry 2.8 (no referrers API: always the `sha256-<hex>` fallback index) and verified
 * through the built CLI:
 *   - @sigstore/oci `attachArtifactToImage`, what GitHub's actions/attest-build-provenance calls
 *     (through actions/attest): the entry carries the bundle artifactType and the annotations;
 *   - cosign v2.5–v3.0.x, whose go-containerregistry ≤ v0.21.5 writes the entry with the referrer's
 *     CONFIG media type as artifactType (`application/vnd.oci.empty.v1+json`), no annotations
 *     (ggcr pkg/v1/remote/write.go commitManifest; sigstore/cosign#4641);
 *   - newer ggcr (google/go-containerregistry#2269) and oras: the manifest's own artifactType and
 *     annotations on the entry.
 * Bundles come from @sigstore/sign against @sigstore/mock, never hand-made JSON.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachArtifactToImage, getRegistryCredentials } from '@sigstore/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { verifyReport, type VerifyReport } from '../helpers/verify-report.js';
import { cosignSignStatement } from '../helpers/cosign-format.js';
import { HostileRegistry } from '../helpers/hostile-registry.js';
import { ImageBuilder, sha256, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startMockSigstore, type MockSigstore } from './sigstore-mock.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SPDX = 'application/spdx+json';
const COSIGN_SIGN = 'https://sigstore.dev/cosign/sign/v1';
const SLSA_V1 = 'https://slsa.dev/provenance/v1';
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ISSUER = 'https://fake.oidcissuer.com';
const me = { email: 'release@acme.test', iss: ISSUER };
const BUILDER = 'https://github.com/actions/runner/github-hosted';
const CLI_TIMEOUT = 120_000;

let reg: TestRegistry;
let sigstore: MockSigstore;
let b: ImageBuilder;
let work: string;
let root: string;
let docker: string;
let emptyPolicy: string;

type Report = VerifyReport;

function verify(refs: string[], args: string[], policyFile = emptyPolicy): ReturnType<typeof verifyReport> {
  return verifyReport([...refs, '--policy', policyFile, '--no-ledger', '--trusted-root', root, ...args], { cwd: work, env: { DOCKER_CONFIG: docker } });
}

const keyless = ['--certificate-identity', me.email, '--certificate-oidc-issuer', ISSUER];

/** `rule:fail|ok` of every signature and attestation finding of the first image. */
const rules = (r: Report) =>
  (r.images[0]?.findings ?? [])
    .filter((f) => /^(signature|attestation)\./.test(f.rule))
    .map((f) => `${f.rule}:${f.fails ? 'fail' : 'ok'}`)
    .sort();
const finding = (r: Report, rule: string) => r.images[0]!.findings!.find((f) => f.rule === rule)!;

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

interface ReferrerSpec {
  /** The manifest's own artifactType (absent: none, the pre-1.1 way). */
  artifactType?: string;
  /** default application/vnd.oci.empty.v1+json with the `{}` blob */
  config?: { mediaType: string; bytes: Buffer; artifactType?: string };
  layers: Array<{ mediaType: string; bytes: Buffer }>;
  annotations?: Record<string, string>;
}

/**
 * How a client without the referrers API keeps the fallback index (distribution-spec "Pushing
 * Manifests with Subject"): what each producer puts on the entry.
 *   ggcr-0.21: ggcr ≤ v0.21.5 (cosign v2.5–v3.0.x): `artifactType` = the config media type, nothing else;
 *   ggcr-new:  ggcr after #2269 / oras: the manifest's artifactType (else the config media type) and its annotations.
 */
type EntryStyle = 'ggcr-0.21' | 'ggcr-new';

/** Pushes a referrer manifest by digest, then read-modify-writes the fallback tag as the producer does. */
async function attach(repo: string, subject: { digest: string; size: number; mediaType: string }, spec: ReferrerSpec, style: EntryStyle): Promise<Entry> {
  const layers = [];
  for (const l of spec.layers) layers.push({ mediaType: l.mediaType, digest: (await b.pushBlob(repo, l.bytes)).digest, size: l.bytes.length });
  const configBytes = spec.config?.bytes ?? Buffer.from('{}');
  const c = await b.pushBlob(repo, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    ...(spec.artifactType ? { artifactType: spec.artifactType } : {}),
    // cosign's WriteReferrer also writes artifactType inside the config descriptor.
    config: { mediaType: spec.config?.mediaType ?? EMPTY, ...(spec.config?.artifactType ? { artifactType: spec.config.artifactType } : {}), digest: c.digest, size: c.size },
    layers,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const pushed = await b.pushManifest(repo, sha256(Buffer.from(JSON.stringify(manifest))), manifest);
  // No OCI-Subject header from 2.8, and its referrers endpoint is not routed: the client keeps the tag.
  const probe = await b.request('GET', `/v2/${repo}/referrers/${subject.digest}`, repo, { headers: { accept: OCI_INDEX } });
  await probe.body?.cancel();
  expect(probe.status).toBe(404);
  const entry: Entry =
    style === 'ggcr-0.21'
      ? { mediaType: OCI_MANIFEST, digest: pushed.digest, size: pushed.size, artifactType: manifest.config.mediaType }
      : {
          mediaType: OCI_MANIFEST,
          digest: pushed.digest,
          size: pushed.size,
          artifactType: spec.artifactType ?? manifest.config.mediaType,
          ...(spec.annotations ? { annotations: spec.annotations } : {}),
        };
  await addEntries(repo, subject.digest, [entry]);
  return entry;
}

/** Appends entries to the fallback index of `digest` (created when missing), sorted by digest as ggcr does. */
async function addEntries(repo: string, digest: string, entries: Entry[]): Promise<void> {
  const tag = digest.replace(':', '-');
  const got = await b.getManifest(repo, tag, OCI_INDEX);
  const index =
    got.status === 200 ? (JSON.parse(got.bytes.toString('utf8')) as { schemaVersion: 2; mediaType: string; manifests: Entry[] }) : { schemaVersion: 2 as const, mediaType: OCI_INDEX, manifests: [] };
  for (const e of entries) if (!index.manifests.some((m) => m.digest === e.digest)) index.manifests.push(e);
  index.manifests.sort((x, y) => (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : 0));
  await b.pushManifest(repo, tag, index);
}

/** Moves one entry to the end of the fallback index (as a writer that appends without sorting, like oras, leaves it). */
async function moveLast(repo: string, digest: string, entry: string): Promise<void> {
  const entries = await fallbackIndex(repo, digest);
  const moved = [...entries.filter((e) => e.digest !== entry), ...entries.filter((e) => e.digest === entry)];
  await b.pushManifest(repo, digest.replace(':', '-'), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: moved });
}

async function fallbackIndex(repo: string, digest: string): Promise<Entry[]> {
  const got = await b.getManifest(repo, digest.replace(':', '-'), OCI_INDEX);
  expect(got.status).toBe(200);
  return (JSON.parse(got.bytes.toString('utf8')) as { manifests: Entry[] }).manifests;
}

/** What cosign v3 `sign` / `attest` upload (pkg/oci/remote/write.go WriteAttestationNewBundleFormat). */
function cosignBundle(bundle: object, predicateType: string): ReferrerSpec {
  return {
    artifactType: BUNDLE,
    config: { mediaType: EMPTY, bytes: Buffer.from('{}'), artifactType: BUNDLE },
    layers: [{ mediaType: BUNDLE, bytes: Buffer.from(JSON.stringify(bundle)) }],
    annotations: {
      'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
    },
  };
}

/** An SPDX SBOM attached as a referrer (oras attach / syft style): not a signature. */
function sbom(n = 0): ReferrerSpec {
  return {
    artifactType: SPDX,
    layers: [{ mediaType: SPDX, bytes: Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `sbom-${n}`, packages: [] })) }],
    annotations: { 'org.opencontainers.image.created': '2026-11-01T00:00:00Z' },
  };
}

const subjectOf = (img: PushedImage) => ({ digest: img.digest, size: img.size, mediaType: img.mediaType });
const signed = async (img: PushedImage) => sigstore.signStatement(cosignSignStatement(img.digest), me);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-referrer-producers-'));
  // htpasswd: @sigstore/oci signs in (as actions/attest does with the runner's docker login).
  [reg, sigstore] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startMockSigstore()]);
  b = new ImageBuilder(reg);
  root = join(work, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(sigstore.trustedRoot));
  // `docker login` for both the CLI (DOCKER_CONFIG) and @sigstore/oci (~/.docker/config.json).
  docker = join(work, '.docker');
  mkdirSync(docker);
  writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  emptyPolicy = join(work, 'empty.yml');
  writeFileSync(emptyPolicy, 'version: 1\n');
});

afterAll(async () => {
  await Promise.all([reg?.stop(), sigstore?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('actions/attest-build-provenance: @sigstore/oci attachArtifactToImage', { timeout: CLI_TIMEOUT }, () => {
  it('a keyless SLSA v1 provenance bundle it attaches (fallback index on 2.8) satisfies a signed provenance requirement; another identity does not', async () => {
    const img = await b.pushImage('producers/attest-action', 'v1', { platforms: [AMD64] });
    const provenance = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: `${reg.host}/producers/attest-action`, digest: { sha256: img.digest.slice(7) } }],
      predicateType: SLSA_V1,
      predicate: {
        buildDefinition: {
          buildType: 'https://actions.github.io/buildtypes/workflow/v1',
          externalParameters: { workflow: { ref: 'refs/heads/main', repository: 'https://github.com/acme/app', path: '.github/workflows/release.yml' } },
        },
        runDetails: { builder: { id: BUILDER }, metadata: { invocationId: '1' } },
      },
    };
    const bundle = await sigstore.signStatement(provenance, me);
    expect(bundle.mediaType).toBe(BUNDLE);
    // As actions/attest does (src/attest.ts createAttestation): credentials from the docker login.
    const home = process.env.HOME;
    process.env.HOME = work;
    let credentials;
    try {
      credentials = getRegistryCredentials(`${reg.host}/producers/attest-action`);
    } finally {
      process.env.HOME = home;
    }
    const artifact = await attachArtifactToImage({
      credentials,
      imageName: `${reg.host}/producers/attest-action`,
      imageDigest: img.digest,
      artifact: Buffer.from(JSON.stringify(bundle)),
      mediaType: bundle.mediaType as string,
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': SLSA_V1 },
    });
    const entries = await fallbackIndex('producers/attest-action', img.digest);
    expect(entries).toEqual([expect.objectContaining({ digest: artifact.digest, artifactType: BUNDLE })]);
    expect(entries[0]!.annotations).toMatchObject({ 'dev.sigstore.bundle.predicateType': SLSA_V1 });

    const policy = (identity: string) => {
      const p = join(work, `attest-${identity}.yml`);
      writeFileSync(
        p,
        `version: 1\ndefaults:\n  attestations:\n    require:\n      - type: slsa-provenance\n        signedBy: { identity: ${identity}, issuer: ${ISSUER} }\n        builderId: ${BUILDER}\n`,
      );
      return p;
    };
    const ok = await verify([img.ref], [], policy(me.email));
    expect(rules(ok.report), ok.stderr).toEqual([]);
    expect(ok.code).toBe(0);
    const wrong = await verify([img.ref], [], policy('mallory@acme.test'));
    expect(rules(wrong.report)).toEqual(['attestation.invalid:fail']);
    expect(wrong.code).toBe(1);
  });

  it('a cosign-sign statement attached by @sigstore/oci verifies with --certificate-identity', async () => {
    const img = await b.pushImage('producers/sigstore-oci', 'v1');
    const bundle = await signed(img);
    const home = process.env.HOME;
    process.env.HOME = work;
    let credentials;
    try {
      credentials = getRegistryCredentials(`${reg.host}/producers/sigstore-oci`);
    } finally {
      process.env.HOME = home;
    }
    await attachArtifactToImage({
      credentials,
      imageName: `${reg.host}/producers/sigstore-oci`,
      imageDigest: img.digest,
      artifact: Buffer.from(JSON.stringify(bundle)),
      mediaType: BUNDLE,
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': COSIGN_SIGN },
    });
    const r = await verify([img.ref], keyless);
    expect(rules(r.report), r.stderr).toEqual(['signature.verified:ok']);
    expect(r.code).toBe(0);
  });
});

describe('cosign v2.5–v3.0.x bundles: the fallback index as go-containerregistry writes it', { timeout: CLI_TIMEOUT }, () => {
  it('ggcr ≤ v0.21.5 (entry artifactType = the config media type, application/vnd.oci.empty.v1+json): verified, no longer read as unsigned', async () => {
    const img = await b.pushImage('producers/ggcr-old', 'v1');
    await attach(img.repo, subjectOf(img), cosignBundle(await signed(img), COSIGN_SIGN), 'ggcr-0.21');
    // The exact shape the old discovery skipped: one entry, with only these four fields.
    const entries = await fallbackIndex(img.repo, img.digest);
    expect(entries).toHaveLength(1);
    expect(Object.keys(entries[0]!).sort()).toEqual(['artifactType', 'digest', 'mediaType', 'size']);
    expect(entries[0]!.artifactType).toBe(EMPTY);

    const r = await verify([img.ref], keyless);
    expect(rules(r.report), r.stderr).toEqual(['signature.verified:ok']);
    expect(r.code).toBe(0);
    expect(finding(r.report, 'signature.verified').evidence).toMatchObject({ formats: ['bundle'] });
    // And the identity is still checked.
    const other = await verify([img.ref], ['--certificate-identity', 'mallory@acme.test', '--certificate-oidc-issuer', ISSUER]);
    expect(rules(other.report)).toEqual(['signature.untrusted_identity:fail']);
    expect(other.code).toBe(1);
  });

  it('ggcr after v0.21.5 / oras (entry artifactType = the bundle type, annotations pulled up): verified', async () => {
    const img = await b.pushImage('producers/ggcr-new', 'v1', { platforms: [AMD64] });
    await attach(img.repo, subjectOf(img), cosignBundle(await signed(img), COSIGN_SIGN), 'ggcr-new');
    const entries = await fallbackIndex(img.repo, img.digest);
    expect(entries[0]).toMatchObject({ artifactType: BUNDLE, annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' } });
    const r = await verify([img.ref], keyless);
    expect(rules(r.report), r.stderr).toEqual(['signature.verified:ok']);
    expect(r.code).toBe(0);
  });

  it('an SBOM referrer beside the bundle (either entry style) does not hide it', async () => {
    for (const style of ['ggcr-0.21', 'ggcr-new'] as const) {
      const img = await b.pushImage('producers/sbom-beside', style);
      await attach(img.repo, subjectOf(img), sbom(), style);
      await attach(img.repo, subjectOf(img), cosignBundle(await signed(img), COSIGN_SIGN), style);
      expect(await fallbackIndex(img.repo, img.digest)).toHaveLength(2);
      const r = await verify([img.ref], keyless);
      expect(rules(r.report), `${style}: ${r.stderr}`).toEqual(['signature.verified:ok']);
      expect(r.code).toBe(0);
    }
  });

  it('a fallback index of junk only reads as unsigned, and the finding says what each entry was', async () => {
    const img = await b.pushImage('producers/junk', 'v1');
    const other = await b.pushImage('producers/junk', 'other');
    const subject = subjectOf(img);
    await attach(img.repo, subject, sbom(), 'ggcr-new');
    // Some other artifact, as old ggcr lists it (empty config, nothing on the entry to tell).
    await attach(
      img.repo,
      subject,
      { artifactType: 'application/vnd.example.notes+json', layers: [{ mediaType: 'application/vnd.example.notes+json', bytes: Buffer.from('{"notes":"hello"}') }] },
      'ggcr-0.21',
    );
    // The other image's valid bundle, its referrer manifest listed in our index: it refers to the other image.
    const replayed = await attach(other.repo, subjectOf(other), cosignBundle(await signed(other), COSIGN_SIGN), 'ggcr-0.21');
    // A plain image manifest listed as a referrer: no subject at all.
    await addEntries(img.repo, img.digest, [replayed, { mediaType: other.mediaType, digest: other.digest, size: other.size, artifactType: EMPTY }]);
    expect(await fallbackIndex(img.repo, img.digest)).toHaveLength(4);

    const r = await verify([img.ref], keyless);
    expect(rules(r.report), r.stderr).toEqual(['signature.missing:fail']);
    expect(r.code).toBe(1);
    const f = finding(r.report, 'signature.missing');
    expect(f.message).toContain('has no signature');
    expect(f.message).toContain('; 4 referrers read, none a signature: ');
    const ignored = f.evidence!.ignored as string[];
    expect(ignored).toHaveLength(4);
    expect(ignored.join('\n')).toContain(`refers to ${other.digest}, not ${img.digest}`);
    expect(ignored.join('\n')).toContain('no subject');
    expect(ignored.join('\n')).toMatch(/no signature layer \(artifactType application\/spdx\+json/);
    expect(ignored.join('\n')).toMatch(/no signature layer \(artifactType application\/vnd\.example\.notes\+json/);
  });
});

describe('a fallback index with more referrers than discovery reads', { timeout: CLI_TIMEOUT }, () => {
  const JUNK = 130;

  async function junkReferrers(img: PushedImage, spec: (i: number) => ReferrerSpec, style: EntryStyle): Promise<void> {
    const entries: Entry[] = [];
    const cfg = await b.pushBlob(img.repo, Buffer.from('{}'));
    for (let i = 0; i < JUNK; i++) {
      const s = spec(i);
      const layers = [];
      for (const l of s.layers) layers.push({ mediaType: l.mediaType, digest: (await b.pushBlob(img.repo, l.bytes)).digest, size: l.bytes.length });
      const m = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        ...(s.artifactType ? { artifactType: s.artifactType } : {}),
        config: { mediaType: EMPTY, digest: cfg.digest, size: cfg.size },
        layers,
        subject: subjectOf(img),
      };
      const p = await b.pushManifest(img.repo, sha256(Buffer.from(JSON.stringify(m))), m);
      entries.push({ mediaType: OCI_MANIFEST, digest: p.digest, size: p.size, artifactType: style === 'ggcr-0.21' ? EMPTY : (s.artifactType ?? EMPTY) });
    }
    await addEntries(img.repo, img.digest, entries);
  }

  it('reads at most 100 referrers per digest, signature-typed entries first, SBOM-typed last: the bundle is found, the cap is in the evidence', async () => {
    // 130 SBOMs typed as SBOMs, and the bundle listed the old ggcr way (application/vnd.oci.empty.v1+json).
    const img = await b.pushImage('producers/many', 'sboms');
    await junkReferrers(img, sbom, 'ggcr-new');
    const bundle = await attach(img.repo, subjectOf(img), cosignBundle(await signed(img), COSIGN_SIGN), 'ggcr-0.21');
    // Listed last: read in index order, the cap would stop before it.
    await moveLast(img.repo, img.digest, bundle.digest);
    expect((await fallbackIndex(img.repo, img.digest)).map((e) => e.digest).indexOf(bundle.digest)).toBe(JUNK);
    const r = await verify([img.ref], [...keyless, '--stats']);
    expect(rules(r.report), r.stderr).toEqual(['signature.verified:ok']);
    const evidence = finding(r.report, 'signature.verified').evidence!;
    expect(evidence.truncated).toMatch(/read 100 of 131 referrers/);
    // Bounded: the image, its config, the legacy tag, the fallback index, 100 referrers, one bundle blob, and auth round-trips.
    expect(r.report.stats![reg.host]!.requests).toBeLessThan(100 + 20);
  });

  it('with the bundle listed by its type among 130 entries of unknown type, it is read first', async () => {
    const img = await b.pushImage('producers/many', 'unknown');
    await junkReferrers(img, (i) => ({ layers: [{ mediaType: 'application/vnd.example.blob', bytes: Buffer.from(`junk ${i}`) }] }), 'ggcr-0.21');
    const bundle = await attach(img.repo, subjectOf(img), cosignBundle(await signed(img), COSIGN_SIGN), 'ggcr-new');
    await moveLast(img.repo, img.digest, bundle.digest);
    const r = await verify([img.ref], keyless);
    expect(rules(r.report), r.stderr).toEqual(['signature.verified:ok']);
    expect(finding(r.report, 'signature.verified').evidence!.truncated).toMatch(/read 100 of 131 referrers/);
  });

  // distribution 2.8 refuses an index listing manifests it does not have: a lying registry serves one.
  it('a hostile fallback index of 5000 entries: at most 100 manifests fetched; a bundle listed by its type is still found, junk alone is unsigned', async () => {
    for (const withBundle of [true, false]) {
      const hostile = await HostileRegistry.start({ image: { platforms: undefined } });
      try {
        const subject = { mediaType: hostile.image.mediaType, digest: hostile.image.digest, size: hostile.image.size };
        const junk = Array.from({ length: 5000 }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: sha256(Buffer.from(`junk ${i}`)), size: 500, artifactType: EMPTY }));
        const entries: Entry[] = [...junk];
        if (withBundle) {
          const layer = hostile.putBlob(Buffer.from(JSON.stringify(await sigstore.signStatement(cosignSignStatement(subject.digest), me))));
          const config = hostile.putBlob(Buffer.from('{}'));
          const m = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: BUNDLE, config: { mediaType: EMPTY, ...config }, layers: [{ mediaType: BUNDLE, ...layer }], subject };
          const digest = hostile.putManifest(m, OCI_MANIFEST);
          entries.splice(4321, 0, { mediaType: OCI_MANIFEST, digest, size: hostile.manifests.get(digest)!.bytes.length, artifactType: BUNDLE });
        }
        hostile.putManifest({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }, OCI_INDEX, subject.digest.replace(':', '-'));
        const r = await runCli(['verify', hostile.ref, '--policy', emptyPolicy, '--no-ledger', '--format', 'json', '--trusted-root', root, ...keyless], {
          cwd: work,
          env: { DOCKER_CONFIG: join(work, 'no-docker') },
        });
        const report = JSON.parse(r.stdout) as Report;
        const fetched = hostile.seen(/^GET \/v2\/app\/manifests\/sha256:/).filter((x) => !x.endsWith(subject.digest));
        expect(fetched.length, r.stderr).toBeLessThanOrEqual(100);
        expect(fetched.length).toBeGreaterThanOrEqual(100);
        if (withBundle) {
          expect(rules(report), r.stderr).toEqual(['signature.verified:ok']);
          expect(finding(report, 'signature.verified').evidence!.truncated).toMatch(/read 100 of 5001 referrers/);
        } else {
          expect(rules(report), r.stderr).toEqual(['signature.missing:fail']);
          expect(r.code).toBe(1);
          const f = finding(report, 'signature.missing');
          expect(f.message).toMatch(/100 referrers read, none a signature: .*but not in the registry/);
          expect(f.evidence!.truncated).toMatch(/read 100 of 5000 referrers/);
          expect(f.evidence!.ignored as string[]).toHaveLength(20);
        }
      } finally {
        await hostile.stop();
      }
    }
  });
});
