/**
 * findBase against the real registry: images pushed by the test builder with their base named by
 * OCI annotations or labels, by BuildKit-style SLSA provenance (v0.2 and v1, min mode), by
 * buildpacks metadata, or by nothing (policy candidates matched by layer prefix).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../../src/errors.js';
import { FileLedger } from '../../src/ledger/file.js';
import { RegistryClient } from '../../src/registry/client.js';
import { parseReference } from '../../src/registry/reference.js';
import { findBase } from '../../src/provenance/index.js';
import { MAX_CANDIDATES } from '../../src/provenance/provenance.js';
import { MAX_MATERIALS } from '../../src/provenance/slsa.js';
import type { Platform } from '../../src/types.js';
import { buildImage, buildpacksLabels, dockerPurl, ImageBuilder, slsaProvenance, type ImageContent, type PushedImage } from '../helpers/image-builder.js';
import { fakeImage, startFakeServer } from '../helpers/fake-registry.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };
const ARM64: Platform = { os: 'linux', architecture: 'arm64' };
const BASE_NAME = 'org.opencontainers.image.base.name';
const BASE_DIGEST = 'org.opencontainers.image.base.digest';

let reg: TestRegistry;
let builder: ImageBuilder;
let client: RegistryClient;
let H: string;
let debian: PushedImage;
let ruby: PushedImage;
let golang: PushedImage;
let alpine: PushedImage;

const push = (repo: string, tag: string, content: ImageContent) => builder.pushContent(repo, tag, content);
const resolve = (img: PushedImage, platform: Platform = AMD64) => client.resolve(parseReference(img.ref), [platform]);

beforeAll(async () => {
  reg = await startRegistry();
  builder = new ImageBuilder(reg);
  client = new RegistryClient();
  H = reg.host;
  debian = await push('base/debian', '12', buildImage({ created: '2024-01-02T00:00:00Z', seed: 'debian', layerCount: 1 }));
  ruby = await push('base/ruby', '3.3-slim', buildImage({ created: '2024-01-10T00:00:00Z', seed: 'ruby', base: debian }));
  golang = await push('base/golang', '1.22', buildImage({ created: '2024-02-01T00:00:00Z', seed: 'golang' }));
  alpine = await push('base/alpine', '3.20', buildImage({ created: '2024-03-01T00:00:00Z', seed: 'alpine', platforms: [AMD64, ARM64] }));
});
afterAll(async () => {
  await client?.close();
  await reg?.stop();
});

describe('annotations', () => {
  it('names the base by manifest annotations and confirms it by layer prefix', async () => {
    const app = await push('acme/annotated', 'v1', buildImage({ base: ruby, annotations: { [BASE_NAME]: `${H}/base/ruby:3.3-slim`, [BASE_DIGEST]: ruby.digest } }));
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found).toMatchObject({ source: 'annotation', name: `${H}/base/ruby:3.3-slim`, digest: ruby.digest, platformDigest: ruby.digest, confirmedByLayers: true, platform: AMD64 });
    expect(found.evidence).toContain(`platform manifest annotation ${BASE_NAME}=${H}/base/ruby:3.3-slim`);
    expect(found.evidence).toContain(`${H}/base/ruby:3.3-slim@${ruby.digest}: its 3 layer(s) are the first 3 of the image's 5`);
  });

  it('reads the same keys as config labels', async () => {
    const app = await push('acme/labelled', 'v1', buildImage({ base: golang, labels: { [BASE_NAME]: `${H}/base/golang:1.22`, [BASE_DIGEST]: golang.digest } }));
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found).toMatchObject({ source: 'annotation', name: `${H}/base/golang:1.22`, digest: golang.digest, confirmedByLayers: true });
    expect(found.evidence).toContain(`config label ${BASE_DIGEST}=${golang.digest}`);
  });

  it('resolves a base named without a digest by its tag, and says when its layers do not match', async () => {
    const named = await push('acme/named', 'v1', buildImage({ base: debian, labels: { [BASE_NAME]: `${H}/base/debian:12` } }));
    const ok = await findBase(client, await resolve(named), { platform: AMD64 });
    expect(ok).toMatchObject({ source: 'annotation', name: `${H}/base/debian:12`, digest: debian.digest, platformDigest: debian.digest, confirmedByLayers: true });

    const lying = await push('acme/lying', 'v1', buildImage({ base: golang, annotations: { [BASE_NAME]: `${H}/base/debian:12`, [BASE_DIGEST]: debian.digest } }));
    const no = await findBase(client, await resolve(lying), { platform: AMD64 });
    expect(no).toMatchObject({ source: 'annotation', name: `${H}/base/debian:12`, digest: debian.digest, confirmedByLayers: false });
    expect(no.evidence).toContain(`${H}/base/debian:12@${debian.digest}: its layers are not a prefix of the image's (layer 1 differs)`);
  });

  it('takes the index digest from the index and the platform digest from the child (ko layout)', async () => {
    const app = await push(
      'acme/ko',
      'v1',
      buildImage({
        base: alpine,
        platforms: [AMD64, ARM64],
        annotations: { [BASE_NAME]: `${H}/base/alpine:3.20`, [BASE_DIGEST]: alpine.digest },
        childAnnotations: (p) => ({ [BASE_DIGEST]: alpine.manifests[p.architecture === 'arm64' ? 1 : 0]!.digest }),
      }),
    );
    const found = await findBase(client, await resolve(app, ARM64), { platform: ARM64 });
    expect(found).toMatchObject({ source: 'annotation', digest: alpine.digest, platformDigest: alpine.manifests[1]!.digest, confirmedByLayers: true, platform: ARM64 });
  });
});

describe('BuildKit provenance', () => {
  const materials = () => [
    { uri: dockerPurl(`${H}/base/golang`, '1.22', { platform: AMD64 }), digest: golang.digest },
    { uri: dockerPurl(`${H}/base/debian`, '12', { platform: AMD64 }), digest: debian.digest },
    { uri: dockerPurl(`${H}/base/ruby`, '3.3-slim', { platform: AMD64 }), digest: ruby.digest },
  ];

  it.each(['v0.2', 'v1'] as const)('SLSA %s min mode: of the images listed, the longest layer prefix is the base', async (version) => {
    const app = await push('acme/buildkit', version, buildImage({ base: ruby, attestations: [slsaProvenance(version, materials())] }));
    const r = await resolve(app);
    expect(r.index).toBeDefined();
    const found = await findBase(client, r, { platform: AMD64 });
    // debian is a prefix too (ruby is built on it); ruby's longer prefix makes it the nearest base
    expect(found).toMatchObject({ source: 'provenance', name: `${H}/base/ruby:3.3-slim`, digest: ruby.digest, platformDigest: ruby.digest, confirmedByLayers: true });
    expect(found.evidence).toContain(`https://slsa.dev/provenance/${version} provenance ${d0(app)} lists 3 image(s)`);
    expect(found.evidence).toContain(`${H}/base/golang:1.22@${golang.digest}: its layers are not a prefix of the image's (layer 1 differs)`);
    expect(found.evidence).toContain(`${H}/base/debian:12@${debian.digest}: its 1 layer(s) are the first 1 of the image's 5`);
  });

  it('resolves a multi-platform base recorded by its index digest to the right platform', async () => {
    const app = await push(
      'acme/multi',
      'v1',
      buildImage({
        base: alpine,
        platforms: [AMD64, ARM64],
        attestations: [slsaProvenance('v0.2', [{ uri: dockerPurl(`${H}/base/alpine`, '3.20', { platform: ARM64 }), digest: alpine.digest }])],
      }),
    );
    for (const [platform, i] of [
      [ARM64, 1],
      [AMD64, 0],
    ] as const) {
      const r = await resolve(app, platform);
      expect(r.manifestDigest).toBe(app.manifests[i]!.digest);
      const found = await findBase(client, r, { platform });
      expect(found).toMatchObject({ source: 'provenance', name: `${H}/base/alpine:3.20`, digest: alpine.digest, platformDigest: alpine.manifests[i]!.digest, confirmedByLayers: true });
    }
  });

  it('takes a lone image as the base but says its layers do not confirm it (FROM scratch, COPY --from)', async () => {
    const app = await push('acme/scratch', 'v1', buildImage({ attestations: [slsaProvenance('v1', [{ uri: dockerPurl(`${H}/base/golang`, '1.22'), digest: golang.digest }])] }));
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found).toMatchObject({ source: 'provenance', name: `${H}/base/golang:1.22`, digest: golang.digest, platformDigest: golang.digest, confirmedByLayers: false });
    expect(found.evidence.at(-1)).toBe(`provenance lists one image, ${dockerPurl(`${H}/base/golang`, '1.22')}; taken as the base without layer confirmation`);
  });

  it('falls through when several images are listed and none is a prefix', async () => {
    const app = await push('acme/none', 'v1', buildImage({ attestations: [slsaProvenance('v0.2', materials())] }));
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found.source).toBe('unknown');
    expect(found.evidence).toContain("provenance lists 3 images and none has layers that are a prefix of the image's");
  });
});

function d0(app: PushedImage): string {
  return JSON.parse(app.attestations[0]!.bytes.toString()).layers[0].digest as string;
}

describe('hostile attestation content', () => {
  const v02 = 'https://slsa.dev/provenance/v0.2';

  it('ignores invalid JSON, a string predicate, a non-list of materials and a statement about another image', async () => {
    const other = `sha256:${'e'.repeat(64)}`;
    const app = await push(
      'acme/hostile',
      'v1',
      buildImage({
        base: debian,
        attestations: [
          { predicateType: v02, predicate: null, raw: Buffer.from('{"predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {') },
          { predicateType: v02, predicate: 'rm -rf /' },
          { predicateType: 'https://slsa.dev/provenance/v1', predicate: { buildDefinition: { resolvedDependencies: 'pkg:docker/evil@1' } } },
          { predicateType: v02, predicate: null, raw: Buffer.from(JSON.stringify({ predicateType: v02, subject: [{ digest: { sha256: other.slice(7) } }], predicate: { materials: [] } })) },
        ],
      }),
    );
    const found = await findBase(client, await resolve(app), { platform: AMD64, candidates: [`${H}/base/debian:12`] });
    // nothing usable in the provenance: the policy candidate decides
    expect(found).toMatchObject({ source: 'layers', name: `${H}/base/debian:12`, digest: debian.digest, confirmedByLayers: true });
    const layers = JSON.parse(app.attestations[0]!.bytes.toString()).layers as Array<{ digest: string }>;
    expect(found.evidence).toEqual(
      expect.arrayContaining([
        `provenance statement is not valid JSON; ignored (${layers[0]!.digest})`,
        `provenance predicate is a string, not an object; ignored (${layers[1]!.digest})`,
        `provenance buildDefinition.resolvedDependencies is not a list; ignored (${layers[2]!.digest})`,
        `provenance statement names other subjects than ${app.manifests[0]!.digest}; ignored (${layers[3]!.digest})`,
      ]),
    );
  });

  it('reads only the first materials of a huge list and fetches only the first candidates', async () => {
    const list = [
      { uri: dockerPurl(`${H}/base/debian`, '12', { platform: AMD64 }), digest: debian.digest },
      ...Array.from({ length: 20 }, (_, i) => ({ uri: dockerPurl(`${H}/nowhere/img${i}`, '1'), digest: `sha256:${String(i).padStart(64, '0')}` })),
      ...Array.from({ length: 5000 }, (_, i) => ({ uri: `pkg:generic/junk-${i}@1.0` })),
    ];
    const app = await push('acme/huge', 'v1', buildImage({ base: debian, attestations: [slsaProvenance('v0.2', list)] }));
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found).toMatchObject({ source: 'provenance', name: `${H}/base/debian:12`, digest: debian.digest, confirmedByLayers: true });
    expect(found.evidence.some((e) => e.startsWith(`provenance lists ${list.length} materials; only the first ${MAX_MATERIALS} were read`))).toBe(true);
    expect(found.evidence).toContain(`provenance lists 21 images; only the first ${MAX_CANDIDATES} were checked`);
    expect(found.evidence.filter((e) => e.startsWith(`could not fetch ${H}/nowhere/`))).toHaveLength(MAX_CANDIDATES - 1);
  });

  it('skips a statement over the size limit without downloading it', async () => {
    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const app = await push(
      'acme/oversized',
      'v1',
      buildImage({
        base: debian,
        attestations: [{ predicateType: v02, predicate: null, raw: huge }, slsaProvenance('v0.2', [{ uri: dockerPurl(`${H}/base/debian`, '12'), digest: debian.digest }])],
      }),
    );
    const r = await resolve(app);
    const before = client.stats.get(H).bytes;
    const found = await findBase(client, r, { platform: AMD64 });
    expect(client.stats.get(H).bytes - before).toBeLessThan(100_000);
    expect(found).toMatchObject({ source: 'provenance', digest: debian.digest, confirmedByLayers: true });
    expect(found.evidence.some((e) => /over the 4194304-byte limit/.test(e))).toBe(true);
  });
});

describe('a base registry that fails or lies', () => {
  it('notes an unreachable base but throws when a base registry serves bytes that do not match the digest', async () => {
    const lie = fakeImage();
    const server = await startFakeServer((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      if (req.url?.startsWith('/v2/broken/')) return void res.writeHead(500).end();
      res.writeHead(200, { 'content-type': lie.mediaType, 'content-length': lie.manifest.length });
      res.end(req.method === 'HEAD' ? undefined : lie.manifest);
    });
    try {
      const claimed = `sha256:${'1'.repeat(64)}`;
      const broken = await push('acme/far-broken', 'v1', buildImage({ attestations: [slsaProvenance('v0.2', [{ uri: dockerPurl(`${server.host}/broken`, '1'), digest: claimed }])] }));
      const found = await findBase(client, await resolve(broken), { platform: AMD64 });
      expect(found).toMatchObject({ source: 'provenance', name: `${server.host}/broken:1`, digest: claimed });
      expect(found.confirmedByLayers).toBeUndefined();
      expect(found.evidence.some((e) => e.startsWith(`could not fetch ${server.host}/broken:1@${claimed}: `))).toBe(true);

      const lying = await push('acme/far-lying', 'v1', buildImage({ attestations: [slsaProvenance('v0.2', [{ uri: dockerPurl(`${server.host}/liar`, '1'), digest: claimed }])] }));
      await expect(findBase(client, await resolve(lying), { platform: AMD64 })).rejects.toBeInstanceOf(DigestMismatchError);
    } finally {
      await server.stop();
    }
  });
});

describe('buildpacks', () => {
  it('names the run image from io.buildpacks.lifecycle.metadata', async () => {
    const run = await push('base/run', 'jammy', buildImage({ created: '1980-01-01T00:00:01Z', seed: 'run' }));
    const top = run.manifests[0]!.layers.at(-1)!.diffId;
    const app = await push(
      'acme/cnb',
      'v1',
      buildImage({
        base: run,
        created: '1980-01-01T00:00:01Z',
        labels: buildpacksLabels({ image: `${H}/base/run:jammy`, reference: `${H}/base/run@${run.digest}`, topLayer: top }, { id: 'io.buildpacks.stacks.jammy' }),
      }),
    );
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found).toMatchObject({ source: 'buildpacks', name: `${H}/base/run:jammy`, digest: run.digest, platformDigest: run.digest, confirmedByLayers: true });
    expect(found.evidence).toEqual(expect.arrayContaining(['label io.buildpacks.base.id=io.buildpacks.stacks.jammy', `run image top layer ${top} is layer 2 of the image's 4`]));
  });

  it('ignores a label that is not JSON', async () => {
    const app = await push('acme/cnb-bad', 'v1', buildImage({ labels: { 'io.buildpacks.lifecycle.metadata': '{nope' } }));
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found.source).toBe('unknown');
    expect(found.evidence).toContain('label io.buildpacks.lifecycle.metadata is not valid JSON; ignored');
  });
});

describe('policy candidates by layer prefix', () => {
  it('picks the candidate with the longest matching prefix', async () => {
    const app = await push('acme/plain', 'v1', buildImage({ base: ruby }));
    const found = await findBase(client, await resolve(app), {
      platform: AMD64,
      candidates: [`${H}/base/debian:12`, `${H}/base/golang:1.22`, `${H}/base/ruby:3.3-slim`, 'not a ref'],
    });
    expect(found).toEqual({
      source: 'layers',
      name: `${H}/base/ruby:3.3-slim`,
      digest: ruby.digest,
      platformDigest: ruby.digest,
      confirmedByLayers: true,
      platform: AMD64,
      evidence: expect.arrayContaining([`${H}/base/debian:12 (${debian.digest}): its 1 layer(s) are the first 1 of the image's 5`]),
    });
    expect(found.evidence.some((e) => e.startsWith('candidate base "not a ref" is not an image reference'))).toBe(true);
  });

  it('finds a candidate whose tag has moved at a digest the ledger saw it point to', async () => {
    const oldBase = await push('base/node', '20', buildImage({ seed: 'node-old' }));
    const app = await push('acme/node-app', 'v1', buildImage({ base: oldBase }));
    const newBase = await push('base/node', '20', buildImage({ seed: 'node-new' }));
    const dir = mkdtempSync(join(tmpdir(), 'kg-prov-'));
    const ledger = new FileLedger(join(dir, 'ledger.jsonl'));
    try {
      const r = await resolve(app);
      const without = await findBase(client, r, { platform: AMD64, candidates: [`${H}/base/node:20`] });
      expect(without.source).toBe('unknown');
      expect(without.evidence).toContain(`${H}/base/node:20 (${newBase.digest}): its layers are not a prefix of the image's (layer 1 differs)`);

      await ledger.append([
        { registry: H, repository: 'base/node', tag: '20', digest: oldBase.digest, event: 'recorded', source: 'verify', time: '2024-04-01T00:00:00Z' },
        { registry: H, repository: 'base/node', tag: '20', digest: newBase.digest, event: 'moved', source: 'verify', time: '2024-05-01T00:00:00Z' },
      ]);
      const found = await findBase(client, r, { platform: AMD64, candidates: [`${H}/base/node:20`], ledger });
      expect(found).toMatchObject({ source: 'layers', name: `${H}/base/node:20`, digest: oldBase.digest, platformDigest: oldBase.digest, confirmedByLayers: true });
      expect(found.evidence).toContain(`${H}/base/node:20@${oldBase.digest}: its 2 layer(s) are the first 2 of the image's 4; the ledger saw the tag point to it from 2024-04-01T00:00:00.000Z`);
    } finally {
      await ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an unknown base when nothing names it and no candidate matches', async () => {
    const app = await push('acme/mystery', 'v1', buildImage({ seed: 'mystery' }));
    const found = await findBase(client, await resolve(app), { platform: AMD64, candidates: [`${H}/base/debian:12`, `${H}/base/missing:1`] });
    expect(found.source).toBe('unknown');
    expect(found).not.toHaveProperty('name');
    expect(found.evidence).toEqual(
      expect.arrayContaining([
        `${H}/base/debian:12 (${debian.digest}): its layers are not a prefix of the image's (layer 1 differs)`,
        'none of the 2 candidate base(s) in the policy is a layer prefix of the image',
        'no base annotation, provenance, buildpacks metadata or matching candidate: the base is unknown',
      ]),
    );
    expect(found.evidence.some((e) => e.startsWith(`could not fetch ${H}/base/missing:1:`))).toBe(true);
  });
});
