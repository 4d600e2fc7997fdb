/**
 * action.yml, run the way a GitHub runner runs a composite action (test/helpers/action-runner.ts):
 * every step in order with bash and the GITHUB_* files, against the real registry, with kamal-gate
 * installed by the action from a tarball of this package (`npm pack` of the built tree), as it
 * installs the released package. Checked: the outputs, a SARIF log valid against the SARIF 2.1.0
 * schema on success and on every failure (config error, no Node.js, npm failing), the registry
 * password handed over on stdin and masked, and the reason of a failure printed as `::error::`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAction, runAction, type ActionRun } from '../helpers/action-runner.js';
import { CLI, runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { sarifValidator } from '../report/sarif-schema.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const action = readAction(join(ROOT, 'action.yml'));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const validate = sarifValidator();

interface Sarif {
  version: string;
  runs: Array<{
    invocations: Array<{ executionSuccessful: boolean; exitCode: number }>;
    results: Array<{ ruleId: string; level: string; message: { text: string }; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }> }>;
  }>;
}

/** The SARIF log at `path`, which must be valid SARIF 2.1.0 with a location on every result (code scanning refuses it otherwise). */
function validSarif(path: string): Sarif {
  const log = JSON.parse(readFileSync(path, 'utf8')) as Sarif;
  expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
  for (const r of log.runs[0]!.results) expect(r.locations[0]!.physicalLocation.artifactLocation.uri).toBeTruthy();
  return log;
}

/** The `args=(…)`, `args+=(…)` and `common…` lists of the verify step: the flags it hands kamal-gate. */
function flagsOf(script: string, command: 'verify' | 'lint'): string[] {
  const lists = [...script.matchAll(command === 'verify' ? /\b(?:args|common)\+?=\((.*)\)/g : /\bcommon\+?=\((.*)\)|"\$KG_BIN" lint (.*)/g)].map((m) => m[1] ?? m[2]!);
  return [...new Set(lists.flatMap((l) => [...` ${l}`.matchAll(/\s(--?[a-z][\w-]*)/g)].map((m) => m[1]!)))];
}

let reg: TestRegistry;
let authReg: TestRegistry;
let work: string;
let app: string;
let tarball: string;
/** One $RUNNER_TEMP for the runs that install the tarball: the action installs it once, as in one job. */
let runnerTemp: string;
const env = (r: TestRegistry): NodeJS.ProcessEnv => ({ DEMO_REGISTRY: r.host, KAMAL_REGISTRY_PASSWORD: 'x', KAMAL_GATE_CACHE_DIR: join(work, 'cache'), DOCKER_CONFIG: join(work, 'docker') });

async function pushDemo(r: TestRegistry): Promise<void> {
  const b = new ImageBuilder(r);
  const both = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
  ];
  await b.pushImage('acme/shop', 'abc123', { platforms: both, labels: { service: 'shop' } });
  await b.pushImage('library/postgres', '16.4', {});
  await b.pushImage('library/valkey', '8.0', { platforms: both });
}

/** A copy of the demo app (a fresh ledger each time). */
function demoApp(): string {
  const dir = mkdtempSync(join(work, 'app-'));
  cpSync(join(ROOT, 'fixtures', 'demo-app'), dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-action-'));
  reg = await startRegistry({ auth: 'none' });
  authReg = await startRegistry({ auth: 'htpasswd', users: { ci: 'Gate-Pw-7f3a9c' } });
  await pushDemo(reg);
  await pushDemo(authReg);
  app = demoApp();
  runnerTemp = mkdtempSync(join(work, 'runner-temp-'));
  // The package as npm would publish it: the built tree packed without running its scripts.
  expect(existsSync(CLI), 'run npm run build first').toBe(true);
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  expect(pack.status, pack.stderr).toBe(0);
  tarball = join(work, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0]!.filename);
}, 120_000);
afterAll(async () => {
  await reg?.stop();
  await authReg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function run(inputs: Record<string, string>, opts: { workspace?: string; runnerTemp?: string; env?: NodeJS.ProcessEnv; registry?: TestRegistry } = {}): ActionRun {
  return runAction({
    action,
    actionPath: ROOT,
    inputs: { package: tarball, version: 'abc123', ...inputs },
    workspace: opts.workspace ?? app,
    runnerTemp: opts.runnerTemp ?? runnerTemp,
    env: { ...env(opts.registry ?? reg), ...opts.env },
  });
}

describe('action.yml', () => {
  it('is a composite action on the runner’s Node.js, every input wired through env, never spliced into a script', () => {
    expect(action.runs.using).toBe('composite');
    const steps = action.runs.steps;
    expect(steps.filter((s) => s.uses).map((s) => s.uses)).toEqual(['github/codeql-action/upload-sarif@v3']); // no setup-node
    for (const s of steps) if (s.run) expect(s.run).not.toContain('${{');
    const wired = steps.map((s) => [s.if ?? '', ...Object.values(s.env ?? {})].join(' ')).join(' ');
    for (const input of Object.keys(action.inputs)) expect(wired).toContain(`inputs.${input}`);
    expect(Object.keys(action.outputs).sort()).toEqual(['exit-code', 'report', 'sarif', 'summary']);
  });

  it('passes only flags that kamal-gate verify and lint know', async () => {
    const script = action.runs.steps.find((s) => s.id === 'verify')!.run!;
    const verifyFlags = flagsOf(script, 'verify');
    expect(verifyFlags).toEqual(expect.arrayContaining(['--format', '--sarif-output', '--json-output', '--registry-password-stdin', '--key', '--certificate-identity']));
    const verifyHelp = (await runCli(['verify', '--help'])).stdout;
    for (const f of verifyFlags) expect(verifyHelp).toMatch(new RegExp(`(^|[ ,])${f}\\b`, 'm'));
    const lintHelp = (await runCli(['lint', '--help'])).stdout;
    const lintFlags = flagsOf(script, 'lint');
    expect(lintFlags).toContain('--format');
    for (const f of lintFlags) expect(lintHelp).toMatch(new RegExp(`(^|[ ,])${f}\\b`, 'm'));
  });

  it('installs the packed package, verifies with annotations and sets exit-code, report, summary and a valid SARIF log', () => {
    const r = run({});
    expect(r.failedWith, r.log).toBe(0);
    // installed by npm from the tarball into the runner's temp folder, not run from this checkout
    const bin = r.steps['install']!['bin']!;
    expect(bin).toBe(join(runnerTemp, 'kamal-gate-action', 'npm', 'bin', 'kamal-gate'));
    expect(realpathSync(bin)).toContain(join('lib', 'node_modules', 'kamal-gate'));
    expect(r.log).toContain(`kamal-gate ${VERSION} (${bin})`);
    expect(r.path).toContain(join(runnerTemp, 'kamal-gate-action', 'npm', 'bin'));
    expect(r.outputs['exit-code']).toBe('0');
    expect(r.outputs['summary']).toMatch(/^kamal-gate verify passed: 3 images pinned/);
    expect(r.outputs['summary']).not.toContain('\n');
    const report = JSON.parse(readFileSync(r.outputs['report']!, 'utf8')) as { exitCode: number; images: unknown[] };
    expect(report.exitCode).toBe(0);
    expect(report.images.length).toBeGreaterThanOrEqual(3);
    const sarif = validSarif(r.outputs['sarif']!);
    expect(sarif.runs[0]!.invocations[0]!.exitCode).toBe(0);
    // the baseline warns that the accessories' bases are unknown: workflow warnings, also in SARIF
    expect(r.stdout).toMatch(/^::warning .*base\.unknown/m);
    expect(sarif.runs[0]!.results.some((x) => x.ruleId === 'base.unknown')).toBe(true);
    expect(r.summary).toContain('## kamal-gate verify');
    expect(r.uses[0]!.if).toBe(false); // upload-sarif is off by default
  }, 300_000);

  it('uploads that SARIF log when asked, and a failing gate fails the job with its exit code and reason', () => {
    const ok = run({ 'upload-sarif': 'true' });
    expect(ok.uses[0]).toEqual({ uses: 'github/codeql-action/upload-sarif@v3', if: true, with: { sarif_file: ok.outputs['sarif'], category: 'kamal-gate' } });
    const missing = run({ version: 'no-such-tag', 'upload-sarif': 'true' });
    expect(missing.outputs['exit-code']).toBe('3');
    expect(missing.failedWith).toBe(3);
    expect(missing.uses[0]!.if).toBe(true); // always(): the upload runs although the gate failed
    expect(missing.outputs['summary']).toMatch(/^kamal-gate verify FAILED \(could not verify\)/);
    expect(missing.stdout).toMatch(/^::error title=kamal-gate::kamal-gate verify FAILED \(could not verify\).*\(exit 3/m);
    const sarif = validSarif(missing.outputs['sarif']!);
    expect(sarif.runs[0]!.results.some((x) => x.level === 'error' && x.ruleId.startsWith('registry.'))).toBe(true);
  }, 300_000);

  it('on a config error: the CLI’s reason as ::error::, exit 2, no report, and a valid SARIF log with the error as its result', () => {
    const broken = demoApp();
    writeFileSync(join(broken, 'config', 'deploy.yml'), 'service: shop\nimage: acme/shop\nservers: [oops\n');
    const r = run({}, { workspace: broken });
    expect(r.outputs['exit-code']).toBe('2');
    expect(r.failedWith).toBe(2);
    expect(r.outputs['report']).toBe('');
    expect(r.outputs['summary']).toMatch(/^kamal-gate could not run: config\/deploy\.yml:4: invalid YAML/);
    expect(r.stdout).toMatch(/^::error title=kamal-gate::config\/deploy\.yml:4: invalid YAML/m);
    expect(r.summary).toMatch(/kamal-gate could not run \(exit 2\)\*\*: config\/deploy\.yml:4: invalid YAML/);
    const sarif = validSarif(r.outputs['sarif']!);
    expect(sarif.runs[0]!.invocations[0]).toMatchObject({ executionSuccessful: false, exitCode: 2 });
    const [result] = sarif.runs[0]!.results;
    expect(sarif.runs[0]!.results).toHaveLength(1);
    expect(result).toMatchObject({ ruleId: 'error.config', level: 'error' });
    expect(result!.message.text).toMatch(/^config\/deploy\.yml:4: invalid YAML/);
    expect(result!.locations[0]!.physicalLocation).toEqual({ artifactLocation: { uri: 'config/deploy.yml' }, region: { startLine: 4 } });
  }, 300_000);

  it('kamal-gate verify itself: a SARIF log with the error on a config error (--format sarif and --sarif-output)', async () => {
    const broken = demoApp();
    writeFileSync(join(broken, 'config', 'deploy.yml'), 'service: shop\nimage: acme/shop\nservers: [oops\n');
    const printed = await runCli(['verify', '--format', 'sarif'], { cwd: broken, env: env(reg) });
    expect(printed.code).toBe(2);
    expect(printed.stderr).toMatch(/^kamal-gate: config\/deploy\.yml:4: invalid YAML/);
    const log = JSON.parse(printed.stdout) as Sarif;
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    expect(log.runs[0]!.results.map((r) => [r.ruleId, r.level])).toEqual([['error.config', 'error']]);
    // an error naming no file (a bad reference, no Kamal config): located at the default config, as code scanning needs a location
    const written = await runCli(['verify', 'Not A Ref', '--sarif-output', 'out.sarif'], { cwd: work });
    expect(written.code).toBe(2);
    expect(written.stdout).toBe('');
    const file = validSarif(join(work, 'out.sarif'));
    expect(file.runs[0]!.results[0]).toMatchObject({ ruleId: 'error.reference', level: 'error' });
    expect(file.runs[0]!.results[0]!.message.text).toContain('invalid image reference "Not A Ref"');
    expect(file.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri).toBe('config/deploy.yml');
  });

  it('hands the registry password to kamal-gate on stdin and masks it', () => {
    const pw = authReg.users['ci']!;
    // the Kamal config's own credentials are wrong here: only the action's inputs can pass
    const without = run({}, { registry: authReg, workspace: demoApp() });
    expect(without.outputs['exit-code']).toBe('3');
    const r = run({ 'registry-username': 'ci', 'registry-password': pw }, { registry: authReg, workspace: demoApp() });
    expect(r.outputs['exit-code'], r.log).toBe('0');
    expect(r.stdout.split('\n').filter((l) => l.includes(pw))).toEqual([`::add-mask::${pw}`]);
    expect(r.stderr).not.toContain(pw);
    for (const file of [r.outputs['sarif']!, r.outputs['report']!]) expect(readFileSync(file, 'utf8')).not.toContain(pw);
    expect(r.summary).not.toContain(pw);
    // a password without a user name is a usage error of the action, said plainly
    const half = run({ 'registry-password': pw }, { registry: authReg });
    expect(half.outputs['exit-code']).toBe('2');
    expect(half.stdout).toMatch(/^::error title=kamal-gate::the input registry-password is set but registry-username is empty/m);
    validSarif(half.outputs['sarif']!);
  }, 300_000);

  it('runs kamal-gate lint too when asked; the exit code is the worse of the two', async () => {
    const lint = await runCli(['lint', '--format', 'github'], { cwd: app, env: env(reg) });
    const r = run({ lint: 'true' });
    expect(r.outputs['summary']).toMatch(new RegExp(`^kamal-gate verify passed: .*; kamal-gate lint ${lint.code === 0 ? 'passed' : `exited ${lint.code}`}$`));
    expect(r.outputs['exit-code']).toBe(String(lint.code === 0 ? 0 : lint.code));
    // lint's own summary line (up to the policy's path, which is the installed package's)
    expect(r.stdout).toContain(lint.stdout.trim().split('\n').at(-1)!.split(' (policy ')[0]);
  }, 300_000);

  it('without Node.js on the runner: says so, exit 2, and still writes a valid SARIF log', () => {
    // a PATH with the shell tools the steps use, and no node
    const bin = mkdtempSync(join(work, 'no-node-'));
    for (const tool of ['bash', 'cat', 'mkdir', 'rm', 'tr', 'sed', 'grep', 'tail', 'dirname']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(found, join(bin, tool));
    }
    const r = run({}, { env: { PATH: bin }, runnerTemp: mkdtempSync(join(work, 'temp-')) });
    expect(r.outputs['exit-code']).toBe('2');
    expect(r.failedWith).toBe(2);
    expect(r.stdout).toMatch(/^::error title=kamal-gate::kamal-gate needs Node\.js .* there is no node on PATH: add actions\/setup-node/m);
    const sarif = validSarif(r.outputs['sarif']!);
    expect(sarif.runs[0]!.results[0]).toMatchObject({ ruleId: 'error.action', level: 'error' });
    expect(sarif.runs[0]!.results[0]!.message.text).toMatch(/needs Node\.js/);
  });

  it('installs kamal-gate at the action’s own version by default, and says why when npm cannot', () => {
    // an npm that fails as it would for a version not on the registry, recording what it was asked
    const bin = mkdtempSync(join(work, 'fake-npm-'));
    writeFileSync(join(bin, 'npm'), `#!/bin/sh\necho "$@" > "${bin}/args"\necho "npm error 404 Not Found - GET https://registry.npmjs.org/kamal-gate" >&2\nexit 1\n`);
    chmodSync(join(bin, 'npm'), 0o755);
    const r = run({ package: '' }, { env: { PATH: `${bin}:${process.env['PATH']}` }, runnerTemp: mkdtempSync(join(work, 'temp-')) });
    expect(readFileSync(join(bin, 'args'), 'utf8')).toMatch(new RegExp(`^install --global --prefix \\S+ .*kamal-gate@${VERSION.replace(/\./g, '\\.')}$`, 'm'));
    expect(r.outputs['exit-code']).toBe('3');
    expect(r.stderr).toContain('npm error 404');
    expect(r.stdout).toMatch(new RegExp(`^::error title=kamal-gate::npm could not install kamal-gate@${VERSION.replace(/\./g, '\\.')}`, 'm'));
    validSarif(r.outputs['sarif']!);
  });

  it('runs a kamal-gate executable named by binary, installing nothing', () => {
    const dir = mkdtempSync(join(work, 'binary-'));
    const exe = join(dir, 'kamal-gate');
    writeFileSync(exe, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(exe, 0o755);
    const temp = mkdtempSync(join(work, 'temp-'));
    const r = run({ binary: exe, package: 'no-such-package-is-installed' }, { runnerTemp: temp });
    expect(r.outputs['exit-code'], r.log).toBe('0');
    expect(r.steps['install']!['bin']).toBe(exe);
    expect(existsSync(join(temp, 'kamal-gate-action', 'npm'))).toBe(false);
    mkdirSync(join(dir, 'plain'));
    const bad = run({ binary: join(dir, 'plain') }, { runnerTemp: temp });
    expect(bad.outputs['exit-code']).toBe('2');
    expect(bad.stdout).toMatch(/^::error title=kamal-gate::the input binary names .*plain, which is not an executable file/m);
    validSarif(bad.outputs['sarif']!);
  });
});
