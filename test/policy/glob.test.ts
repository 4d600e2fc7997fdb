/** Glob semantics: * within a path segment, ** across segments, ? one character; tags and rule ids. */
import { describe, expect, it } from 'vitest';
import { globMatch, globProblem } from '../../src/policy/index.js';

describe('repository globs', () => {
  it.each([
    ['ghcr.io/acme/*', 'ghcr.io/acme/app', true],
    ['ghcr.io/acme/*', 'ghcr.io/acme/team/app', false], // * stays within a segment
    ['ghcr.io/acme/**', 'ghcr.io/acme/team/app', true], // ** crosses segments
    ['ghcr.io/acme/**', 'ghcr.io/acme', false],
    ['ghcr.io/**/app', 'ghcr.io/acme/team/app', true],
    ['**', 'docker.io/library/redis', true],
    ['*/library/*', 'docker.io/library/redis', true],
    ['docker.io/library/*', 'docker.io/library/redis', true],
    ['docker.io/library/*', 'docker.io/bitnami/redis', false],
    ['docker.io/library/red?s', 'docker.io/library/redis', true],
    ['docker.io/library/red?s', 'docker.io/library/redxxs', false],
    ['docker.io/library/redis', 'docker.io/library/redis-stack', false], // anchored
    ['localhost:5000/*', 'localhost:5000/app', true],
    ['ghcr.io/acme/app.v2', 'ghcr.io/acme/appxv2', false], // . is literal
  ])('%s ~ %s → %s', (pattern, subject, expected) => {
    expect(globProblem('repository', pattern)).toBeUndefined();
    expect(globMatch('repository', pattern, subject)).toBe(expected);
  });

  it('names the normalized form when a glob names no registry', () => {
    expect(globProblem('repository', 'redis')).toBe('names no registry: images are matched by their normalized name, e.g. docker.io/library/redis');
    expect(globProblem('repository', 'acme/*')).toBe('names no registry: images are matched by their normalized name, e.g. docker.io/acme/*');
    expect(globProblem('repository', '')).toBe('empty pattern');
    expect(globProblem('repository', 'ghcr.io//app')).toBe('empty path segment');
    expect(globProblem('repository', 'ghcr.io/a b')).toBe('a pattern may not contain white space');
  });
});

describe('reference globs (exceptions)', () => {
  it('match the repository, and the tag when the glob has one', () => {
    expect(globMatch('reference', 'docker.io/library/redis', 'docker.io/library/redis:7.4')).toBe(true);
    expect(globMatch('reference', 'docker.io/library/redis:*', 'docker.io/library/redis:7.4')).toBe(true);
    expect(globMatch('reference', 'docker.io/library/redis:7.*', 'docker.io/library/redis:7.4')).toBe(true);
    expect(globMatch('reference', 'docker.io/library/redis:7.*', 'docker.io/library/redis:6.2')).toBe(false);
    expect(globMatch('reference', 'docker.io/library/redis:*', 'docker.io/library/redis')).toBe(false); // no tag: digest only
    expect(globMatch('reference', 'localhost:5000/app:v?', 'localhost:5000/app:v1')).toBe(true);
    expect(globProblem('reference', 'docker.io/library/redis:7/x')).toBe('":" may appear only in the registry (host:port), or before the tag');
  });
});

describe('tag and rule id globs', () => {
  it('match whole tags and rule ids, * across dots', () => {
    expect(globMatch('tag', 'latest', 'latest')).toBe(true);
    expect(globMatch('tag', 'latest', 'latest-staging')).toBe(false);
    expect(globMatch('tag', '*-rc*', 'v1.2-rc1')).toBe(true);
    expect(globMatch('rule', 'base.*', 'base.too_old')).toBe(true);
    expect(globMatch('rule', 'base.*', 'image.too_old')).toBe(false);
    expect(globMatch('rule', '*.too_old', 'image.too_old')).toBe(true);
    expect(globMatch('rule', 'tag.overwritten', 'tag.overwritten')).toBe(true);
    expect(globProblem('rule', '*')).toBeUndefined();
    expect(globProblem('rule', 'ledger.*')).toBeUndefined();
    expect(globProblem('rule', 'ledgr.*')).toMatch(/^no finding rule id starts with "ledgr\."/);
  });
});
