/**
 * `--erb ruby` (and KAMAL_GATE_ERB=ruby) as a user runs it: the built CLI in-process on a Kamal app
 * whose config runs Ruby (the Rails 7.1 template's RUBY_ENGINE line, backticks, File.read, a Ruby
 * local), rendered by Debian's real `ruby`. Run `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const RUBY_ENGINE = execFileSync('ruby', ['-e', 'print "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}"']).toString();

/** Runs Ruby: the forms the safe subset refuses. Line numbers matter to the assertions below. */
const DEPLOY = `<% revision = \`echo v1\`.strip -%>
service: shop
image: acme/shop
servers:
  web:
    - 192.0.2.1
registry:
  server: 127.0.0.1:1
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
builder:
  arch: amd64
  args:
    RUBY_VERSION: <%= File.read(".ruby-version").strip %>
accessories:
  runtime:
    image: "127.0.0.1:1/acme/runtime:<%= "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}" %>"
    host: 192.0.2.1
  tools:
    image: 127.0.0.1:1/acme/tools:<%= revision %>
    host: 192.0.2.1
  region:
    image: 127.0.0.1:1/acme/region:<%= ENV.fetch("KAMAL_DESTINATION", "none") %>
    host: 192.0.2.1
`;

function app(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'kg-erb-ruby-'));
  const all = { 'config/deploy.yml': DEPLOY, 'config/deploy.eu.yml': 'servers:\n  web:\n    - 192.0.2.9\n', '.ruby-version': '3.3.5\n', ...files };
  for (const [name, content] of Object.entries(all)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

interface TargetsJson {
  erb?: string;
  destination?: string;
  targets: Array<{ role: string; name: string; ref: string; source: { file: string; line: number } }>;
  notes: string[];
}

const RUBY_NOTE = 'config/deploy.yml rendered by Ruby (--erb ruby), as Kamal renders it: the Ruby in the ERB ran; a location points at the template line its text came from';

describe('--erb ruby', () => {
  it('targets: renders the config with Ruby and lists its images at their template lines, with a note', async () => {
    const r = await runCli(['targets', '--erb', 'ruby', '--version', 'v42'], { cwd: app() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = r.stdout.split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows).toContainEqual(['app', 'shop', '127.0.0.1:1/acme/shop:v42', 'config/deploy.yml:3']);
    expect(rows).toContainEqual(['accessory', 'runtime', `127.0.0.1:1/acme/runtime:${RUBY_ENGINE}`, 'config/deploy.yml:18']);
    expect(rows).toContainEqual(['accessory', 'tools', '127.0.0.1:1/acme/tools:v1', 'config/deploy.yml:21']);
    expect(rows).toContainEqual(['accessory', 'region', '127.0.0.1:1/acme/region:none', 'config/deploy.yml:24']);
    expect(r.stdout).toContain(`note: ${RUBY_NOTE}\n`);
  });

  it('targets --format json: the erb field says Ruby rendered the config; absent when it did not', async () => {
    const dir = app();
    const r = await runCli(['targets', '--erb', 'ruby', '--version', 'v42', '--format', 'json'], { cwd: dir });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as TargetsJson;
    expect(doc.erb).toBe('ruby');
    expect(doc.notes).toContain(RUBY_NOTE);
    expect(doc.targets.find((t) => t.name === 'tools')).toMatchObject({ ref: '127.0.0.1:1/acme/tools:v1', source: { file: 'config/deploy.yml', line: 21 } });

    writeFileSync(join(dir, 'config/deploy.yml'), DEPLOY.replace(/^<%.*\n/, '').replace(/<%=.*?%>/g, 'x'));
    const plain = JSON.parse((await runCli(['targets', '--version', 'v42', '--format', 'json'], { cwd: dir })).stdout) as TargetsJson;
    expect('erb' in plain).toBe(false);
    expect(plain.notes).not.toContain(RUBY_NOTE);
  });

  it('-d: Ruby sees KAMAL_DESTINATION, as under Kamal, and renders the overlay too', async () => {
    const r = await runCli(['targets', '--erb', 'ruby', '-d', 'eu', '--version', 'v42', '--format', 'json'], { cwd: app() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as TargetsJson;
    expect(doc.destination).toBe('eu');
    expect(doc.targets.find((t) => t.name === 'region')?.ref).toBe('127.0.0.1:1/acme/region:eu');
    expect(doc.notes).toContain(
      'config/deploy.yml and config/deploy.eu.yml rendered by Ruby (--erb ruby), as Kamal renders them: the Ruby in the ERB ran; a location points at the template line its text came from',
    );
  });

  it('KAMAL_GATE_ERB=ruby selects it; --erb safe overrides it; safe mode refuses the same config and names --erb ruby', async () => {
    const dir = app();
    const fromEnv = await runCli(['targets', '--version', 'v42'], { cwd: dir, env: { KAMAL_GATE_ERB: 'ruby' } });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain(`127.0.0.1:1/acme/runtime:${RUBY_ENGINE}`);

    for (const args of [['--erb', 'safe'], []]) {
      const safe = await runCli(['targets', '--version', 'v42', ...args], { cwd: dir, env: args.length ? { KAMAL_GATE_ERB: 'ruby' } : {} });
      expect(safe.code).toBe(2);
      expect(safe.stdout).toBe('');
      expect(safe.stderr).toMatch(/^kamal-gate: config\/deploy\.yml:1:1: /);
      expect(safe.stderr).toContain('--erb ruby');
    }

    const bad = await runCli(['targets', '--version', 'v42'], { cwd: dir, env: { KAMAL_GATE_ERB: 'yes' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('kamal-gate: KAMAL_GATE_ERB: "yes" is not a way to read the config\'s ERB; use safe (runs nothing) or ruby (renders it with Ruby, as Kamal does)\n');
    const badFlag = await runCli(['targets', '--erb', 'yes'], { cwd: dir });
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("argument 'yes' is invalid. Allowed choices are safe, ruby.");
  });

  it('a Ruby error is exit 2 naming the file and line, its message redacted', async () => {
    const dir = app({ 'config/deploy.yml': DEPLOY.replace('service: shop', 'service: <%= raise "cannot reach vault with #{ENV["VAULT_TOKEN"]}" %>') });
    const r = await runCli(['targets', '--erb', 'ruby', '--version', 'v42'], { cwd: dir, env: { VAULT_TOKEN: 'hvs.very-secret-token' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('kamal-gate: config/deploy.yml:2: rendering config/deploy.yml with Ruby (--erb ruby) failed: Ruby raised RuntimeError: cannot reach vault with ***\n');
  });

  it('a render that never ends is stopped at the deadline: exit 2', async () => {
    const dir = app({ 'config/deploy.yml': `<% loop { sleep 1 } %>\n${DEPLOY}` });
    const started = Date.now();
    const r = await runCli(['targets', '--erb', 'ruby', '--version', 'v42'], { cwd: dir, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_900);
    expect(r.stderr).toBe(
      'kamal-gate: config/deploy.yml: rendering config/deploy.yml with Ruby (--erb ruby) took longer than 10 s, so Ruby and what it started were stopped: look for a loop or a slow command in the ERB\n',
    );
  }, 40_000);

  it('output over the config size limit is refused: exit 2', async () => {
    const dir = app({ 'config/deploy.yml': `${DEPLOY}# <%= "x" * 300_000 %>\n` });
    const r = await runCli(['targets', '--erb', 'ruby', '--version', 'v42'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('config/deploy.yml: rendering config/deploy.yml with Ruby (--erb ruby) produced more than 256 KiB');
  });

  it('lint --erb ruby lints the rendered config, at the template line', async () => {
    const withSocket = DEPLOY.replace('    host: 192.0.2.1\n  tools:', '    host: 192.0.2.1\n    volumes:\n      - <%= "/var/run/" + "docker.sock" %>:/var/run/docker.sock\n  tools:');
    const dir = app({ 'config/deploy.yml': withSocket });
    const r = await runCli(['lint', '--erb', 'ruby', '--format', 'json'], { cwd: dir });
    const doc = JSON.parse(r.stdout) as { erb?: string; notes: string[]; findings: Array<{ rule: string; source: { file: string; line: number } }> };
    expect(doc.erb).toBe('ruby');
    expect(doc.notes).toContain(RUBY_NOTE);
    expect(doc.findings.find((f) => f.rule === 'config.docker_socket')?.source).toMatchObject({ file: 'config/deploy.yml', line: 21 });
    const text = await runCli(['lint', '--erb', 'ruby'], { cwd: dir });
    expect(text.stdout).toContain(`note: ${RUBY_NOTE}\n`);
  });

  it('verify --format json carries the erb field and the note', async () => {
    const r = await runCli(['verify', '--erb', 'ruby', '--version', 'v42', '--no-ledger', '--timeout', '2', '--format', 'json'], { cwd: app() });
    const doc = JSON.parse(r.stdout) as { erb?: string; config?: string; notes: string[] };
    expect(doc.config).toBe('config/deploy.yml');
    expect(doc.erb).toBe('ruby');
    expect(doc.notes).toContain(RUBY_NOTE);
  });
});
