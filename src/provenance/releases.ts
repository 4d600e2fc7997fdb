/**
 * Newer releases of a versioned base tag (`3.3.4-slim` → `3.3.5-slim`, `3.4.1-slim`), by semver
 * over the repository's tags. Docker tags are not semver: a `v` prefix is optional, `3.3` is a
 * version too, and what follows `-` is a variant (`slim`, `alpine3.20`), not a prerelease. Only
 * tags of the same variant and the same precision are compared: `3.3-slim` floats across patches,
 * so it is compared with `3.4-slim`, not with `3.3.5-slim`.
 */
import semver from 'semver';
import type { NewerReleases } from './types.js';

/** Tags looked at; a repository with more (nightlies, per-commit tags) is cut here, with a flag. */
export const MAX_TAGS = 10_000;

const VERSION_TAG = /^(v?)(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:-([A-Za-z0-9][A-Za-z0-9_.-]*))?$/;

export interface DockerVersion {
  /** `v` or '' */
  prefix: string;
  version: semver.SemVer;
  /** How many numbers the tag has: `3` → 1, `3.3` → 2, `3.3.4` → 3. */
  parts: 1 | 2 | 3;
  suffix?: string;
}

export function parseDockerTag(tag: string): DockerVersion | undefined {
  const m = VERSION_TAG.exec(tag);
  if (!m) return undefined;
  const [, prefix, major, minor, patch, suffix] = m;
  const version = semver.parse(`${Number(major)}.${Number(minor ?? 0)}.${Number(patch ?? 0)}`);
  if (!version) return undefined;
  const parts = patch !== undefined ? 3 : minor !== undefined ? 2 : 1;
  return { prefix: prefix!, version, parts, ...(suffix ? { suffix } : {}) };
}

/** Newer tags of the same variant and precision as `tag`, or undefined when `tag` is not a version. */
export function newerReleases(tag: string, tags: readonly string[]): NewerReleases | undefined {
  const base = parseDockerTag(tag);
  if (!base) return undefined;
  const considered = tags.slice(0, MAX_TAGS);
  const newer = considered
    .map((t) => ({ t, v: parseDockerTag(t) }))
    .filter((x): x is { t: string; v: DockerVersion } => !!x.v && x.v.prefix === base.prefix && x.v.parts === base.parts && x.v.suffix === base.suffix && semver.gt(x.v.version, base.version))
    .sort((a, b) => semver.compare(a.v.version, b.v.version));
  const { major, minor } = base.version;
  const out: NewerReleases = {
    tag,
    version: base.version.version,
    patch: newer.filter((x) => x.v.version.major === major && x.v.version.minor === minor).map((x) => x.t),
    minor: newer.filter((x) => x.v.version.major === major && x.v.version.minor > minor).map((x) => x.t),
    major: newer.filter((x) => x.v.version.major > major).map((x) => x.t),
    considered: considered.length,
    truncated: tags.length > MAX_TAGS,
  };
  if (base.suffix) out.suffix = base.suffix;
  return out;
}
