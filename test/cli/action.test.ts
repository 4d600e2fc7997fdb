/**
 * action.yml: the composite GitHub Action's verify step run as a runner would run it (bash, the
 * GITHUB_* files), against the real registry, and every flag it passes known to the CLI.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

interface Action {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; steps: Array<{ id?: string; name?: string; run?: string; env?: Record<string, string>; uses?: string }> };
}
const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as Action;
const verifyStep = action.runs.steps.find((s) => s.id === 'verify')!;

let reg: TestRegistry;
let app: string;
beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  const b = new ImageBuilder(reg);
  await b.pushImage('acme/shop', 'abc123', {
    platforms: [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ],
    labels: { service: 'shop' },
  });
  await b.pushImage('library/postgres', '16.4', {});
  await b.pushImage('library/valkey', '8.0', {
    platforms: [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ],
  });
  app = mkdtempSync(join(tmpdir(), 'kg-action-'));
  cpSync(join(ROOT, 'fixtures', 'demo-app'), app, { recursive: true });
});
afterAll(async () => {
  await reg?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

/** Runs the verify step's script the way a runner would: inputs through env, outputs through GITHUB_OUTPUT. */
function runStep(inputs: Record<string, string>): { output: string; stdout: string; files: string } {
  const files = mkdtempSync(join(app, 'runner-'));
  writeFileSync(join(files, 'output'), '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GITHUB_ACTION_PATH: ROOT,
    GITHUB_OUTPUT: join(files, 'output'),
    RUNNER_TEMP: files,
    DEMO_REGISTRY: reg.host,
    KAMAL_REGISTRY_PASSWORD: 'x',
    DOCKER_CONFIG: join(files, 'docker'),
  };
  for (const [k, v] of Object.entries(verifyStep.env!)) {
    const input = /inputs\.([\w-]+)/.exec(v)![1]!;
    env[k] = inputs[input] ?? (action.inputs[input]!.default?.includes('${{') ? '' : (action.inputs[input]!.default ?? ''));
  }
  const r = spawnSync('bash', ['-e', '-c', verifyStep.run!], { cwd: app, env, encoding: 'utf8' });
  expect(r.status).toBe(0); // the step itself never fails: the Gate step does
  return { output: readFileSync(join(files, 'output'), 'utf8'), stdout: r.stdout, files };
}

describe('action.yml', () => {
  it('is a composite action whose every input reaches the verify step', () => {
    expect(action.runs.using).toBe('composite');
    const wired = Object.values(verifyStep.env!).join(' ');
    for (const input of Object.keys(action.inputs).filter((i) => i !== 'node-version')) expect(wired).toContain(`inputs.${input}`);
  });

  it('passes only flags that kamal-gate verify knows', async () => {
    const help = (await runCli(['verify', '--help'])).stdout;
    const flags = new Set([...verifyStep.run!.matchAll(/[\s(](--?[a-z][\w-]*)/g)].map((m) => m[1]!).filter((f) => f !== '-n' && f !== '-e'));
    expect(flags.size).toBeGreaterThan(5);
    for (const f of flags) expect(help).toContain(f);
    for (const format of ['sarif', 'github']) expect(help).toMatch(new RegExp(`${format}`));
  });

  it('runs the gate with GitHub annotations and reports the exit code', () => {
    const { output, stdout } = runStep({ version: 'abc123', 'require-recorded': 'false' });
    expect(output).toContain('exit-code=0');
    // the baseline warns that the accessories' bases are unknown: workflow warnings
    expect(stdout).toMatch(/^::warning .*base\.unknown/m);
  });

  it('writes SARIF for code scanning when asked, and a failing gate shows in the exit code', () => {
    const ok = runStep({ version: 'abc123', 'upload-sarif': 'true' });
    expect(ok.output).toContain('exit-code=0');
    const sarif = JSON.parse(readFileSync(join(ok.files, 'kamal-gate.sarif'), 'utf8')) as { version: string };
    expect(sarif.version).toBe('2.1.0');
    const missing = runStep({ version: 'no-such-tag' });
    expect(missing.output).toContain('exit-code=3');
  });
});
