import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/registry/challenge.js';

describe('parseChallenges (RFC 7235)', () => {
  it('parses a Bearer challenge with quoted params', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ]);
  });
  it('parses several challenges in one header (Quay)', () => {
    const c = parseChallenges('Basic realm="quay.io", Bearer realm="https://quay.io/v2/auth",service="quay.io"');
    expect(c.map((x) => x.scheme)).toEqual(['basic', 'bearer']);
    expect(c[1]!.params).toEqual({ realm: 'https://quay.io/v2/auth', service: 'quay.io' });
  });
  it('handles case, spaces, unquoted tokens and escapes', () => {
    const c = parseChallenges('BEARER  realm = "https://x/t" , service=reg , error="insufficient_scope", scope="a:b\\"c:pull"');
    expect(c).toEqual([{ scheme: 'bearer', params: { realm: 'https://x/t', service: 'reg', error: 'insufficient_scope', scope: 'a:b"c:pull' } }]);
  });
  it('keeps a scope with a host:port repository whole', () => {
    const c = parseChallenges('Bearer realm="r",scope="repository:localhost:5000/app:pull,push"');
    expect(c[0]!.params['scope']).toBe('repository:localhost:5000/app:pull,push');
  });
  it('returns nothing for missing or garbage headers', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('=== ,,,')).toEqual([]);
  });
  it('parses a token68 challenge', () => {
    expect(parseChallenges('Negotiate abc123==')).toEqual([{ scheme: 'negotiate', params: { token68: 'abc123==' } }]);
  });
});
