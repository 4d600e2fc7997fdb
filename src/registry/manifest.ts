/**
 * Manifest and index media types, parsing with the checks real attacks call for (manifest/index
 * confusion, CVE-2021-41190). Platform choice in an index is in platforms.ts.
 */
import { ProtocolError } from '../errors.js';
import type { Descriptor, Platform } from './oci.js';
import { printable } from '../printable.js';
import { validateDigest } from './reference.js';
import { normalizePlatform } from './platforms.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const SCHEMA1_TYPES = new Set(['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']);
export const IMAGE_CONFIG_TYPES = new Set<string>([MEDIA_TYPES.ociConfig, MEDIA_TYPES.dockerConfig]);

/**
 * Always the full list: without it distribution 2.8 answers 404 for OCI content and rewrites
 * Docker manifests fetched by tag to schema 1 under another digest.
 */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', ');

export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
export const CONFIG_MAX_BYTES = 8 * 1024 * 1024;

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
}

export type Manifest = ImageIndex | ImageManifest;

function stripParams(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  return contentType.split(';')[0]!.trim().toLowerCase();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new ProtocolError(`${where}: ${what} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new ProtocolError(`${where}: ${what}["${printable(k, 80)}"] is not a string`);
    out[k] = val;
  }
  return out;
}

function parseDescriptor(v: unknown, where: string, what: string): Descriptor {
  if (!isObject(v)) throw new ProtocolError(`${where}: ${what} is not a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw new ProtocolError(`${where}: ${what} has no mediaType`);
  if (typeof digest !== 'string') throw new ProtocolError(`${where}: ${what} has no digest`);
  try {
    validateDigest(digest);
  } catch {
    throw new ProtocolError(`${where}: ${what} has an invalid digest "${printable(digest, 80)}"`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ProtocolError(`${where}: ${what} has an invalid size`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (v.annotations !== undefined) d.annotations = stringMap(v.annotations, `${what}.annotations`, where);
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  if (isObject(v.platform)) {
    const p = v.platform;
    if (typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw new ProtocolError(`${where}: ${what}.platform needs os and architecture`);
    }
    d.platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === 'string' && p.variant !== '') d.platform.variant = p.variant;
    if (typeof p['os.version'] === 'string') d.platform['os.version'] = p['os.version'];
    // Kept because it decides the choice: an entry with os.features is never pulled on Linux (platforms.ts).
    const features = p['os.features'];
    if (features !== undefined && features !== null) {
      if (!Array.isArray(features) || features.some((f) => typeof f !== 'string')) throw new ProtocolError(`${where}: ${what}.platform["os.features"] is not a list of strings`);
      if (features.length) d.platform['os.features'] = features as string[];
    }
  }
  // Foreign-layer `urls` are deliberately dropped: kamal-gate never follows them (CVE-2020-15157).
  return d;
}

/**
 * Parses manifest bytes. The type is decided from the body's `mediaType` and must agree with the
 * Content-Type and with the descriptor that pointed here, when those are known. A document that
 * carries both `manifests` and `layers`/`config` is refused.
 */
export function parseManifest(bytes: Buffer, where: string, opts: { contentType?: string; expectedMediaType?: string } = {}): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ProtocolError(`${where}: the registry returned a manifest that is not valid JSON`);
  }
  if (!isObject(doc)) throw new ProtocolError(`${where}: the manifest is not a JSON object`);
  const contentType = stripParams(opts.contentType);
  const bodyType = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (doc.schemaVersion === 1 || (contentType && SCHEMA1_TYPES.has(contentType)) || (bodyType && SCHEMA1_TYPES.has(bodyType))) {
    throw new ProtocolError(`${where}: Docker schema 1 manifests are deprecated and not supported; rebuild and push the image with a current builder`);
  }
  if (doc.schemaVersion !== 2) throw new ProtocolError(`${where}: unsupported manifest schemaVersion ${printable(String(JSON.stringify(doc.schemaVersion)), 40)}`);
  if (bodyType && contentType && contentType !== bodyType && contentType !== 'application/json' && contentType !== 'application/octet-stream') {
    throw new ProtocolError(`${where}: Content-Type ${printable(contentType, 100)} disagrees with the manifest's mediaType ${printable(bodyType, 100)}`);
  }
  const hasManifests = 'manifests' in doc;
  const hasImageParts = 'layers' in doc || 'config' in doc;
  if (hasManifests && hasImageParts) {
    throw new ProtocolError(`${where}: ambiguous document has both "manifests" and "layers"/"config"; refusing it`);
  }
  const mediaType =
    bodyType ?? (contentType && (INDEX_TYPES.has(contentType) || MANIFEST_TYPES.has(contentType)) ? contentType : undefined) ?? (hasManifests ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  if (opts.expectedMediaType && opts.expectedMediaType !== mediaType) {
    throw new ProtocolError(`${where}: expected a ${opts.expectedMediaType} but the registry served a ${printable(mediaType, 100)}`);
  }
  const annotations = stringMap(doc.annotations, 'annotations', where);
  const subject = doc.subject !== undefined ? parseDescriptor(doc.subject, where, 'subject') : undefined;
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;

  if (INDEX_TYPES.has(mediaType)) {
    if (hasImageParts) throw new ProtocolError(`${where}: an index must not carry layers or config`);
    if (!Array.isArray(doc.manifests)) throw new ProtocolError(`${where}: index has no "manifests" list`);
    const manifests = doc.manifests.map((m, i) => parseDescriptor(m, where, `manifests[${i}]`));
    return { kind: 'index', mediaType, manifests, annotations, subject, artifactType };
  }
  if (MANIFEST_TYPES.has(mediaType)) {
    if (hasManifests) throw new ProtocolError(`${where}: an image manifest must not carry "manifests"`);
    const config = parseDescriptor(doc.config, where, 'config');
    if (!Array.isArray(doc.layers)) throw new ProtocolError(`${where}: manifest has no "layers" list`);
    const layers = doc.layers.map((l, i) => parseDescriptor(l, where, `layers[${i}]`));
    return { kind: 'manifest', mediaType, config, layers, annotations, subject, artifactType };
  }
  throw new ProtocolError(`${where}: unsupported manifest media type ${printable(mediaType, 100)}`);
}

// ---- platforms ----------------------------------------------------------------------------------

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** `{ "linux/amd64": "sha256:…" }`: the platform manifests resolved, as the ledger and reports keep them. */
export function platformDigestMap(pds: ReadonlyArray<{ platform: Platform; digest: string }>): Record<string, string> {
  return Object.fromEntries(pds.map((p) => [formatPlatform(p.platform), p.digest]));
}

export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/i.test(p))) {
    throw new Error(`"${s}" is not a platform (expected os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8)`);
  }
  const p: Platform = { os: parts[0]!.toLowerCase(), architecture: parts[1]!.toLowerCase() };
  if (parts[2]) p.variant = parts[2].toLowerCase();
  return p;
}

// Platform choice in an index (containerd's matcher) lives in platforms.ts; re-exported for existing importers.
export { hostRuns, indexPlatforms, normalizePlatform, samePlatform, selectPlatform } from './platforms.js';

/**
 * The platform an image config says it is. Every image config names its os and architecture (OCI
 * image spec); without them the platform check would be skipped, so a config without them is
 * refused. When an index entry led here, the config must be that entry's platform: an index that
 * calls an arm64 image amd64 is lying.
 */
export function configPlatform(config: { os?: string; architecture?: string; variant?: string }, fromIndex: Platform | undefined, where: string, registry: string): Platform {
  if (!config.os || !config.architecture) {
    throw new ProtocolError(`${where}: the image config names no os and architecture; it is not a runnable image`, registry);
  }
  const own: Platform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  if (fromIndex) {
    const a = normalizePlatform(fromIndex);
    const b = normalizePlatform(own);
    if (a.os !== b.os || a.architecture !== b.architecture) {
      throw new ProtocolError(`${where}: the index lists this image as ${formatPlatform(fromIndex)} but its config says ${printable(formatPlatform(own), 80)}; refusing it`, registry);
    }
  }
  return own;
}
