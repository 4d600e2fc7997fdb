/**
 * `--erb ruby` at the module level, with Debian's real `ruby`: the render as Kamal does it (trim
 * mode "-", the folder and environment it renders in, KAMAL_DESTINATION), the limits (deadline,
 * output cap, no ruby), redacted failures, and the map from the rendered text back to the template.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { renderErbWithRuby } from '../../src/kamal/erb-ruby.js';
import { loadConfig } from '../../src/kamal/index.js';
import { alignRendered } from '../../src/kamal/rendered-map.js';
import { registerSecret } from '../../src/redact.js';
import { configError, project } from './helpers.js';

const PATH = process.env['PATH'] ?? '/usr/bin:/bin';
const RUBY_ENGINE = execFileSync('ruby', ['-e', 'print "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}"']).toString();

interface RenderOpts {
  env?: Record<string, string | undefined>;
  files?: Record<string, string>;
  timeoutMs?: number;
  maxBytes?: number;
}

/** Renders `template` (as config/deploy.yml of a fresh project holding `files` too) with Ruby. */
async function render(template: string, opts: RenderOpts = {}) {
  const dir = project({ 'config/deploy.yml': template, ...opts.files });
  const out = await renderErbWithRuby({
    path: path.join(dir, 'config/deploy.yml'),
    file: 'config/deploy.yml',
    template,
    env: opts.env ?? { PATH },
    cwd: dir,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}),
  });
  return { ...out, dir };
}

/** Whether `pid` is a running process (a zombie waiting for its new parent to reap it is not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const MINIMAL = 'service: app\nimage: acme/app\nservers:\n  - 192.0.2.1\nbuilder:\n  arch: amd64\n';

describe('renderErbWithRuby', () => {
  it('runs what the safe subset refuses, as Ruby renders it: interpolation, backticks, File.read, locals, trim mode "-"', async () => {
    const template = [
      '<% engine = "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}" -%>',
      'service: app',
      'image: "acme/app:<%= engine %>"',
      'builder:',
      '  args:',
      '    RUBY_VERSION: <%= File.read(".ruby-version").strip %>',
      '    REVISION: <%= `echo v1`.strip %>',
      '<% if false -%>',
      'hidden: true',
      '<% end -%>',
      'last: <%%= kept %>',
      '',
    ].join('\n');
    const out = await render(template, { files: { '.ruby-version': '3.3.5\n' } });
    expect(out.text).toBe(['service: app', `image: "acme/app:${RUBY_ENGINE}"`, 'builder:', '  args:', '    RUBY_VERSION: 3.3.5', '    REVISION: v1', 'last: <%= kept %>', ''].join('\n'));
  });

  it('renders with the environment it is given, nothing added, in the folder it is given', async () => {
    const out = await render('<%= ENV.to_h.sort.map { |k, v| "#{k}=#{v}" }.join("\\n") %>\ncwd: <%= Dir.pwd %>', { env: { PATH, APP_ONLY: 'yes' } });
    expect(out.text).toBe(`APP_ONLY=yes\nPATH=${PATH}\ncwd: ${out.dir}`);
  });

  it("sees no local variable of kamal-gate's script: the ERB gets a fresh top-level binding, as under Kamal", async () => {
    expect((await render('<%= local_variables.inspect %> <%= TOPLEVEL_BINDING.local_variables.inspect %>')).text).toBe('[:_erbout] []');
  });

  it('fails with the file, the line Ruby names, the exception and its message, redacted', async () => {
    registerSecret('registered-secret-value');
    const e = await configError(render('a: 1\n\nb: <%= raise "no: #{ENV["DEPLOY_TOKEN"]} registered-secret-value" %>\n', { env: { PATH, DEPLOY_TOKEN: 'tok-123456789' } }));
    expect(e.file).toBe('config/deploy.yml');
    expect(e.line).toBe(3);
    expect(e.message).toBe('config/deploy.yml:3: rendering config/deploy.yml with Ruby (--erb ruby) failed: Ruby raised RuntimeError: no: *** ***');
  });

  it('says a NoMethodError for present? is ActiveSupport, which Kamal loads and plain Ruby does not', async () => {
    const e = await configError(render('a: <%= ENV["APP_PASSWORD"].present? %>\n', { env: { PATH, APP_PASSWORD: 'hunter22' } }));
    expect(e.line).toBe(1);
    expect(e.message).toContain('Ruby raised NoMethodError: undefined method `present?\' for "***":String (an ActiveSupport method: Kamal has ActiveSupport loaded, plain Ruby does not;');
  });

  it('shows the first line of a syntax error only (the rest quotes the compiled template)', async () => {
    const e = await configError(render('a: 1\nb: <%= foo( "secret-in-code" %>\n'));
    expect(e.line).toBe(2);
    expect(e.message).toMatch(/failed: Ruby raised SyntaxError: syntax error, unexpected/);
    expect(e.message).not.toContain('secret-in-code');
    expect(e.message).not.toContain('\n');
  });

  it("reports an exit without an exception, and what the config's commands last wrote to standard error", async () => {
    const e = await configError(render('<% `echo from-a-command >&2` %><% exit 3 %>'));
    expect(e.message).toBe('config/deploy.yml: rendering config/deploy.yml with Ruby (--erb ruby) failed: Ruby exited with status 3; its last words: from-a-command');
  });

  it('kills Ruby and every command it started at the deadline', async () => {
    const template = '<% File.write("pids", "#{Process.pid} #{spawn("sleep", "60")}") %><% loop {} %>';
    const dir = project({ 'config/deploy.yml': template });
    const started = Date.now();
    const e = await configError(renderErbWithRuby({ path: path.join(dir, 'config/deploy.yml'), file: 'config/deploy.yml', template, env: { PATH }, cwd: dir, timeoutMs: 1500 }));
    const elapsed = Date.now() - started;
    expect(e.message).toBe(
      'config/deploy.yml: rendering config/deploy.yml with Ruby (--erb ruby) took longer than 1.5 s, so Ruby and what it started were stopped: look for a loop or a slow command in the ERB',
    );
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(5000);
    const pids = readFileSync(path.join(dir, 'pids'), 'utf8').split(' ').map(Number);
    expect(pids).toHaveLength(2);
    // Ruby was reaped before the error came back; the sleep it started (its own child) goes with the group.
    expect(alive(pids[0]!)).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pids[1]!)).toBe(false);
  });

  it('stops a render that writes more than the cap', async () => {
    const e = await configError(render('<%= "x" * 5000 %>', { maxBytes: 4096 }));
    expect(e.message).toBe(
      'config/deploy.yml: rendering config/deploy.yml with Ruby (--erb ruby) produced more than 4 KiB, the most kamal-gate reads as a Kamal config, so Ruby was stopped: look for a loop in the ERB',
    );
    expect((await render('<%= "x" * 4096 %>', { maxBytes: 4096 })).text).toHaveLength(4096);
  });

  it('is a usage error naming --erb safe when there is no ruby on PATH', async () => {
    const error = await render('a: 1', { env: { PATH: '/nonexistent' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('there is no ruby on PATH: install Ruby (Kamal runs on it) or use --erb safe');
  });
});

describe('loadConfig with erb: ruby', () => {
  it('sets KAMAL_DESTINATION for both files with -d, and unsets it without, as Kamal does', async () => {
    const dir = project({
      'config/deploy.yml': `${MINIMAL}accessories:\n  db:\n    image: "postgres:<%= ENV.fetch("KAMAL_DESTINATION", "none") %>"\n    host: 192.0.2.1\n`,
      'config/deploy.eu.yml': 'accessories:\n  cache:\n    image: "redis:<%= ENV["KAMAL_DESTINATION"] %>"\n    host: 192.0.2.1\n',
    });
    const env = { PATH, KAMAL_DESTINATION: 'stale' };
    const eu = await loadConfig({ cwd: dir, env, destination: 'eu', erb: 'ruby' });
    const images = eu.configuration.accessories.map((a) => a.image.value);
    expect(images).toEqual(['postgres:eu', 'redis:eu']);
    expect(eu.erb).toBe('ruby');
    expect(eu.notes[0]).toBe(
      'config/deploy.yml and config/deploy.eu.yml rendered by Ruby (--erb ruby), as Kamal renders them: the Ruby in the ERB ran; a location points at the template line its text came from',
    );
    const none = await loadConfig({ cwd: dir, env, erb: 'ruby' });
    expect(none.configuration.accessories.map((a) => a.image.value)).toEqual(['postgres:none']);
  });

  it('points locations at the template line the text came from, and marks ERB output as such', async () => {
    const dir = project({
      'config/deploy.yml': [
        '<% hosts = %w[192.0.2.1 192.0.2.2] -%>',
        '<% registry = "ghcr.io" -%>',
        'service: app',
        'image: <%= "acme/app" %>',
        'servers:',
        '  web:',
        '<% hosts.each do |h| -%>',
        '    - <%= h %>',
        '<% end -%>',
        'registry:',
        '  server: <%= registry %>',
        '  username: acme',
        '  password: <%= "from-erb" %>',
        'builder:',
        '  arch: amd64',
        '',
      ].join('\n'),
    });
    const config = await loadConfig({ cwd: dir, env: { PATH }, erb: 'ruby' });
    const image = config.configuration.image;
    expect(image.value).toBe('acme/app');
    expect(image.loc).toMatchObject({ file: 'config/deploy.yml', line: 4, column: 8, erb: {} });
    const service = config.configuration.service;
    expect(service.loc).toMatchObject({ line: 3, column: 10 });
    expect(service.loc.erb).toBeUndefined();
    const registry = config.root.entries.get('registry')!;
    expect(registry.keyLoc.line).toBe(10);
    const password = config.configuration.registry?.password;
    expect(password).toMatchObject({ kind: 'literal', value: 'from-erb' });
    expect(password?.kind === 'literal' && password.loc).toMatchObject({ line: 13, column: 13, erb: {} });
  });
});

describe('alignRendered', () => {
  const lineOf = (template: string, rendered: string, needle: string) => alignRendered('f.yml', template, rendered).locate(rendered.indexOf(needle));

  it('maps an unchanged file one to one', () => {
    const text = 'a: 1\nb: 2\n';
    expect(lineOf(text, text, 'b: 2')).toEqual({ file: 'f.yml', line: 2, column: 1 });
  });

  it('maps lines after removed and added lines to their own template line', () => {
    const template = '<% x = 1 -%>\na: 1\n<% 3.times do |i| -%>\n  - item<%= i %>\n<% end -%>\nb: 2\n';
    const rendered = 'a: 1\n  - item0\n  - item1\n  - item2\nb: 2\n';
    expect(lineOf(template, rendered, 'a: 1')).toMatchObject({ line: 2, column: 1 });
    expect(lineOf(template, rendered, 'b: 2')).toMatchObject({ line: 6, column: 1 });
    // Loop output maps to the loop's body line: its unchanged start exactly, the value to the tag.
    expect(lineOf(template, rendered, '- item2')).toEqual({ file: 'f.yml', line: 4, column: 3 });
    expect(lineOf(template, rendered, '2\nb')).toEqual({ file: 'f.yml', line: 4, column: 9, erb: {} });
  });

  it('keeps the end of a changed line exact', () => {
    const template = 'image: "app:<%= v %>" # pinned\n';
    const rendered = 'image: "app:1.2.3" # pinned\n';
    expect(lineOf(template, rendered, '1.2.3')).toEqual({ file: 'f.yml', line: 1, column: 13, erb: {} });
    expect(lineOf(template, rendered, '" # pinned')).toEqual({ file: 'f.yml', line: 1, column: 21 });
  });

  it('stays linear on a large file with many changed lines', () => {
    const template = Array.from({ length: 5000 }, (_, i) => `k${i}: <%= ${i} %>`).join('\n');
    const rendered = Array.from({ length: 5000 }, (_, i) => `k${i}: ${i}`).join('\n');
    const started = Date.now();
    expect(lineOf(template, rendered, 'k4321:')).toEqual({ file: 'f.yml', line: 4322, column: 1 });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
