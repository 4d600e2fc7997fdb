/**
 * Properties of policy loading: any text, the shipped policies with any value replaced, removed or
 * added at any key, and the shipped policies with characters inserted, deleted or replaced, all
 * either load or are refused with one PolicyError whose problems all name the file and, when they
 * have a line, a line that exists. The shipped policies themselves load.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { PolicyError } from '../../src/errors.js';
import { parsePolicy, shippedPolicyPath } from '../../src/policy/index.js';
import { cleanly, syntaxString } from './clean-error.js';

const FILE = '.kamal/gate-policy.yml';
const opts = { dir: '/nonexistent', exists: () => true };
const shipped = (['baseline.yml', 'strict.yml', 'starter.yml'] as const).map((n) => readFileSync(shippedPolicyPath(n), 'utf8'));
const shippedData = shipped.map((text) => (parsePolicy(text, FILE, opts), JSON.parse(JSON.stringify(readYaml(text))) as unknown));

function readYaml(text: string): unknown {
  // The same YAML 1.2 reading the loader does, to get the plain data to mutate.
  return parseYaml(text, { version: '1.2', merge: true }) as unknown;
}

function check(text: string): void {
  const out = cleanly(() => parsePolicy(text, FILE, opts), PolicyError);
  if (out.ok) return;
  const e = out.error as PolicyError;
  expect(e.problems.length).toBeGreaterThan(0);
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const p of e.problems) {
    expect(p.file).toBe(FILE);
    expect(p.message.length).toBeGreaterThan(0);
    if (p.line !== undefined) {
      expect(p.line).toBeGreaterThanOrEqual(1);
      expect(p.line).toBeLessThanOrEqual(lines + 1);
    }
  }
  expect(e.message).toContain(FILE);
}

/** Every path to a value in `data`: keys and array indexes. */
function paths(data: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(data)) data.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (data && typeof data === 'object') for (const [k, v] of Object.entries(data)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function mutate(data: unknown, path: Array<string | number>, op: 'set' | 'delete' | 'add', value: unknown, newKey: string): unknown {
  const copy = JSON.parse(JSON.stringify(data)) as unknown;
  if (path.length === 0) return op === 'set' ? value : copy;
  let parent = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (op === 'set') parent[last] = value;
  else if (op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[newKey] = value;
    else parent[last] = value;
  }
  return copy;
}

const interesting = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    'off',
    'warn',
    'enforce',
    'strict',
    'tofu',
    '90d',
    '0d',
    '-1d',
    '99999999999w',
    '36h',
    '1.5d',
    '',
    '**',
    '*/[',
    'docker.io/**',
    '2020-01-01',
    'not-a-date',
    'sha256:abc',
    'keyless',
    '/etc/passwd',
    'linux/amd64',
    'builder',
    '${HOME}',
    '<%= ENV["X"] %>',
    'null',
    1e308,
    -1,
    0,
    true,
    null,
    [],
    {},
  ),
);
const key = fc.constantFrom(
  'mode',
  'maxAge',
  'match',
  'images',
  'name',
  'rules',
  'defaults',
  'exceptions',
  'expires',
  'reason',
  'keys',
  'identities',
  'trust',
  'unknown',
  'x',
  '__proto__',
  'constructor',
  'version',
);

describe('policy loading properties', () => {
  it('any text loads or is refused with a PolicyError naming the file and real lines', () => {
    fc.assert(
      fc.property(syntaxString('version:1 rules-[]{}&*!|>#"\'\n  mode: warn\t'), (text) => check(text)),
      { numRuns: 500 },
    );
  }, 60_000);

  it('a shipped policy with any value replaced, removed or added loads or is refused cleanly', () => {
    fc.assert(
      fc.property(fc.nat(2), fc.nat(), fc.constantFrom('set', 'delete', 'add' as const), interesting, key, (which, at, op, value, newKey) => {
        const data = shippedData[which]!;
        const all = paths(data);
        const text = stringify(mutate(data, all[at % all.length]!, op, value, newKey));
        check(text);
      }),
      { numRuns: 500 },
    );
  }, 60_000);

  it('a shipped policy with a character inserted, deleted or replaced loads or is refused cleanly', () => {
    fc.assert(
      fc.property(
        fc.nat(2),
        fc.array(
          fc.record({
            op: fc.constantFrom('insert', 'delete', 'replace'),
            at: fc.nat(),
            ch: fc.constantFrom(':', '-', ' ', '\n', '\t', '"', "'", '[', '{', '&', '*', '!', '#', '|', 'x', '0', '\u0000', '\u00e9'),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (which, edits) => {
          let text = shipped[which]!;
          for (const e of edits) {
            const p = e.at % (text.length + 1);
            text = e.op === 'insert' ? text.slice(0, p) + e.ch + text.slice(p) : e.op === 'delete' ? text.slice(0, p) + text.slice(p + 1) : text.slice(0, p) + e.ch + text.slice(p + 1);
          }
          check(text);
        },
      ),
      { numRuns: 400 },
    );
  }, 60_000);
});
