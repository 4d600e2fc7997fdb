/**
 * What base-image discovery and the age measurements return: plain data the checks turn into
 * findings. Every result carries `evidence`, the facts (in words) that led to it.
 */
import type { NewEntry } from '../ledger/types.js';
import type { Platform } from '../registry/oci.js';

/** Which source identified the base, in the order they are tried. */
export type BaseSource = 'annotation' | 'provenance' | 'buildpacks' | 'layers' | 'unknown';

export interface BaseDiscovery {
  source: BaseSource;
  /** Normalized reference of the base as named (`docker.io/library/ruby:3.3-slim`), with its tag when known. */
  name?: string;
  /** The base digest as recorded by the source: often the base's index digest, sometimes a platform manifest's. */
  digest?: string;
  /** The base's manifest for `platform`, when it could be worked out. */
  platformDigest?: string;
  /**
   * True: the base's `rootfs.diff_ids` were fetched and are a prefix of the image's. False: they
   * were fetched and are not. Absent: the base could not be fetched, so nothing was compared.
   */
  confirmedByLayers?: boolean;
  /** The platform the base was looked up for. */
  platform: Platform;
  evidence: string[];
}

/** Where a time came from. `now`: first observed in this run (nothing older knew of it). */
export type TimeSource = 'config' | 'annotation' | 'label' | 'ledger' | 'now';

export interface DatedFact {
  /** ISO 8601 UTC. */
  time: string;
  source: TimeSource;
  /** Milliseconds from `time` to the `now` the caller gave (never negative). */
  ageMs: number;
}

/** A creation time that was found but refused (a fixed, clamped, future or malformed date). */
export interface TimeRefusal {
  source: Extract<TimeSource, 'config' | 'annotation' | 'label'>;
  /** Where it was read: `config created`, `manifest annotation org.opencontainers.image.created`, … */
  where: string;
  /** The value as found (cut to 80 characters). */
  value: string;
  /** Why it is not a build time, naming the value: `"2099-01-01T00:00:00Z" is in the future (…)`. */
  reason: string;
}

export interface ImageAge {
  /** Absent when no real date was found. */
  created?: DatedFact;
  /** The times found and refused, in the order they were tried; absent when none was. */
  refused?: TimeRefusal[];
  evidence: string[];
}

export interface Staleness {
  /** The base tag that was resolved (`docker.io/library/ruby:3.3-slim`). */
  tag: string;
  /** What the tag points to now; null when the tag no longer exists. */
  digestNow: string | null;
  /** The tag's manifest for the base's platform now, when the tag still exists. */
  platformDigestNow?: string;
  /** True when the tag now points to another image (for this platform) than the image was built on. */
  moved: boolean;
  /** When the newer base came to exist (or was first seen); present only when `moved` toward a newer base. */
  newerSince?: DatedFact;
}

export interface NewerReleases {
  /** The base tag, e.g. `3.3.4-slim`. */
  tag: string;
  /** Its version as semver (`3.3.4`; `3.3` → `3.3.0`). */
  version: string;
  /** The variant after the version (`slim`), which newer tags must share. */
  suffix?: string;
  /** Newer tags with the same major.minor, oldest first. */
  patch: string[];
  /** Newer tags with the same major and a higher minor, oldest first. */
  minor: string[];
  /** Tags with a higher major, oldest first. */
  major: string[];
  /** How many tags were looked at; `truncated` when the repository had more than the cap. */
  considered: number;
  truncated: boolean;
}

export interface BaseAge {
  /** The age of the base the image was built on. Absent when it could not be told. */
  created?: DatedFact;
  /** Absent when the base has no tag to resolve (or it could not be resolved: see evidence). */
  staleness?: Staleness;
  /** Absent when the base tag is not a version or its tags could not be listed. */
  releases?: NewerReleases;
  /** Entries for the base tag the caller should append to the ledger (this module never writes). */
  ledgerEntries: NewEntry[];
  evidence: string[];
}
