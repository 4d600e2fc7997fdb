/**
 * One token for several repositories (distribution token auth, several `scope` parameters), against
 * the real docker-registry and the test token server, which grants the intersection of what is
 * asked and what the user may read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from '../../src/errors.js';
import { MAX_SCOPES_PER_TOKEN } from '../../src/registry/api.js';
import { RegistryClient } from '../../src/registry/client.js';
import { StaticCredentials, basicCredential } from '../../src/registry/credentials.js';
import { parseReference } from '../../src/registry/reference.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

function clientFor(reg: TestRegistry, user: string, password: string): RegistryClient {
  const creds = new StaticCredentials();
  creds.set(reg.host, basicCredential(user, password, 'test'));
  return new RegistryClient({ credentials: creds });
}

describe('multi-scope tokens', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token', users: { ci: 'ci-pass-2', limited: 'lim-pass-2' }, acl: { limited: [{ repository: 'team/*', actions: ['pull'] }] } });
    const b = new ImageBuilder(reg);
    await b.pushImage('team/one', 'v1', {});
    await b.pushImage('team/two', 'v1', {});
    await b.pushImage('other/app', 'v1', {});
  });
  afterAll(async () => reg?.stop());

  const repos = (r: TestRegistry) => ['team/one', 'team/two', 'other/app'].map((repository) => ({ registry: r.host, repository }));

  it('asks once for every expected repository of the registry', async () => {
    reg.tokenServer!.reset();
    const client = clientFor(reg, 'ci', 'ci-pass-2');
    try {
      client.expectRepositories(repos(reg));
      for (const r of ['team/one', 'team/two', 'other/app']) await client.resolve(parseReference(`${reg.host}/${r}:v1`));
      expect(reg.tokenServer!.requests).toBe(1);
      expect([...reg.tokenServer!.scopes].sort()).toEqual(['repository:other/app:pull', 'repository:team/one:pull', 'repository:team/two:pull']);
    } finally {
      await client.close();
    }
  });

  it('a long list of repositories is asked for in groups of at most MAX_SCOPES_PER_TOKEN', async () => {
    reg.tokenServer!.reset();
    const client = clientFor(reg, 'ci', 'ci-pass-2');
    try {
      const many = Array.from({ length: 30 }, (_, i) => ({ registry: reg.host, repository: `r${String(i).padStart(2, '0')}` }));
      client.expectRepositories([...many, ...repos(reg)]);
      await client.resolve(parseReference(`${reg.host}/team/one:v1`));
      await client.resolve(parseReference(`${reg.host}/team/two:v1`));
      // sorted: other/app, r00…r29, team/one, team/two; the second group of 25 holds both team repos
      expect(reg.tokenServer!.requests).toBe(1);
      expect(MAX_SCOPES_PER_TOKEN).toBe(25);
      // indices 25…32 of the sorted list
      expect(reg.tokenServer!.log[0]!.scopes).toEqual(['r24', 'r25', 'r26', 'r27', 'r28', 'r29', 'team/one', 'team/two'].map((r) => `repository:${r}:pull`));
    } finally {
      await client.close();
    }
  });

  it('a repository the shared token does not cover gets its own token request, and a refusal is still a refusal', async () => {
    reg.tokenServer!.reset();
    const client = clientFor(reg, 'limited', 'lim-pass-2');
    try {
      client.expectRepositories(repos(reg));
      await client.resolve(parseReference(`${reg.host}/team/one:v1`));
      const err = await client.resolve(parseReference(`${reg.host}/other/app:v1`)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      await client.resolve(parseReference(`${reg.host}/team/two:v1`));
      // the shared token (granted team/one and team/two only, reused for team/two), then other/app on
      // its own: asked for, refused by the registry, asked for afresh once, refused again
      expect(reg.tokenServer!.log.map((l) => l.scopes.length)).toEqual([3, 1, 1]);
      expect(reg.tokenServer!.log[1]!.scopes).toEqual(['repository:other/app:pull']);
      expect(reg.tokenServer!.log[0]!.granted.map((g) => g.name).sort()).toEqual(['team/one', 'team/two']);
    } finally {
      await client.close();
    }
  });
});
