import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { ChainedCredentials, DockerConfigCredentials, StaticCredentials, basicCredential, normalizeRegistryName } from '../../src/registry/credentials.js';
import { redact } from '../../src/redact.js';

const root = mkdtempSync(join(tmpdir(), 'kg-creds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dockerConfig(config: unknown, helpers: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(root, 'cfg-'));
  writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const [name, script] of Object.entries(helpers)) {
    const p = join(bin, `docker-credential-${name}`);
    writeFileSync(p, `#!/bin/sh\n${script}\n`);
    chmodSync(p, 0o755);
  }
  return { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}`, HOME: root };
}

function withPath<T>(env: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = env.PATH;
  return f().finally(() => {
    process.env.PATH = old;
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('normalizeRegistryName', () => {
  it('maps Docker Hub aliases and strips scheme and path', () => {
    expect(normalizeRegistryName('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeRegistryName('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeRegistryName('')).toBe('docker.io');
    expect(normalizeRegistryName('https://ghcr.io/v2/')).toBe('ghcr.io');
    expect(normalizeRegistryName('LOCALHOST:5555')).toBe('localhost:5555');
  });
});

describe('Docker config.json', () => {
  it('reads auths (base64 user:password), with Docker Hub under its legacy key', async () => {
    const env = dockerConfig({ auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass-123') }, 'ghcr.io': { auth: b64('gh:tok:with:colons') } } });
    const c = new DockerConfigCredentials(env);
    expect(await c.get('docker.io')).toMatchObject({ kind: 'basic', username: 'hubuser', password: 'hubpass-123' });
    expect(await c.get('ghcr.io')).toMatchObject({ username: 'gh', password: 'tok:with:colons' });
    expect(await c.get('quay.io')).toBeUndefined();
    expect(redact('pw is hubpass-123')).toBe('pw is ***');
  });

  it('matches legacy URL keys by host', async () => {
    const env = dockerConfig({ auths: { 'https://registry.example.com/v2/': { username: 'u', password: 'p4ssw0rd' } } });
    expect(await new DockerConfigCredentials(env).get('registry.example.com')).toMatchObject({ username: 'u', password: 'p4ssw0rd' });
  });

  it('reads identity and registry tokens', async () => {
    const env = dockerConfig({ auths: { 'a.io': { identitytoken: 'refresh-xyz' }, 'b.io': { registrytoken: 'bearer-xyz' } } });
    const c = new DockerConfigCredentials(env);
    expect(await c.get('a.io')).toMatchObject({ kind: 'identity-token', token: 'refresh-xyz' });
    expect(await c.get('b.io')).toMatchObject({ kind: 'registry-token', token: 'bearer-xyz' });
  });

  it('asks credHelpers first, then credsStore, over the get protocol', async () => {
    const env = dockerConfig(
      { credsStore: 'store', credHelpers: { 'ghcr.io': 'gh' }, auths: { 'ghcr.io': {} } },
      {
        gh: 'read url; echo "{\\"ServerURL\\":\\"$url\\",\\"Username\\":\\"ghuser\\",\\"Secret\\":\\"gh-secret-$url\\"}"',
        store: 'read url; if [ "$url" = "quay.io" ]; then echo "{\\"Username\\":\\"<token>\\",\\"Secret\\":\\"idtok-1\\"}"; else echo "credentials not found in native keychain"; exit 1; fi',
      },
    );
    await withPath(env, async () => {
      const c = new DockerConfigCredentials(env);
      expect(await c.get('ghcr.io')).toMatchObject({ kind: 'basic', username: 'ghuser', password: 'gh-secret-ghcr.io', origin: 'credential helper docker-credential-gh' });
      expect(await c.get('quay.io')).toMatchObject({ kind: 'identity-token', token: 'idtok-1' });
      expect(await c.get('docker.io')).toBeUndefined(); // not found → anonymous
    });
  });

  it('reports a missing helper and a broken config file clearly', async () => {
    const env = dockerConfig({ credsStore: 'nosuchhelper' });
    await withPath(env, async () => {
      await expect(new DockerConfigCredentials(env).get('ghcr.io')).rejects.toThrow(/docker-credential-nosuchhelper .* not on PATH/);
    });
    const bad = dockerConfig('{ not json');
    const err = await new DockerConfigCredentials(bad).get('ghcr.io').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('config.json');
  });

  it('refuses a helper name that is a path', async () => {
    const env = dockerConfig({ credsStore: '../../bin/sh' });
    await expect(new DockerConfigCredentials(env).get('ghcr.io')).rejects.toThrow(/not valid/);
  });

  it('is anonymous when there is no config', async () => {
    expect(await new DockerConfigCredentials({ DOCKER_CONFIG: join(root, 'nope') }).get('ghcr.io')).toBeUndefined();
  });
});

describe('precedence', () => {
  it('command line over Kamal config over Docker config', async () => {
    const cli = new StaticCredentials();
    const kamal = new StaticCredentials();
    cli.set('ghcr.io', basicCredential('cli', 'cli-pass', 'the command line'));
    kamal.set('ghcr.io', basicCredential('kamal', 'kamal-pass', 'secret X'));
    kamal.set('https://index.docker.io/v1/', basicCredential('k2', 'kamal-pass-2', 'secret Y'));
    const env = dockerConfig({ auths: { 'quay.io': { auth: b64('d:docker-pass') }, 'ghcr.io': { auth: b64('d:docker-pass') } } });
    const chain = new ChainedCredentials([cli, kamal, new DockerConfigCredentials(env)]);
    expect((await chain.get('ghcr.io'))?.origin).toBe('the command line');
    expect(await chain.get('docker.io')).toMatchObject({ username: 'k2' });
    expect(await chain.get('quay.io')).toMatchObject({ username: 'd' });
    expect(await chain.get('gcr.io')).toBeUndefined();
  });
});
