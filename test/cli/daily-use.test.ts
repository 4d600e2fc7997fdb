/**
 * Daily use (issue 17), through the real CLI against the real registry (htpasswd auth): output into a
 * closed pipe (`… | head`) ends quietly with the command's own exit code; `drift --quiet` prints
 * nothing when all is well; `lint` fails on findings at or above `--fail-on`; a registry password
 * secret that is not set is named as the cause in every format and in drift; refs given inside a
 * Kamal app use the config's registry credentials.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const PASSWORD = 'Daily-Use-Registry-Pass-31';
/** What a refused request says when the secret the config names is not in the environment. */
const CAUSE = 'registry.password names the secret KAMAL_REGISTRY_PASSWORD, which is empty in .kamal/secrets:1 because $KAMAL_REGISTRY_PASSWORD is not set in the environment';
const GENERIC = 'set registry.username/password in the Kamal config';

let reg: TestRegistry;
let work: string;
let app: string;
let noDocker: string;

function write(dir: string, files: Record<string, string>): string {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

function deployYml(extra = ''): string {
  return `service: shop
image: acme/shop
servers:
  web:
    hosts: [10.0.0.1]${extra}
registry:
  server: ${reg.host}
  username: demo
  password:
    - KAMAL_REGISTRY_PASSWORD
builder:
  arch: amd64
`;
}

/** The environment of a run: no Docker login, and the registry password set or not. */
const env = (password: boolean): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: noDocker, KAMAL_REGISTRY_PASSWORD: password ? PASSWORD : undefined });
const run = (args: string[], opts: { cwd?: string; password?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> =>
  runCli(args, { cwd: opts.cwd ?? app, env: { ...env(opts.password ?? true), ...opts.env } });

beforeAll(async () => {
  reg = await startRegistry({ auth: 'htpasswd', users: { demo: PASSWORD } });
  work = mkdtempSync(join(tmpdir(), 'kg-daily-'));
  noDocker = join(work, 'no-docker');
  mkdirSync(noDocker);
  const builder = new ImageBuilder(reg);
  for (const tag of ['v1', 'latest']) await builder.pushImage('acme/shop', tag, { seed: 'shop', created: '2026-01-01T00:00:00Z' });
  await builder.pushImage('acme/redis', '7', { seed: 'redis' });
  app = write(join(work, 'app'), { 'config/deploy.yml': deployYml(), '.kamal/secrets': 'KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\n' });
  const rec = await run(['record', '--version', 'v1']);
  expect(rec.code, rec.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The CLI as a process whose `closed` stream has no reader from the start (`kamal-gate … | head` once head is gone). */
function runIntoClosedPipe(args: string[], closed: 'stdout' | 'stderr', opts: { cwd?: string; password?: boolean } = {}): Promise<{ code: number | null; other: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? app, env: { ...process.env, ...env(opts.password ?? true) }, stdio: ['ignore', 'pipe', 'pipe'] });
    child[closed].destroy();
    let other = '';
    child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (d: Buffer) => (other += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, other }));
  });
}

describe('output into a closed pipe', () => {
  it('--help, help verify, ledger show and ledger export end quietly with exit 0', async () => {
    for (const args of [['--help'], ['help', 'verify'], ['ledger', 'show'], ['ledger', 'show', `${reg.host}/acme/shop:v1`], ['ledger', 'export']]) {
      const r = await runIntoClosedPipe(args, 'stdout');
      expect(r.other, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
    }
  });

  it("keeps the command's own exit code: 3 for an image that could not be verified, 2 for a config error with stderr closed", async () => {
    const missing = await runIntoClosedPipe(['verify', `${reg.host}/acme/shop:nope`, '--no-ledger'], 'stdout');
    expect(missing.other).not.toContain('EPIPE');
    expect(missing.code).toBe(3);
    const empty = mkdtempSync(join(work, 'empty-'));
    const bad = await runIntoClosedPipe(['verify'], 'stderr', { cwd: empty });
    expect(bad.code).toBe(2);
  });

  it('in a shell pipeline under pipefail (`| head -1`, `| true`): the output wanted, nothing on stderr, status 0', () => {
    const cli = `"${process.execPath}" "${CLI}"`;
    const script = `set -o pipefail; ${cli} --help | head -1; echo "help \${PIPESTATUS[0]}"; ${cli} ledger export | true; echo "export \${PIPESTATUS[0]}"; ${cli} ledger show | true; echo "show \${PIPESTATUS[0]}"`;
    const r = spawnSync('bash', ['-c', script], { cwd: app, env: { ...process.env, ...env(true) }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('Usage: kamal-gate [options] [command]\nhelp 0\nexport 0\nshow 0\n');
  });
});

describe('drift --quiet', () => {
  it('prints nothing at all when every tag is as approved, and the drift when one moved', async () => {
    const loud = await run(['drift']);
    expect(loud.code).toBe(0);
    expect(loud.stdout).toMatch(/1 tags? checked in .*: 1 unchanged/);
    const quiet = await run(['drift', '--quiet']);
    expect(quiet).toMatchObject({ code: 0, stdout: '', stderr: '' });
    // JSON is for machines: always written
    expect(JSON.parse((await run(['drift', '--quiet', '--format', 'json'])).stdout)).toMatchObject({ summary: { tags: 1, unchanged: 1 } });

    const other = join(work, 'moved');
    write(other, { 'config/deploy.yml': deployYml(), '.kamal/secrets': 'KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\n' });
    await new ImageBuilder(reg).pushImage('acme/moving', 'v1', { seed: 'before' });
    const ledger = join(other, 'ledger.jsonl');
    expect((await run(['record', `${reg.host}/acme/moving:v1`, '--ledger', ledger], { cwd: other })).code).toBe(0);
    await new ImageBuilder(reg).pushImage('acme/moving', 'v1', { seed: 'after' });
    const moved = await run(['drift', '--quiet', '--ledger', ledger], { cwd: other });
    expect(moved.code).toBe(1);
    expect(moved.stdout).toMatch(/OVERWRITTEN\s+\S+acme\/moving:v1/);
    expect(moved.stdout).toMatch(/1 tags? checked .*1 overwritten/);
  });

  it('prints the error when a tag could not be checked (exit 3), naming the missing secret', async () => {
    const r = await run(['drift', '--quiet'], { password: false });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(CAUSE);
    expect(r.stdout).not.toContain(GENERIC);
  });
});

describe('lint --fail-on', () => {
  const PRIVILEGED = '\n    options:\n      privileged: true';
  const ACCESSORY = `accessories:\n  cache:\n    image: ${'REG'}/acme/redis:7\n    host: 10.0.0.1\n`;
  let critical: string;
  let mediumOnly: string;
  beforeAll(() => {
    critical = write(join(work, 'lint-critical'), { 'config/deploy.yml': deployYml(PRIVILEGED) + ACCESSORY.replace('REG', reg.host) });
    mediumOnly = write(join(work, 'lint-medium'), { 'config/deploy.yml': deployYml() + ACCESSORY.replace('REG', reg.host) });
  });
  const lint = (cwd: string, ...args: string[]) => runCli(['lint', ...args], { cwd, env: { GIT_CEILING_DIRECTORIES: work } });

  it('a critical finding fails at the default (high) and at critical; --fail-on none leaves it to the policy (baseline warns)', async () => {
    const r = await lint(critical);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL critical config.privileged');
    expect(r.stdout).toContain('WARN medium config.accessory_unpinned');
    expect(r.stdout).toMatch(/kamal-gate lint FAILED: 2 findings, 1 failing, 1 warning in config\/deploy\.yml \(policy .*baseline\.yml; --fail-on high: high or worse fails\)/);
    expect((await lint(critical, '--fail-on', 'critical')).code).toBe(1);
    const none = await lint(critical, '--fail-on', 'none');
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/kamal-gate lint passed: 2 findings, 2 warnings .*--fail-on none: only the policy's enforced rules fail/);
    const json = JSON.parse((await lint(critical, '--format', 'json')).stdout) as { failOn: string; exitCode: number; findings: Array<{ rule: string; fails: boolean; mode: string }> };
    expect(json).toMatchObject({ failOn: 'high', exitCode: 1 });
    expect(json.findings.map((f) => `${f.rule} ${f.mode} ${f.fails}`)).toEqual(['config.privileged warn true', 'config.accessory_unpinned warn false']);
    const github = await lint(critical, '--format', 'github');
    expect(github.code).toBe(1);
    expect(github.stdout).toMatch(/::error file=config\/deploy\.yml,line=\d+,col=\d+,title=config\.privileged::/);
  });

  it('a finding an exception waives does not fail, at any --fail-on', async () => {
    const policy = `version: 1\nexceptions:\n  - images: ["${reg.host}/acme/shop:*"]\n    rules: [config.privileged]\n    reason: "reviewed: OPS-7"\n    expires: 2999-12-31\n`;
    write(critical, { 'waive.yml': policy });
    const r = await lint(critical, '--policy', 'waive.yml', '--fail-on', 'low');
    expect(r.stdout).toContain('WAIVED critical config.privileged');
    expect(r.stdout).toContain('FAIL medium config.accessory_unpinned');
    expect(r.code).toBe(1);
    const high = await lint(critical, '--policy', 'waive.yml');
    expect(high.code).toBe(0);
    expect(high.stdout).toMatch(/kamal-gate lint passed: 2 findings, 1 warning, 1 waived/);
  });

  it('a medium finding passes at the default and fails at --fail-on medium or low', async () => {
    const r = await lint(mediumOnly);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kamal-gate lint passed: 1 finding, 1 warning .*--fail-on high/);
    for (const level of ['medium', 'low', 'info']) expect((await lint(mediumOnly, '--fail-on', level)).code, level).toBe(1);
    const wrong = await lint(mediumOnly, '--fail-on', 'severe');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('Allowed choices are critical, high, medium, low, info, none');
  });

  it('verify keeps following the policy: the baseline only warns about the critical config finding', async () => {
    const r = await runCli(['verify', '--version', 'v1', '--no-ledger', '--format', 'json'], { cwd: critical, env: { ...env(true), GIT_CEILING_DIRECTORIES: work } });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { images: Array<{ findings?: Array<{ rule: string; fails: boolean }> }> };
    expect(doc.images.flatMap((i) => i.findings ?? []).find((f) => f.rule === 'config.privileged')).toMatchObject({ fails: false });
  });
});

describe('missing registry credentials', () => {
  it('verify names the missing secret on every image, in text, json, github and the step summary', async () => {
    const text = await run(['verify', '--version', 'v1', '--no-ledger'], { password: false });
    expect(text.code).toBe(3);
    const errors = text.stdout.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors.length).toBe(2); // shop:v1 and shop:latest
    for (const e of errors) expect(e).toContain(`requires credentials, and the Kamal config's are incomplete: ${CAUSE}`);
    expect(text.stdout).not.toContain(GENERIC);

    const json = JSON.parse((await run(['verify', '--version', 'v1', '--no-ledger', '--format', 'json'], { password: false })).stdout) as {
      images: Array<{ error?: { kind: string; message: string } }>;
    };
    expect(json.images.map((i) => i.error?.kind)).toEqual(['auth', 'auth']);
    for (const i of json.images) expect(i.error?.message).toContain(CAUSE);

    const summary = join(work, 'summary.md');
    const github = await run(['verify', '--version', 'v1', '--no-ledger', '--format', 'github'], { password: false, env: { GITHUB_STEP_SUMMARY: summary } });
    expect(github.code).toBe(3);
    const annotations = github.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(annotations.length).toBe(2);
    for (const a of annotations) expect(a).toContain(CAUSE);
    expect(readFileSync(summary, 'utf8')).toContain('KAMAL_REGISTRY_PASSWORD, which is empty in .kamal/secrets:1');
    expect(readFileSync(summary, 'utf8')).not.toContain(GENERIC);
  });

  it('a secret in no secrets file and not in the environment: says where it was looked for', async () => {
    const bare = write(join(work, 'bare'), { 'config/deploy.yml': deployYml() });
    const r = await run(['verify', '--version', 'v1', '--no-ledger'], { cwd: bare, password: false });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(
      'registry.password names the secret KAMAL_REGISTRY_PASSWORD, which is in no secrets file (none of .kamal/secrets-common, .kamal/secrets exists) and is not set in the environment',
    );
  });

  it('drift names it too, in text and json', async () => {
    const r = await run(['drift'], { password: false });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(CAUSE);
    const json = JSON.parse((await run(['drift', '--format', 'json'], { password: false })).stdout) as { errors: Array<{ message: string }> };
    expect(json.errors.length).toBe(1);
    for (const e of json.errors) expect(e.message).toContain(CAUSE);
  });
});

describe('verify, inspect and record REF inside a Kamal app use the config credentials', () => {
  it('pass inside the app, and are refused outside it', async () => {
    const ref = `${reg.host}/acme/redis:7`;
    const outside = mkdtempSync(join(work, 'outside-'));
    const cases: string[][] = [
      ['verify', ref, '--no-ledger'],
      ['inspect', ref],
      ['record', ref, '--ledger', join(work, `refs-${Date.now()}.jsonl`)],
    ];
    for (const args of cases) {
      const inApp = await run(args);
      expect(inApp.code, `${args[0]}: ${inApp.stdout}${inApp.stderr}`).toBe(0);
      const out = await run(args, { cwd: outside });
      expect(out.code, args[0]).toBe(3);
      expect(`${out.stdout}${out.stderr}`).toContain(GENERIC);
    }
    // a config that does not read costs only its credentials, with a warning
    const broken = write(join(work, 'broken'), { 'config/deploy.yml': 'service: shop\nimage: [oops\n' });
    const r = await run(['verify', ref, '--no-ledger', '--format', 'json'], { cwd: broken });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^warning: the registry credentials of config\/deploy\.yml are not used: .*config\/deploy\.yml:\d+/m);
    expect(JSON.parse(r.stdout)).toMatchObject({ images: [{ error: { kind: 'auth' } }] });
    // in the app without the secret: the cause is named
    const missing = await run(['inspect', ref], { password: false });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(CAUSE);
  });
});
