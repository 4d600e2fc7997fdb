/**
 * Which manifest of an index kamal-gate resolves for a host platform, rule by rule
 * (src/registry/platforms.ts), against the choice skopeo 1.9.3 makes on the same index in a real
 * docker-registry 2.8. kamal-gate follows containerd's default matcher (what Docker and containerd
 * on a Kamal host pull); skopeo's containers/image mostly agrees. Where it does not, the test says
 * so and asserts both choices, so a change on either side shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformMissingError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/client.js';
import { formatPlatform } from '../../src/registry/manifest.js';
import { hostVector } from '../../src/registry/platforms.js';
import { parseReference } from '../../src/registry/reference.js';
import type { Platform } from '../../src/types.js';
import { ImageBuilder, MediaType, slsaProvenance } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { skopeoChoice } from '../helpers/skopeo.js';

const REPO = 'choice/app';
const P = (s: string): Platform => {
  const [os, architecture, variant] = s.split('/') as [string, string, string | undefined];
  return { os, architecture, ...(variant ? { variant } : {}) };
};

let reg: TestRegistry;
let b: ImageBuilder;
let client: RegistryClient;

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Record<string, unknown>;
  annotations?: Record<string, string>;
}

let parts = 0;
/** A single-platform image whose config says `p`, pushed by digest: an entry to put in a hand-made index. */
async function image(p: string): Promise<Entry> {
  const img = await b.pushImage(REPO, `part-${++parts}`, { platforms: [P(p)], layerCount: 1 });
  const m = img.manifests[0]!;
  return { mediaType: m.mediaType, digest: m.digest, size: m.size };
}

/** The entry for `e` claiming `platform` (a string, or the raw platform object), with extra fields. */
const at = (e: Entry, platform: string | Record<string, unknown> | undefined, extra: Partial<Entry> = {}): Entry => ({
  ...e,
  ...(platform === undefined ? {} : { platform: typeof platform === 'string' ? { ...P(platform) } : platform }),
  ...extra,
});

let tags = 0;
async function pushIndex(entries: Entry[]): Promise<string> {
  const tag = `idx-${++tags}`;
  await b.pushManifest(REPO, tag, { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries });
  return `${reg.host}/${REPO}:${tag}`;
}

/** What each side resolves `ref` to for a host of `host`: a digest, or undefined when it finds no image for it. */
async function choices(ref: string, host: string): Promise<{ kamal: string | undefined; skopeo: string | undefined }> {
  let kamal: string | undefined;
  try {
    kamal = (await client.resolve(parseReference(ref), [P(host)])).platformDigests[0]!.digest;
  } catch (e) {
    if (!(e instanceof PlatformMissingError)) throw e;
  }
  return { kamal, skopeo: await skopeoChoice(ref, P(host)) };
}

beforeAll(async () => {
  reg = await startRegistry();
  b = new ImageBuilder(reg);
  client = new RegistryClient();
});

afterAll(async () => {
  await client?.close();
  await reg?.stop();
});

describe('rule 4: annotations play no part; the first of equal matches wins', () => {
  it('pulls the first linux/amd64 entry even when it is annotated as an attestation manifest (issue 13.4)', async () => {
    const [decoy, real] = [await image('linux/amd64'), await image('linux/amd64')];
    const ref = await pushIndex([
      at(decoy, 'linux/amd64', { annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': real.digest } }),
      at(real, 'linux/amd64'),
    ]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: decoy.digest, skopeo: decoy.digest });
  });

  it('takes the first of two entries that match equally, in index order', async () => {
    const [arm, a1, a2] = [await image('linux/arm64'), await image('linux/amd64'), await image('linux/amd64')];
    const ref = await pushIndex([at(arm, 'linux/arm64'), at(a1, 'linux/amd64'), at(a2, 'linux/amd64')]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: a1.digest, skopeo: a1.digest });
    expect(await choices(ref, 'linux/arm64')).toEqual({ kamal: arm.digest, skopeo: arm.digest });
  });

  it('never pulls a BuildKit attestation manifest: unknown/unknown matches no host, wherever it stands', async () => {
    const built = await b.pushImage(REPO, 'buildkit', { platforms: [P('linux/amd64')], attestations: [slsaProvenance('v1', [])] });
    const att = built.attestations[0]!;
    const m = built.manifests[0]!;
    const ref = await pushIndex([
      {
        mediaType: att.mediaType,
        digest: att.digest,
        size: att.size,
        platform: { os: 'unknown', architecture: 'unknown' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': m.digest },
      },
      { mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { os: 'linux', architecture: 'amd64' } },
    ]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: m.digest, skopeo: m.digest });
  });
});

describe('rule 2: a host prefers its own variant, then lower ones, never a higher one', () => {
  it('an arm/v7 host takes v7 before v6 before v5, whatever the index order', async () => {
    const [v5, v6, v7] = [await image('linux/arm/v5'), await image('linux/arm/v6'), await image('linux/arm/v7')];
    const all = await pushIndex([at(v5, 'linux/arm/v5'), at(v6, 'linux/arm/v6'), at(v7, 'linux/arm/v7')]);
    expect(await choices(all, 'linux/arm/v7')).toEqual({ kamal: v7.digest, skopeo: v7.digest });
    const lower = await pushIndex([at(v5, 'linux/arm/v5'), at(v6, 'linux/arm/v6')]);
    expect(await choices(lower, 'linux/arm/v7')).toEqual({ kamal: v6.digest, skopeo: v6.digest });
  });

  it('an arm/v6 host does not run arm/v7, and a plain amd64 host does not run amd64/v2', async () => {
    const [v7, v2] = [await image('linux/arm/v7'), await image('linux/amd64/v2')];
    expect(await choices(await pushIndex([at(v7, 'linux/arm/v7')]), 'linux/arm/v6')).toEqual({ kamal: undefined, skopeo: undefined });
    expect(await choices(await pushIndex([at(v2, 'linux/amd64/v2')]), 'linux/amd64')).toEqual({ kamal: undefined, skopeo: undefined });
  });

  it('an arm64 host prefers arm64 but runs 32-bit arm; an amd64 host runs 386 (skopeo 1.9.3 falls back to neither)', async () => {
    const [a64, v7, i386] = [await image('linux/arm64'), await image('linux/arm/v7'), await image('linux/386')];
    const both = await pushIndex([at(v7, 'linux/arm/v7'), at(a64, 'linux/arm64')]);
    expect(await choices(both, 'linux/arm64')).toEqual({ kamal: a64.digest, skopeo: a64.digest });
    expect(await choices(await pushIndex([at(v7, 'linux/arm/v7')]), 'linux/arm64')).toEqual({ kamal: v7.digest, skopeo: undefined });
    expect(await choices(await pushIndex([at(i386, 'linux/386')]), 'linux/amd64')).toEqual({ kamal: i386.digest, skopeo: undefined });
  });
});

describe('rule 1: entries are normalized as containerd normalizes them', () => {
  it('arm64/v8 is arm64 for both', async () => {
    const v8 = await image('linux/arm64/v8');
    expect(await choices(await pushIndex([at(v8, 'linux/arm64/v8')]), 'linux/arm64')).toEqual({ kamal: v8.digest, skopeo: v8.digest });
  });

  it('aarch64 is arm64, amd64/v1 is amd64, and arm without a variant is arm/v7 (skopeo 1.9.3 does not normalize)', async () => {
    const [aarch64, v1, arm, v6] = [await image('linux/aarch64'), await image('linux/amd64/v1'), await image('linux/arm'), await image('linux/arm/v6')];
    expect(await choices(await pushIndex([at(aarch64, 'linux/aarch64')]), 'linux/arm64')).toEqual({ kamal: aarch64.digest, skopeo: undefined });
    expect(await choices(await pushIndex([at(v1, 'linux/amd64/v1')]), 'linux/amd64')).toEqual({ kamal: v1.digest, skopeo: undefined });
    // skopeo asks for v7, v6, v5 and only then for no variant; containerd reads "arm" as arm/v7, an exact match.
    expect(await choices(await pushIndex([at(v6, 'linux/arm/v6'), at(arm, 'linux/arm')]), 'linux/arm/v7')).toEqual({ kamal: arm.digest, skopeo: v6.digest });
  });
});

describe('rule 3: os.version is not compared; os.features rule an entry out on Linux', () => {
  it('an entry with an os.version matches a Linux host like any other', async () => {
    const [first, second] = [await image('linux/amd64'), await image('linux/amd64')];
    const ref = await pushIndex([at(first, { os: 'linux', architecture: 'amd64', 'os.version': '6.1' }), at(second, 'linux/amd64')]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: first.digest, skopeo: first.digest });
  });

  it('an entry listing os.features is skipped on Linux, which has none (skopeo 1.9.3 ignores os.features)', async () => {
    const [featured, plain] = [await image('linux/amd64'), await image('linux/amd64')];
    const ref = await pushIndex([at(featured, { os: 'linux', architecture: 'amd64', 'os.features': ['sse4'] }), at(plain, 'linux/amd64')]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: plain.digest, skopeo: featured.digest });
  });
});

describe('rule 5: entries without a platform come last', () => {
  it('an entry with a matching platform wins over an earlier one without', async () => {
    const [bare, labelled] = [await image('linux/amd64'), await image('linux/amd64')];
    const ref = await pushIndex([at(bare, undefined), at(labelled, 'linux/amd64')]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: labelled.digest, skopeo: labelled.digest });
  });

  it('the first entry without a platform is pulled when nothing else matches', async () => {
    const [other, bare, bare2] = [await image('linux/arm64'), await image('linux/amd64'), await image('linux/amd64')];
    const ref = await pushIndex([at(other, 'linux/arm64'), at(bare, undefined), at(bare2, undefined)]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: bare.digest, skopeo: bare.digest });
  });

  it('…and kamal-gate refuses it when its config names another platform, which the host would not run (skopeo copies it)', async () => {
    const bare = await image('linux/arm64');
    const ref = await pushIndex([at(bare, undefined)]);
    expect(await choices(ref, 'linux/amd64')).toEqual({ kamal: undefined, skopeo: bare.digest });
    await expect(client.resolve(parseReference(ref), [P('linux/amd64')])).rejects.toThrow(/entry without a platform.*linux\/arm64 image/);
  });
});

describe('rule 6: nothing matches', () => {
  it('neither picks anything for a platform the index lacks', async () => {
    const a = await image('linux/amd64');
    expect(await choices(await pushIndex([at(a, 'linux/amd64')]), 'linux/s390x')).toEqual({ kamal: undefined, skopeo: undefined });
  });
});

describe('rule 2, the whole preference order (containerd platformVector; no registry needed)', () => {
  const vector = (host: string) => hostVector(P(host)).map(formatPlatform);
  it('amd64, arm and arm64 hosts', () => {
    expect(vector('linux/amd64')).toEqual(['linux/amd64', 'linux/386']);
    expect(vector('linux/amd64/v3')).toEqual(['linux/amd64/v3', 'linux/amd64/v2', 'linux/amd64', 'linux/386']);
    expect(vector('linux/arm/v7')).toEqual(['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
    expect(vector('linux/arm')).toEqual(['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
    expect(vector('linux/arm/v5')).toEqual(['linux/arm/v5']);
    expect(vector('linux/arm64')).toEqual(['linux/arm64', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
    expect(vector('linux/aarch64/v8')).toEqual(vector('linux/arm64'));
    expect(vector('linux/arm64/v8.2')).toEqual(['linux/arm64/v8.2', 'linux/arm64/v8.1', 'linux/arm64', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
    // arm64/v9.x also runs v9.(x-1)…v9 and v8.(x+5, at most 9)…v8
    expect(vector('linux/arm64/v9.1').slice(0, 9)).toEqual([
      'linux/arm64/v9.1',
      'linux/arm64/v9',
      'linux/arm64/v8.6',
      'linux/arm64/v8.5',
      'linux/arm64/v8.4',
      'linux/arm64/v8.3',
      'linux/arm64/v8.2',
      'linux/arm64/v8.1',
      'linux/arm64',
    ]);
    expect(vector('linux/arm64/v9.5')[6]).toBe('linux/arm64/v8.9');
    // a variant containerd does not know accepts nothing
    expect(vector('linux/arm64/v10')).toEqual([]);
    expect(vector('linux/riscv64')).toEqual(['linux/riscv64']);
  });
});
