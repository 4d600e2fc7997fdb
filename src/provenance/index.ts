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
export { findBase } from './discover.js';
export { baseAge } from './age.js';
export { imageAge, CREATED } from './created.js';
export { checkTime } from './dates.js';
export { newerReleases, parseDockerTag, MAX_TAGS } from './releases.js';
export { parseDockerPurl } from './purl.js';
export { readProvenanceStatement } from './slsa.js';
export { isPrefix } from './layers.js';
export type * from './types.js';
