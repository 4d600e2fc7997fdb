/**
 * Properties of the safe ERB subset: any template renders or is refused with a ConfigError naming
 * the file and a line that exists; templates built from literal text, ENV lookups, string literals,
 * comments and `<%%` render to exactly the text Ruby's ERB would produce; nothing else is evaluated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { renderErb } from '../../src/kamal/erb.js';
import { parseControl, parseExpr } from '../../src/kamal/erb-expr.js';
import { cleanly, syntaxString } from './clean-error.js';

const FILE = 'config/deploy.yml';
const envName = fc.string({ unit: fc.constantFrom(...'ABCXYZ_019'.split('')), minLength: 1, maxLength: 6 });
const value = fc.string({ unit: 'binary', maxLength: 12 });

/** Ruby double-quoted literal for `s` (no interpolation, no `%>` which would end the tag). */
function rubyString(s: string): string {
  return `"${s
    .replace(/[\\"#]/g, (c) => `\\${c}`)
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')}"`;
}

type Piece = { kind: 'text'; text: string } | { kind: 'env'; name: string; fetch: boolean } | { kind: 'literal'; value: string } | { kind: 'comment'; text: string } | { kind: 'escape' };
const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'binary', maxLength: 15 }) }),
  fc.record({ kind: fc.constant('env' as const), name: envName, fetch: fc.boolean() }),
  fc.record({ kind: fc.constant('literal' as const), value: value.filter((v) => !v.includes('%>')) }),
  fc.record({ kind: fc.constant('comment' as const), text: fc.string({ maxLength: 10 }).filter((t) => !t.includes('%>')) }),
  fc.constant({ kind: 'escape' as const }),
);

/** Any text, with the ERB tokens and the safe forms' pieces mixed in so every branch is reached. */
const template = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: syntaxString('<%=>-#%ENV["fetch]().,\' \nabcX`${}', 4) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '<%=',
          '<%-',
          '<%#',
          '<%%',
          '<%',
          '%>',
          '-%>',
          '%%>',
          '  <%-',
          '\n',
          '\r\n',
          'ENV["A"]',
          "ENV['B']",
          'ENV.fetch("A")',
          'ENV.fetch("Q", "d")',
          'ENV.fetch("Q", nil)',
          '"lit\\n"',
          '`id`',
          '#{x}',
          'system("x")',
          'File.read("/etc/passwd")',
          '# c',
        ),
      },
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));

describe('ERB subset properties', () => {
  it('any template renders or is refused with a ConfigError naming the file and a real line', () => {
    fc.assert(
      fc.property(template, fc.dictionary(envName, value), (template, env) => {
        const out = cleanly(() => renderErb(template, { file: FILE, env }), ConfigError);
        if (!out.ok) {
          const e = out.error as ConfigError;
          expect(e.file).toBe(FILE);
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.line).toBeLessThanOrEqual(template.split(/\r?\n/).length);
          expect(e.column).toBeGreaterThanOrEqual(1);
          expect(e.message).toMatch(new RegExp(`^${FILE}:${e.line}:${e.column}: `));
        }
      }),
      { numRuns: 1500 },
    );
  }, 60_000);

  it('any code inside <%= %> is either in the subset or refused: the parsers never throw', () => {
    fc.assert(
      fc.property(syntaxString('ENV[]"\'.fetch(),nil #{}`\\ system|&!=?:'), (code) => {
        const expr = parseExpr(code);
        const tree = JSON.stringify(expr ?? null, (_, v) => (typeof v === 'bigint' ? String(v) : v));
        if (/"kind":"(env|fetch|key)"/.test(tree)) expect(code).toMatch(/ENV/);
        parseControl(code);
        parseControl(`if ${code}`);
      }),
      { numRuns: 1500 },
    );
  }, 60_000);

  it('templates of literal text, ENV lookups, string literals, comments and <%% render exactly', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.dictionary(envName, value), (pieces, env) => {
        let template = '';
        let expected = '';
        for (const p of pieces) {
          if (p.kind === 'text') {
            // Literal text is copied as is; it must not open a tag, here or joined to what follows.
            if ((template + p.text).includes('<%') || p.text.endsWith('<')) continue;
            template += p.text;
            expected += p.text;
          } else if (template.endsWith('<')) {
            continue;
          } else if (p.kind === 'env') {
            const v = env[p.name];
            if (p.fetch) {
              template += `<%= ENV.fetch(${rubyString(p.name)}, "dflt") %>`;
              expected += v ?? 'dflt';
            } else {
              template += `<%= ENV[${rubyString(p.name)}] %>`;
              expected += v ?? '';
            }
          } else if (p.kind === 'literal') {
            template += `<%= ${rubyString(p.value)} %>`;
            expected += p.value;
          } else if (p.kind === 'comment') {
            template += `<%# ${p.text} %>`;
          } else {
            template += '<%%';
            expected += '<%';
          }
        }
        const out = cleanly(() => renderErb(template, { file: FILE, env }), ConfigError);
        expect(out.ok, out.ok ? '' : out.error.message).toBe(true);
        if (out.ok) expect(out.value.text).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
