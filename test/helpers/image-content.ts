/**
 * Test-only image content: builds OCI or Docker schema 2 images (layers, configs, manifests,
 * indexes, optional BuildKit-style attestation manifests) in memory, with no I/O. The image builder
 * pushes the result to a registry; skopeo.ts writes it as an OCI layout. Independent of src/ on
 * purpose: kamal-gate's client is tested against this.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Descriptor, Platform } from '../../src/registry/oci.js';

export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  inToto: 'application/vnd.in-toto+json',
} as const;

/** The full manifest Accept list (distribution 2.8 needs it: see shared/notes/oci.md section 3). */
export const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(', ');

type ImageFormat = 'oci' | 'docker';

export type { Descriptor, Platform };

/** A layer: its compressed blob (what the registry stores) and the diff_id (sha256 of the uncompressed bytes). */
interface Layer {
  descriptor: Descriptor;
  diffId: string;
  bytes: Buffer;
}

interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface AttestationSpec {
  /** e.g. https://slsa.dev/provenance/v0.2 or https://spdx.dev/Document */
  predicateType: string;
  predicate: unknown;
  /** the statement blob exactly as stored, instead of the in-toto JSON built from the fields above (for malformed statements) */
  raw?: Buffer;
}

export interface ImageSpec {
  /** default 'oci' */
  format?: ImageFormat;
  /** absent: one linux/amd64 manifest. Present: an index (OCI) or manifest list (Docker) with one child per platform. */
  platforms?: Platform[];
  /** config `created` (and the default history times); default: now, to the second. Pass it for reproducible digests. */
  created?: string;
  /** config `config.Labels` */
  labels?: Record<string, string>;
  /** manifest annotations; for an index they go on the index and on every child manifest */
  annotations?: Record<string, string>;
  /** extra annotations on one child manifest (e.g. a per-platform org.opencontainers.image.base.digest) */
  childAnnotations?: (platform: Platform) => Record<string, string> | undefined;
  /** uncompressed contents of the image's own layers, the same for every platform (gzipped here) */
  layers?: Buffer[];
  /** without `layers`: seed for generated layer contents (per platform). Default: random, so images differ. */
  seed?: string;
  /** how many layers to generate from the seed; default 2 */
  layerCount?: number;
  /** built FROM this image: its layers (same platform) come first, its history too */
  base?: ImageContent;
  /** layers to put first, for every platform (when `base` is not used) */
  baseLayers?: Layer[];
  /** config history; default: base history + one entry per own layer */
  history?: HistoryEntry[];
  /** BuildKit-style attestation manifests (platform unknown/unknown) added to the index, one per platform; forces an index */
  attestations?: AttestationSpec[];
}

export interface PlatformImage {
  platform: Platform;
  /** the manifest */
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
  configDigest: string;
  config: { descriptor: Descriptor; bytes: Buffer; json: ImageConfig };
  /** base layers first, then the image's own */
  layers: Layer[];
}

interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  variant?: string;
  config: { Labels?: Record<string, string> };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: HistoryEntry[];
}

interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ImageContent {
  /** the top digest: what the tag points to (index or single manifest) */
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
  isIndex: boolean;
  /** one per platform, in `platforms` order */
  manifests: PlatformImage[];
  configDigests: string[];
  /** BuildKit-style attestation manifests (empty without spec.attestations) */
  attestations: Array<StoredManifest & { size: number; forDigest: string }>;
  /** every blob (configs, layers, attestation blobs) by digest */
  blobs: Map<string, Buffer>;
  /** every manifest to store, children before parents; the last one is the top */
  manifestsInOrder: StoredManifest[];
}

export const sha256 = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

const platformKey = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

const LINUX_AMD64: Platform = { os: 'linux', architecture: 'amd64' };

/** Deterministic pseudo-random bytes from a seed. */
function seededBytes(seed: string, length: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0, n = 0; n < length; i++) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest();
    out.push(block);
    n += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** A layer from its uncompressed contents (gzipped; diff_id = sha256 of the uncompressed bytes). */
function makeLayer(uncompressed: Buffer, format: ImageFormat = 'oci'): Layer {
  const bytes = gzipSync(uncompressed);
  return { descriptor: layerDescriptor(bytes, format), diffId: sha256(uncompressed), bytes };
}

function layerDescriptor(bytes: Buffer, format: ImageFormat): Descriptor {
  return {
    mediaType: format === 'oci' ? MediaType.ociLayerGzip : MediaType.dockerLayerGzip,
    digest: sha256(bytes),
    size: bytes.length,
  };
}

/** The same layer with the descriptor media type of `format`. */
function asFormat(layer: Layer, format: ImageFormat): Layer {
  return { ...layer, descriptor: { ...layerDescriptor(layer.bytes, format), ...(layer.descriptor.annotations ? { annotations: layer.descriptor.annotations } : {}) } };
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

function samePlatform(a: Platform, b: Platform): boolean {
  const norm = (p: Platform) => platformKey({ ...p, variant: p.architecture === 'arm64' && p.variant === 'v8' ? undefined : p.variant });
  return norm(a) === norm(b);
}

export function buildImage(spec: ImageSpec = {}): ImageContent {
  const format = spec.format ?? 'oci';
  const created = spec.created ?? new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const seed = spec.seed ?? randomBytes(16).toString('hex');
  const platforms = spec.platforms ?? [LINUX_AMD64];
  const isIndex = spec.platforms !== undefined || (spec.attestations?.length ?? 0) > 0;
  const blobs = new Map<string, Buffer>();
  const manifestsInOrder: StoredManifest[] = [];
  const manifestType = format === 'oci' ? MediaType.ociManifest : MediaType.dockerManifest;

  const manifests = platforms.map((platform): PlatformImage => {
    let base: { layers: Layer[]; history: HistoryEntry[] } = { layers: spec.baseLayers ?? [], history: [] };
    if (spec.base) {
      const match = spec.base.manifests.find((m) => samePlatform(m.platform, platform));
      if (!match) throw new Error(`base image has no ${platformKey(platform)} manifest`);
      base = { layers: match.layers, history: match.config.json.history };
    }
    const own = (spec.layers ?? Array.from({ length: spec.layerCount ?? 2 }, (_, i) => seededBytes(`${seed}:${platformKey(platform)}:layer${i}`, 512 + 64 * i))).map((raw) => makeLayer(raw, format));
    const layers = [...base.layers, ...own].map((l) => asFormat(l, format));

    const history = spec.history ?? [
      ...(base.history.length > 0 ? base.history : base.layers.map((_, i) => ({ created, created_by: `base layer ${i}` }))),
      ...own.map((_, i) => ({ created, created_by: `kamal-gate-test layer ${i}` })),
    ];
    const configJson: ImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: spec.labels ? { Labels: spec.labels } : {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history,
    };
    const configBytes = json(configJson);
    const configDescriptor: Descriptor = {
      mediaType: format === 'oci' ? MediaType.ociConfig : MediaType.dockerConfig,
      digest: sha256(configBytes),
      size: configBytes.length,
    };
    blobs.set(configDescriptor.digest, configBytes);
    for (const l of layers) blobs.set(l.descriptor.digest, l.bytes);

    const annotations = { ...spec.annotations, ...(isIndex ? spec.childAnnotations?.(platform) : undefined) };
    const bytes = json({
      schemaVersion: 2,
      mediaType: manifestType,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    });
    const digest = sha256(bytes);
    manifestsInOrder.push({ digest, mediaType: manifestType, bytes });
    return {
      platform,
      digest,
      size: bytes.length,
      mediaType: manifestType,
      bytes,
      configDigest: configDescriptor.digest,
      config: { descriptor: configDescriptor, bytes: configBytes, json: configJson },
      layers,
    };
  });

  const attestations: ImageContent['attestations'] = [];
  for (const m of spec.attestations?.length ? manifests : []) {
    const statements = (spec.attestations ?? []).map((a) => {
      const statement =
        a.raw ??
        json({
          _type: 'https://in-toto.io/Statement/v0.1',
          predicateType: a.predicateType,
          subject: [{ name: `pkg:docker/kamal-gate-test?platform=${encodeURIComponent(platformKey(m.platform))}`, digest: { sha256: m.digest.slice(7) } }],
          predicate: a.predicate,
        });
      blobs.set(sha256(statement), statement);
      return { mediaType: MediaType.inToto, digest: sha256(statement), size: statement.length, annotations: { 'in-toto.io/predicate-type': a.predicateType } };
    });
    const configBytes = json({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: statements.map((s) => s.digest) } });
    blobs.set(sha256(configBytes), configBytes);
    const bytes = json({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha256(configBytes), size: configBytes.length },
      layers: statements,
    });
    const stored = { digest: sha256(bytes), mediaType: MediaType.ociManifest, bytes };
    manifestsInOrder.push(stored);
    attestations.push({ ...stored, size: bytes.length, forDigest: m.digest });
  }

  const configDigests = manifests.map((m) => m.configDigest);
  if (!isIndex) {
    const only = manifests[0]!;
    return { digest: only.digest, size: only.size, mediaType: only.mediaType, bytes: only.bytes, isIndex, manifests, configDigests, attestations, blobs, manifestsInOrder };
  }
  const indexType = format === 'oci' ? MediaType.ociIndex : MediaType.dockerList;
  const bytes = json({
    schemaVersion: 2,
    mediaType: indexType,
    manifests: [
      ...manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform })),
      ...attestations.map((a) => ({
        mediaType: a.mediaType,
        digest: a.digest,
        size: a.size,
        annotations: { 'vnd.docker.reference.digest': a.forDigest, 'vnd.docker.reference.type': 'attestation-manifest' },
        platform: { architecture: 'unknown', os: 'unknown' },
      })),
    ],
    ...(spec.annotations && Object.keys(spec.annotations).length > 0 ? { annotations: spec.annotations } : {}),
  });
  const digest = sha256(bytes);
  manifestsInOrder.push({ digest, mediaType: indexType, bytes });
  return { digest, size: bytes.length, mediaType: indexType, bytes, isIndex, manifests, configDigests, attestations, blobs, manifestsInOrder };
}

// ---- provenance and base-image metadata, as builders write them ----------------------------------

/**
 * A Docker package URL as BuildKit writes it into provenance (`util/purl/image.go`):
 * `pkg:docker/<name>@<tag>?platform=linux%2Famd64[&digest=sha256:…]`. `name` is the familiar name
 * (`ruby`, `acme/base`, `127.0.0.1:5000/base`).
 */
export function dockerPurl(name: string, tag: string, opts: { platform?: Platform; digest?: string } = {}): string {
  const q: string[] = [];
  if (opts.digest) q.push(`digest=${encodeURIComponent(opts.digest)}`);
  if (opts.platform) q.push(`platform=${encodeURIComponent(platformKey(opts.platform))}`);
  return `pkg:docker/${name}@${encodeURIComponent(tag)}${q.length ? `?${q.join('&')}` : ''}`;
}

export interface ProvenanceMaterial {
  uri: string;
  /** 'sha256:…' (stored as `digest.sha256` hex) */
  digest?: string;
}

/**
 * A min-mode SLSA provenance attestation as BuildKit writes it: v0.2 lists the images in
 * `predicate.materials`, v1 in `predicate.buildDefinition.resolvedDependencies`.
 */
export function slsaProvenance(version: 'v0.2' | 'v1', materials: ProvenanceMaterial[]): AttestationSpec {
  const list = materials.map((m) => ({ uri: m.uri, ...(m.digest ? { digest: { sha256: m.digest.replace(/^sha256:/, '') } } : {}) }));
  if (version === 'v0.2') {
    return {
      predicateType: 'https://slsa.dev/provenance/v0.2',
      predicate: { builder: { id: '' }, buildType: 'https://mobyproject.org/buildkit@v1', materials: list, invocation: { configSource: {} }, metadata: { completeness: { materials: false } } },
    };
  }
  return {
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: { buildType: 'https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md', externalParameters: {}, resolvedDependencies: list },
      runDetails: { builder: { id: '' }, metadata: {} },
    },
  };
}

/** The `io.buildpacks.lifecycle.metadata` label the buildpacks lifecycle writes, with the run image it built on. */
export function buildpacksLabels(runImage: { image?: string; reference?: string; topLayer?: string }, base: Record<string, string> = {}): Record<string, string> {
  const metadata = { app: [], buildpacks: [{ key: 'example/ruby', version: '1.0.0' }], runImage };
  return { 'io.buildpacks.lifecycle.metadata': JSON.stringify(metadata), ...Object.fromEntries(Object.entries(base).map(([k, v]) => [`io.buildpacks.base.${k}`, v])) };
}
