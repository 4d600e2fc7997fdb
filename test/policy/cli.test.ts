/**
 * `kamal-gate policy init | check | explain | schema` through the built CLI (dist/cli.js; `npm run
 * build` first): output and the documented exit codes (0 ok, 2 bad policy or usage).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedPolicyPath } from '../../src/policy/index.js';
import { CLI, runCli } from '../helpers/cli.js';

let tmp: string;
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  tmp = mkdtempSync(join(tmpdir(), 'kg-policy-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function app(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmp, 'app-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

describe('policy init', () => {
  it('writes the commented starter to .kamal/gate-policy.yml, refuses to overwrite it, and overwrites with --force', async () => {
    const cwd = app();
    const first = await runCli(['policy', 'init'], { cwd });
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      'wrote .kamal/gate-policy.yml (and gate-policy.schema.json beside it, the JSON Schema editors check it against): read it, adjust it, then run `kamal-gate policy check`\n',
    );
    const written = readFileSync(join(cwd, '.kamal/gate-policy.yml'), 'utf8');
    expect(written).toBe(readFileSync(shippedPolicyPath('starter.yml'), 'utf8'));

    writeFileSync(join(cwd, '.kamal/gate-policy.yml'), 'version: 1\n# mine\n');
    const again = await runCli(['policy', 'init'], { cwd });
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('kamal-gate: .kamal/gate-policy.yml already exists; review it with `kamal-gate policy check --policy .kamal/gate-policy.yml`, or pass --force to overwrite it\n');
    expect(readFileSync(join(cwd, '.kamal/gate-policy.yml'), 'utf8')).toBe('version: 1\n# mine\n');

    const forced = await runCli(['policy', 'init', '--force'], { cwd });
    expect(forced.code).toBe(0);
    expect(readFileSync(join(cwd, '.kamal/gate-policy.yml'), 'utf8')).toBe(written);
  });

  it('writes where --path says; the result checks clean', async () => {
    const cwd = app();
    const r = await runCli(['policy', 'init', '--path', 'ops/gate.yml'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kamal-gate policy check --policy ops/gate.yml');
    const check = await runCli(['policy', 'check', '--policy', 'ops/gate.yml'], { cwd });
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('Policy ops/gate.yml is valid.');
  });
});

describe('policy check', () => {
  it('summarizes rules and exceptions, naming expired ones, and exits 0', async () => {
    const cwd = app({
      '.kamal/gate-policy.yml': `version: 1
defaults:
  ledger: { trust: strict }
rules:
  - name: acme
    match: { images: ["ghcr.io/acme/*"], roles: [app] }
    image: { mode: warn, maxAge: 90d }
exceptions:
  - images: ["docker.io/library/redis:*"]
    rules: [base.*]
    reason: OPS-1
    expires: 2999-12-31
  - images: ["docker.io/library/postgres"]
    rules: [image.too_old]
    reason: OPS-2
    expires: 2001-01-01
`,
    });
    const r = await runCli(['policy', 'check'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Policy .kamal/gate-policy.yml is valid.',
        '  defaults: ledger',
        '  1 rule:',
        '    acme (line 5): images ghcr.io/acme/*; roles app -> image warn',
        '  2 exceptions, 1 expired:',
        '    line 9: base.* on docker.io/library/redis:* until 2999-12-31: OPS-1',
        '    line 13: image.too_old on docker.io/library/postgres EXPIRED on 2001-01-01 (no longer applies): OPS-2',
        '',
      ].join('\n'),
    );
    const json = await runCli(['policy', 'check', '--format', 'json'], { cwd });
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { schema: string; valid: boolean; origin: string; policy: { rules: { name: string }[] } };
    expect(doc).toMatchObject({ schema: 'kamal-gate/policy-check/v1', valid: true, origin: 'project' });
    expect(doc.policy.rules.map((r) => r.name)).toEqual(['acme']);
  });

  it('checks the built-in baseline when the project has no policy', async () => {
    const r = await runCli(['policy', 'check'], { cwd: app() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Policy .*policies\/baseline\.yml \(the built-in baseline\) is valid\.\n/);
  });

  it('refuses a policy with a typo and a wrong type: exit 2, every problem with file:line:column, no stack trace', async () => {
    const cwd = app({ 'gate.yml': 'version: 1\nrules:\n  - name: app\n    base:\n      maxAg: 90d\n    tags: { immutable: "no" }\n' });
    const r = await runCli(['policy', 'check', '--policy', 'gate.yml'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'kamal-gate: invalid policy gate.yml: 2 problems; fix them (nothing is checked under a policy that does not load)',
        'gate.yml:5:7: rules[0].base.maxAg: unknown key (did you mean maxAge?)',
        'gate.yml:6:24: rules[0].tags.immutable: expected true or false, got "no"',
        '',
      ].join('\n'),
    );
    noStack(r.stderr);
  });

  it('exits 2 for a policy file that does not exist', async () => {
    const r = await runCli(['policy', 'check', '--policy', 'missing.yml'], { cwd: app() });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('kamal-gate: cannot read the policy\nmissing.yml: no such file (`kamal-gate policy init` writes a starter)\n');
  });
});

describe('policy explain', () => {
  const strict = shippedPolicyPath('strict.yml');

  it('shows which rules apply and the line that set each requirement', async () => {
    const r = await runCli(['policy', 'explain', 'redis:7.4', '--role', 'accessory', '--policy', strict], { cwd: app() });
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain('Image:  docker.io/library/redis:7.4 (role accessory)');
    expect(out).toMatch(/skipped {2}app-signed {10}.*strict\.yml:\d+:5 {2}any image; role accessory is not one of app/);
    expect(out).toMatch(/applies {2}accessories-pinned {2}.*strict\.yml:\d+:5 {2}any image; role accessory is one of accessory/);
    expect(out).toMatch(
      /tags {10}enforce {2}a moved tag fails \(immutable: true, whatever the mode\); forbidden tags latest and a ref not pinned by digest fail {2}\(rule accessories-pinned at .*strict\.yml:\d+:5\)/,
    );
    expect(out).toMatch(/ledger {8}enforce {2}strict: every tag must have been recorded by `kamal-gate record` +\(defaults at .*strict\.yml:\d+:3\)/);
    expect(out).toMatch(/signatures {4}- {8}not required/);
  });

  it('lists the exceptions naming the image, and prints JSON with --format json', async () => {
    const cwd = app({
      '.kamal/gate-policy.yml': 'version: 1\nexceptions:\n  - images: ["docker.io/library/redis"]\n    rules: [base.too_old]\n    reason: OPS-9\n    expires: 2001-02-03\n',
    });
    const r = await runCli(['policy', 'explain', 'redis:7'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exceptions naming this image:\n  EXPIRED 2001-02-03  base.too_old  .kamal/gate-policy.yml:3:5  OPS-9\n');
    const json = await runCli(['policy', 'explain', 'redis:7', '--format', 'json'], { cwd });
    const doc = JSON.parse(json.stdout) as { schema: string; ref: string; role: string; groups: Record<string, unknown>; exceptions: { expired: boolean }[] };
    expect(doc).toMatchObject({ schema: 'kamal-gate/policy-explain/v1', ref: 'docker.io/library/redis:7', role: 'app' });
    expect(Object.keys(doc.groups)).toEqual(['ledger', 'config']);
    expect(doc.exceptions.map((e) => e.expired)).toEqual([true]);
  });

  it('exits 2 for an invalid reference or role', async () => {
    const bad = await runCli(['policy', 'explain', 'Not/A:Ref:x'], { cwd: app() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^kamal-gate: invalid image reference "Not\/A:Ref:x"/);
    noStack(bad.stderr);
    const role = await runCli(['policy', 'explain', 'redis', '--role', 'db'], { cwd: app() });
    expect(role.code).toBe(2);
    expect(role.stderr).toContain("argument 'db' is invalid");
  });
});

describe('policy schema', () => {
  it('prints the JSON Schema committed in policies/schema.json', async () => {
    const r = await runCli(['policy', 'schema']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(shippedPolicyPath('schema.json'), 'utf8'));
  });
});

describe('help', () => {
  it.each(['init', 'check', 'explain', 'schema'])('policy %s --help shows an example', async (cmd) => {
    const r = await runCli(['policy', cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples?:\n {2}kamal-gate policy /);
  });

  it('policy is listed in the main help', async () => {
    const r = await runCli(['--help']);
    expect(r.stdout).toMatch(/\n {2}policy +write, check and explain/);
  });
});
