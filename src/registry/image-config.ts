/**
 * An image's config blob: fetched by the manifest's config descriptor (size-capped, digest-checked)
 * and read for the facts the checks use: created, labels, platform, layer diff IDs.
 */
import { ProtocolError } from '../errors.js';
import type { Descriptor } from './oci.js';
import { CONFIG_MAX_BYTES, type ImageManifest } from './manifest.js';
import type { ImageConfigFacts, Repo } from './types.js';

/** Where blobs come from, verified (RegistryClient). */
export interface BlobSource {
  getBlob(repo: Repo, desc: Descriptor, maxBytes: number): Promise<Buffer>;
}

/** The config of an image manifest, fetched and read. */
export async function fetchImageConfig(src: BlobSource, repo: Repo, manifest: ImageManifest, where: string): Promise<ImageConfigFacts> {
  const blob = await src.getBlob(repo, manifest.config, CONFIG_MAX_BYTES);
  return parseImageConfig(blob, manifest.config, where);
}

function parseImageConfig(blob: Buffer, desc: Descriptor, where: string): ImageConfigFacts {
  let doc: Record<string, unknown>;
  try {
    const parsed = JSON.parse(blob.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    doc = parsed as Record<string, unknown>;
  } catch {
    throw new ProtocolError(`${where}: image config ${desc.digest} is not a JSON object`);
  }
  const cfg = (typeof doc.config === 'object' && doc.config !== null ? doc.config : {}) as Record<string, unknown>;
  const labels: Record<string, string> = {};
  if (typeof cfg.Labels === 'object' && cfg.Labels !== null) {
    for (const [k, v] of Object.entries(cfg.Labels as Record<string, unknown>)) if (typeof v === 'string') labels[k] = v;
  }
  const rootfs = (typeof doc.rootfs === 'object' && doc.rootfs !== null ? doc.rootfs : {}) as { diff_ids?: unknown };
  const diffIds = Array.isArray(rootfs.diff_ids) ? rootfs.diff_ids.filter((d): d is string => typeof d === 'string') : [];
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return {
    digest: desc.digest,
    mediaType: desc.mediaType,
    created: str(doc.created),
    labels,
    os: str(doc.os),
    architecture: str(doc.architecture),
    variant: str(doc.variant),
    diffIds,
  };
}
