/**
 * Base and image ages against the real registry: real and fake (1970, 1980) creation times with
 * annotation, label and ledger fallbacks; a base tag that moved to a newer image; semver releases
 * over the base repository's tags. The ledger is a real file ledger, read only by the code under
 * test (the entries it returns are checked, never appended by it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileLedger } from '../../src/ledger/file.js';
import type { NewEntry } from '../../src/ledger/types.js';
import { RegistryClient, type Resolution } from '../../src/registry/client.js';
import { parseReference } from '../../src/registry/reference.js';
import { baseAge, findBase, imageAge, type BaseDiscovery } from '../../src/provenance/index.js';
import type { Platform } from '../../src/types.js';
import { buildImage, ImageBuilder, type ImageContent, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };
const ARM64: Platform = { os: 'linux', architecture: 'arm64' };
const NOW = new Date('2024-07-01T00:00:00Z');
const DAY = 86_400_000;
const CREATED = 'org.opencontainers.image.created';

let reg: TestRegistry;
let builder: ImageBuilder;
let client: RegistryClient;
let H: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  reg = await startRegistry();
  builder = new ImageBuilder(reg);
  client = new RegistryClient();
  H = reg.host;
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  await client?.close();
  await reg?.stop();
});

const push = (repo: string, tag: string, content: ImageContent) => builder.pushContent(repo, tag, content);
const resolve = (img: PushedImage, platform: Platform = AMD64): Promise<Resolution> => client.resolve(parseReference(img.ref), [platform]);

function tempLedger(): FileLedger {
  const dir = mkdtempSync(join(tmpdir(), 'kg-age-'));
  const ledger = new FileLedger(join(dir, 'ledger.jsonl'));
  cleanups.push(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return ledger;
}

const seen = (repo: string, tag: string, digest: string, time: string, event: NewEntry['event'] = 'recorded'): NewEntry => ({
  registry: H,
  repository: repo,
  tag,
  digest,
  event,
  source: 'verify',
  role: 'base',
  time,
});

/** An app built on `base`, annotated with it, and the base findBase reports for it. */
async function appOn(base: PushedImage, repoTag: string, platform: Platform = AMD64, platforms?: Platform[]): Promise<{ app: PushedImage; found: BaseDiscovery }> {
  const app = await push(
    `acme/${repoTag}`,
    'v1',
    buildImage({
      base,
      ...(platforms ? { platforms } : {}),
      annotations: { 'org.opencontainers.image.base.name': base.ref, 'org.opencontainers.image.base.digest': base.digest },
    }),
  );
  const found = await findBase(client, await resolve(app, platform), { platform });
  expect(found).toMatchObject({ source: 'annotation', digest: base.digest, confirmedByLayers: true });
  return { app, found };
}

describe('base created', () => {
  it('takes a real config created time, and sees the tag unchanged', async () => {
    const base = await push('b1/ruby', '3.3.4-slim', buildImage({ created: '2024-03-01T00:00:00Z' }));
    const { found } = await appOn(base, 'a1');
    const age = await baseAge(client, found, { now: NOW });
    expect(age.created).toEqual({ time: '2024-03-01T00:00:00.000Z', source: 'config', ageMs: 122 * DAY });
    expect(age.staleness).toEqual({ tag: `${H}/b1/ruby:3.3.4-slim`, digestNow: base.digest, platformDigestNow: base.digest, moved: false });
    expect(age.releases).toEqual({ tag: '3.3.4-slim', version: '3.3.4', suffix: 'slim', patch: [], minor: [], major: [], considered: 1, truncated: false });
    expect(age.ledgerEntries).toEqual([]);
    expect(age.evidence).toContain(`${H}/b1/ruby:3.3.4-slim still points to the base the image was built on (${base.digest})`);
  });

  it('treats 1970 as unknown and falls back to when the ledger first saw the base digest', async () => {
    const base = await push('b2/distroless', 'static', buildImage({ created: '1970-01-01T00:00:00Z' }));
    const { found } = await appOn(base, 'a2');
    const ledger = tempLedger();
    await ledger.append([seen('b2/distroless', 'static', base.digest, '2024-05-01T00:00:00Z')]);
    const age = await baseAge(client, found, { ledger, now: NOW });
    expect(age.created).toEqual({ time: '2024-05-01T00:00:00.000Z', source: 'ledger', ageMs: 61 * DAY });
    expect(age.evidence).toContain('base config created: "1970-01-01T00:00:00Z" is the Unix epoch (ko, Jib, SOURCE_DATE_EPOCH=0 write it): not a build time');
    // the ledger already says the tag points there: nothing new to record
    expect(age.ledgerEntries).toEqual([]);
    expect(age.releases).toBeUndefined();
  });

  it('treats the buildpacks date as unknown and uses the created label, else reports no age', async () => {
    const labelled = await push('b3/run', 'jammy', buildImage({ created: '1980-01-01T00:00:01Z', labels: { [CREATED]: '2024-04-01T12:00:00Z' } }));
    const a = await baseAge(client, (await appOn(labelled, 'a3')).found, { now: NOW });
    expect(a.created).toEqual({ time: '2024-04-01T12:00:00.000Z', source: 'label', ageMs: 90.5 * DAY });
    expect(a.evidence).toContain('base config created: "1980-01-01T00:00:01Z" is the fixed date buildpacks write: not a build time');

    const annotated = await push('b3/run', 'noble', buildImage({ created: '1980-01-01T00:00:01Z', annotations: { [CREATED]: '2024-06-01T00:00:00Z' } }));
    expect((await baseAge(client, (await appOn(annotated, 'a3b')).found, { now: NOW })).created).toEqual({ time: '2024-06-01T00:00:00.000Z', source: 'annotation', ageMs: 30 * DAY });

    const bare = await push('b3/run', 'bare', buildImage({ created: '1980-01-01T00:00:01Z' }));
    const ledger = tempLedger();
    const b = await baseAge(client, (await appOn(bare, 'a3c')).found, { ledger, now: NOW });
    expect(b.created).toBeUndefined();
    expect(b.evidence).toContain('the base has no real creation time and the ledger never saw its digest: its age is unknown');
    // first sight of the base tag: recorded so a later run can date it
    expect(b.ledgerEntries).toEqual([{ registry: H, repository: 'b3/run', tag: 'bare', digest: bare.digest, event: 'recorded', source: 'verify', role: 'base', time: NOW }]);
  });

  it('cannot date a base known by digest only', async () => {
    const base = await push('b4/x', '1', buildImage({ created: '2024-01-01T00:00:00Z' }));
    const app = await push('acme/a4', 'v1', buildImage({ base, annotations: { 'org.opencontainers.image.base.digest': base.digest } }));
    const found = await findBase(client, await resolve(app), { platform: AMD64 });
    expect(found).toMatchObject({ source: 'annotation', digest: base.digest });
    expect(found.name).toBeUndefined();
    const age = await baseAge(client, found, { now: NOW });
    expect(age).toEqual({ ledgerEntries: [], evidence: ['the base has no usable name: its age, staleness and newer releases cannot be looked up'] });
  });
});

describe('staleness', () => {
  it('measures how long a newer base has existed when the tag moved, and returns the ledger entry', async () => {
    const old = await push('b5/ruby', '3.3-slim', buildImage({ created: '2024-01-10T00:00:00Z' }));
    const { found } = await appOn(old, 'a5');
    const fresh = await push('b5/ruby', '3.3-slim', buildImage({ created: '2024-06-01T00:00:00Z' }));
    await builder.tagExisting('b5/ruby', fresh.digest, '3.4-slim');
    const ledger = tempLedger();
    await ledger.append([seen('b5/ruby', '3.3-slim', old.digest, '2024-01-11T00:00:00Z')]);

    const age = await baseAge(client, found, { ledger, now: NOW });
    expect(age.created).toEqual({ time: '2024-01-10T00:00:00.000Z', source: 'config', ageMs: 173 * DAY });
    expect(age.staleness).toEqual({
      tag: `${H}/b5/ruby:3.3-slim`,
      digestNow: fresh.digest,
      platformDigestNow: fresh.digest,
      moved: true,
      newerSince: { time: '2024-06-01T00:00:00.000Z', source: 'config', ageMs: 30 * DAY },
    });
    expect(age.ledgerEntries).toEqual([{ registry: H, repository: 'b5/ruby', tag: '3.3-slim', digest: fresh.digest, event: 'moved', source: 'verify', role: 'base', time: NOW }]);
    expect(age.releases).toMatchObject({ tag: '3.3-slim', version: '3.3.0', suffix: 'slim', patch: [], minor: ['3.4-slim'], major: [] });
    expect(age.evidence).toContain('a newer base exists since 2024-06-01T00:00:00.000Z (created): 30d 0h');
  });

  it('dates a newer base with a fake date by the ledger, else from now', async () => {
    const old = await push('b6/app-base', 'stable', buildImage({ created: '2024-01-10T00:00:00Z' }));
    const { found } = await appOn(old, 'a6');
    const fresh = await push('b6/app-base', 'stable', buildImage({ created: '1970-01-01T00:00:00Z' }));

    const none = await baseAge(client, found, { now: NOW });
    expect(none.staleness?.newerSince).toEqual({ time: NOW.toISOString(), source: 'now', ageMs: 0 });

    const ledger = tempLedger();
    await ledger.append([seen('b6/app-base', 'stable', old.digest, '2024-01-11T00:00:00Z'), seen('b6/app-base', 'stable', fresh.digest, '2024-06-15T00:00:00Z', 'moved')]);
    const age = await baseAge(client, found, { ledger, now: NOW });
    expect(age.staleness).toMatchObject({ digestNow: fresh.digest, moved: true, newerSince: { time: '2024-06-15T00:00:00.000Z', source: 'ledger', ageMs: 16 * DAY } });
    expect(age.ledgerEntries).toEqual([]);
  });

  it('does not call a rollback to an older image a newer base', async () => {
    const older = await push('b7/base', 'lts', buildImage({ created: '2024-01-01T00:00:00Z' }));
    const built = await push('b7/base', 'lts', buildImage({ created: '2024-02-01T00:00:00Z' }));
    const { found } = await appOn(built, 'a7');
    await builder.tagExisting('b7/base', older.digest, 'lts');
    const age = await baseAge(client, found, { now: NOW });
    expect(age.staleness).toEqual({ tag: `${H}/b7/base:lts`, digestNow: older.digest, platformDigestNow: older.digest, moved: true });
    expect(age.evidence).toContain(`the image ${H}/b7/base:lts points to now was created before the one the image was built on: a rollback, not a newer base`);
  });

  it('compares a multi-platform base per platform and records its platform digest', async () => {
    const old = await push('b8/alpine', '3.20', buildImage({ created: '2024-03-01T00:00:00Z', platforms: [AMD64, ARM64] }));
    const { found } = await appOn(old, 'a8', ARM64, [AMD64, ARM64]);
    expect(found.platformDigest).toBe(old.manifests[1]!.digest);
    const fresh = await push('b8/alpine', '3.20', buildImage({ created: '2024-06-21T00:00:00Z', platforms: [AMD64, ARM64] }));
    const ledger = tempLedger();
    const age = await baseAge(client, found, { ledger, now: NOW });
    expect(age.created).toEqual({ time: '2024-03-01T00:00:00.000Z', source: 'config', ageMs: 122 * DAY });
    expect(age.staleness).toEqual({
      tag: `${H}/b8/alpine:3.20`,
      digestNow: fresh.digest,
      platformDigestNow: fresh.manifests[1]!.digest,
      moved: true,
      newerSince: { time: '2024-06-21T00:00:00.000Z', source: 'config', ageMs: 10 * DAY },
    });
    expect(age.ledgerEntries).toEqual([
      {
        registry: H,
        repository: 'b8/alpine',
        tag: '3.20',
        digest: fresh.digest,
        platformDigests: { 'linux/arm64': fresh.manifests[1]!.digest },
        event: 'recorded',
        source: 'verify',
        role: 'base',
        time: NOW,
      },
    ]);
  });
});

describe('staleness edge cases', () => {
  it("does not call a base recorded by its platform digest stale while the tag's index still carries it", async () => {
    const base = await push('b10/alpine', '3.20', buildImage({ created: '2024-03-01T00:00:00Z', platforms: [AMD64, ARM64] }));
    const armDigest = base.manifests[1]!.digest;
    const app = await push(
      'acme/a10',
      'v1',
      buildImage({
        base,
        platforms: [ARM64],
        annotations: { 'org.opencontainers.image.base.name': base.ref, 'org.opencontainers.image.base.digest': armDigest },
      }),
    );
    const found = await findBase(client, await resolve(app, ARM64), { platform: ARM64 });
    expect(found).toMatchObject({ source: 'annotation', digest: armDigest, platformDigest: armDigest, confirmedByLayers: true });
    const age = await baseAge(client, found, { now: NOW });
    expect(age.staleness).toEqual({ tag: `${H}/b10/alpine:3.20`, digestNow: base.digest, platformDigestNow: armDigest, moved: false });
  });

  it('reports a base tag that no longer exists, with the ledger entry saying so', async () => {
    const base = await push('b11/old', '1.0', buildImage({ created: '2024-03-01T00:00:00Z' }));
    const { found } = await appOn(base, 'a11');
    await builder.deleteManifest('b11/old', base.digest);
    const ledger = tempLedger();
    await ledger.append([seen('b11/old', '1.0', base.digest, '2024-03-02T00:00:00Z')]);
    // a fresh client: this one still holds the base's manifest from findBase (content is cached by digest)
    const later = new RegistryClient();
    cleanups.push(() => later.close());
    const age = await baseAge(later, found, { ledger, now: NOW });
    // the base itself is gone too, so only the ledger can date it
    expect(age.created).toEqual({ time: '2024-03-02T00:00:00.000Z', source: 'ledger', ageMs: 121 * DAY });
    expect(age.staleness).toEqual({ tag: `${H}/b11/old:1.0`, digestNow: null, moved: false });
    expect(age.ledgerEntries).toEqual([{ registry: H, repository: 'b11/old', tag: '1.0', digest: null, event: 'deleted', source: 'verify', role: 'base', time: NOW }]);
    expect(age.evidence).toContain(`the base tag ${H}/b11/old:1.0 no longer exists`);
  });
});

describe('newer releases', () => {
  it('lists newer patch, minor and major tags of the same variant and precision', async () => {
    const base = await push('b9/ruby', '3.3.4-slim', buildImage({ created: '2024-03-01T00:00:00Z' }));
    for (const t of ['3.3.5-slim', '3.3.10-slim', '3.4.1-slim', '3.3.5', '3.3.5-alpine', '4.0.0-slim', '3.3.3-slim', '3.3-slim', 'latest', 'v3.3.9-slim', '3.3.6-slim-bookworm']) {
      await builder.tagExisting('b9/ruby', base.digest, t);
    }
    const age = await baseAge(client, (await appOn(base, 'a9')).found, { now: NOW });
    expect(age.releases).toEqual({
      tag: '3.3.4-slim',
      version: '3.3.4',
      suffix: 'slim',
      patch: ['3.3.5-slim', '3.3.10-slim'],
      minor: ['3.4.1-slim'],
      major: ['4.0.0-slim'],
      considered: 12,
      truncated: false,
    });
  });
});

describe('image age', () => {
  it('uses the config time when real, else the created annotation or label, and refuses a time before the base', async () => {
    const real = await resolve(await push('acme/img', 'real', buildImage({ created: '2024-06-01T00:00:00Z' })));
    expect(imageAge(real, { now: NOW })).toEqual({ created: { time: '2024-06-01T00:00:00.000Z', source: 'config', ageMs: 30 * DAY }, evidence: ['image config created 2024-06-01T00:00:00.000Z'] });

    const ko = await resolve(await push('acme/img', 'ko', buildImage({ created: '1970-01-01T00:00:00Z', annotations: { [CREATED]: '2024-06-11T00:00:00Z' } })));
    expect(imageAge(ko, { now: NOW }).created).toEqual({ time: '2024-06-11T00:00:00.000Z', source: 'annotation', ageMs: 20 * DAY });

    const jib = await resolve(await push('acme/img', 'jib', buildImage({ created: '1970-01-01T00:00:00Z' })));
    const epoch = '"1970-01-01T00:00:00Z" is the Unix epoch (ko, Jib, SOURCE_DATE_EPOCH=0 write it): not a build time';
    expect(imageAge(jib, { now: NOW })).toEqual({
      refused: [{ source: 'config', where: 'config created', value: '1970-01-01T00:00:00Z', reason: epoch }],
      evidence: [`image config created: ${epoch}`, 'the image has no real creation time'],
    });

    const clamped = await resolve(await push('acme/img', 'clamped', buildImage({ created: '2023-12-01T00:00:00Z', labels: { [CREATED]: '2024-06-21T00:00:00Z' } })));
    const base = { created: { time: '2024-03-01T00:00:00.000Z', source: 'config' as const, ageMs: 122 * DAY } };
    const own = imageAge(clamped, { now: NOW, base });
    expect(own.created).toEqual({ time: '2024-06-21T00:00:00.000Z', source: 'label', ageMs: 10 * DAY });
    expect(own.evidence[0]).toBe('image config created 2023-12-01T00:00:00.000Z is before its base was created (2024-03-01T00:00:00.000Z): a clamped date, not a build time');
    expect(own.refused).toEqual([
      { source: 'config', where: 'config created', value: '2023-12-01T00:00:00Z', reason: '"2023-12-01T00:00:00.000Z" is before its base was created (2024-03-01T00:00:00.000Z): a clamped date' },
    ]);
    // a ledger first-seen time only bounds the base's age: it does not refuse the image's time
    expect(imageAge(clamped, { now: NOW, base: { created: { ...base.created, source: 'ledger' } } }).created?.source).toBe('config');
  });

  it('refuses a time in the future', async () => {
    const future = await resolve(await push('acme/img', 'future', buildImage({ created: '2030-01-01T00:00:00Z' })));
    const reason = `"2030-01-01T00:00:00Z" is in the future (more than 1 day ahead of this machine's clock)`;
    expect(imageAge(future, { now: NOW })).toEqual({
      refused: [{ source: 'config', where: 'config created', value: '2030-01-01T00:00:00Z', reason }],
      evidence: [`image config created: ${reason}`, 'the image has no real creation time'],
    });
    // within the one-day allowance for clock skew: counted as new
    const skewed = await resolve(await push('acme/img', 'skewed', buildImage({ created: new Date(NOW.getTime() + 23 * 3_600_000).toISOString() })));
    expect(imageAge(skewed, { now: NOW }).created).toMatchObject({ source: 'config', ageMs: 0 });
  });
});
