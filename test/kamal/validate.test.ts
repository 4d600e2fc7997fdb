/**
 * Kamal 2's configuration validation (src/kamal/configuration/validator*.ts): every config under
 * fixtures/kamal/validate/refused is one Kamal 2.12 refuses, and every one under accepted/ one it
 * accepts. Each fixture's first line gives Kamal's own result (`# kamal: <message>` or `# kamal: OK`),
 * recorded by running Kamal 2.12's `Kamal::Configuration` on the file; `# <- refused` marks the line
 * kamal-gate must point at (none: the refusal names only the file).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/errors.js';
import { readDeployPlan } from '../../src/kamal/index.js';
import { runCli } from '../helpers/cli.js';
import { configError, fixture, project } from './helpers.js';

const cwd = fixture('validate');

interface Expectation {
  /** Kamal's message, or undefined when Kamal accepts the config. */
  kamal: string | undefined;
  /** The line kamal-gate names. */
  line: number | undefined;
}

function expectation(file: string): Expectation {
  const lines = readFileSync(path.join(cwd, file), 'utf8').split('\n');
  const header = /^# kamal: (.*)$/.exec(lines[0] ?? '');
  if (!header) throw new Error(`${file} has no "# kamal:" first line`);
  const marked = lines.findIndex((l) => l.includes('# <- refused'));
  return { kamal: header[1] === 'OK' ? undefined : header[1], line: marked >= 0 ? marked + 1 : undefined };
}

const fixtures = (dir: string): string[] =>
  readdirSync(path.join(cwd, dir))
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => `${dir}/${f}`);

const read = (configFile: string, dir = cwd) => readDeployPlan({ cwd: dir, configFile, version: 'v1', env: {} });

describe("configs Kamal 2 refuses: exit 2 with Kamal's message at the line", () => {
  const refused = fixtures('refused');

  it('has a fixture for every rule it tests', () => {
    expect(refused.length).toBeGreaterThanOrEqual(45);
  });

  it.each(refused)('%s', async (file) => {
    const { kamal, line } = expectation(file);
    expect(kamal).toBeDefined();
    const error = await configError(read(file));
    expect(error.exitCode).toBe(EXIT.usage);
    expect(error.file).toBe(file);
    expect(error.line).toBe(line);
    const start = `${file}${line ? `:${line}` : ''}: ${kamal} (Kamal refuses this config: `;
    expect(error.message.slice(0, start.length)).toBe(start);
  });
});

describe('the nearest configs Kamal 2 accepts: they load', () => {
  it.each(fixtures('accepted'))('%s', async (file) => {
    expect(expectation(file).kamal).toBeUndefined();
    const plan = await read(file);
    expect(plan.service).toBe('app');
  });
});

describe('what the refusal says to do', () => {
  it('names where Kamal 2 moved a Kamal 1 block', async () => {
    const traefik = await configError(read('refused/kamal1-traefik.yml'));
    expect(traefik.message).toContain('Kamal 2 runs kamal-proxy, configured under proxy:');
    const healthcheck = await configError(read('refused/kamal1-healthcheck.yml'));
    expect(healthcheck.message).toContain('move it to proxy.healthcheck');
  });

  it('offers the x- prefix for an unknown top-level key, and names the section for a nested one', async () => {
    const dir = project({ 'config/deploy.yml': `${VALID}extra: 1\n` });
    expect((await configError(read('config/deploy.yml', dir))).message).toContain('prefix it with x-');
    const nested = await configError(read('refused/builder-multiarch.yml'));
    expect(nested.message).toContain('builder.arch');
  });

  it('says an empty value is empty', async () => {
    const error = await configError(read('refused/ssh-user-null.yml'));
    expect(error.message).toContain('ssh.user is empty; give it a string, or remove the key');
  });

  it('says what to add for a missing builder.arch', async () => {
    const error = await configError(read('refused/no-builder.yml'));
    expect(error.message).toBe('refused/no-builder.yml: builder: Builder arch not set (Kamal refuses this config: add builder.arch: amd64 (or arm64, or a list of both))');
  });
});

const VALID = 'service: app\nimage: acme/app\nservers:\n  - 192.0.2.10\nregistry:\n  username: acme\n  password: example-password\nbuilder:\n  arch: amd64\n';

describe('rules that read beyond one file', () => {
  it('points into the destination overlay that wrote the value', async () => {
    const dir = project({ 'config/deploy.yml': VALID, 'config/deploy.staging.yml': 'ssh:\n  user:\n' });
    await expect(read('config/deploy.yml', dir)).resolves.toMatchObject({ service: 'app' });
    const error = await configError(readDeployPlan({ cwd: dir, version: 'v1', env: {}, destination: 'staging' }));
    expect([error.file, error.line]).toEqual(['config/deploy.staging.yml', 2]);
    expect(error.message).toContain('ssh/user: should be a string');
  });

  it('refuses Kamal 1 traefik hooks left in hooks_path, relative to the working directory', async () => {
    const dir = project({ 'config/deploy.yml': VALID, '.kamal/hooks/pre-deploy': '#!/bin/sh\n' });
    await expect(read('config/deploy.yml', dir)).resolves.toMatchObject({ service: 'app' });
    writeFileSync(path.join(dir, '.kamal/hooks/post-traefik-reboot'), '#!/bin/sh\n');
    const error = await configError(read('config/deploy.yml', dir));
    expect(error.message).toContain('Found post-traefik-reboot, these should be renamed to (pre|post)-proxy-reboot');

    const custom = project({ 'config/deploy.yml': `${VALID}hooks_path: deploy/hooks\n`, '.kamal/hooks/pre-traefik-reboot': '' });
    await expect(read('config/deploy.yml', custom)).resolves.toMatchObject({ service: 'app' });
    mkdirSync(path.join(custom, 'deploy/hooks'), { recursive: true });
    writeFileSync(path.join(custom, 'deploy/hooks/pre-traefik-reboot'), '');
    expect((await configError(read('config/deploy.yml', custom))).line).toBe(10);
  });
});

describe('through the CLI', () => {
  it("targets exits 2 on a config Kamal refuses, naming file, line and Kamal's message; 0 on the nearest one it accepts", async () => {
    const refused = await runCli(['targets', '-c', 'refused/role-null.yml', '--version', 'v1'], { cwd });
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain('refused/role-null.yml:5: servers/web: should be an array or a hash (Kamal refuses this config: ');
    expect(refused.stdout).toBe('');
    const accepted = await runCli(['targets', '-c', 'accepted/role-list.yml', '--version', 'v1'], { cwd });
    expect([accepted.code, accepted.stderr]).toEqual([0, '']);
    expect(accepted.stdout).toContain('acme/app:v1');
  });
});
