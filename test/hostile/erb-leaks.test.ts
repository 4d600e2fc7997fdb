/**
 * A refused ERB tag never shows what is inside it. A tag kamal-gate does not evaluate was never
 * registered for redaction, so a secret written in it (`password: <%= %q{…} %>`) would be printed as
 * is by any error that echoed the tag. For secrets embedded in every Ruby literal form (quotes,
 * %q/%Q/%w/%W/%i/%I/%s/%x/%r with every delimiter, heredocs, symbols, numbers, backticks,
 * interpolation, escapes, comments, code tags, unclosed tags), through the real CLI (`targets -c
 * FILE`): exit 2, the secret is in neither stdout nor stderr, and the message names file:line:column.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { renderErb } from '../../src/kamal/erb.js';
import { runCli } from '../helpers/cli.js';

const FILE = 'config/deploy.yml';
const PAIRED = ['(', '[', '{', '<'];
const CLOSE: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };
/** Every delimiter Ruby takes for a %-literal that can appear inside an ERB tag. */
const DELIMITERS = [...PAIRED, ...'|!/^~#"\'+-*:;,.?@$&=_`\\'.split('')].filter((d) => d !== '_');

/** A form: Ruby code (the inside of a tag) holding `s`. */
type Form = (s: string) => string;

const PERCENT_KINDS = ['q', 'Q', '', 'w', 'W', 'i', 'I', 's', 'x', 'r'];
const percent =
  (kind: string, d: string): Form =>
  (s) =>
    `%${kind}${d}${s}${CLOSE[d] ?? d}`;
/** Every kind with every delimiter (in-process and the generated CLI runs draw from these). */
const percentForms: Form[] = PERCENT_KINDS.flatMap((kind) => DELIMITERS.map((d) => percent(kind, d)));
/** For the exhaustive CLI run: every delimiter once, the kinds taking turns (so every kind too). */
const percentSample: Form[] = DELIMITERS.map((d, i) => percent(PERCENT_KINDS[i % PERCENT_KINDS.length]!, d));

/** (Forms the subset evaluates, `"…".strip`, `ENV["A"] || "…"`, `"#{'…'}"`, `"\u00e9"`, carry a construct it refuses.) */
const FORMS: Form[] = [
  (s) => `"${s}".squeeze`,
  (s) => `'${s}'.squeeze`,
  (s) => `"${s}" + ENV["X"]`,
  (s) => `ENV["A"] || "${s}" * 2`,
  (s) => `ENV.fetch("A", "${s}".swapcase)`,
  (s) => `ENV.fetch("A", '${s}', 1)`,
  (s) => `"${s}\\M-a"`,
  (s) => `"${s}\\xff"`,
  (s) => `"#{'${s}' * 2}"`,
  (s) => `"x-#{ENV['${s}'].succ}"`,
  (s) => `"#@${s}"`,
  (s) => `\`echo ${s}\``,
  (s) => `\`echo ${s}\`.strip`,
  (s) => `:${s}`,
  (s) => `:"${s}"`,
  (s) => `:'${s}'`,
  (s) => `[:${s}].first`,
  (s) => `{ password: "${s}" }[:password]`,
  (s) => `<<~EOS\n  ${s}\nEOS\n`,
  (s) => `<<-EOS.strip\n  ${s}\n  EOS\n`,
  (s) => `<<EOS\n${s}\nEOS\n`,
  (s) => `<<~'EOS'\n  ${s}\nEOS\n`,
  (s) => `<<~"EOS"\n  #{"${s}"}\nEOS\n`,
  (s) => `<<~\`EOS\`\n  echo ${s}\nEOS\n`,
  (s) => `<<~EOS\n  ${s}\n`, // never terminated
  (s) => `x # ${s}`,
  (s) => `ENV["A"] # ${s}`,
  (s) => `Base64.decode64("${s}")`,
  (s) => `File.read("/run/${s}")`,
  (s) => `${s}`,
  (s) => `"${s}`, // an unterminated string
  (s) => `/${s}/.source`,
];
/** Any form: the %-literals (270 of them) as likely as all the others together. */
const anyForm = fc.oneof(fc.constantFrom(...FORMS), fc.constantFrom(...percentForms));

/** Forms for a secret made of digits: numbers, and numbers as strings. */
const NUMBER_FORMS: Form[] = [(s) => `-${s}`, (s) => `${s}.abs`, (s) => `"${s}".to_f`, (s) => `${s} + 0`, (s) => `%w(${s}).first`, (s) => `"#{-${s}}"`, (s) => `:"${s}"`, (s) => `<<~N\n  ${s}\nN\n`];

type Tag = { open: string; close: string };
const TAGS: Tag[] = [
  { open: '<%=', close: '%>' },
  { open: '<%= ', close: ' %>' },
  { open: '<%-', close: '-%>' },
  { open: '<% ', close: '%>' }, // (`<%%` would be a literal <%, not a tag)
  { open: '<% password = ', close: ' %>' },
  { open: '<%=', close: '' }, // never closed
];

/** A Kamal config with `code` in a tag on a line after `padding` other lines, at column `indent + key + 1`. */
function config(code: string, tag: Tag, padding: number, key: string): { text: string; line: number; column: number } {
  const before = ['service: shop', 'image: acme/shop', ...Array.from({ length: padding }, (_, i) => `x-pad-${i}: value ${i}`), 'registry:'];
  const prefix = `  ${key}: `;
  const text = `${before.join('\n')}\n${prefix}${tag.open}${code}${tag.close}\n  server: ghcr.io\n`;
  return { text, line: before.length + 1, column: prefix.length + 1 };
}

/** A secret of letters and digits with a little punctuation, never `%` (which could end the tag). */
const secret = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.@+=-]{11,23}$/).filter((s) => /\d/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s));
const digits = fc.stringMatching(/^[1-9][0-9]{11,19}$/);

function expectNoLeak(out: string, s: string): void {
  expect(out).not.toContain(s);
  // not a long piece of it either
  for (let i = 0; i + 8 <= s.length; i++) expect(out).not.toContain(s.slice(i, i + 8));
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kg-erb-leaks-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
async function runTargets(text: string): Promise<{ code: number; out: string; stderr: string }> {
  const app = join(work, `app-${++n}`);
  mkdirSync(join(app, 'config'), { recursive: true });
  writeFileSync(join(app, FILE), text);
  const r = await runCli(['targets', '-c', FILE, '--version', 'v1'], { cwd: app, env: { DOCKER_CONFIG: join(app, '.docker') } });
  return { code: r.code, out: r.stdout + r.stderr, stderr: r.stderr };
}

describe('a refused ERB tag never shows its content (in-process, every form)', () => {
  it('no secret in any literal form reaches the message; the message names file:line:column', () => {
    const form = fc.oneof(fc.tuple(secret, anyForm), fc.tuple(digits, fc.constantFrom(...NUMBER_FORMS)));
    fc.assert(
      fc.property(form, fc.constantFrom(...TAGS), fc.nat(4), fc.constantFrom('password', 'username', 'x'), ([s, f], tag, padding, key) => {
        const c = config(f(s), tag, padding, key);
        let error: unknown;
        try {
          renderErb(c.text, { file: FILE, env: { A: 'a', X: 'x' } });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const e = error as ConfigError;
        expect([e.line, e.column]).toEqual([c.line, c.column]);
        expect(e.message.startsWith(`${FILE}:${c.line}:${c.column}: `)).toBe(true);
        expectNoLeak(e.message, s);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);
});

describe('a refused ERB tag never shows its content (the real CLI)', () => {
  it('every form and every delimiter, with a fixed secret: exit 2, file:line:column, and the secret in neither stdout nor stderr', async () => {
    const s = 'Hunter2-Zq8xW-k3y';
    const cases = [...[...FORMS, ...percentSample].map((f) => f(s)), ...NUMBER_FORMS.map((f) => f('472913058817'))];
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(
        cases.slice(i, i + 8).map(async (code, j) => {
          const tag = TAGS[(i + j) % TAGS.length]!;
          const c = config(code, tag, (i + j) % 3, 'password');
          const r = await runTargets(c.text);
          expect(r.code, r.out).toBe(2);
          expect(r.stderr).toContain(`${FILE}:${c.line}:${c.column}: `);
          expect(r.stderr).toMatch(/ERB tag/);
          expect(r.stderr).not.toMatch(/internal error|this is a bug|\n\s+at /);
          expectNoLeak(r.out, code.includes('472913058817') ? '472913058817' : s);
        }),
      );
    }
  }, 300_000);

  it('generated secrets in generated forms (fast-check): never printed, file:line:column always', async () => {
    const form = fc.oneof({ weight: 4, arbitrary: fc.tuple(secret, anyForm) }, { weight: 1, arbitrary: fc.tuple(digits, fc.constantFrom(...NUMBER_FORMS)) });
    await fc.assert(
      fc.asyncProperty(form, fc.constantFrom(...TAGS), fc.nat(4), fc.constantFrom('password', 'username'), async ([s, f], tag, padding, key) => {
        const c = config(f(s), tag, padding, key);
        const r = await runTargets(c.text);
        expect(r.code, r.out).toBe(2);
        expect(r.stderr).toContain(`${FILE}:${c.line}:${c.column}: `);
        expectNoLeak(r.out, s);
      }),
      { numRuns: 40 },
    );
  }, 300_000);

  it('the reported case: password: <%= %q{Hunter2-Zq8xW} %> names the construct, not the password', async () => {
    const r = await runTargets('service: shop\nimage: acme/shop\nregistry:\n  password: <%= %q{Hunter2-Zq8xW} %>\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${FILE}:4:13: this ERB tag (<%= … %>) contains a %q string literal`);
    expect(r.stderr).toContain('Put the value in an environment variable');
    expect(r.out).not.toContain('Hunter2');
  });
});
