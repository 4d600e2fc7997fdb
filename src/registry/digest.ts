import { createHash } from 'node:crypto';
import { DigestMismatchError, ProtocolError } from '../errors.js';
import { DIGEST_ALGORITHMS } from './reference.js';

export function computeDigest(bytes: Uint8Array, algorithm = 'sha256'): string {
  if (!(algorithm in DIGEST_ALGORITHMS)) throw new Error(`unsupported digest algorithm ${algorithm}`);
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export function digestAlgorithm(digest: string): string {
  return digest.slice(0, digest.indexOf(':'));
}

/**
 * Hashes `bytes` with the algorithm of `expected` and throws DigestMismatchError naming `what`
 * (the ref or blob) when they differ. Nothing fetched is trusted without this.
 */
export function verifyDigest(bytes: Uint8Array, expected: string, what: string, registry?: string): void {
  const algorithm = digestAlgorithm(expected);
  if (!(algorithm in DIGEST_ALGORITHMS)) {
    throw new DigestMismatchError(`${what}: cannot verify digest ${expected}: unsupported algorithm`, registry);
  }
  const actual = computeDigest(bytes, algorithm);
  if (actual !== expected) {
    throw new DigestMismatchError(`${what}: content does not match its digest (asked for ${expected}, got ${actual}); the registry or something between is serving wrong bytes`, registry);
  }
}

/**
 * A 304 to `If-None-Match: "<known>"` says the tag still points to `known`. When it also names a
 * digest (Docker-Content-Digest, or an ETag that is a quoted digest) that is another one, the
 * registry contradicts itself: nothing it says about the tag can be trusted.
 */
export function checkNotModified(headers: Record<string, string>, known: string, what: string, registry: string): void {
  const claimed = headers['docker-content-digest']?.trim();
  const etag = /^(?:W\/)?"([a-z0-9]+:[A-Za-z0-9=_-]+)"$/.exec(headers['etag']?.trim() ?? '')?.[1];
  for (const [name, value] of [
    ['Docker-Content-Digest', claimed],
    ['ETag', etag],
  ] as const) {
    if (value !== undefined && value !== known) {
      throw new ProtocolError(`${what}: the registry answered 304 (unchanged since ${known}) but its ${name} names ${value.slice(0, 100)}; refusing an answer that contradicts itself`, registry, 304);
    }
  }
}
