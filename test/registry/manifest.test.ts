import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { MEDIA_TYPES, normalizePlatform, parseManifest, parsePlatform, selectPlatform } from '../../src/registry/manifest.js';
import type { Descriptor } from '../../src/types.js';

const d = (n: string) => 'sha256:' + n.repeat(64).slice(0, 64);
const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

const image = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  config: { mediaType: MEDIA_TYPES.ociConfig, digest: d('c'), size: 10 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('1'), size: 5, urls: ['http://evil/'] }],
  annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
};

describe('parseManifest', () => {
  it('parses an OCI image manifest and drops foreign-layer urls', () => {
    const m = parseManifest(buf(image), 'x', { contentType: MEDIA_TYPES.ociManifest });
    expect(m.kind).toBe('manifest');
    if (m.kind !== 'manifest') return;
    expect(m.config.digest).toBe(d('c'));
    expect(m.layers[0]).not.toHaveProperty('urls');
    expect(m.annotations['org.opencontainers.image.created']).toBe('2026-01-01T00:00:00Z');
  });

  it('parses an index with platforms', () => {
    const idx = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: d('a'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
    };
    const m = parseManifest(buf(idx), 'x', { contentType: `${MEDIA_TYPES.ociIndex}; charset=utf-8` });
    expect(m.kind).toBe('index');
    expect(m.kind === 'index' && m.manifests[0]!.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  });

  const refusals: Array<[string, unknown, string | undefined, RegExp]> = [
    ['invalid JSON', '{nope', undefined, /not valid JSON/],
    ['not an object', [1, 2], undefined, /not a JSON object/],
    ['schema 1', { schemaVersion: 1, name: 'x' }, undefined, /schema 1/],
    ['content type disagreeing with mediaType', image, MEDIA_TYPES.ociIndex, /disagrees/],
    ['manifests and layers together', { ...image, manifests: [] }, undefined, /ambiguous/],
    ['index media type with config', { ...image, mediaType: MEDIA_TYPES.ociIndex }, undefined, /ambiguous|must not carry/],
    ['bad descriptor digest', { ...image, config: { ...image.config, digest: 'sha256:zz' } }, undefined, /invalid digest/],
    ['negative size', { ...image, config: { ...image.config, size: -1 } }, undefined, /invalid size/],
    ['unknown media type', { ...image, mediaType: 'application/x-foo' }, undefined, /unsupported manifest media type/],
    ['non-string annotation', { ...image, annotations: { a: 1 } }, undefined, /annotations/],
  ];
  for (const [name, body, ct, why] of refusals) {
    it(`refuses ${name}`, () => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : buf(body);
      expect(() => parseManifest(bytes, 'ghcr.io/a/b:1', { contentType: ct })).toThrow(ProtocolError);
      expect(() => parseManifest(bytes, 'ghcr.io/a/b:1', { contentType: ct })).toThrow(why);
    });
  }

  it('refuses a manifest whose type differs from the descriptor that pointed at it', () => {
    expect(() => parseManifest(buf(image), 'x', { expectedMediaType: MEDIA_TYPES.dockerManifest })).toThrow(/expected a/);
  });
});

describe('platform selection', () => {
  const entry = (os: string, architecture: string, variant?: string, extra: Partial<Descriptor> = {}): Descriptor => ({
    mediaType: MEDIA_TYPES.ociManifest,
    digest: d(architecture[0]! + (variant ?? '0')),
    size: 1,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
    ...extra,
  });
  const idx = [
    entry('unknown', 'unknown', undefined, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }),
    entry('linux', 'amd64'),
    entry('linux', 'arm64', 'v8'),
    entry('linux', 'arm', 'v6'),
  ];

  it('picks exact matches and treats arm64 v8 as plain arm64', () => {
    expect(selectPlatform(idx, parsePlatform('linux/amd64'))).toBe(idx[1]);
    expect(selectPlatform(idx, parsePlatform('linux/arm64'))).toBe(idx[2]);
    expect(selectPlatform(idx, { os: 'linux', architecture: 'aarch64' })).toBe(idx[2]);
  });
  it('falls back to a compatible lower arm variant, never a higher one', () => {
    expect(selectPlatform(idx, parsePlatform('linux/arm/v7'))).toBe(idx[3]);
    expect(selectPlatform([entry('linux', 'arm', 'v7')], parsePlatform('linux/arm/v6'))).toBeUndefined();
  });
  it('never selects attestation or unknown entries, and misses absent platforms', () => {
    expect(selectPlatform(idx, { os: 'unknown', architecture: 'unknown' })).toBeUndefined();
    expect(selectPlatform(idx, parsePlatform('linux/s390x'))).toBeUndefined();
    expect(selectPlatform(idx, parsePlatform('windows/amd64'))).toBeUndefined();
  });
  it('normalizes as containerd does', () => {
    expect(normalizePlatform({ os: 'linux', architecture: 'x86_64' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: '8' })).toEqual({ os: 'linux', architecture: 'arm64' });
  });
  it('rejects malformed platform strings', () => {
    expect(() => parsePlatform('linux')).toThrow(/not a platform/);
    expect(() => parsePlatform('linux/amd64/v1/x')).toThrow(/not a platform/);
  });
});
