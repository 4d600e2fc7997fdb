/**
 * The pieces of `verify --hosts` without servers: which hosts hold which image (roles, accessories,
 * the hook's KAMAL_HOSTS/KAMAL_ROLES, a destination overlay), Kamal's ssh settings as ssh arguments
 * (hostile users and hosts refused), the remote inspect script (values quoted) and its parsing, and
 * the comparison of what a host holds with the gated image.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { compareHeld, expectedOf, inspectScript, parseInspect } from '../../src/hosts/inspect.js';
import { HostError, runOnHost, sshArgs } from '../../src/hosts/ssh.js';
import { imageHosts, sshSettings } from '../../src/hosts/targets.js';
import { readDeployPlanAndConfig } from '../../src/kamal/index.js';
import type { ResolvedImage } from '../../src/types.js';
import { project } from '../kamal/helpers.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

const DEPLOY = `service: app
image: acme/app
registry:
  server: 127.0.0.1:5000
  username: u
  password: p
builder:
  arch: amd64
servers:
  web:
    - web1
    - web2: [eu]
  job:
    hosts:
      - job1
ssh:
  user: deploy
  port: 2222
  proxy: bastion.example.com
  keys: [~/.ssh/deploy_ed25519]
  keys_only: true
accessories:
  db:
    image: postgres:16
    host: db1
  cache:
    image: valkey/valkey:8
    roles: [job]
`;

async function load(env: NodeJS.ProcessEnv = {}, destination?: string, extra: Record<string, string> = {}) {
  const dir = project({ 'config/deploy.yml': DEPLOY, ...extra });
  const { plan, config } = await readDeployPlanAndConfig({ cwd: dir, version: 'v1', env, ...(destination ? { destination } : {}) });
  return { plan, config, hosts: imageHosts(config.configuration, plan.targets, env) };
}

describe('which hosts hold which image', () => {
  it('the app image on every role host, accessories on theirs; not the latest alias or the proxy', async () => {
    const { hosts } = await load();
    expect(hosts.map((h) => [h.target.ref, h.hosts])).toEqual([
      ['127.0.0.1:5000/acme/app:v1', ['web1', 'web2', 'job1']],
      ['postgres:16', ['db1']],
      ['valkey/valkey:8', ['job1']],
    ]);
  });

  it('inside a hook: exactly the hosts and roles Kamal passes', async () => {
    const { hosts } = await load({ KAMAL_HOSTS: 'web2,job1', KAMAL_ROLES: 'web' });
    expect(hosts.map((h) => [h.target.ref, h.hosts])).toEqual([
      ['127.0.0.1:5000/acme/app:v1', ['web2']],
      ['postgres:16', []],
      ['valkey/valkey:8', ['job1']],
    ]);
  });

  it('a destination overlay decides the hosts', async () => {
    const { hosts } = await load({}, 'eu', { 'config/deploy.eu.yml': 'servers:\n  web:\n    - eu1\n' });
    expect(hosts[0]!.hosts).toEqual(['eu1', 'job1']);
  });
});

describe("Kamal's ssh settings as ssh arguments", () => {
  it('user, port, jump host (root@ by default), keys, keys_only; BatchMode always; the host after --', async () => {
    const { config } = await load();
    const s = sshSettings(config.configuration);
    expect(s).toEqual({ user: 'deploy', port: 2222, jump: 'root@bastion.example.com', keys: ['~/.ssh/deploy_ed25519'], keysOnly: true });
    const args = sshArgs('web1', s, 20_000);
    expect(args).toEqual([
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=20',
      '-o',
      'LogLevel=ERROR',
      '-l',
      'deploy',
      '-p',
      '2222',
      '-i',
      '~/.ssh/deploy_ed25519',
      '-o',
      'IdentitiesOnly=yes',
      '-J',
      'root@bastion.example.com',
      '--',
      'web1',
    ]);
    expect(sshArgs('h', { user: 'root', keys: [], keysOnly: false, configFile: '/x/ssh_config', proxyCommand: 'nc %h %p' }, 5000)).toEqual(
      expect.arrayContaining(['-F', '/x/ssh_config', '-o', 'ProxyCommand=nc %h %p']),
    );
  });

  it('refuses a user, host or jump host ssh could misread', () => {
    const ok = { user: 'root', keys: [], keysOnly: false };
    for (const user of ['-oProxyCommand=touch /tmp/x', 'a;b', '$(id)', 'a b', "x'"]) expect(() => sshArgs('h', { ...ok, user }, 1000)).toThrow(ConfigError);
    for (const host of ['-oProxyCommand=x', 'a b', 'a;b', '$(id)', '']) expect(() => sshArgs(host, ok, 1000)).toThrow(ConfigError);
    expect(() => sshArgs('h', { ...ok, jump: 'root@-oProxyCommand=x' }, 1000)).toThrow(ConfigError);
  });
});

describe('the remote inspect script and its answers', () => {
  it('quotes every reference and marks each answer with its exit code', () => {
    const script = inspectScript(['127.0.0.1:5000/app:v1', "x'; touch /tmp/pwned; '"]);
    expect(script).toContain("-- '127.0.0.1:5000/app:v1' 2>&1;");
    expect(script).toContain(`-- 'x'\\''; touch /tmp/pwned; '\\''' 2>&1;`);
    expect(() => inspectScript(['a\nb'])).toThrow(ConfigError);
  });

  it('reads present, missing and failed answers in order; an early end is an error', () => {
    const out = [
      JSON.stringify({ Id: D('a'), RepoDigests: [`127.0.0.1:5000/app@${D('b')}`] }),
      '',
      '@@kamal-gate-inspect-end 0',
      'Error: No such image: postgres:16',
      '',
      '@@kamal-gate-inspect-end 1',
      'permission denied while trying to connect to the Docker daemon socket',
      '@@kamal-gate-inspect-end 1',
      '',
    ].join('\n');
    const held = parseInspect('web1', ['127.0.0.1:5000/app:v1', 'postgres:16', 'redis:7', 'x:1'], out);
    expect(held[0]).toEqual({ ref: '127.0.0.1:5000/app:v1', state: 'present', id: D('a'), repoDigests: [`127.0.0.1:5000/app@${D('b')}`] });
    expect(held[1]).toEqual({ ref: 'postgres:16', state: 'missing' });
    expect(held[2]).toMatchObject({ state: 'error', message: expect.stringContaining('web1: docker image inspect redis:7 failed (exit 1): permission denied') });
    expect(held[3]).toMatchObject({ state: 'error', message: expect.stringContaining('no answer') });
  });
});

describe('what a host holds against the gated image', () => {
  const image = expectedOf({
    registry: '127.0.0.1:5000',
    repository: 'app',
    digest: D('1'),
    platformDigest: D('2'),
    platformDigests: { 'linux/amd64': D('2') },
    config: { digest: D('3'), labels: {} },
  } as unknown as ResolvedImage);
  const held = (id: string, repoDigests: string[]) => ({ ref: '127.0.0.1:5000/app:v1', state: 'present' as const, id, repoDigests });

  it('passes with the gated digest named and the config digest (classic) or manifest digest (containerd) as Id', () => {
    expect(compareHeld(held(D('3'), [`127.0.0.1:5000/app@${D('1')}`]), image).ok).toBe(true);
    expect(compareHeld(held(D('2'), [`127.0.0.1:5000/app@${D('1')}`]), image).ok).toBe(true);
  });

  it('fails a re-pointed tag, a digest of another repository, and another digest', () => {
    expect(compareHeld(held(D('9'), [`127.0.0.1:5000/app@${D('1')}`]), image)).toMatchObject({ ok: false, digestNamed: true, idMatches: false });
    expect(compareHeld(held(D('3'), [`127.0.0.1:5000/other@${D('1')}`]), image)).toMatchObject({ ok: false, digestNamed: false, repoDigests: [] });
    expect(compareHeld(held(D('3'), [`127.0.0.1:5000/app@${D('8')}`]), image)).toMatchObject({ ok: false, repoDigests: [D('8')] });
  });
});

describe('one ssh session per host, with a deadline', () => {
  const fake = (body: string): string => {
    const file = join(mkdtempSync(join(tmpdir(), 'kg-fake-ssh-')), 'ssh');
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const settings = { user: 'root', keys: [], keysOnly: false };

  it('a host that does not answer within the deadline is a HostError naming it', async () => {
    const started = Date.now();
    const e = await runOnHost('slow1', 'true', settings, { ssh: fake('exec sleep 30'), timeoutMs: 300 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostError);
    expect((e as HostError).message).toMatch(/^slow1: no answer over SSH within/);
    expect((e as HostError).exitCode).toBe(3);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("ssh's own failure (exit 255) is a HostError with its message; the script's exit code is the script's", async () => {
    const refused = await runOnHost('web9', 'true', settings, { ssh: fake('echo "ssh: connect to host web9 port 22: Connection refused" >&2; exit 255') }).catch((x: unknown) => x);
    expect((refused as HostError).message).toMatch(/^web9: could not connect over SSH as root: ssh: connect to host web9 port 22: Connection refused/);
    // The script arrives as one argument, after the destination.
    const echo = await runOnHost('web1', "echo 'a b'", settings, { ssh: fake('for a in "$@"; do printf "[%s]" "$a"; done; exit 7') });
    expect(echo.code).toBe(7);
    expect(echo.stdout).toMatch(/\[--\]\[web1\]\[echo 'a b'\]$/);
  });
});
