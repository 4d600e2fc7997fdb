/**
 * Issue 13: real signed artifacts made by producers that are not ours, replayed byte for byte into
 * a real docker-registry 2.8 and verified through the built CLI (`node dist/cli.js verify`), offline,
 * with the public-good trusted root the build ships (dist/trusted_root.json).
 *
 * The artifacts are the OCI layouts slsa-verifier keeps of images that GitHub's SLSA container
 * generator (slsa-github-generator `generator_container_slsa3.yml`, v1.2.0 … v2.1.0) built and
 * attested on the public-good Sigstore (fixtures/slsa-verifier-gha-generic-container, and
 * fixtures/slsa-verifier-intoto-v001 for v1.5.0 and v1.9.0): a legacy cosign `.att` manifest with one
 * keyless DSSE layer, its Rekor entry `intoto` 0.0.1 (2022–2023) or `dsse` 0.0.1 (2024–2025).
 * Every manifest and blob is pushed with its original bytes, so every digest (the statement's
 * subject, the `.att` tag) is the original one. The layer tarballs are not in the fixtures (kamal-gate
 * never reads a layer, and they would add 11.6 MB): each is a stand-in of its declared size written into
 * the registry's storage under its original digest, so the registry accepts the original manifests.
 *
 * Expected results are slsa-verifier's own (cli/slsa-verifier/main_regression_test.go
 * Test_runVerifyGHAArtifactImage): every version verifies for source github.com/slsa-framework/example-package;
 * an untrusted builder id, another source, or branch master is refused. Here: a policy requiring a
 * signed slsa-provenance attestation by the generator workflow passes (exit 0); the same with another
 * builder id, source repository, git ref or signer fails with attestation.invalid (exit 1); and,
 * as `cosign verify` would, the signer flags find no *signature* on an image that only has an
 * attestation (signature.missing).
 */
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReport, type VerifyReport } from '../helpers/verify-report.js';
import { ImageBuilder, sha256 } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures');
const GENERIC = join(FIXTURES, 'slsa-verifier-gha-generic-container');
const INTOTO = join(FIXTURES, 'slsa-verifier-intoto-v001');
const ISSUER = 'https://token.actions.githubusercontent.com';
const GENERATOR = 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml';
const SOURCE = 'github.com/slsa-framework/example-package';
const SLSA_V02 = 'https://slsa.dev/provenance/v0.2';
/** Two CLI processes per artifact, on a machine other tests keep busy. */
const CLI_TIMEOUT = 120_000;

interface Artifact {
  /** slsa-github-generator version (the layout's folder). */
  version: string;
  /** Folders holding the layout's index.json and blobs, searched in order. */
  dirs: string[];
  /** The ref the generator ran at: the certificate's SAN is `${GENERATOR}@${ref}`. */
  builderRef: string;
  /** The caller's git ref in the certificate (Fulcio extension 1.6). */
  gitRef: string;
  /** Rekor entry kind of the attestation. */
  tlog: 'intoto 0.0.1' | 'dsse 0.0.1';
  /** The subject is a Docker schema 2 image (v1.2.0, v1.4.0), not an OCI index. */
  single?: boolean;
}

const generic = (v: string) => [join(GENERIC, v)];
const ARTIFACTS: Artifact[] = [
  { version: 'v1.2.0', dirs: generic('v1.2.0'), builderRef: 'refs/heads/main', gitRef: 'refs/heads/main', tlog: 'intoto 0.0.1', single: true },
  { version: 'v1.4.0', dirs: generic('v1.4.0'), builderRef: 'refs/tags/v1.4.0', gitRef: 'refs/heads/main', tlog: 'intoto 0.0.1', single: true },
  // Item 2 of issue 13: the two vectors intoto-v001.test.ts checks in-process, here end to end.
  { version: 'v1.5.0', dirs: [join(INTOTO, 'v1.5.0'), join(GENERIC, 'intoto-v001-images', 'v1.5.0')], builderRef: 'refs/tags/v1.5.0', gitRef: 'refs/heads/main', tlog: 'intoto 0.0.1' },
  { version: 'v1.6.0', dirs: generic('v1.6.0'), builderRef: 'refs/tags/v1.6.0', gitRef: 'refs/heads/main', tlog: 'intoto 0.0.1' },
  { version: 'v1.7.0', dirs: generic('v1.7.0'), builderRef: 'refs/tags/v1.7.0', gitRef: 'refs/heads/main', tlog: 'intoto 0.0.1' },
  { version: 'v1.8.0', dirs: generic('v1.8.0'), builderRef: 'refs/tags/v1.8.0', gitRef: 'refs/heads/main', tlog: 'intoto 0.0.1' },
  { version: 'v1.9.0', dirs: [join(INTOTO, 'v1.9.0'), join(GENERIC, 'intoto-v001-images', 'v1.9.0')], builderRef: 'refs/tags/v1.9.0', gitRef: 'refs/tags/v13.0.30', tlog: 'intoto 0.0.1' },
  { version: 'v1.10.0', dirs: generic('v1.10.0'), builderRef: 'refs/tags/v1.10.0', gitRef: 'refs/tags/v13.0.30', tlog: 'dsse 0.0.1' },
  { version: 'v2.0.0', dirs: generic('v2.0.0'), builderRef: 'refs/tags/v2.0.0', gitRef: 'refs/tags/v13.0.30', tlog: 'dsse 0.0.1' },
  { version: 'v2.1.0', dirs: generic('v2.1.0'), builderRef: 'refs/tags/v2.1.0', gitRef: 'refs/heads/main', tlog: 'dsse 0.0.1' },
];

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
interface Manifest {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}
type Report = VerifyReport;

let reg: TestRegistry;
let b: ImageBuilder;
let work: string;

/** A blob of the layout, from the first folder that has it, checked against its digest. */
function readBlob(a: Artifact, digest: string): Buffer | undefined {
  for (const dir of a.dirs) {
    const p = join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
    if (!existsSync(p)) continue;
    const bytes = readFileSync(p);
    expect(sha256(bytes), p).toBe(digest);
    return bytes;
  }
  return undefined;
}

function layoutIndex(a: Artifact): { manifests: Descriptor[] } {
  const dir = a.dirs.find((d) => existsSync(join(d, 'index.json')));
  if (!dir) throw new Error(`${a.version}: no index.json in ${a.dirs.join(', ')}`);
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
}

const isLayerTarball = (mediaType: string) => /image\.layer\.v1\.tar|image\.rootfs\.diff\.tar/.test(mediaType);

/**
 * A layer the fixtures leave out: a stand-in of its declared size, written where distribution 2.8
 * keeps the blob and links it into the repository (registry/storage/paths.go: blobs/…/data and
 * repositories/<name>/_layers/…/link), so the registry accepts the original manifest naming it.
 * Its bytes do not hash to the digest: anything that read the layer would see a digest mismatch.
 */
function standInLayer(repo: string, d: Descriptor): void {
  const hex = d.digest.replace(/^sha256:/, '');
  const v2 = join(reg.dir, 'data', 'docker', 'registry', 'v2');
  const data = join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  if (!existsSync(data)) {
    mkdirSync(dirname(data), { recursive: true });
    writeFileSync(data, Buffer.alloc(d.size));
  }
  const link = join(v2, 'repositories', repo, '_layers', 'sha256', hex, 'link');
  mkdirSync(dirname(link), { recursive: true });
  writeFileSync(link, d.digest);
}

/** Pushes a manifest's blobs and child manifests, then the manifest itself (by digest, or under `tag`). */
async function pushTree(a: Artifact, repo: string, d: Descriptor, tag?: string): Promise<void> {
  const bytes = readBlob(a, d.digest);
  if (!bytes) throw new Error(`${a.version}: manifest ${d.digest} is not in the fixtures`);
  const m = JSON.parse(bytes.toString('utf8')) as Manifest;
  for (const child of m.manifests ?? []) await pushTree(a, repo, child);
  for (const blob of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) {
    const content = readBlob(a, blob.digest);
    if (content) await b.pushBlob(repo, content);
    else if (isLayerTarball(blob.mediaType)) standInLayer(repo, blob);
    else throw new Error(`${a.version}: blob ${blob.digest} (${blob.mediaType}) is not in the fixtures`);
  }
  const pushed = await b.pushManifest(repo, tag ?? d.digest, bytes, d.mediaType);
  expect(pushed.digest).toBe(d.digest);
}

interface Replayed {
  ref: string;
  /** The image (index) digest the attestation names. */
  digest: string;
  attTag: string;
}

/** Replays a `cosign save` style layout: the image under `tag`, its `.att` under `sha256-<hex>.att`. */
async function replay(a: Artifact, repo: string, tag: string): Promise<Replayed> {
  const index = layoutIndex(a);
  const kinds = index.manifests.map((m) => m.annotations?.kind);
  const image = index.manifests.find((m) => /^dev\.cosignproject\.cosign\/(image|imageIndex)$/.test(m.annotations?.kind ?? ''));
  const att = index.manifests.find((m) => m.annotations?.kind === 'dev.cosignproject.cosign/atts');
  if (!image || !att) throw new Error(`${a.version}: index.json holds ${kinds.join(', ')}, expected an image and its atts`);
  await pushTree(a, repo, image, tag);
  const attTag = `${image.digest.replace(':', '-')}.att`;
  await pushTree(a, repo, att, attTag);
  return { ref: `${reg.host}/${repo}:${tag}`, digest: image.digest, attTag };
}

function verify(ref: string, policy: string, args: string[] = []): ReturnType<typeof verifyReport> {
  return verifyReport([ref, '--policy', policy, '--no-ledger', ...args], { cwd: work });
}

/** `rule:fail|ok` of the signature and attestation findings of the first image. */
const rules = (r: Report) =>
  (r.images[0]?.findings ?? [])
    .filter((f) => /^(signature|attestation)\./.test(f.rule))
    .map((f) => `${f.rule}:${f.fails ? 'fail' : 'ok'}`)
    .sort();

interface Requirement {
  identity?: string;
  ref?: string;
  builderId?: string;
  source?: string;
}

/** A policy requiring signed SLSA provenance, one requirement per entry. */
function policy(name: string, reqs: Requirement[]): string {
  const lines = ['version: 1', 'defaults:', '  attestations:', '    mode: enforce', '    require:'];
  for (const r of reqs) {
    lines.push('      - type: slsa-provenance');
    lines.push(`        signedBy: { identity: "${r.identity}", issuer: "${ISSUER}", github: { repository: slsa-framework/example-package, ref: "${r.ref}" } }`);
    lines.push(`        builderId: "${r.builderId}"`);
    lines.push(`        sourceRepository: "${r.source}"`);
  }
  const p = join(work, `${name}.yml`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-real-artifacts-'));
  reg = await startRegistry();
  b = new ImageBuilder(reg);
});

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the fixtures are what the README says', () => {
  it('each layout holds an image and one keyless .att layer by the generator, logged in the public-good Rekor', () => {
    for (const a of ARTIFACTS) {
      const index = layoutIndex(a);
      const image = index.manifests.find((m) => /cosign\/image/.test(m.annotations?.kind ?? ''))!;
      expect(image.mediaType, a.version).toBe(a.single ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.index.v1+json');
      const att = JSON.parse(readBlob(a, index.manifests.find((m) => m.annotations?.kind === 'dev.cosignproject.cosign/atts')!.digest)!.toString('utf8')) as Manifest;
      expect(att.layers, a.version).toHaveLength(1);
      const layer = att.layers![0]!;
      expect(layer.mediaType).toBe('application/vnd.dsse.envelope.v1+json');
      const rekor = JSON.parse(layer.annotations!['dev.sigstore.cosign/bundle']!) as { Payload: { body: string; logID: string } };
      const body = JSON.parse(Buffer.from(rekor.Payload.body, 'base64').toString('utf8')) as { kind: string; apiVersion: string };
      expect(`${body.kind} ${body.apiVersion}`, a.version).toBe(a.tlog);
      expect(rekor.Payload.logID).toBe('c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d');
      const envelope = JSON.parse(readBlob(a, layer.digest)!.toString('utf8')) as { payload: string };
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
        predicateType: string;
        subject: Array<{ digest: { sha256: string } }>;
        predicate: { builder: { id: string } };
      };
      expect(statement.predicateType).toBe(SLSA_V02);
      expect(statement.subject.map((s) => `sha256:${s.digest.sha256}`)).toEqual([image.digest]);
      expect(statement.predicate.builder.id).toBe(`${GENERATOR}@${a.builderRef}`);
      const digestFile = a.dirs.map((d) => join(d, 'container_workflow_dispatch.digest')).find(existsSync);
      if (digestFile) expect(readFileSync(digestFile, 'utf8').trim()).toBe(image.digest);
      else expect(a.version).toBe('v1.2.0'); // slsa-verifier computed it from the layout then
    }
  });
});

describe('GitHub SLSA container generator attestations, replayed into docker-registry 2.8, through the CLI', { timeout: CLI_TIMEOUT }, () => {
  for (const a of ARTIFACTS) {
    it(`${a.version} (${a.tlog}): the generator's signed provenance passes; another builder, source, ref or signer fails; it is no signature`, async () => {
      const repo = `slsa-framework/example-package-${a.version.replace(/\./g, '-')}`;
      const img = await replay(a, repo, 'main');
      const identity = `${GENERATOR}@${a.builderRef}`;
      const good: Requirement = { identity, ref: a.gitRef, builderId: identity, source: SOURCE };

      const ok = await verify(img.ref, policy(`ok-${a.version}`, [good]));
      expect(ok.report.images[0]?.digest, ok.stderr).toBe(img.digest);
      expect(rules(ok.report), JSON.stringify(ok.report.images[0]?.findings?.filter((f) => f.fails))).toEqual([]);
      expect(ok.code, ok.stderr).toBe(0);

      // slsa-verifier's negative cases for the same artifact, one requirement each; and the signer flags,
      // which want a signature (cosign verify finds none either: the generator attests, it does not sign).
      const bad = await verify(
        img.ref,
        policy(`bad-${a.version}`, [
          { ...good, builderId: 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/not-trusted.yml' },
          { ...good, source: 'github.com/slsa-framework/example-packageA' },
          { ...good, ref: 'refs/heads/master' },
          { ...good, identity: `${GENERATOR}@refs/tags/v0.0.1` },
        ]),
        ['--certificate-identity', identity, '--certificate-oidc-issuer', ISSUER],
      );
      expect(rules(bad.report), bad.stderr).toEqual(['attestation.invalid:fail', 'attestation.invalid:fail', 'attestation.invalid:fail', 'attestation.invalid:fail', 'signature.missing:fail']);
      expect(bad.code).toBe(1);
      const messages = bad.report.images[0]!.findings!.filter((f) => f.rule === 'attestation.invalid').map((f) => f.message);
      expect(messages.some((m) => m.includes('not-trusted.yml'))).toBe(true);
      expect(messages.some((m) => m.includes('example-packageA'))).toBe(true);
      expect(messages.some((m) => /refs\/heads\/master/.test(m))).toBe(true);
      // (the library's wording: the expected identity as the anchored, escaped pattern, then what it got)
      expect(messages.some((m) => /certificate identity/.test(m) && m.includes(`got ${identity}`))).toBe(true);
      // the refusals come from the generator's .att (BuildKit's unsigned provenance cannot satisfy signedBy)
      const invalid = bad.report.images[0]!.findings!.find((f) => f.rule === 'attestation.invalid')!;
      expect(invalid.evidence).toMatchObject({ formats: expect.arrayContaining(['legacy-att']), failures: [expect.stringContaining(`${img.attTag}#0: `)] });
      const missing = bad.report.images[0]!.findings!.find((f) => f.rule === 'signature.missing')!;
      expect(missing.message).toContain(`${repo}:${img.digest.replace(':', '-')}.sig`);
    });
  }

  it("an attestation copied onto another image's .att tag is refused as being about another digest", async () => {
    const [from, to] = [ARTIFACTS.find((a) => a.version === 'v1.7.0')!, ARTIFACTS.find((a) => a.version === 'v1.6.0')!];
    const repo = 'slsa-framework/copied-attestation';
    const victim = await replay(to, repo, 'main');
    const donor = await replay(from, repo, 'donor');
    // v1.7.0's .att manifest, under v1.6.0's tag (a registry writer can do that; the signature stays valid)
    const attBytes = (await b.getManifest(repo, donor.attTag)).bytes;
    await b.pushManifest(repo, victim.attTag, attBytes, 'application/vnd.oci.image.manifest.v1+json');
    const identity = `${GENERATOR}@${from.builderRef}`;
    const r = await verify(victim.ref, policy('copied', [{ identity, ref: from.gitRef, builderId: identity, source: SOURCE }]));
    expect(rules(r.report), r.stderr).toEqual(['attestation.invalid:fail']);
    expect(r.code).toBe(1);
    const f = r.report.images[0]!.findings!.find((x) => x.rule === 'attestation.invalid')!;
    expect(f.message).toContain(donor.digest);
  });
});
