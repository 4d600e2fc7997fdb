/**
 * The ERB evaluator, form by form: the image lines of issue 16, if/unless/elsif/else blocks, the
 * string methods, interpolation, Ruby's truthiness, what Ruby fails on (as a ConfigError at the
 * tag), and what stays refused. Every rendering expected here is also checked against Debian's
 * `ruby` in one batch, so an expectation cannot drift from what Kamal renders.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { renderErb } from '../../src/kamal/index.js';
import { renderWithRuby, type RubyResult } from './erb-ruby-oracle.js';
import { configError } from './helpers.js';

type Env = Record<string, string>;
const render = (template: string, env: Env = {}) => renderErb(template, { file: 'config/deploy.yml', env });

/** [what, template, env, expected rendering]: each is rendered by kamal-gate here and by Ruby below. */
const EXAMPLES: [string, string, Env, string][] = [
  // The five forms of the issue, with the variable set and unset.
  ['ENV[] || default, set', 'image: "postgres:<%= ENV["PGV"] || "16" %>"', { PGV: '15' }, 'image: "postgres:15"'],
  ['ENV[] || default, unset', 'image: "postgres:<%= ENV["PGV"] || "16" %>"', {}, 'image: "postgres:16"'],
  ['ENV[] || default, empty is truthy', 'image: "postgres:<%= ENV["PGV"] || "16" %>"', { PGV: '' }, 'image: "postgres:"'],
  ['fetch with an integer default, set', 'image: "postgres:<%= ENV.fetch("PGV", 16) %>"', { PGV: '17' }, 'image: "postgres:17"'],
  ['fetch with an integer default, unset', 'image: "postgres:<%= ENV.fetch("PGV", 16) %>"', {}, 'image: "postgres:16"'],
  ['fetch with a block, unset', 'image: "postgres:<%= ENV.fetch("PGV") { "16" } %>"', {}, 'image: "postgres:16"'],
  ['fetch with a block, set', 'image: "postgres:<%= ENV.fetch("PGV") { "16" } %>"', { PGV: '14' }, 'image: "postgres:14"'],
  ['a block wins over a default', '<%= ENV.fetch("PGV", "15") { "16" } %>', {}, '16'],
  ['ternary on ==, equal', 'image: "postgres:<%= ENV["PGV"] == "x" ? "15" : "16" %>"', { PGV: 'x' }, 'image: "postgres:15"'],
  ['ternary on ==, different', 'image: "postgres:<%= ENV["PGV"] == "x" ? "15" : "16" %>"', { PGV: 'y' }, 'image: "postgres:16"'],
  ['ternary on ==, unset', 'image: "postgres:<%= ENV["PGV"] == "x" ? "15" : "16" %>"', {}, 'image: "postgres:16"'],
  // Blocks.
  ['if, set', '<% if ENV["KEY"] %>a: 1\n<% end %>b: 2\n', { KEY: 'x' }, 'a: 1\nb: 2\n'],
  ['if, set to "" (truthy)', '<% if ENV["KEY"] %>a: 1\n<% end %>b: 2\n', { KEY: '' }, 'a: 1\nb: 2\n'],
  ['if, unset', '<% if ENV["KEY"] %>a: 1\n<% end %>b: 2\n', {}, 'b: 2\n'],
  ['if with trimming', 'x:\n<%- if ENV["KEY"] -%>\n  a: 1\n<%- end -%>\ny: 2\n', { KEY: '1' }, 'x:\n  a: 1\ny: 2\n'],
  ['unless/else', '<% unless ENV["KEY"] %>none<% else %>some<% end %>', {}, 'none'],
  ['unless/else, set', '<% unless ENV["KEY"] %>none<% else %>some<% end %>', { KEY: 'k' }, 'some'],
  ['elsif', '<% if ENV["A"] == "1" %>one<% elsif ENV["A"] == "2" then %>two<% else %>other<% end %>', { A: '2' }, 'two'],
  ['else', '<% if ENV["A"] == "1" %>one<% elsif ENV["A"] == "2" %>two<% else %>other<% end %>', { A: '3' }, 'other'],
  ['nested blocks', '<% if ENV["A"] %>[<% unless ENV["B"] %>no B<% end %>]<% end %>', { A: 'a' }, '[no B]'],
  ['if on KAMAL_DESTINATION', '<% if ENV["KAMAL_DESTINATION"] == "production" %>prod<% else %>dev<% end %>', { KAMAL_DESTINATION: 'production' }, 'prod'],
  ['an untaken branch is not evaluated', '<% if false %><%= ENV.fetch("NOPE") %><% end %>ok', {}, 'ok'],
  // Methods (ActiveSupport's present?/blank? as Kamal has them).
  ['.present? of blank', '<%= ENV["A"].present? %>', { A: ' \t\u3000' }, 'false'],
  ['.present? of text', '<%= ENV["A"].present? %>', { A: 'x' }, 'true'],
  ['.blank? of nil', '<%= ENV["A"].blank? %>', {}, 'true'],
  ['.blank? of ""', '<%= ENV["A"].blank? %>', { A: '' }, 'true'],
  ['.presence || default', '<%= ENV["A"].presence || "dflt" %>', { A: '  ' }, 'dflt'],
  ['.nil?', '<%= ENV["A"].nil? %>/<%= ENV["B"].nil? %>', { B: '' }, 'true/false'],
  ['.to_s of nil', '[<%= ENV["A"].to_s %>]', {}, '[]'],
  ['.to_s.empty?', '<%= ENV["A"].to_s.empty? ? "none" : ENV["A"] %>', {}, 'none'],
  ['.strip (NUL and ASCII space only)', '[<%= ENV["A"].strip %>]', { A: ' \t x \u00a0\n' }, '[x \u00a0]'],
  ['.downcase and .upcase', '<%= ENV["A"].downcase %> <%= ENV["A"].upcase %>', { A: 'AbC-1' }, 'abc-1 ABC-1'],
  ['.to_i', '<%= ENV["A"].to_i %> <%= nil.to_i %> <%= " -0d12_3x".to_i %>', { A: '1_000' }, '1000 0 -123'],
  ['! and &&', '<%= !ENV["A"] %> <%= ENV["A"] && ENV["B"] %> <%= !!ENV.key?("A") %>', { A: 'a', B: 'b' }, 'false b true'],
  ['!= and precedence', '<%= ENV["A"] != "x" && ENV["B"] || "z" %>', { A: 'x' }, 'z'],
  ['ENV.key? and include?', '<%= ENV.key?("A") %> <%= ENV.include?("B") %>', { A: '' }, 'true false'],
  // Literals and interpolation.
  ['interpolation', 'image: "<%= "#{ENV["REG"]}/app:#{ENV.fetch("TAG", "latest")}" %>"', { REG: 'ghcr.io/acme' }, 'image: "ghcr.io/acme/app:latest"'],
  ['interpolation of nil and integers', '<%= "#{ENV["A"]}-#{16}-#{nil}-#{true}" %>', {}, '-16--true'],
  ['escapes', "<%= \"\\x41\\101\\u00e9\\u{1F600}\\s\\q\" %> <%= '\\n\\\\\\'' %>", {}, "AAé😀 q \\n\\'"],
  ['integers, nil, true, false', '<%= 1_000 %>|<%= nil %>|<%= true %>|<%= false %>|<%= 12345678901234567890 %>', {}, '1000||true|false|12345678901234567890'],
  ['a Ruby comment in a code tag ends at its newline, even after a \\r', 'a<% # note\r\n%>b<%- # \u2028 -%>\r\nc', {}, 'abc'],
  ['a line-leading <%- right after a tag drops the spaces before it (StringScanner ^)', 'a<%= 1 %>  <%- if true -%>\nb\n<%- end -%>\n', {}, 'a1b\n'],
];

/** [what, template, env]: Ruby raises on each (NoMethodError, KeyError, SyntaxError); kamal-gate fails at the tag. */
const FAILURES: [string, string, Env, RegExp][] = [
  ['.strip on nil', 'a: 1\nb: <%= ENV["SECRET_NAME"].strip %>\n', {}, /calls \.strip on nil.*NoMethodError/],
  ['.empty? on an Integer', 'a: 1\nb: <%= ENV.fetch("X", 16).empty? %>\n', {}, /calls \.empty\? on an Integer/],
  ['ENV.fetch of an unset variable', 'a: 1\nb: <%= ENV.fetch("DEPLOY_HOST") %>\n', {}, /DEPLOY_HOST is not set/],
  ['a default is evaluated even when the variable is set', 'a: 1\nb: <%= ENV.fetch("A", ENV.fetch("NOPE")) %>\n', { A: 'a' }, /NOPE is not set/],
];

let ruby: RubyResult[] = [];
beforeAll(() => {
  ruby = renderWithRuby([...EXAMPLES.map(([, template, env]) => ({ template, env })), ...FAILURES.map(([, template, env]) => ({ template, env }))]);
});

describe('renderErb evaluates the subset as Ruby does', () => {
  for (const [i, [what, template, env, expected]] of EXAMPLES.entries()) {
    it(`${what}`, () => {
      expect(render(template, env).text).toBe(expected);
      expect(ruby[i], 'Ruby renders it the same').toEqual({ ok: true, text: expected });
    });
  }

  for (const [i, [what, template, env, message]] of FAILURES.entries()) {
    it(`fails where Ruby fails: ${what}`, async () => {
      const e = await configError(() => render(template, env));
      expect([e.file, e.line, e.column]).toEqual(['config/deploy.yml', 2, 4]);
      expect(e.message).toMatch(message);
      expect(ruby[EXAMPLES.length + i]!.ok, 'Ruby fails too').toBe(false);
    });
  }
});

describe('renderErb: what the evaluator reports', () => {
  it('reports an unset variable only where it renders as ""', () => {
    expect(render('a: <%= ENV["A"] || "x" %>\nb: <%= ENV["B"] %>\nc: <%= "#{ENV["C"]}-" %>\n<% if ENV["D"] %><% end %>').unsetEnv).toEqual([
      { name: 'B', line: 2 },
      { name: 'C', line: 3 },
    ]);
  });

  it('maps a value to its tag, naming the variable it came from', () => {
    const set = render('x: 1\npassword: <%= ENV["PW"] || "literal" %>\n', { PW: 'from-env' });
    expect(set.map.locate(set.text.indexOf('from-env'))).toMatchObject({ line: 2, column: 11, erb: { env: 'PW' } });
    const unset = render('x: 1\npassword: <%= ENV["PW"] || "literal" %>\n');
    expect(unset.map.locate(unset.text.indexOf('literal'))).toMatchObject({ line: 2, column: 11, erb: {} });
    expect(unset.map.locate(unset.text.indexOf('literal')).erb?.env).toBeUndefined();
    const blocks = render('<% if true %>\nkeep: <%= ENV.fetch("A").strip %>\n<% end %>\n', { A: ' v ' });
    expect(blocks.text).toBe('\nkeep: v\n\n');
    expect(blocks.map.locate(blocks.text.indexOf('keep'))).toMatchObject({ line: 2, column: 1 });
    expect(blocks.map.locate(blocks.text.indexOf('v\n'))).toMatchObject({ line: 2, column: 7, erb: { env: 'A' } });
  });

  it('reads only the environment given, not Object properties', () => {
    expect(render('[<%= ENV["constructor"] %>][<%= ENV.key?("toString") %>]').text).toBe('[][false]');
  });

  it('refuses .downcase of non-ASCII text (Ruby’s Unicode tables are not JavaScript’s), naming --erb ruby, never the value', async () => {
    const e = await configError(() => render('a: <%= ENV["A"].downcase %>', { A: 'ÉCOLE-secret' }));
    expect(e.message).toContain('non-ASCII');
    expect(e.message).toContain('--erb ruby');
    expect(e.message).not.toMatch(/COLE|secret/);
  });

  it('never shows the value in a runtime error', async () => {
    const e = await configError(() => render('a: <%= ENV.fetch("A", "hunter2-default").to_i.strip %>'));
    expect(e.message).toContain('calls .strip on an Integer');
    expect(e.message).not.toContain('hunter2');
  });
});

describe('renderErb: blocks Ruby would not parse fail at the tag', () => {
  const cases: [string, string, number, number, string][] = [
    ['an if never closed', 'a: 1\n  <% if ENV["A"] %>\nb: 2\n', 2, 3, 'opens a block that no <% end %> closes'],
    ['an end too many', 'a: 1\n<% if true %><% end %><% end %>\n', 2, 23, '(<% end %>) is outside any <% if … %>'],
    ['an else outside a block', '<% else %>', 1, 1, '(<% else %>) is outside any'],
    ['an elsif after the else', '<% if true %>a<% else %>b<% elsif true %>c<% end %>', 1, 26, 'follows the <% else %>'],
    ['two elses', '<% if true %>a<% else %>b<% else %>c<% end %>', 1, 26, 'follows the <% else %>'],
    ['an elsif in an unless', '<% unless true %>a<% elsif true %>c<% end %>', 1, 19, 'has no elsif'],
  ];
  for (const [what, template, line, column, message] of cases) {
    it(what, async () => {
      const e = await configError(() => render(template));
      expect([e.line, e.column]).toEqual([line, column]);
      expect(e.message).toContain(message);
      expect(e.message).toContain('Kamal could not read this config either');
    });
  }

  it('refuses a tag outside the subset even in a branch that is not taken, and before evaluating anything', async () => {
    const e = await configError(() => render('<%= ENV.fetch("NOPE") %>\n<% if false %>\n<%= `id` %>\n<% end %>\n'));
    expect([e.line, e.column]).toEqual([3, 1]);
    expect(e.message).toContain('a shell command');
  });

  it('refuses code Ruby reads otherwise than it looks: ENV ["A"], fetch ("A"), a comment, `and`', async () => {
    for (const code of ['ENV ["A"]', 'ENV.fetch ("A")', 'ENV["A"] # note', 'ENV["A"] and ENV["B"]', 'ENV["A"]\n  || "x"', '"a" "b"', '010', '-1']) {
      const e = await configError(() => render(`x: <%= ${code} %>`, { A: 'a' }));
      expect(e.message, code).toContain('which kamal-gate does not evaluate');
      expect(e.message, code).toContain('--erb ruby');
    }
  });
});
