import { createHash } from 'node:crypto';
import { DigestMismatchError } from '../errors.js';
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
    throw new DigestMismatchError(
      `${what}: content does not match its digest (asked for ${expected}, got ${actual}); the registry or something between is serving wrong bytes`,
      registry,
    );
  }
}
