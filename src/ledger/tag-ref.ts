/**
 * A tag as the ledger keys it (`TagRef`, types.ts): the one way to write it (`registry/repository:tag`,
 * as every message, report and shard hash names it) and the one way to read it from a reference.
 */
import { parseReference } from '../registry/reference.js';
import type { TagRef } from './types.js';

export type { TagRef } from './types.js';

/** `registry/repository:tag`, e.g. `ghcr.io/acme/app:v1`. */
export function formatTagRef(t: TagRef): string {
  return `${t.registry}/${t.repository}:${t.tag}`;
}

/** Just the three fields of a TagRef, from anything that has them (an entry, a parsed reference). */
export function tagRefOf(t: TagRef): TagRef {
  return { registry: t.registry, repository: t.repository, tag: t.tag };
}

export function sameTagRef(a: TagRef, b: TagRef): boolean {
  return a.registry === b.registry && a.repository === b.repository && a.tag === b.tag;
}

/**
 * The tag a reference names, normalized as Docker does (`alpine` is `docker.io/library/alpine:latest`),
 * and the digest it pins when it has `@sha256:…`; undefined when it names a digest and no tag.
 * Throws ReferenceFormatError when the reference does not parse.
 */
export function parseTagRef(ref: string): { tag: TagRef; digest?: string } | undefined {
  const p = parseReference(ref);
  if (p.tag === undefined) return undefined;
  const tag = { registry: p.registry, repository: p.repository, tag: p.tag };
  return p.digest ? { tag, digest: p.digest } : { tag };
}

/** The tag a reference names when it names one and pins no digest; undefined otherwise, also when it does not parse. */
export function unpinnedTagRef(ref: string): TagRef | undefined {
  try {
    const p = parseTagRef(ref);
    return p && !p.digest ? p.tag : undefined;
  } catch {
    return undefined;
  }
}
