import { describe, expect, it } from 'vitest';
import { ReferenceFormatError } from '../../src/errors.js';
import { familiarReference, formatReference, isLoopbackHost, parseReference } from '../../src/registry/reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference normalizes as Docker does', () => {
  const cases: Array<[string, string]> = [
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.20', 'docker.io/library/alpine:3.20'],
    ['library/alpine', 'docker.io/library/alpine:latest'],
    ['dhh/app:abc', 'docker.io/dhh/app:abc'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/dhh/app:1', 'docker.io/dhh/app:1'],
    ['registry-1.docker.io/library/redis:7', 'docker.io/library/redis:7'],
    ['ghcr.io/acme/app:1.2.3', 'ghcr.io/acme/app:1.2.3'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5555/app:v1', 'localhost:5555/app:v1'],
    ['127.0.0.1:5000/a/b/c:t', '127.0.0.1:5000/a/b/c:t'],
    ['[::1]:5000/app:t', '[::1]:5000/app:t'],
    ['Foo/bar', 'Foo/bar:latest'], // an uppercase first component is a registry host, as in Docker
    ['my-registry.example.com:443/team/app_x:1.0-rc.1', 'my-registry.example.com:443/team/app_x:1.0-rc.1'],
    ['a__b/c.d-e', 'docker.io/a__b/c.d-e:latest'],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    [`alpine:3@${D}`, `docker.io/library/alpine:3@${D}`],
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => {
      expect(formatReference(parseReference(input))).toBe(expected);
    });
  }

  it('marks a defaulted tag and not an explicit one', () => {
    expect(parseReference('redis').tagDefaulted).toBe(true);
    expect(parseReference('redis:latest').tagDefaulted).toBe(false);
    expect(parseReference(`redis@${D}`)).toMatchObject({ tagDefaulted: false, tag: undefined, digest: D });
  });

  it('gives the familiar form back', () => {
    expect(familiarReference(parseReference('docker.io/library/redis:7'))).toBe('redis:7');
    expect(familiarReference(parseReference('dhh/app:1'))).toBe('dhh/app:1');
    expect(familiarReference(parseReference('ghcr.io/a/b:1'))).toBe('ghcr.io/a/b:1');
  });
});

describe('parseReference rejects invalid references, saying why', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    [' alpine', /white space/],
    ['Alpine', /lowercase/],
    ['docker.io/Acme/app', /lowercase/],
    ['app:', /not a valid tag/],
    ['app:-x', /not a valid tag/],
    ['app:' + 'x'.repeat(129), /not a valid tag/],
    ['app@sha256:abc', /64 lowercase hex/],
    ['app@sha256:' + 'A'.repeat(64), /lowercase hex|not a valid digest/],
    ['app@md5:' + 'a'.repeat(32), /unsupported digest algorithm/],
    ['a'.repeat(64), /image ID/],
    ['ghcr.io//app', /empty path component/],
    ['ghcr.io/app-', /not a valid repository path component/],
    ['ghcr.io/a..b', /not a valid repository path component/],
    ['host:99999/app', /out of range/],
    ['-bad.io:5000/app', /not a valid host name/],
    ['ghcr.io/' + 'a/'.repeat(130) + 'b', /longer than 255/],
  ];
  for (const [input, why] of bad) {
    it(JSON.stringify(input.slice(0, 40)), () => {
      let err: unknown;
      try {
        parseReference(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ReferenceFormatError);
      expect((err as Error).message).toMatch(why);
      expect((err as ReferenceFormatError).exitCode).toBe(2);
    });
  }
});

describe('isLoopbackHost', () => {
  it('recognizes loopback registries only', () => {
    expect(isLoopbackHost('localhost:5000')).toBe(true);
    expect(isLoopbackHost('127.0.0.1:41234')).toBe(true);
    expect(isLoopbackHost('[::1]:5000')).toBe(true);
    expect(isLoopbackHost('10.0.0.1:5000')).toBe(false);
    expect(isLoopbackHost('ghcr.io')).toBe(false);
    expect(isLoopbackHost('localhost.evil.com')).toBe(false);
  });
});
