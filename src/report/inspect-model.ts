/**
 * `kamal-gate inspect --format json`: what a reference resolves to in its registry (digest,
 * platforms, config, annotations). The text form renders the same object. Versioned by `schema`.
 */
import type { Resolution } from '../registry/client.js';
import { formatPlatform } from '../registry/manifest.js';
import { formatReference, type ImageReference } from '../registry/reference.js';

const INSPECT_SCHEMA = 'kamal-gate/inspect/v1';

export interface InspectReport {
  schema: typeof INSPECT_SCHEMA;
  /** The reference asked about, normalized, without a digest. */
  ref: string;
  /** What it points to (an index digest for multi-platform images). */
  digest: string;
  mediaType: string;
  size: number;
  platforms: string[];
  /** The platform chosen, when the reference is an index. */
  platform?: string;
  platformDigest?: string;
  platformMediaType?: string;
  /** The index's annotations, then the chosen manifest's. */
  annotations: Record<string, string>;
  config?: { digest: string; mediaType: string; created?: string; labels: Record<string, string>; layers: number };
}

export function inspectReport(ref: ImageReference, r: Resolution): InspectReport {
  return {
    schema: INSPECT_SCHEMA,
    ref: formatReference({ ...ref, digest: undefined }),
    digest: r.digest,
    mediaType: r.mediaType,
    size: r.size,
    platforms: r.platforms.map(formatPlatform),
    platform: r.platform ? formatPlatform(r.platform) : undefined,
    platformDigest: r.index ? r.manifestDigest : undefined,
    platformMediaType: r.index ? r.manifest.mediaType : undefined,
    annotations: { ...(r.index?.annotations ?? {}), ...r.manifest.annotations },
    config: r.config ? { digest: r.config.digest, mediaType: r.config.mediaType, created: r.config.created, labels: r.config.labels, layers: r.config.diffIds.length } : undefined,
  };
}
