/**
 * The plain data the registry client hands out: a repository, a manifest as fetched, an image
 * config's facts, and a reference's resolution (tag → digest → platform manifest → config).
 */
import type { Platform } from './oci.js';
import type { ImageIndex, ImageManifest, Manifest } from './manifest.js';
import type { ImageReference } from './reference.js';

/** A repository on a registry. */
export interface Repo {
  registry: string;
  repository: string;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  size: number;
  bytes: Buffer;
  manifest: Manifest;
}

export interface ImageConfigFacts {
  digest: string;
  mediaType: string;
  created?: string;
  labels: Record<string, string>;
  os?: string;
  architecture?: string;
  variant?: string;
  diffIds: string[];
}

export interface Resolution {
  ref: ImageReference;
  /** What the reference points to now: the index digest for a multi-platform image. */
  digest: string;
  mediaType: string;
  size: number;
  index?: ImageIndex;
  /** Platforms the image offers. */
  platforms: Platform[];
  /** The platform manifest chosen (for a single-platform image: the manifest itself). */
  manifest: ImageManifest;
  manifestDigest: string;
  platform?: Platform;
  /** For every platform asked for, the manifest digest that host would pull. */
  platformDigests: Array<{ platform: Platform; digest: string }>;
  config?: ImageConfigFacts;
}
