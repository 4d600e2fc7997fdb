/**
 * Properties of image reference parsing: any string parses or is refused with a
 * ReferenceFormatError; references built from the grammar parse, and parse → format → parse gives
 * the same reference (also through the familiar short form Docker prints).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReferenceFormatError } from '../../src/errors.js';
import { familiarReference, formatReference, parseReference, type ImageReference } from '../../src/registry/reference.js';
import { cleanly, syntaxString } from './clean-error.js';

const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';
const alnum = fc.string({ unit: fc.constantFrom(...lower.split('')), minLength: 1, maxLength: 8 });
const separator = fc.constantFrom('.', '_', '__', '-', '--');
const pathComponent = fc.tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 2 })).map(([a, rest]) => a + rest.map(([s, b]) => s + b).join(''));
const hostLabel = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split('')), minLength: 1, maxLength: 8 });
const registry = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('docker.io', 'index.docker.io', 'registry-1.docker.io', 'localhost', 'localhost:5000', '127.0.0.1:5000', '[::1]:5000', 'ghcr.io'),
  fc.tuple(fc.array(hostLabel, { minLength: 2, maxLength: 3 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([labels, port]) => labels.join('.') + (port ? `:${port}` : '')),
);
const tag = fc.tuple(fc.constantFrom(...'abcXYZ019_'.split('')), fc.string({ unit: fc.constantFrom(...'abcXYZ019_.-'.split('')), maxLength: 20 })).map(([a, b]) => a + b);
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${Buffer.from(b).toString('hex')}`);
const validRef = fc
  .record({ registry, path: fc.array(pathComponent, { minLength: 1, maxLength: 3 }), tag: fc.option(tag, { nil: undefined }), digest: fc.option(digest, { nil: undefined }) })
  // Without a registry, a first component that looks like a host is one (Docker's rule): not generated.
  .filter(({ registry: r, path }) => r !== undefined || path.length === 1 || !path[0]!.includes('.'))
  .map(({ registry: r, path, tag: t, digest: d }) => `${r ? `${r}/` : ''}${path.join('/')}${t ? `:${t}` : ''}${d ? `@${d}` : ''}`)
  .filter((s) => s.length < 200);

const same = (a: ImageReference, _b: ImageReference) => ({ registry: a.registry, repository: a.repository, tag: a.tag, digest: a.digest }) as const;

describe('reference parsing properties', () => {
  it('any string parses or is refused with a ReferenceFormatError quoting it', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          syntaxString('abc019/:@.-_ABsha256:[]%\u0000\t'),
          fc.string({ unit: 'binary', maxLength: 80 }),
          validRef.chain((r) => fc.nat(r.length).map((i) => r.slice(0, i) + r.slice(i + 1))),
        ),
        (input) => {
          const out = cleanly(() => parseReference(input), ReferenceFormatError);
          if (!out.ok) expect(out.error.message).toContain('invalid image reference');
        },
      ),
      { numRuns: 1000 },
    );
  }, 60_000);

  it('references built from the grammar parse, and parse → format → parse (or familiar form) round-trips', () => {
    fc.assert(
      fc.property(validRef, (input) => {
        const out = cleanly(() => parseReference(input), ReferenceFormatError);
        // Only the total length limit (255) may refuse a grammatical reference; the generator stays under it.
        expect(out.ok, out.ok ? '' : out.error.message).toBe(true);
        const ref = (out as { ok: true; value: ImageReference }).value;
        const formatted = formatReference(ref);
        expect(same(parseReference(formatted), ref)).toEqual(same(ref, ref));
        expect(formatReference(parseReference(formatted))).toBe(formatted);
        expect(same(parseReference(familiarReference(ref)), ref)).toEqual(same(ref, ref));
        if (ref.digest) expect(input.endsWith(ref.digest)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
