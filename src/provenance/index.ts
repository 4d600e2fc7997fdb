/**
 * Base-image discovery and ages (DESIGN.md `provenance/`, issue 4):
 *
 *   const base = await findBase(client, resolution, { candidates: policy.base.allowed, platform, ledger });
 *   const age = await baseAge(client, base, { ledger, now: new Date() });   // created, staleness, releases
 *   await ledger.append(age.ledgerEntries);                                   // the caller writes
 *   const own = imageAge(resolution, { now, base: age });
 *
 * Sources, in order: OCI base annotations/labels, BuildKit SLSA provenance (confirmed by layer
 * prefix), buildpacks lifecycle metadata, policy candidates matched by layer prefix.
 */
export { findBase, type FindBaseOptions } from './discover.js';
export { baseAge, type BaseAgeOptions } from './age.js';
export { imageAge, CREATED } from './created.js';
export { checkTime, EARLIEST_REAL_TIME, type TimeCheck } from './dates.js';
export { newerReleases, parseDockerTag, MAX_TAGS, type DockerVersion } from './releases.js';
export { parseDockerPurl, type DockerPurl } from './purl.js';
export { readProvenanceStatement, SLSA_V02, SLSA_V1, type ImageMaterial } from './slsa.js';
export { isPrefix } from './layers.js';
export { BASE_NAME, BASE_DIGEST } from './annotations.js';
export { LIFECYCLE_METADATA } from './buildpacks.js';
export type * from './types.js';
