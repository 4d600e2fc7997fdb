/**
 * The plain data that flows between stages (DESIGN.md "Data flow"):
 *   readers → Target[] → registry → ResolvedImage[] → checks → Finding[] → policy → Report → reporters.
 */
import type { KamalGateError } from './errors.js';
import type { BaseSource } from './provenance/types.js';
import type { Platform } from './registry/oci.js';
import type { Resolution } from './registry/types.js';

export type { Descriptor, Platform } from './registry/oci.js';

export type Role = 'app' | 'accessory' | 'proxy';

/** Where in a file something came from. `line` and `column` are 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

/** Credentials for one registry host, from whichever source supplied them. */
export interface RegistryCredential {
  /** Registry host as written in the config (`ghcr.io`, `localhost:5555`); empty string means Docker Hub. */
  server: string;
  username: string;
  /** Undefined when the password names a secret that could not be resolved. */
  password?: string;
  /** Human description of where the credential came from, never the value (e.g. `secret KAMAL_REGISTRY_PASSWORD`). */
  origin: string;
  /** When `password` is undefined: why (the secret named, where it was looked for, what to do); what a refused request says. */
  missing?: string;
}

/** One image the deploy pulls. */
export interface Target {
  /** The reference exactly as Kamal forms it (not normalized). */
  ref: string;
  role: Role;
  /** Service name for the app, accessory name, or `kamal-proxy`. */
  name: string;
  /** The config line the image came from. */
  source?: SourceLocation;
  /** Platforms the deploy runs (Kamal's `builder.arch`); resolution picks the first when the tag is an index. */
  platforms?: Platform[];
  /** For the `latest[-dest]` tag Kamal pushes beside the app image: the ref it is an alias of. */
  aliasOf?: string;
  /** When true, the image missing from the registry is reported but does not fail verification. */
  optional?: boolean;
  /** Credentials named by the Kamal config for this image's registry. */
  credential?: RegistryCredential;
}

/** What the Kamal reader produces. */
export interface DeployPlan {
  /** The config file read (after overlay), for reporting. */
  configFile: string;
  destination?: string;
  service: string;
  version: string;
  /** Where the version came from: `--version`, `KAMAL_VERSION`, `VERSION`, `git HEAD`. */
  versionSource: string;
  targets: Target[];
  /** Things the reader wants the user to know (e.g. the proxy image is decided on the hosts). */
  notes: string[];
}

/** A target resolved at the registry: the tag pinned to a digest, the platform manifest and its config. */
export interface Subject {
  target: Target;
  /** Normalized reference (`registry/repository:tag` or `@digest`). */
  ref: string;
  registry: string;
  repository: string;
  tag?: string;
  /** What the tag points to now (an index digest for multi-platform images). */
  digest: string;
  mediaType: string;
  /** When `digest` is an index: the platform chosen and its manifest digest. */
  platform?: Platform;
  platformDigest?: string;
  /** For every platform the deploy runs (`os/arch[/variant]` as asked), the manifest digest a host pulls. */
  platformDigests: Record<string, string>;
  /** Every platform the index offers (empty for a single-platform image). */
  platforms: Platform[];
  /** Config blob facts. */
  config?: {
    digest: string;
    created?: string;
    labels: Record<string, string>;
    architecture?: string;
    os?: string;
  };
  annotations: Record<string, string>;
}

/**
 * One image of the deploy, resolved: the facts the checks and the report read (its `Subject`) and
 * everything resolution fetched (index, platform manifest, config), in one record.
 */
export interface ResolvedImage extends Subject {
  resolution: Resolution;
}

/** A target after resolution: its image, or why it has none. */
export interface TargetResult {
  target: Target;
  image?: ResolvedImage;
  /** Why the target could not be resolved, or a check could not run on its image. */
  error?: KamalGateError;
  /** An optional target (Kamal's `latest` alias) that is absent: reported, not a failure. */
  absent?: boolean;
}

/** What the report shows about a base image (the base check's summary). */
export interface BaseSummary {
  source: BaseSource;
  name?: string;
  digest?: string;
  confirmedByLayers?: boolean;
  created?: string;
  createdSource?: string;
  ageDays?: number;
  /** When the base tag now points to a newer image: since when that newer image exists. */
  newerSince?: string;
  staleDays?: number;
  newerReleases?: string[];
  evidence: string[];
}

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** Worst first: for sorting findings. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

export interface Finding {
  rule: string;
  severity: Severity;
  target: Target;
  digest?: string;
  message: string;
  remedy?: string;
  evidence?: Record<string, unknown>;
  /** Where the problem is written, when it is not the image's config line (config lint findings). */
  source?: SourceLocation;
  /**
   * Set when the finding answers a requirement given outside the policy's groups (the signer flags
   * of `verify`, which add to the policy): it decides the finding's mode instead of the group.
   */
  requirement?: { mode: 'enforce' | 'warn'; origin: { rule: string } };
}
