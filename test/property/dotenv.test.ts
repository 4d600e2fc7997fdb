/**
 * Properties of the `.kamal/secrets` dotenv reader: any text parses or is refused with a
 * ConfigError naming the file and a line that exists; files generated from KEY=value pairs (bare,
 * single- or double-quoted, `export`, `:` separators, spaces, comments, blank lines, CRLF, `$KEY`
 * references to earlier keys) give back exactly those values with the line each was set on; a
 * `$(command)` is never run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseDotenv } from '../../src/kamal/dotenv.js';
import { cleanly, syntaxString } from './clean-error.js';

const FILE = '.kamal/secrets';
const key = fc.tuple(fc.constantFrom(...'ABKQZ_'.split('')), fc.string({ unit: fc.constantFrom(...'ABZ019_'.split('')), maxLength: 6 })).map(([a, b]) => a + b);
const safe = (extra: string) =>
  fc.string({ unit: fc.oneof(fc.constantFrom(...`abcXYZ019 _-.,/:;+=@%!?~^&*()[]{}<>|${extra}`.split('')), fc.constantFrom('\u00e9', '\u{1F600}', '\u4e2d')), maxLength: 12 });

type Value = { form: 'bare' | 'single' | 'double'; text: string } | { form: 'ref'; to: number };
const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.record({
    form: fc.constant('bare' as const),
    text: safe('')
      .map((s) => s.trim())
      .filter((s) => s !== '' && !s.includes('(') && !s.includes(')')),
  }),
  fc.record({ form: fc.constant('single' as const), text: safe('"#$\\').map((s) => s.replace(/\\/g, '')) }),
  fc.record({ form: fc.constant('double' as const), text: safe("'#") }),
  fc.record({ form: fc.constant('ref' as const), to: fc.nat() }),
);
const line = fc.record({
  key,
  value: valueArb,
  export: fc.boolean(),
  sep: fc.constantFrom('=', ' = ', '= ', ': '),
  comment: fc.boolean(),
  blankBefore: fc.boolean(),
});

describe('secrets dotenv properties', () => {
  it('any text parses or is refused with a ConfigError naming the file and a real line', () => {
    fc.assert(
      fc.property(syntaxString('AB_=:"\'#$(){}\\ \n\texport.\r'), (text) => {
        const out = cleanly(() => parseDotenv(text, FILE, { HOME: '/root' }), ConfigError);
        if (!out.ok) {
          const e = out.error as ConfigError;
          expect(e.file).toBe(FILE);
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.line).toBeLessThanOrEqual(text.replace(/\r\n?/g, '\n').split('\n').length);
        } else {
          for (const entry of out.value.values()) expect(entry.line).toBeLessThanOrEqual(text.replace(/\r\n?/g, '\n').split('\n').length);
        }
      }),
      { numRuns: 1500 },
    );
  }, 60_000);

  it('generated KEY=value lines give back their values and lines', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), fc.boolean(), (lines, crlf) => {
        const text: string[] = [];
        const expected = new Map<string, { value: string; line: number }>();
        const set: Array<{ key: string; value: string }> = [];
        for (const l of lines) {
          if (l.blankBefore) text.push(l.comment ? '# a comment' : '');
          let raw: string;
          let value: string;
          if (l.value.form === 'ref') {
            const target = set[l.value.to % Math.max(set.length, 1)];
            if (!target) continue;
            raw = `"$${target.key}"`;
            value = expected.get(target.key)!.value;
          } else if (l.value.form === 'bare') {
            raw = l.value.text;
            value = l.value.text;
          } else if (l.value.form === 'single') {
            raw = `'${l.value.text}'`;
            value = l.value.text;
          } else {
            raw = `"${l.value.text}"`;
            value = l.value.text;
          }
          text.push(`${l.export ? 'export ' : ''}${l.key}${l.sep}${raw}${l.comment && l.value.form !== 'bare' ? ' # note' : ''}`);
          expected.set(l.key, { value, line: text.length });
          set.push({ key: l.key, value });
        }
        const src = text.join(crlf ? '\r\n' : '\n');
        const out = cleanly(() => parseDotenv(src, FILE, {}), ConfigError);
        expect(out.ok, out.ok ? '' : `${out.error.message}\n${src}`).toBe(true);
        if (!out.ok) return;
        expect(new Map([...out.value].map(([k, e]) => [k, { value: e.value, line: e.line }]))).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  it('a $(command) anywhere in a value is never run: the value is marked unresolved', () => {
    fc.assert(
      fc.property(key, safe(''), fc.constantFrom('', '"'), (k, cmd, q) => {
        const command = `$(touch /tmp/kamal-gate-must-not-exist-${cmd.replace(/[^a-z0-9]/gi, '')})`;
        const out = parseDotenv(`${k}=${q}x${command}${q}\n`, FILE, {});
        expect(out.get(k)).toMatchObject({ unresolved: 'needs command substitution' });
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});
