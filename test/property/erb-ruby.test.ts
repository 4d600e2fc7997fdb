/**
 * The ERB evaluator against Ruby itself: templates generated from the subset's grammar (literals,
 * ENV lookups, `||`/`&&`/`!`/`==`/`!=`/`?:`, methods, interpolation, if/elsif/else/unless blocks,
 * trimming) and from just outside it, with random environments, are rendered by kamal-gate and by
 * Debian's `ruby` (`ERB.new(t, trim_mode: "-").result` under that ENV, with ActiveSupport's
 * blank?/present?/presence as Kamal has them), one Ruby process per batch. Every template must be
 * rendered exactly as Ruby renders it, or refused; never rendered differently, never rendered when
 * Ruby fails. Templates made only from the grammar must not be refused where Ruby renders them
 * (except the documented refusal of .downcase/.upcase on non-ASCII text).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { renderErb } from '../../src/kamal/erb.js';
import { type RubyCase, renderWithRuby } from '../kamal/erb-ruby-oracle.js';

/** Ruby source, and whether it was made only from the subset's grammar. */
interface Code {
  src: string;
  strict: boolean;
}
const code = (src: string, strict = true): Code => ({ src, strict });
const join2 = (parts: (Code | string)[], strict = true): Code => ({
  src: parts.map((p) => (typeof p === 'string' ? p : p.src)).join(''),
  strict: strict && parts.every((p) => typeof p === 'string' || p.strict),
});

const sp = fc.constantFrom('', ' ', ' ', '  ', '\t');
const sp1 = fc.constantFrom(' ', ' ', '  ', '\t');
/** Where Ruby reads on past a newline: after an operator, inside brackets. */
const brk = fc.constantFrom('', ' ', ' ', '\n', ' \n  ');
const NAMES = ['A', 'B', 'PGV', 'KEY', 'MISSING'];
const name = fc.constantFrom(...NAMES, ...NAMES, '', 'a b');
const keyLiteral = fc.tuple(name, fc.boolean()).map(([n, dq]) => (dq ? `"${n}"` : `'${n}'`));

const dqChars = fc.string({ unit: fc.constantFrom(..."abcXYZ 019_-:/.,'#\t".split(''), 'é', '€', '😀', 'ß'), maxLength: 5 });
const dqEscape = fc.constantFrom(
  '\\n',
  '\\t',
  '\\s',
  '\\0',
  '\\01',
  '\\101',
  '\\x41',
  '\\x7',
  '\\u00e9',
  '\\u{1F600}',
  '\\u{41}',
  '\\q',
  '\\\\',
  '\\"',
  '\\#',
  '\\e',
  '\\a',
  '\\\n',
  '\\8',
  '\\{',
  '\\é',
);
const dqOutside = fc.constantFrom('\\M-a', '\\C-a', '\\ca', '\\xff', '\\377', '\\u{41 42}', '\\u12', '#@x', '#$x', '\\x');
const sqPiece = fc.oneof(fc.string({ unit: fc.constantFrom(...'abcXYZ 019_-"#{}\n'.split(''), 'é'), maxLength: 5 }), fc.constantFrom('\\\\', "\\'", '\\n', '\\a', '#{A}'));
const singleQuoted: fc.Arbitrary<Code> = fc.array(sqPiece, { maxLength: 4 }).map((p) => code(`'${p.join('')}'`));

const text = fc.string({ unit: fc.constantFrom(...'ab: -#%>"\'\t\r\n\n\n'.split(''), 'é', '\u2028'), maxLength: 12 }).map((s) => code(s));
const close = fc.constantFrom('%>', '%>', '-%>');
const open = fc.constantFrom('<%', '<%', '<%-', '\n  <%-');
const MISC = [code('<%# a comment -%>\n'), code('<%# x %>'), code('<%%'), code('<% # note\n%>'), code('<%- # note -%>\n'), code('  <%- # note -%>\n')];
const MISC_OUTSIDE = [
  '<%- # note -%>', // refused unless a newline or the end of the template follows

  '<% # note %>tail\nmore',
  '<% end %>',
  '<% else %>',
  '<% x = 1 %>',
  '<% if ENV["A"] %>',
  '<%= ENV["A"]',
  '<% unless nil %>a<% elsif true %>b<% end %>',
  '<% if true %>a<% else %>b<% else %>c<% end %>',
];
const OUTSIDE_FORMS = [
  'ENV ["A"]',
  '%q(x)',
  '%Q(a#{ENV["A"]})',
  ':sym',
  '1.5',
  '-1',
  '010',
  '0x1f',
  '"a" "b"',
  'x',
  'ENV.fetch("A", "b", "c")',
  'ENV.fetch ("A")',
  'ENV.fetch("A") { |k| k }',
  'ENV.fetch("A",)',
  'not ENV["A"]',
  'ENV["A"] # c',
  'ENV["A"]; ENV["B"]',
  'ENV[1]',
  'ENV.key? "A"',
  'nil?',
  '()',
  'ENV["A"] == "x" == "y"',
  'ENV["A"]\n.strip',
  'ENV',
  'ENV["A"]["B"]',
  'ENV.fetch("A") do "x" end',
  'ENV["A"].nil?==true',
  'true?1:2',
];
const METHODS = ['to_s', 'to_i', 'strip', 'lstrip', 'rstrip', 'downcase', 'upcase', 'present?', 'blank?', 'presence', 'nil?', 'empty?'];
const OUTSIDE_METHODS = ['reverse', 'length', 'strip!', 'to_sym', 'to_s(2)', 'to_f', 'squeeze', 'strip ()'];

/** A template of the grammar; with `outside`, forms just outside it mixed in (as subexpressions, tags, broken blocks). */
function templates(outside: boolean): fc.Arbitrary<Code> {
  const { expr } = fc.letrec<{ expr: Code; doubleQuoted: Code }>((tie) => {
    const e = tie('expr');
    const terminal = fc.oneof(
      fc.constantFrom(code('nil'), code('true'), code('false'), code('0'), code('16'), code('1_000'), code('12345678901234567890')),
      tie('doubleQuoted'),
      singleQuoted,
      fc.tuple(brk, keyLiteral, brk).map(([a, k, b]) => code(`ENV[${a}${k}${b}]`)),
      fc.tuple(fc.constantFrom('.', ' .', '. ', ' . '), fc.constantFrom('key?', 'include?', 'has_key?', 'member?'), keyLiteral).map(([dot, m, k]) => code(`ENV${dot}${m}(${k})`)),
    );
    const fetch = fc
      .tuple(fc.constantFrom('.', ' .', '. '), brk, keyLiteral, fc.option(fc.tuple(brk, e), { nil: undefined }), fc.option(fc.tuple(sp, brk, e, brk), { nil: undefined }))
      .map(([dot, b, k, fallback, block]) =>
        join2([`ENV${dot}fetch(${b}${k}`, ...(fallback ? [',', fallback[0], fallback[1]] : []), ')', ...(block ? [block[0], '{', block[1], block[2], block[3], '}'] : [])]),
      );
    const compound = fc.oneof(
      fc.tuple(fc.constantFrom('!', '! ', '!!'), e).map(([op, x]) => join2([op, x])),
      fc.tuple(e, sp, fc.constantFrom('||', '&&', '==', '!='), brk, e).map(([a, s, op, b, c]) => join2([a, s, op, b, c])),
      fc.tuple(e, sp1, fc.constantFrom(' ', '\n'), e, sp1, fc.constantFrom(' ', '\n '), e).map(([c, s1, s2, a, s3, s4, b]) => join2([c, s1, '?', s2, a, s3, ':', s4, b])),
      fc.tuple(brk, e, brk).map(([a, x, b]) => join2(['(', a, x, b, ')'])),
      fc.tuple(e, fc.constantFrom('.', ' .', '. '), fc.constantFrom(...METHODS), fc.constantFrom('', '', '()')).map(([x, dot, m, p]) => join2([x, dot, m, p])),
      fetch,
    );
    const beyond = fc.oneof(
      fc.tuple(e, fc.constantFrom(...OUTSIDE_METHODS)).map(([x, m]) => join2([x, `.${m}`], false)),
      fc.tuple(e, fc.constantFrom(' + ', ' and ', ' or ', '\n|| ', '\n&& ', ' ?', '?', ' ==\n= '), e).map(([a, op, b]) => join2([a, op, b], false)),
      fc.tuple(e, fc.constantFrom(' ?', ' ? '), e, e).map(([c, q, a, b]) => join2([c, q, a, ' :', b], false)),
      fc.constantFrom(...OUTSIDE_FORMS).map((f) => code(f, false)),
    );
    const pieces = [
      { weight: 4, arbitrary: dqChars.map((s) => code(s)) },
      { weight: 3, arbitrary: dqEscape.map((s) => code(s)) },
      { weight: 1, arbitrary: fc.constant(code('\n')) },
      { weight: 2, arbitrary: fc.tuple(brk, e, brk).map(([a, x, b]) => join2(['#{', a, x, b, '}'])) },
      { weight: 1, arbitrary: fc.constant(code('#{}')) },
      ...(outside ? [{ weight: 1, arbitrary: dqOutside.map((s) => code(s, false)) }] : []),
    ];
    return {
      expr: fc.oneof({ maxDepth: 3, depthIdentifier: 'expr' }, terminal, terminal, compound, compound, ...(outside ? [beyond] : [])),
      doubleQuoted: fc.array(fc.oneof(...pieces), { maxLength: 4 }).map((parts) => join2(['"', ...parts, '"'])),
    };
  });

  const output = fc.tuple(fc.constantFrom('', ' ', ' ', '\n', ' \n '), expr, fc.constantFrom('', ' ', ' ', '\n'), close).map(([a, x, b, c]) => join2(['<%=', a, x, b, c]));
  const control = (kw: string): fc.Arbitrary<Code> =>
    fc.tuple(open, sp1, expr, sp, fc.constantFrom('', '', ' then'), sp, close).map(([o, s, x, s2, t, s3, c]) => join2([o, ' ', kw, s, x, s2, t, s3, c]));
  const bare = (kw: string): fc.Arbitrary<Code> => fc.tuple(open, sp, close).map(([o, s, c]) => code(`${o} ${kw}${s}${c}`));
  const misc = outside
    ? fc.oneof(
        fc.constantFrom(...MISC),
        fc.constantFrom(...MISC_OUTSIDE).map((m) => code(m, false)),
      )
    : fc.constantFrom(...MISC);

  return fc.letrec<{ template: Code; block: Code }>((tie) => ({
    template: fc.array(fc.oneof({ maxDepth: 2, depthIdentifier: 'template' }, text, output, misc, text, output, tie('block')), { minLength: 1, maxLength: 6 }).map((parts) => join2(parts)),
    block: fc
      .tuple(
        fc.boolean(),
        control('if'),
        control('unless'),
        tie('template'),
        fc.array(fc.tuple(control('elsif'), tie('template')), { maxLength: 2 }),
        fc.option(fc.tuple(bare('else'), tie('template')), { nil: undefined }),
        bare('end'),
      )
      .map(([unless, ifTag, unlessTag, body, elsifs, orElse, end]) => join2([unless ? unlessTag : ifTag, body, ...(unless ? [] : elsifs.flat()), ...(orElse ?? []), end])),
  })).template;
}

const value = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\t',
    'x',
    'X',
    '16',
    ' 12abc',
    '0d7',
    '1_000',
    '-3',
    'false',
    'nil',
    'true',
    'é',
    'É',
    'ß',
    'Σ',
    '\u00a0',
    '\u3000',
    '\u0085',
    '\ufeff',
    'a b',
    ' x \n',
    'Ab-C',
    '#{x}',
    '%>',
    '"',
    "'",
    '\\',
  ),
  fc.string({ unit: fc.constantFrom(...'aZ09 _-\t\n\r'.split(''), 'é', '\u2028'), maxLength: 6 }),
);
const env = fc.dictionary(fc.constantFrom('A', 'B', 'PGV', 'KEY'), value, { maxKeys: 4 });

interface Case extends RubyCase {
  strict: boolean;
}

type GateResult = { ok: true; text: string } | { ok: false; message: string };
function renderWithGate(c: Case): GateResult {
  try {
    return { ok: true, text: renderErb(c.template, { file: 'config/deploy.yml', env: c.env }).text };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, message: e.message };
    throw e;
  }
}

/** A refusal kamal-gate makes on purpose where Ruby renders: case mapping of non-ASCII text. */
const DELIBERATE = /non-ASCII characters/;

describe('the ERB evaluator renders as Ruby renders, or refuses', () => {
  it('generated templates: same text as Ruby, or refused; never different, never rendered where Ruby fails', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    const template = fc.oneof(templates(false), templates(true));
    const cases: Case[] = fc.sample(fc.record({ template, env }), { numRuns: 4000, seed }).map(({ template: t, env: e }) => ({ template: t.src, strict: t.strict, env: e }));
    const ruby = renderWithRuby(cases);
    const problems: string[] = [];
    let rendered = 0;
    let strictRendered = 0;
    let strictRubyOk = 0;
    cases.forEach((c, i) => {
      const want = ruby[i]!;
      const got = renderWithGate(c);
      if (got.ok) rendered++;
      if (c.strict && want.ok) strictRubyOk++;
      if (c.strict && want.ok && got.ok) strictRendered++;
      let problem: string | undefined;
      if (got.ok && !want.ok) problem = `kamal-gate rendered ${JSON.stringify(got.text)}, Ruby failed with ${want.error}`;
      else if (got.ok && want.ok && got.text !== want.text) problem = `kamal-gate rendered ${JSON.stringify(got.text)}, Ruby ${JSON.stringify(want.text)}`;
      else if (!got.ok && want.ok && c.strict && !DELIBERATE.test(got.message))
        problem = `kamal-gate refused a template of the subset that Ruby renders as ${JSON.stringify(want.text)}: ${got.message}`;
      if (problem) problems.push(`${problem}\n  template: ${JSON.stringify(c.template)}\n  env: ${JSON.stringify(c.env)}`);
    });
    expect(problems.slice(0, 5).join('\n'), `seed ${seed} (FC_SEED=${seed} reproduces it): ${problems.length} of ${cases.length} differ`).toBe('');
    // The generator must reach the evaluator, not only its refusals.
    expect(rendered).toBeGreaterThan(cases.length / 4);
    expect(strictRendered).toBeGreaterThan(strictRubyOk * 0.9);
  }, 60_000);
});
