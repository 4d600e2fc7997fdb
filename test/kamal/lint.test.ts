import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { configChecks } from '../../src/checks/config.js';
import { loadConfig, readDeployPlan } from '../../src/kamal/index.js';
import { lintApp, lintConfig } from '../../src/kamal/lint/index.js';
import { secretValueKind } from '../../src/kamal/lint/secret-values.js';
import { isLiteralDotenvValue } from '../../src/kamal/lint/tracked-secrets.js';
import { parsePolicy } from '../../src/policy/parse.js';
import type { Finding } from '../../src/types.js';
import { LINT_HEAD as HEAD, LINT_REGISTRY as REGISTRY, project } from './helpers.js';

async function load(yaml: string, files: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) {
  const cwd = project({ 'config/deploy.yml': yaml, ...files });
  const config = await loadConfig({ cwd, env });
  const plan = await readDeployPlan({ cwd, env, version: 'v1' });
  return { cwd, config, plan };
}

/** Findings of the config tree alone. */
async function lint(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<Finding[]> {
  const { config, plan } = await load(yaml, {}, env);
  return lintConfig({ root: config.root, targets: plan.targets });
}

function where(findings: Finding[], rule: string): Array<string> {
  return findings.filter((f) => f.rule === rule).map((f) => `${f.source!.file}:${f.source!.line}`);
}

describe('config.docker_socket', () => {
  it('finds the socket in accessory volumes, root volumes and role options, at their lines', async () => {
    const f = await lint(`${HEAD}volumes:
  - "data:/data"
  - /var/run/docker.sock:/var/run/docker.sock
accessories:
  agent:
    image: acme/agent:1@sha256:${'a'.repeat(64)}
    host: 10.0.0.2
    volumes:
      - /run/docker.sock:/var/run/docker.sock:ro
      - /srv/agent:/data
${REGISTRY}`);
    expect(where(f, 'config.docker_socket')).toEqual(['config/deploy.yml:9', 'config/deploy.yml:15']);
    const agent = f.find((x) => x.rule === 'config.docker_socket' && x.source!.line === 15)!;
    expect(agent.target.role).toBe('accessory');
    expect(agent.target.name).toBe('agent');
    expect(agent.severity).toBe('critical');
    expect(agent.remedy).toMatch(/socket proxy/);
  });

  it('finds it in options volume and mount, and not in ordinary volumes', async () => {
    const f = await lint(`service: shop
image: acme/shop
servers:
  web:
    hosts: [10.0.0.1]
    options:
      volume: /var/run/docker.sock:/var/run/docker.sock
  job:
    hosts: [10.0.0.2]
    options:
      mount: type=bind,source=/var/run/docker.sock,target=/docker.sock
  other:
    hosts: [10.0.0.3]
    options:
      volume: /var/run/app:/var/run/app
builder:
  arch: amd64
volumes:
  - /var/lib/docker.socks:/x
  - storage:/rails/storage
${REGISTRY}`);
    expect(where(f, 'config.docker_socket')).toEqual(['config/deploy.yml:7', 'config/deploy.yml:11']);
  });
});

describe('config.privileged', () => {
  it('finds privileged, dangerous and plain cap-add, devices, unconfined profiles and host namespaces', async () => {
    const f = await lint(`service: shop
image: acme/shop
servers:
  web:
    hosts: [10.0.0.1]
    options:
      privileged: true
      cap-add: [SYS_ADMIN]
      memory: 512m
  job:
    hosts: [10.0.0.2]
    options:
      cap-add: CHOWN
      device: /dev/fuse
      security-opt: seccomp=unconfined
      pid: host
builder:
  arch: amd64
accessories:
  db:
    image: postgres:16@sha256:${'b'.repeat(64)}
    host: 10.0.0.3
    options:
      "--privileged": true
${REGISTRY}`);
    const found = f.filter((x) => x.rule === 'config.privileged').map((x) => [x.source!.line, x.severity]);
    expect(found).toEqual([
      [7, 'critical'],
      [8, 'high'],
      [13, 'medium'],
      [14, 'medium'],
      [15, 'high'],
      [16, 'high'],
      [24, 'critical'],
    ]);
    expect(f.find((x) => x.source!.line === 24)!.target.name).toBe('db');
  });

  it('leaves privileged: false and ordinary options alone', async () => {
    const f = await lint(`service: shop
image: acme/shop
servers:
  web:
    hosts: [10.0.0.1]
    options:
      privileged: false
      memory: 1g
      network: app-net
      security-opt: no-new-privileges
builder:
  arch: amd64
${REGISTRY}`);
    expect(f.filter((x) => x.rule === 'config.privileged')).toEqual([]);
  });
});

describe('config.secret_in_clear_env', () => {
  it('finds secret names and secret-looking values in env.clear, role env and accessory env, never quoting the value', async () => {
    const token = `ghp_${'Ab1'.repeat(12)}`;
    const f = await lint(`${HEAD}env:
  clear:
    RAILS_ENV: production
    DATABASE_PASSWORD: pa55word-here
    UPSTREAM: ${token}
    PUBLIC_KEY_ID: abc
    SOLID_QUEUE_IN_PUMA: true
    STRIPE_SECRET: ""
accessories:
  db:
    image: postgres:16@sha256:${'c'.repeat(64)}
    host: 10.0.0.3
    env:
      POSTGRES_PASSWORD: plain-text-password
      POSTGRES_DB: shop
${REGISTRY}`);
    expect(where(f, 'config.secret_in_clear_env')).toEqual(['config/deploy.yml:10', 'config/deploy.yml:11', 'config/deploy.yml:20']);
    for (const x of f) {
      expect(x.message).not.toContain('pa55word-here');
      expect(x.message).not.toContain(token);
      expect(JSON.stringify(x.evidence)).not.toContain(token);
    }
    expect(f.find((x) => x.source!.line === 11)!.message).toMatch(/GitHub token/);
  });

  it('does not flag an ERB ENV lookup (the value is not written in the file) or env.secret', async () => {
    const f = await lint(
      `${HEAD}env:
  clear:
    API_TOKEN: <%= ENV["API_TOKEN"] %>
  secret:
    - RAILS_MASTER_KEY
${REGISTRY}`,
      { API_TOKEN: 'from-the-environment-123' },
    );
    expect(where(f, 'config.secret_in_clear_env')).toEqual([]);
  });

  it('recognises token formats and high-entropy strings, not words', () => {
    expect(secretValueKind('AKIAIOSFODNN7EXAMPLE')).toBe('an AWS access key id');
    expect(secretValueKind(`sk_live_${'x9Y'.repeat(8)}`)).toBe('a Stripe secret key');
    expect(secretValueKind('postgres://app:hunter22@db/app')).toBe('a URL with a password');
    expect(secretValueKind('Zq3vT9pLm2Xw8RbN4cYk7HsJ1dGf6')).toBe('a high-entropy string');
    expect(secretValueKind('production')).toBeUndefined();
    expect(secretValueKind('https://example.com/some/long/path/name')).toBeUndefined();
  });
});

describe('config.literal_registry_password', () => {
  it('finds a password written in registry and in an accessory registry', async () => {
    const f = await lint(`${HEAD}registry:
  server: ghcr.io
  username: acme
  password: written-here-123
accessories:
  beamer:
    image: acme/beamer:1@sha256:${'d'.repeat(64)}
    host: 10.0.0.2
    registry:
      server: registry.example.com
      username: bot
      password: also-written
`);
    expect(where(f, 'config.literal_registry_password')).toEqual(['config/deploy.yml:10', 'config/deploy.yml:18']);
    expect(f.every((x) => !x.message.includes('written-here-123') && !x.message.includes('also-written'))).toBe(true);
  });

  it('accepts a secret name and an ERB ENV lookup', async () => {
    expect(where(await lint(`${HEAD}registry:\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\n`), 'config.literal_registry_password')).toEqual([]);
    const erb = await lint(`${HEAD}registry:\n  username: acme\n  password: <%= ENV["REGISTRY_TOKEN"] %>\n`, { REGISTRY_TOKEN: 'tok-123456' });
    expect(where(erb, 'config.literal_registry_password')).toEqual([]);
  });
});

describe('config.ssh_host_key_unchecked', () => {
  it('finds StrictHostKeyChecking=no in proxy_command and in the ssh.config file', async () => {
    const { cwd, config, plan } = await load(
      `${HEAD}ssh:
  config: config/ssh_config
  proxy_command: "ssh -o StrictHostKeyChecking=no -W %h:%p bastion"
${REGISTRY}`,
      { 'config/ssh_config': 'Host *\n  User deploy\n  UserKnownHostsFile /dev/null\n  # StrictHostKeyChecking no\n' },
    );
    const { findings } = await lintApp({ root: config.root, targets: plan.targets, appRoot: cwd, cwd, env: {} });
    expect(where(findings, 'config.ssh_host_key_unchecked')).toEqual(['config/deploy.yml:9', 'config/ssh_config:3']);
  });

  it('accepts host key checking left on', async () => {
    const { cwd, config, plan } = await load(
      `${HEAD}ssh:
  config: config/ssh_config
  proxy_command: "ssh -o StrictHostKeyChecking=yes -W %h:%p bastion"
${REGISTRY}`,
      { 'config/ssh_config': 'Host *\n  StrictHostKeyChecking accept-new\n' },
    );
    const { findings } = await lintApp({ root: config.root, targets: plan.targets, appRoot: cwd, cwd, env: {} });
    expect(where(findings, 'config.ssh_host_key_unchecked')).toEqual([]);
  });
});

describe('config.literal_ssh_key', () => {
  it('finds a private key written in ssh.key_data, not a secret name', async () => {
    const f = await lint(`${HEAD}ssh:
  key_data:
    - SSH_PRIVATE_KEY
    - "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----"
${REGISTRY}`);
    expect(where(f, 'config.literal_ssh_key')).toEqual(['config/deploy.yml:10']);
    expect(f[0]!.message).not.toContain('b3BlbnNzaC1rZXktdjEAAAAA');
  });
});

describe('config.image_latest and config.accessory_unpinned', () => {
  it('flags latest and untagged accessories, tags without digests, and not pinned ones', async () => {
    const f = await lint(`${HEAD}accessories:
  cache:
    image: redis
    host: 10.0.0.2
  queue:
    image: rabbitmq:latest
    host: 10.0.0.2
  db:
    image: postgres:16
    host: 10.0.0.2
  pinned:
    image: busybox:1.36@sha256:${'e'.repeat(64)}
    host: 10.0.0.2
${REGISTRY}`);
    expect(where(f, 'config.image_latest')).toEqual(['config/deploy.yml:9', 'config/deploy.yml:12']);
    expect(where(f, 'config.accessory_unpinned')).toEqual(['config/deploy.yml:15']);
    expect(f.find((x) => x.rule === 'config.accessory_unpinned')!.target.name).toBe('db');
  });

  it('flags a latest proxy run image', async () => {
    const f = await lint(`${HEAD}proxy:
  run:
    version: latest
${REGISTRY}`);
    expect(f.filter((x) => x.rule === 'config.image_latest').map((x) => x.target.role)).toEqual(['proxy']);
  });
});

describe('config.secrets_tracked', () => {
  function git(cwd: string, ...args: string[]) {
    execFileSync('git', args, {
      cwd,
      stdio: 'ignore',
      env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
    });
  }

  it('finds literal values in tracked .kamal/secrets* and .env files, not references or untracked files', async () => {
    const { cwd, config, plan } = await load(`${HEAD}${REGISTRY}`, {
      '.kamal/secrets': 'KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\nRAILS_MASTER_KEY=$(cat config/master.key)\nDB_PASSWORD=literal-db-password\n',
      '.kamal/secrets-common': '# shared\nSMTP_PASSWORD="$(op read op://x/y)"\nAPI_KEY=\'quoted-literal\'\n',
      '.env': 'RAILS_ENV=development\nSTRIPE_KEY=sk_live_abcdefghijklmnopqrstuvwx\n',
      '.env.example': 'STRIPE_KEY=sk_live_abcdefghijklmnopqrstuvwx\n',
      '.kamal/secrets.staging': 'TOKEN=untracked-literal\n',
    });
    git(cwd, 'init', '-q');
    git(cwd, 'add', 'config', '.kamal/secrets', '.kamal/secrets-common', '.env', '.env.example');
    const { findings, notes } = await lintApp({ root: config.root, targets: plan.targets, appRoot: cwd, cwd, env: process.env });
    expect(notes).toEqual([]);
    expect(where(findings, 'config.secrets_tracked').sort()).toEqual(['.env:2', '.kamal/secrets-common:3', '.kamal/secrets:3']);
    for (const f of findings) {
      expect(f.message).not.toMatch(/literal-db-password|quoted-literal|sk_live_/);
    }
  });

  it('says so, and finds nothing, outside a git repository', async () => {
    const { cwd, config, plan } = await load(`${HEAD}${REGISTRY}`, { '.kamal/secrets': 'DB_PASSWORD=literal\n' });
    const { findings, notes } = await lintApp({ root: config.root, targets: plan.targets, appRoot: cwd, cwd, env: { ...process.env, GIT_CEILING_DIRECTORIES: cwd.split('/').slice(0, -1).join('/') } });
    expect(where(findings, 'config.secrets_tracked')).toEqual([]);
    expect(notes).toEqual(['secrets files tracked by git: not a git repository: skipped']);
  });

  it('reads dotenv values as Kamal does', () => {
    expect(isLiteralDotenvValue('$FOO')).toBe(false);
    expect(isLiteralDotenvValue('${FOO}')).toBe(false);
    expect(isLiteralDotenvValue('$(kamal secrets extract X $(kamal secrets fetch --adapter op a))')).toBe(false);
    expect(isLiteralDotenvValue('"$FOO"')).toBe(false);
    expect(isLiteralDotenvValue("'$FOO'")).toBe(true); // single quotes: no expansion
    expect(isLiteralDotenvValue('abc$FOO')).toBe(true);
    expect(isLiteralDotenvValue('')).toBe(false);
  });
});

describe('the policy governs config findings', () => {
  it('drops findings in mode off and ignored rules, per image', async () => {
    const { config, plan } = await load(`${HEAD}accessories:
  db:
    image: postgres:16
    host: 10.0.0.2
  cache:
    image: redis
    host: 10.0.0.2
${REGISTRY}`);
    const findings = lintConfig({ root: config.root, targets: plan.targets });
    expect(findings.map((f) => f.rule).sort()).toEqual(['config.accessory_unpinned', 'config.image_latest']);
    const ignore = parsePolicy('version: 1\ndefaults:\n  config:\n    mode: enforce\n    ignore: [config.accessory_*]\n', 'p.yml');
    expect(configChecks(findings, ignore).map((f) => f.rule)).toEqual(['config.image_latest']);
    const off = parsePolicy('version: 1\nrules:\n  - name: acc\n    match:\n      roles: [accessory]\n    config:\n      mode: off\n', 'p.yml');
    expect(configChecks(findings, off)).toEqual([]);
  });
});
