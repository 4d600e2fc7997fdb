/**
 * `kamal-gate verify --format sarif|github|junit` through the real CLI on the demo Kamal app, against
 * the real registry, with a tag overwritten after it was recorded: the same exit codes as text, SARIF
 * valid against the schema and located at the deploy.yml line, annotations plus a job summary in
 * $GITHUB_STEP_SUMMARY, JUnit with the failure.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { sarifValidator } from './sarif-schema.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app');
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

let reg: TestRegistry;
let app: string;
let env: NodeJS.ProcessEnv;
let evil: PushedImage;

beforeAll(async () => {
  reg = await startRegistry({ auth: 'htpasswd', users: { demo: 'demo-registry-password-42' } });
  const b = new ImageBuilder(reg);
  await b.pushImage('acme/shop', 'v1', { seed: 'good', platforms: [AMD64, ARM64] });
  await b.pushImage('library/postgres', '16.4', { seed: 'pg' });
  await b.pushImage('library/valkey', '8.0', { seed: 'valkey', platforms: [AMD64, ARM64] });
  app = mkdtempSync(join(tmpdir(), 'kg-formats-'));
  cpSync(FIXTURE, app, { recursive: true });
  env = { DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(app, '.no-docker') };
  const rec = await runCli(['record', '--version', 'v1'], { cwd: app, env });
  expect(rec.code).toBe(0);
  evil = await b.pushImage('acme/shop', 'v1', { seed: 'evil', platforms: [AMD64, ARM64] });
});

afterAll(async () => {
  await reg?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

describe('verify --format on a deploy with an overwritten tag', () => {
  it('sarif: valid, exit 1, the overwrite located at the image line of config/deploy.yml', async () => {
    const text = await runCli(['verify', '--version', 'v1'], { cwd: app, env });
    const r = await runCli(['verify', '--version', 'v1', '--format', 'sarif'], { cwd: app, env });
    expect(r.code).toBe(1);
    expect(r.code).toBe(text.code);
    const log = JSON.parse(r.stdout);
    const validate = sarifValidator();
    expect(validate(log)).toBe(true);
    const result = log.runs[0].results[0];
    expect(result).toMatchObject({ ruleId: 'tag.overwritten', level: 'error' });
    expect(result.message.text).toContain(evil.digest);
    expect(result.locations[0].physicalLocation).toMatchObject({ artifactLocation: { uri: 'config/deploy.yml' }, region: { startLine: 4 } });
    expect(log.runs[0].tool.driver.rules.map((x: { id: string }) => x.id)).toContain('tag.overwritten');
    expect(r.stdout).not.toContain(reg.password);
    writeFileSync(join(app, 'last.sarif'), r.stdout);
  });

  it('github: annotations, a summary line, and the job summary appended to $GITHUB_STEP_SUMMARY', async () => {
    const summary = join(app, 'step-summary.md');
    writeFileSync(summary, '# earlier step\n');
    const r = await runCli(['verify', '--version', 'v1', '--format', 'github'], { cwd: app, env: { ...env, GITHUB_STEP_SUMMARY: summary } });
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^::error file=config\/deploy\.yml,line=4,col=\d+,title=tag\.overwritten \(app shop\)::.*acme\/shop:v1 now points to sha256:/);
    expect(lines.at(-1)).toMatch(/^kamal-gate verify FAILED \(policy violation\): 3 images pinned, 1 failing finding/);
    const md = readFileSync(summary, 'utf8');
    expect(md.startsWith('# earlier step\n## kamal-gate verify\n')).toBe(true);
    expect(md).toContain(`| app shop | \`${reg.host}/acme/shop:v1\` | \`${evil.digest.slice(0, 19)}\` | ❌ fail |`);
    expect(md).toMatch(/\| ❌ fail \| critical \| `tag\.overwritten` \| `config\/deploy\.yml:4` \|/);
    // without the variable, no file is written and the output is the same
    const plain = await runCli(['verify', '--version', 'v1', '--format', 'github'], { cwd: app, env });
    expect(plain.stdout).toBe(r.stdout);
  });

  it('junit: a testcase per image with the failure, and exit 3 when a tag does not resolve', async () => {
    const r = await runCli(['verify', '--version', 'v1', '--format', 'junit'], { cwd: app, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites /);
    expect(r.stdout).toContain(`<testcase name="${reg.host}/acme/shop:v1" classname="app">`);
    expect(r.stdout).toMatch(/<failure message="[^"]*now points to[^"]*" type="tag\.overwritten">/);
    expect(r.stdout.match(/<testcase /g)).toHaveLength(4);
    const missing = await runCli(['verify', '--version', 'v404', '--format', 'junit'], { cwd: app, env });
    expect(missing.code).toBe(3);
    expect(missing.stdout).toMatch(/<failure message="[^"]*v404[^"]*" type="registry\.tag_not_found">/);
  });
});
