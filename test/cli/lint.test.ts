/**
 * `kamal-gate lint` as a user runs it: the built CLI on a Kamal app in a temp folder that is a real
 * git repository with a tracked `.kamal/secrets` holding a literal value.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { sarifValidator } from '../report/sarif-schema.js';

const DEPLOY = `service: shop
image: acme/shop
servers:
  web:
    hosts: [10.0.0.1]
    options:
      privileged: true
registry:
  server: 127.0.0.1:1
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
env:
  clear:
    RAILS_ENV: production
builder:
  arch: amd64
accessories:
  agent:
    image: 127.0.0.1:1/acme/agent:2.1
    host: 10.0.0.2
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
`;

const LITERAL = 'tracked-literal-registry-password';

function write(dir: string, files: Record<string, string>) {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

function git(cwd: string, ...args: string[]) {
  execFileSync('git', args, { cwd, stdio: 'ignore' });
}

function app(files: Record<string, string>, opts: { git: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kg-lint-'));
  write(dir, files);
  if (opts.git) {
    git(dir, 'init', '-q');
    git(dir, 'add', '--', ...Object.keys(files));
  }
  return dir;
}

/** Outside any git repository, whatever folder the temp dir is in. */
const noGit = (dir: string) => ({ GIT_CEILING_DIRECTORIES: join(dir, '..') });

describe('kamal-gate lint', () => {
  let dir: string;
  beforeAll(() => {
    dir = app({ 'config/deploy.yml': DEPLOY, '.kamal/secrets': `KAMAL_REGISTRY_PASSWORD=${LITERAL}\nRAILS_MASTER_KEY=$RAILS_MASTER_KEY\n` }, { git: true });
  });

  it('text: every finding at its file:line with the fix; critical findings fail at the default --fail-on high, so exit 1', async () => {
    const r = await runCli(['lint'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('config/deploy.yml:7: FAIL critical config.privileged: servers.web.options.privileged');
    expect(r.stdout).toContain('config/deploy.yml:23: FAIL critical config.docker_socket: accessories.agent.volumes');
    expect(r.stdout).toContain('.kamal/secrets:1: FAIL critical config.secrets_tracked: .kamal/secrets is tracked by git and sets KAMAL_REGISTRY_PASSWORD to a literal value');
    expect(r.stdout).toContain('config/deploy.yml:20: WARN medium config.accessory_unpinned');
    expect(r.stdout).toMatch(/fix: remove the mount/);
    expect(r.stdout).not.toContain('RAILS_MASTER_KEY to a literal');
    expect(r.stdout).not.toContain(LITERAL);
    expect(r.stdout).toMatch(/kamal-gate lint FAILED: 4 findings, 3 failing, 1 warning in config\/deploy\.yml \(policy .*; --fail-on high: high or worse fails\)/);
    // --fail-on none: the baseline policy only warns, so exit 0
    const none = await runCli(['lint', '--fail-on', 'none'], { cwd: dir });
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('config/deploy.yml:7: WARN critical config.privileged');
    expect(none.stdout).toMatch(/kamal-gate lint passed: 4 findings, 4 warnings in config\/deploy\.yml/);
  });

  it('json: findings with rule, severity, verdict, source and the image they concern', async () => {
    const r = await runCli(['lint', '--format', 'json'], { cwd: dir });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as {
      schema: string;
      exitCode: number;
      failOn: string;
      findings: Array<{ rule: string; source: { file: string; line: number }; mode: string; fails: boolean; remedy: string; image: { role: string; name: string } }>;
    };
    expect(doc.schema).toBe('kamal-gate/lint/v1');
    const by = Object.fromEntries(doc.findings.map((f) => [f.rule, f]));
    expect(Object.keys(by).sort()).toEqual(['config.accessory_unpinned', 'config.docker_socket', 'config.privileged', 'config.secrets_tracked']);
    expect(by['config.docker_socket']!.source).toMatchObject({ file: 'config/deploy.yml', line: 23 });
    expect(by['config.docker_socket']!.image).toMatchObject({ role: 'accessory', name: 'agent' });
    expect(by['config.secrets_tracked']!.source).toMatchObject({ file: '.kamal/secrets', line: 1 });
    expect(by['config.privileged']!.mode).toBe('warn');
    // the policy only warns; --fail-on high (the default) fails it
    expect(by['config.privileged']!.fails).toBe(true);
    expect(by['config.accessory_unpinned']!.fails).toBe(false);
    expect(doc).toMatchObject({ failOn: 'high', exitCode: 1 });
    expect(r.stdout).not.toContain(LITERAL);
  });

  it('sarif: a valid log whose results carry the file and line', async () => {
    const r = await runCli(['lint', '--format', 'sarif'], { cwd: dir });
    expect(r.code).toBe(1);
    const log = JSON.parse(r.stdout) as {
      runs: Array<{ results: Array<{ ruleId: string; level: string; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }> }> }>;
    };
    const validate = sarifValidator();
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const at = log.runs[0]!.results.map((x) => `${x.ruleId} ${x.locations[0]!.physicalLocation.artifactLocation.uri}:${x.locations[0]!.physicalLocation.region.startLine} ${x.level}`);
    expect(at.sort()).toEqual([
      'config.accessory_unpinned config/deploy.yml:20 warning',
      'config.docker_socket config/deploy.yml:23 error',
      'config.privileged config/deploy.yml:7 error',
      'config.secrets_tracked .kamal/secrets:1 error',
    ]);
  });

  it('github: workflow commands at file and line, and a lint summary', async () => {
    const r = await runCli(['lint', '--format', 'github'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error file=.kamal/secrets,line=1,title=config.secrets_tracked::');
    expect(r.stdout).toMatch(/::error file=config\/deploy\.yml,line=23,col=\d+,title=config.docker_socket::/);
    expect(r.stdout).toMatch(/::warning file=config\/deploy\.yml,line=20,col=\d+,title=config.accessory_unpinned::/);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^kamal-gate lint FAILED: 4 findings, 3 failing/);
  });

  it('exits 1 when the policy enforces config lint, and 0 again when the failing rules are ignored', async () => {
    write(dir, { 'strict.yml': 'version: 1\ndefaults:\n  config:\n    mode: enforce\n' });
    const r = await runCli(['lint', '--policy', 'strict.yml', '--fail-on', 'none'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL critical config.docker_socket');
    expect(r.stdout).toMatch(/kamal-gate lint FAILED: 4 findings, 4 failing .*--fail-on none: only the policy's enforced rules fail/);
    write(dir, { 'ignore.yml': 'version: 1\ndefaults:\n  config:\n    mode: enforce\n    ignore: [config.*]\n' });
    const ok = await runCli(['lint', '--policy', 'ignore.yml'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/kamal-gate lint passed: 0 findings/);
  });

  it('an app in a subfolder of its repository: tracked secrets are named relative to the app', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'kg-lint-mono-'));
    write(repo, { 'apps/shop/config/deploy.yml': DEPLOY, 'apps/shop/.kamal/secrets': `KAMAL_REGISTRY_PASSWORD=${LITERAL}\n`, '.env': `TOKEN=${LITERAL}\n` });
    git(repo, 'init', '-q');
    git(repo, 'add', '--', '.');
    const r = await runCli(['lint', '--format', 'json'], { cwd: join(repo, 'apps', 'shop') });
    const tracked = (JSON.parse(r.stdout) as { findings: Array<{ rule: string; source?: { file: string } }> }).findings.filter((f) => f.rule === 'config.secrets_tracked');
    // Only the app's own files: the repository's .env above the app root is not the app's.
    expect(tracked.map((f) => f.source?.file)).toEqual(['.kamal/secrets']);
  });

  it('-d eu: only the secrets files Kamal reads for eu, and neither references nor values that are not secrets', async () => {
    const multi = app(
      {
        'config/deploy.yml': DEPLOY,
        'config/deploy.eu.yml': 'servers:\n  web:\n    hosts: [10.0.1.1]\n',
        '.kamal/secrets': `KAMAL_REGISTRY_PASSWORD=${LITERAL}\n`,
        '.kamal/secrets-common': 'REDIS_URL=redis://host.docker.internal:6379/0\nDATABASE_URL=postgres://app:${POSTGRES_PASSWORD}@db/app\nOP_ITEM="op://Vault/Item"\n',
        '.kamal/secrets.eu': `KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\nDATABASE_URL=postgres://tf2@host/db\nDB_PASSWORD=${LITERAL}\nREPLICA_URL=postgres://app:s3cr3t@replica/app\n`,
        '.kamal/secrets.us': `KAMAL_REGISTRY_PASSWORD=${LITERAL}\n`,
      },
      { git: true },
    );
    const tracked = async (args: string[]) => {
      const r = await runCli(['lint', ...args, '--format', 'json'], { cwd: multi });
      expect(r.code).toBe(1); // critical findings, --fail-on high
      expect(r.stdout).not.toContain(LITERAL);
      expect(r.stdout).not.toContain('s3cr3t');
      const findings = (JSON.parse(r.stdout) as { findings: Array<{ rule: string; severity: string; source?: { file: string; line: number } }> }).findings;
      return findings.filter((f) => f.rule === 'config.secrets_tracked').map((f) => `${f.source?.file}:${f.source?.line} ${f.severity}`);
    };
    expect((await tracked(['-d', 'eu'])).sort()).toEqual(['.kamal/secrets.eu:3 critical', '.kamal/secrets.eu:4 critical']);
    expect(await tracked([])).toEqual(['.kamal/secrets:1 critical']);
  });

  it('outside a git repository: tracked files are skipped with a note', async () => {
    const plain = app({ 'config/deploy.yml': DEPLOY, '.kamal/secrets': `KAMAL_REGISTRY_PASSWORD=${LITERAL}\n` }, { git: false });
    const r = await runCli(['lint', '--fail-on', 'none'], { cwd: plain, env: noGit(plain) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('note: secrets files tracked by git: not a git repository: skipped');
    expect(r.stdout).not.toContain('config.secrets_tracked');
  });

  it('a config error is exit 2 with the file and line, no stack trace', async () => {
    const bad = app({ 'config/deploy.yml': 'service: shop\nimage: [oops\n' }, { git: false });
    const r = await runCli(['lint'], { cwd: bad, env: noGit(bad) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config\/deploy\.yml:\d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('verify reports the same findings, under the policy', async () => {
    // Nothing listens on 127.0.0.1:1: the images cannot be resolved (exit 3), but the config findings are reported.
    const r = await runCli(['verify', '--format', 'json', '--no-ledger', '--version', 'v1', '--timeout', '2'], { cwd: dir });
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout) as { images: Array<{ role: string; name: string; findings?: Array<{ rule: string; source?: { line: number } }> }> };
    const rules = doc.images.flatMap((i) => (i.findings ?? []).map((f) => `${i.role}:${f.rule}:${f.source?.line}`));
    expect(rules.sort()).toEqual(['accessory:config.accessory_unpinned:20', 'accessory:config.docker_socket:23', 'app:config.privileged:7', 'app:config.secrets_tracked:1']);
  });
});
