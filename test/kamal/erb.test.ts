import { describe, expect, it } from 'vitest';
import { renderErb } from '../../src/kamal/index.js';
import { configError } from './helpers.js';

const render = (template: string, env: Record<string, string | undefined> = {}) => renderErb(template, { file: 'config/deploy.yml', env });

describe('renderErb: the safe subset', () => {
  it('renders ENV["X"] and ENV[\'X\']', () => {
    expect(render('a: <%= ENV["A"] %>\nb: <%= ENV[\'B\'] %>\n', { A: 'one', B: 'two' }).text).toBe('a: one\nb: two\n');
  });

  it('renders an unset ENV["X"] as "" and reports it', () => {
    const out = render('a: x\nb: <%= ENV["NOPE"] %>\n');
    expect(out.text).toBe('a: x\nb: \n');
    expect(out.unsetEnv).toEqual([{ name: 'NOPE', line: 2 }]);
  });

  it('renders ENV.fetch("X") and ENV.fetch("X", "default")', () => {
    expect(render('<%= ENV.fetch("A") %>', { A: 'set' }).text).toBe('set');
    expect(render('<%= ENV.fetch( "A" , "dflt" ) %>', {}).text).toBe('dflt');
    expect(render("<%= ENV.fetch('A', 'dflt') %>", { A: 'set' }).text).toBe('set');
    expect(render('<%= ENV.fetch("A", nil) %>|', {}).text).toBe('|');
  });

  it('fails on ENV.fetch("X") of an unset variable, naming it, the file and the line', async () => {
    const e = await configError(() => render('a: 1\n\nb: <%= ENV.fetch("DEPLOY_HOST") %>\n'));
    expect(e.file).toBe('config/deploy.yml');
    expect(e.line).toBe(3);
    expect(e.column).toBe(4);
    expect(e.message).toContain('config/deploy.yml:3:4: ');
    expect(e.message).toContain('DEPLOY_HOST is not set');
  });

  it('renders string literals, with Ruby escapes', () => {
    expect(render('u: <%= "my-user" %>').text).toBe('u: my-user');
    expect(render('u: <%= "a\\tb" %>').text).toBe('u: a\tb');
    expect(render("u: <%= 'a\\nb' %>").text).toBe('u: a\\nb');
  });

  it('drops <%# comments %> and code tags holding only Ruby comments', () => {
    expect(render('a<%# anything `rm -rf` %>b<% # note\n%>c').text).toBe('abc');
  });

  it('refuses a Ruby comment that, in Ruby, would hide the text after its tag', async () => {
    // Ruby's ERB compiles `c` onto the comment's line: Kamal renders "ab", not "abc".
    const e = await configError(() => render('a: 1\nb<% # note %>c\n'));
    expect([e.line, e.column]).toEqual([2, 2]);
    expect(e.message).toContain('ends in a Ruby comment');
    expect(e.message).toContain('--erb ruby');
    expect(e.message).not.toContain('note');
  });

  it('turns <%% into a literal <% and leaves %> outside tags alone', () => {
    expect(render('x: "<%%= ENV[\'A\'] %>"', { A: 'no' }).text).toBe('x: "<%= ENV[\'A\'] %>"');
  });

  it('treats %%> inside a tag as a literal %>', () => {
    expect(render('<%= "50%%>" %>').text).toBe('50%>');
  });

  it('trims the newline after -%> and the indentation before a line-leading <%-', () => {
    expect(render('a: 1\n<%# gone -%>\nb: 2\n').text).toBe('a: 1\nb: 2\n');
    expect(render('a:\n    <%- # gone -%>\n  b: 2\n').text).toBe('a:\n  b: 2\n');
    expect(render('v: <%= ENV["A"] -%>\nw: 1', { A: 'x' }).text).toBe('v: xw: 1');
    expect(render('x <%- # mid-line keeps the space\n-%>y').text).toBe('x y');
  });

  it('maps rendered offsets back to source lines when trimming removed lines', () => {
    const src = '<%#\n  two\n  three\n-%>\nservice: app\n<%# x -%>\nimage: <%= ENV["IMG"] %>\n';
    const out = render(src, { IMG: 'line1\nline2' });
    expect(out.text).toBe('service: app\nimage: line1\nline2\n');
    expect(out.map.locate(out.text.indexOf('service'))).toMatchObject({ line: 5, column: 1 });
    // Every character of an ENV value maps to its tag, even past a newline inside the value.
    expect(out.map.locate(out.text.indexOf('line2'))).toMatchObject({ line: 7, column: 8, erb: { env: 'IMG' } });
    expect(out.map.locate(out.text.lastIndexOf('\n'))).toMatchObject({ line: 7 });
  });
});

describe('renderErb: everything else is refused, never run', () => {
  const cases: [string, string, string][] = [
    ['backticks', '<%= `git rev-parse HEAD`.strip %>', 'contains a shell command (backticks or %x) and a method call'],
    ['%x()', '<%= %x(aws ecr get-login-password) %>', 'contains a shell command (backticks or %x)'],
    ['a method call', '<%= Kamal::Utils.docker_arch %>', 'contains a method call and a Ruby constant'],
    ['YAML.load_file loops', '<% YAML.load_file("hosts.yml").each do |h| %>', 'contains a method call, Ruby control flow'],
    ['if blocks on a local', '<% if host %>', 'contains a variable or method name'],
    ['string interpolation', '<%= "#{RUBY_ENGINE}-x" %>', 'contains string interpolation'],
    ['interpolation in a default', '<%= ENV.fetch("A", "#{RUBY_ENGINE}") %>', 'contains string interpolation'],
    ['require', '<% require "dotenv"; Dotenv.load(".env") %>', 'contains loading Ruby code'],
    ['ENV with a space before [', '<%= ENV ["A"] %>', 'ENV lookup in a form kamal-gate does not evaluate'],
    ['a local variable', '<%= host %>', 'contains a variable or method name'],
    ['a %q literal', '<%= %q{x} %>', 'contains a %q string literal, which kamal-gate does not evaluate'],
    ['a nested %Q literal', '<%= %Q(a(b)c) %>', 'contains a %Q string literal, which kamal-gate does not evaluate'],
    ['a heredoc', '<%= <<~EOS\n  x\nEOS\n%>', 'contains a heredoc'],
    ['a symbol', '<%= :x %>', 'contains a symbol'],
    ['a number', '<%= 4.2 %>', 'contains a number'],
  ];
  for (const [what, tag, reason] of cases) {
    it(`refuses ${what}, naming file and line and how to provide the value`, async () => {
      const e = await configError(() => render(`service: app\n\nx: ${tag}\n`, { A: 'a', X: 'x' }));
      expect(e.file).toBe('config/deploy.yml');
      expect(e.line).toBe(3);
      expect(e.column).toBe(4);
      expect(e.message.startsWith('config/deploy.yml:3:4: this ERB tag (<%')).toBe(true);
      expect(e.message).toContain(reason);
      expect(e.message).toContain('Put the value in an environment variable and use <%= ENV["NAME"] %>, or write it literally');
      expect(e.message).toContain('or run with --erb ruby to render the config with Ruby as Kamal does');
    });
  }

  it('names the line where a multi-line tag starts', async () => {
    const e = await configError(() => render('a: 1\nb: <%=\n  `id`\n%>\n'));
    expect(e.line).toBe(2);
    expect(e.column).toBe(4);
    const trimmed = await configError(() => render('a: 1\n  <%- x = 1 -%>\n'));
    expect([trimmed.line, trimmed.column]).toEqual([2, 3]);
  });

  it('never shows a string written in a refused tag: it may be a secret, and it was never registered for redaction', async () => {
    const e = await configError(() => render('registry:\n  password: <%= "hunter2-literal".squeeze %>\n'));
    expect(e.line).toBe(2);
    expect(e.message).toContain('this ERB tag (<%= … %>) contains a method call');
    expect(e.message).toContain("the tag's content is not shown");
    expect(e.message).not.toMatch(/hunter2|squeeze/);
    const open = await configError(() => render("a: <%= 'p4ss-open-tag\nb: more-secret-text\n"));
    expect(open.message).not.toMatch(/p4ss|more-secret/);
  });

  it('refuses a tag that is never closed, naming its line', async () => {
    const e = await configError(() => render('a: 1\nb: <%= ENV["A"]\nc: 2\n'));
    expect(e.line).toBe(2);
    expect(e.column).toBe(4);
    expect(e.message).toContain('is not closed with %>');
    expect(e.message).not.toContain('ENV["A"]');
  });
});
