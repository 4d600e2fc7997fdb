/**
 * `kamal-gate hook install|uninstall`, and the installed pre-deploy hook run exactly as Kamal runs it:
 * from the app folder, as `/usr/bin/env .kamal/hooks/pre-deploy`, with the environment Kamal gives
 * hooks (the whole parent environment plus KAMAL_VERSION, KAMAL_PERFORMER, KAMAL_HOSTS, …), against the
 * real registry and real hosts (sshd + dockerd on loopback, test/helpers/hosts.ts: the hook passes
 * --hosts, so the hosts must hold what the registry serves). A non-zero exit is what makes Kamal abort the deploy.
 * The hook finds kamal-gate through KAMAL_GATE_BIN, pointed here at the repo's built dist/cli.js.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { startHosts, tarLayer, type TestHosts } from '../helpers/hosts.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app');
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const LAYER = tarLayer({ app: 'the demo shop\n' });
const HOOK = join('.kamal', 'hooks', 'pre-deploy');

let reg: TestRegistry;
let hosts: TestHosts;
let builder: ImageBuilder;
let work: string;
let n = 0;

/** A fresh copy of the demo Kamal app, its hosts the test hosts (host1, host2) reached through their ssh_config. */
function newApp(): string {
  const app = join(work, `app-${++n}`);
  cpSync(FIXTURE, app, { recursive: true });
  const deploy = join(app, 'config', 'deploy.yml');
  const toTestHosts = (text: string): string => text.replaceAll('192.0.2.10', 'host1').replaceAll('192.0.2.11', 'host2').replaceAll('192.0.2.12', 'host1').replaceAll('192.0.2.20', 'host2');
  writeFileSync(deploy, `${toTestHosts(readFileSync(deploy, 'utf8'))}\nssh:\n  config: ${hosts.sshConfig}\n`);
  const staging = join(app, 'config', 'deploy.staging.yml');
  writeFileSync(staging, toTestHosts(readFileSync(staging, 'utf8')));
  return app;
}

/** Pulls `refs` (repository:tag in the test registry) on the hosts' engine, as Kamal's pull does before the hook. */
async function pull(...refs: string[]): Promise<void> {
  for (const ref of refs) {
    const r = await hosts.docker(1, ['pull', `${reg.host}/${ref}`]);
    expect(r.code, r.stderr).toBe(0);
  }
}

function baseEnv(app: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Kamal passes its whole environment on; a developer's own KAMAL_* must not leak into the test.
  for (const k of Object.keys(env)) if (k.startsWith('KAMAL_') || k === 'VERSION') delete env[k];
  return { ...env, DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(app, '.no-docker') };
}

/** Runs the hook as Kamal does: `/usr/bin/env .kamal/hooks/pre-deploy` from the app folder, with Kamal's hook environment. */
function runHook(app: string, version: string, opts: { destination?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(app),
    KAMAL_GATE_BIN: CLI,
    KAMAL_RECORDED_AT: new Date().toISOString(),
    KAMAL_PERFORMER: 'deployer@example.com',
    KAMAL_VERSION: version,
    KAMAL_SERVICE_VERSION: `shop@${version}`,
    KAMAL_SERVICE: 'shop',
    KAMAL_HOSTS: 'host1,host2',
    KAMAL_LOCK: 'true',
    KAMAL_COMMAND: 'deploy',
    ...(opts.destination ? { KAMAL_DESTINATION: opts.destination } : {}),
    ...opts.env,
  };
  return new Promise((done, reject) => {
    const child = spawn('/usr/bin/env', [HOOK], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

const install = (app: string, args: string[] = []) => runCli(['hook', 'install', ...args], { cwd: app, env: baseEnv(app) });
const uninstall = (app: string) => runCli(['hook', 'uninstall'], { cwd: app, env: baseEnv(app) });

beforeAll(async () => {
  [reg, hosts] = await Promise.all([startRegistry({ auth: 'htpasswd', users: { demo: 'demo-registry-password-42' } }), startHosts({ count: 2, engines: 1 })]);
  builder = new ImageBuilder(reg);
  await builder.pushImage('acme/shop', 'v1', { seed: 'shop-v1', platforms: [AMD64, ARM64], layers: [LAYER] });
  // Each image its own content: with one shared layer and config, two tags would be the same image.
  await builder.pushImage('library/postgres', '16.4', { seed: 'pg', layers: [tarLayer({ app: 'postgres\n' })] });
  await builder.pushImage('library/valkey', '8.0', { seed: 'valkey', platforms: [AMD64, ARM64], layers: [tarLayer({ app: 'valkey\n' })] });
  await builder.pushImage('library/valkey', '8.0-staging', { seed: 'valkey-staging', platforms: [AMD64, ARM64], layers: [tarLayer({ app: 'valkey staging\n' })] });
  const login = await hosts.docker(1, ['login', '-u', 'demo', '-p', 'demo-registry-password-42', reg.host]);
  expect(login.code, login.stderr).toBe(0);
  await pull('acme/shop:v1', 'library/postgres:16.4', 'library/valkey:8.0', 'library/valkey:8.0-staging');
  work = mkdtempSync(join(tmpdir(), 'kg-hook-'));
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await hosts?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('kamal-gate hook install', () => {
  it('writes an executable pre-deploy hook; twice changes nothing; uninstall removes the file it created', async () => {
    const app = newApp();
    const first = await install(app);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('installed .kamal/hooks/pre-deploy');
    const file = join(app, HOOK);
    expect(statSync(file).mode & 0o777).toBe(0o755);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('#!/bin/sh\n# >>> kamal-gate pre-deploy gate >>>\n')).toBe(true);
    expect(text).toContain('exec "$kamal_gate" verify --hosts --erb ruby --version "$KAMAL_VERSION" ${KAMAL_DESTINATION:+-d "$KAMAL_DESTINATION"}\n');
    expect(text.endsWith('# <<< kamal-gate pre-deploy gate <<<\n')).toBe(true);
    const second = await install(app);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('nothing changed');
    expect(readFileSync(file, 'utf8')).toBe(text);
    const un = await uninstall(app);
    expect(un.code).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect((await uninstall(app)).stdout).toContain('nothing to remove');
  });

  it('--command adds arguments; installing with other arguments updates the block in place', async () => {
    const app = newApp();
    await install(app, ['--command', '--no-ledger']);
    const file = join(app, HOOK);
    expect(readFileSync(file, 'utf8')).toContain('-d "$KAMAL_DESTINATION"} --no-ledger\n');
    const again = await install(app, ['--command', '--format json']);
    expect(again.stdout).toContain('updated');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('-d "$KAMAL_DESTINATION"} --format json\n');
    expect(text.match(/>>> kamal-gate/g)).toHaveLength(1);
    const r = await runHook(app, 'v1');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).versionSource).toBe('--version');
    expect((await install(app, ['--command', 'a\nb'])).code).toBe(2);
  });
});

describe('the installed hook, run as Kamal runs it', () => {
  it('lets a good image through (exit 0), with the version and destination from Kamal, recording the performer', async () => {
    const app = newApp();
    await install(app);
    const r = await runHook(app, 'v1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('config/deploy.yml, version v1 (from --version)');
    expect(r.stdout).toMatch(new RegExp(`${reg.host.replace(/\./g, '\\.')}/acme/shop@sha256:`));
    // KAMAL_PERFORMER is the ledger actor; the source is the hook (KAMAL_COMMAND is set)
    const ledger = readFileSync(join(app, '.kamal', 'image-ledger.jsonl'), 'utf8');
    expect(ledger).toContain('"actor":"deployer@example.com"');
    expect(ledger).toContain('"source":"hook"');
    const staging = await runHook(app, 'v1', { destination: 'staging' });
    expect(staging.code).toBe(0);
    expect(staging.stdout).toContain('(destination staging)');
    expect(staging.stdout).toContain('library/valkey:8.0-staging');
  });

  it('stops the deploy of an overwritten tag (non-zero exit)', async () => {
    const app = newApp();
    await install(app);
    await builder.pushImage('acme/shop', 'v2', { seed: 'shop-v2', platforms: [AMD64, ARM64], layers: [LAYER] });
    await pull('acme/shop:v2');
    const rec = await runCli(['record', '--version', 'v2'], { cwd: app, env: baseEnv(app) });
    expect(rec.code).toBe(0);
    expect((await runHook(app, 'v2')).code).toBe(0);
    await builder.pushImage('acme/shop', 'v2', { seed: 'shop-v2-evil', platforms: [AMD64, ARM64], layers: [LAYER] });
    const r = await runHook(app, 'v2');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL critical tag\.overwritten: .*acme\/shop:v2 now points to sha256:/);
  });

  it('stops the deploy when a host holds another image under the tag than the registry serves the gate', async () => {
    const app = newApp();
    await install(app);
    const tag = await hosts.docker(1, ['tag', `${reg.host}/library/postgres:16.4`, `${reg.host}/acme/shop:v1`]);
    expect(tag.code).toBe(0);
    try {
      const r = await runHook(app, 'v1');
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
      expect(r.stdout).toMatch(/FAIL critical host\.image_mismatch: host host1 holds another image under .*acme\/shop:v1/);
      expect(r.stdout).toMatch(/host2 +\S+acme\/shop:v1 +MISMATCH/);
    } finally {
      await hosts.docker(1, ['image', 'rm', `${reg.host}/acme/shop:v1`]);
      await pull('acme/shop:v1');
    }
    expect((await runHook(app, 'v1')).code).toBe(0);
  });

  it('fails closed when the version does not resolve, and when kamal-gate cannot be found', async () => {
    const app = newApp();
    await install(app);
    expect((await runHook(app, 'v404')).code).toBe(3);
    const missing = await runHook(app, 'v1', { env: { KAMAL_GATE_BIN: '', PATH: '/usr/bin:/bin' } });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('kamal-gate pre-deploy hook: kamal-gate not found');
    const noVersion = await runHook(app, '', {});
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toContain('KAMAL_VERSION is not set');
  });

  it('finds kamal-gate in ./node_modules/.bin without KAMAL_GATE_BIN', async () => {
    const app = newApp();
    await install(app);
    mkdirSync(join(app, 'node_modules', '.bin'), { recursive: true });
    const shim = join(app, 'node_modules', '.bin', 'kamal-gate');
    writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    const r = await runHook(app, 'v1', { env: { KAMAL_GATE_BIN: '' } });
    expect(r.code).toBe(0);
  });
});

describe('an existing hook is kept and chained', () => {
  const EXISTING = '#!/bin/sh\n# our own checks\necho "existing hook ran for $KAMAL_VERSION"\nexit 1\n';

  it('a failing existing hook still aborts when the gate passes; uninstall restores it byte for byte', async () => {
    const app = newApp();
    mkdirSync(join(app, '.kamal', 'hooks'), { recursive: true });
    const file = join(app, HOOK);
    writeFileSync(file, EXISTING, { mode: 0o750 });
    chmodSync(file, 0o750);
    const r1 = await install(app);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toContain('added kamal-gate to the existing');
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('#!/bin/sh\n# >>> kamal-gate pre-deploy gate >>>\n')).toBe(true);
    expect(text.endsWith('# <<< kamal-gate pre-deploy gate <<<\n# our own checks\necho "existing hook ran for $KAMAL_VERSION"\nexit 1\n')).toBe(true);
    expect((await install(app)).stdout).toContain('nothing changed');
    expect(readFileSync(file, 'utf8')).toBe(text);
    const r = await runHook(app, 'v1');
    expect(r.stdout).toMatch(/\d+ images? pinned/); // the gate ran and passed …
    expect(r.stdout).toContain('existing hook ran for v1'); // … then the existing hook, whose exit 1 aborts
    expect(r.code).toBe(1);
    await uninstall(app);
    expect(readFileSync(file, 'utf8')).toBe(EXISTING);
  });

  it('a gate failure aborts even when the existing hook would exit 0', async () => {
    const app = newApp();
    mkdirSync(join(app, '.kamal', 'hooks'), { recursive: true });
    const file = join(app, HOOK);
    writeFileSync(file, '#!/bin/bash\nset -e\necho existing-ran\nexit 0\n', { mode: 0o755 });
    await install(app);
    const r = await runHook(app, 'v404');
    expect(r.code).toBe(3);
    expect(r.stdout).not.toContain('existing-ran');
  });

  it('a hook in another language is moved aside unchanged and run after the gate; uninstall puts it back', async () => {
    const app = newApp();
    mkdirSync(join(app, '.kamal', 'hooks'), { recursive: true });
    const file = join(app, HOOK);
    const script = `#!/usr/bin/env node\nconsole.log('node hook ran for ' + process.env.KAMAL_VERSION);\nprocess.exit(process.env.KAMAL_VERSION === 'v1' ? 0 : 5);\n`;
    writeFileSync(file, script, { mode: 0o755 });
    const r1 = await install(app);
    expect(r1.stdout).toContain('not a shell script');
    expect(readFileSync(`${file}.kamal-gate-original`, 'utf8')).toBe(script);
    const text = readFileSync(file, 'utf8');
    expect((await install(app)).stdout).toContain('nothing changed');
    expect(readFileSync(file, 'utf8')).toBe(text);
    const ok = await runHook(app, 'v1');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('node hook ran for v1');
    expect((await runHook(app, 'v404')).stdout).not.toContain('node hook ran');
    await uninstall(app);
    expect(readFileSync(file, 'utf8')).toBe(script);
    expect(statSync(file).mode & 0o777).toBe(0o755);
    expect(existsSync(`${file}.kamal-gate-original`)).toBe(false);
  });
});
