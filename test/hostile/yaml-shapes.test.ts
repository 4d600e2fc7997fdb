/**
 * YAML shapes against the real CLI (dist/cli.js), generated with fast-check: alias bombs (lists,
 * maps, an alias used as a mapping key) at several places of the Kamal config, its destination
 * overlay and the policy are refused within seconds with exit 2 and a message naming the file and
 * line; nesting up to the depth limit loads, deeper is refused with its own message (not as a
 * "recursive alias"), and an alias that is really recursive is called that. The one rule is
 * src/yaml-limits.ts; file kinds and sizes are in local-files.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Loc } from '../../src/kamal/source-map.js';
import { sameValue, type ConfigNode } from '../../src/kamal/yaml-tree.js';
import { YAML_MAX_DEPTH, YAML_MAX_NODES } from '../../src/yaml-limits.js';
import { CLI } from '../helpers/cli.js';
import { CONFIG, expectRefused, run, RUN_TIMEOUT_MS } from '../helpers/hostile-files.js';

const POLICY = readFileSync(join(import.meta.dirname, '..', '..', 'policies', 'baseline.yml'), 'utf8');
/** Every run spawns the CLI: a few dozen runs per property keep the file under a minute. */
const RUNS = 12;

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kg-yaml-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function app(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'app-'));
  for (const [rel, text] of Object.entries({ 'config/deploy.yml': CONFIG, '.kamal/secrets': 'KAMAL_REGISTRY_PASSWORD=x\n', ...files })) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

interface Bomb {
  kind: 'list' | 'map' | 'key';
  width: number;
  /** Levels of anchors, each `width` aliases of the one before. */
  levels: number;
  /** How often the top anchor is used (the last use at the place under test, the others in `x-` keys). */
  uses: number;
}

/** Values of anchor `i` with its aliases expanded, as src/yaml-limits.ts counts them (keys included). */
function anchorSize(b: Bomb, i: number): number {
  const leaf = b.kind === 'list' ? 1 + b.width : 1 + 2 * b.width;
  return i === 0 ? leaf : 1 + b.width * ((b.kind === 'list' ? 0 : 1) + anchorSize(b, i - 1));
}

/** A lower bound of what the document expands to: the anchors and the uses of the top one. */
function expandedAtLeast(b: Bomb): number {
  let sum = 0;
  for (let i = 0; i <= b.levels; i++) sum += anchorSize(b, i);
  return sum + b.uses * anchorSize(b, b.levels);
}

/** Bombs past YAML_MAX_NODES: sometimes the anchors alone, sometimes only once used a few times. */
const bombArb: fc.Arbitrary<Bomb> = fc
  .record({
    kind: fc.constantFrom<Bomb['kind']>('list', 'map', 'key'),
    width: fc.integer({ min: 3, max: 12 }),
    extra: fc.integer({ min: -2, max: 5 }),
    uses: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ kind, width, extra, uses }) => ({ kind, width, uses, levels: Math.max(1, Math.ceil(Math.log(YAML_MAX_NODES) / Math.log(width)) + extra) }))
  .filter((b) => expandedAtLeast(b) > YAML_MAX_NODES);

/** Top-level `x-` keys holding the anchors and all uses but the last (Kamal ignores `x-` keys), and the last use. */
function anchors(b: Bomb): { lines: string; use: string } {
  const lines: string[] = [];
  const items = (i: number) => Array.from({ length: b.width }, (_, j) => (b.kind === 'list' ? `*b${i - 1}` : `k${j}: *b${i - 1}`)).join(', ');
  lines.push(b.kind === 'list' ? `x-b0: &b0 [${Array(b.width).fill('lol').join(', ')}]` : `x-b0: &b0 {${Array.from({ length: b.width }, (_, j) => `k${j}: lol`).join(', ')}}`);
  for (let i = 1; i <= b.levels; i++) lines.push(b.kind === 'list' ? `x-b${i}: &b${i} [${items(i)}]` : `x-b${i}: &b${i} {${items(i)}}`);
  const top = `*b${b.levels}`;
  const use = b.kind === 'key' ? `{? ${top} : 1}` : top;
  for (let i = 1; i < b.uses; i++) lines.push(`x-u${i}: ${use}`);
  return { lines: lines.join('\n') + '\n', use };
}

type Anchors = ReturnType<typeof anchors>;
const role = (extra: string) => CONFIG.replace('servers:\n  web:\n    hosts: [1.1.1.1]\n', `servers:\n  web:\n    hosts: [1.1.1.1]\n${extra}`);

/** Where the last use goes: the file, the command, and the files of the app. */
const PLACES = {
  'config x- key': (a: Anchors) => ({ file: 'config/deploy.yml', args: [], files: { 'config/deploy.yml': `${a.lines}x-use: ${a.use}\n${CONFIG}` } }),
  'config proxy.run': (a: Anchors) => ({ file: 'config/deploy.yml', args: [], files: { 'config/deploy.yml': `${a.lines}${CONFIG}proxy:\n  run: ${a.use}\n` } }),
  'proxy.run of two roles': (a: Anchors) => ({
    file: 'config/deploy.yml',
    args: [],
    files: { 'config/deploy.yml': a.lines + role(`    proxy:\n      run: ${a.use}\n  job:\n    hosts: [1.1.1.1]\n    proxy:\n      run: ${a.use}\n`) },
  }),
  'config env.clear': (a: Anchors) => ({ file: 'config/deploy.yml', args: [], files: { 'config/deploy.yml': `${a.lines}${CONFIG}env:\n  clear:\n    BOMB: ${a.use}\n` } }),
  accessory: (a: Anchors) => ({
    file: 'config/deploy.yml',
    args: [],
    files: { 'config/deploy.yml': `${a.lines}${CONFIG}accessories:\n  db:\n    image: mysql:8.0\n    host: 1.1.1.1\n    options: ${a.use}\n` },
  }),
  'destination overlay': (a: Anchors) => ({ file: 'config/deploy.staging.yml', args: ['-d', 'staging'], files: { 'config/deploy.staging.yml': `${a.lines}servers:\n  web:\n    hosts: ${a.use}\n` } }),
  'policy x- key': (a: Anchors) => ({ file: 'policy.yml', args: ['policy'], files: { 'policy.yml': `${a.lines}x-use: ${a.use}\n${POLICY}` } }),
  'policy rules': (a: Anchors) => ({ file: 'policy.yml', args: ['policy'], files: { 'policy.yml': `${a.lines}version: 1\nrules: ${a.use}\n` } }),
} as const;

function command(args: readonly string[]): string[] {
  return args[0] === 'policy' ? ['policy', 'check', '--policy', 'policy.yml'] : ['targets', '--version', 'v1', ...args];
}

describe('alias bombs are counted, never expanded', () => {
  it(
    'at every place in the config, the overlay and the policy: exit 2 within seconds, naming the file and line',
    async () => {
      await fc.assert(
        fc.asyncProperty(bombArb, fc.constantFrom(...(Object.keys(PLACES) as Array<keyof typeof PLACES>)), async (bomb, where) => {
          const p = PLACES[where](anchors(bomb));
          const started = Date.now();
          const r = await run(command(p.args), app(p.files));
          expectRefused(r, `${p.file}:`, /alias bomb/, `more than ${YAML_MAX_NODES.toLocaleString('en-US')} values`);
          expect(Date.now() - started).toBeLessThan(10_000);
        }),
        { numRuns: RUNS * 2 },
      );
    },
    RUNS * 2 * RUN_TIMEOUT_MS,
  );

  it('the same anchors used a little (a shared map merged into roles) load', async () => {
    const text = `x-env: &env\n  clear:\n    A: '1'\n${role('    env:\n      <<: *env\n  job:\n    hosts: [1.1.1.2]\n    env: *env\n')}`;
    const r = await run(command([]), app({ 'config/deploy.yml': text }));
    expect(r.code, r.stderr).toBe(0);
  });

  it('sameValue compares a structure with itself by identity: a shared 10^8-leaf value is equal at once', () => {
    const loc: Loc = { file: 'config/deploy.yml', line: 1, column: 1 };
    let node: ConfigNode = { kind: 'scalar', value: 'lol', loc };
    for (let i = 0; i < 8; i++) node = { kind: 'seq', items: Array(10).fill(node) as ConfigNode[], loc };
    const other: ConfigNode = { kind: 'seq', items: [...(node.kind === 'seq' ? node.items : [])], loc };
    const started = Date.now();
    expect(sameValue(node, node)).toBe(true);
    expect(sameValue(node, other)).toBe(true); // a copy of the spine: its items are the same nodes
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

type Shape = 'flow list' | 'flow map' | 'block map' | 'block list' | 'compact list';
/** `depth` nested collections holding one scalar, as the value of `key` at column 0. */
function nested(shape: Shape, depth: number, key: string): string {
  switch (shape) {
    case 'flow list':
      return `${key}: ${'['.repeat(depth)}1${']'.repeat(depth)}\n`;
    case 'flow map':
      return `${key}: ${'{k: '.repeat(depth)}1${'}'.repeat(depth)}\n`;
    case 'block map':
      return `${key}:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1\n`;
    case 'block list':
      return `${key}:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(i + 1)}-`).join('\n')} 1\n`;
    case 'compact list':
      return `${key}:\n  ${'- '.repeat(depth)}1\n`;
  }
}
const SHAPES: Shape[] = ['flow list', 'flow map', 'block map', 'block list', 'compact list'];
/** The deepest each shape gets within the YAML file size limit (block shapes indent a column per level). */
const MAX_DEPTH_IN_LIMIT: Record<Shape, number> = { 'flow list': 100_000, 'flow map': 50_000, 'block map': 600, 'block list': 600, 'compact list': 100_000 };

describe(`nesting: up to ${YAML_MAX_DEPTH} levels loads (Psych loads it too), deeper has its own message`, () => {
  it('300 levels without any alias load (they were refused as a "recursive YAML alias")', async () => {
    for (const shape of SHAPES) {
      const r = await run(command([]), app({ 'config/deploy.yml': `${CONFIG}${nested(shape, 300, 'x-deep')}` }));
      expect(r.code, `${shape}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('acme/app:v1');
    }
  });

  it(
    `any shape up to ${YAML_MAX_DEPTH} levels: the config loads; the policy is never said to be too deep or recursive`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...SHAPES), fc.integer({ min: 1, max: YAML_MAX_DEPTH }), async (shape, depth) => {
          const config = await run(command([]), app({ 'config/deploy.yml': `${CONFIG}${nested(shape, depth, 'x-deep')}` }));
          expect(config.code, config.stderr).toBe(0);
          const policy = await run(command(['policy']), app({ 'policy.yml': `${POLICY}${nested(shape, depth, 'x-deep')}` }));
          expect(policy.code).toBe(2); // x-deep is not a policy key
          expect(policy.stderr).toContain('x-deep: unknown key');
          expect(policy.stderr).not.toMatch(/nested more than|recursive/);
        }),
        { numRuns: RUNS },
      );
    },
    RUNS * 2 * RUN_TIMEOUT_MS,
  );

  // The property above draws the boundary only now and then; this runs it for every shape, in a
  // process whose stack is a quarter short of Node's default (984 KB): level 500 takes at most
  // 648 KB there (Node 20, cold, the flow shapes), so the limit sits well inside the stack.
  it(
    `exactly ${YAML_MAX_DEPTH} levels of every shape load in the CLI, with a quarter of the stack taken away`,
    () => {
      const cli = (args: string[], cwd: string) =>
        spawnSync(process.execPath, ['--stack-size=738', CLI, ...args], {
          cwd,
          encoding: 'utf8',
          timeout: RUN_TIMEOUT_MS,
          env: { ...process.env, KAMAL_GATE_CACHE_DIR: mkdtempSync(join(root, 'cache-')) },
        });
      for (const shape of SHAPES) {
        const config = cli(command([]), app({ 'config/deploy.yml': `${CONFIG}${nested(shape, YAML_MAX_DEPTH, 'x-deep')}` }));
        expect(config.status, `${shape}: ${config.stderr}`).toBe(0);
        expect(config.stdout).toContain('acme/app:v1');
        const policy = cli(command(['policy']), app({ 'policy.yml': `${POLICY}${nested(shape, YAML_MAX_DEPTH, 'x-deep')}` }));
        expect(policy.status, `${shape}: ${policy.stderr}`).toBe(2);
        expect(policy.stderr).toContain('x-deep: unknown key');
        expect(policy.stderr).not.toMatch(/nested more than|recursive/);
      }
    },
    10 * RUN_TIMEOUT_MS,
  );

  it(
    `deeper than ${YAML_MAX_DEPTH} levels (up to 100,000): "nested more than ${YAML_MAX_DEPTH} levels" at the file and line, in the config, the overlay and the policy`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...SHAPES).chain((shape) => fc.tuple(fc.constant(shape), fc.integer({ min: YAML_MAX_DEPTH + 1, max: MAX_DEPTH_IN_LIMIT[shape] }))),
          fc.constantFrom('config/deploy.yml', 'config/deploy.staging.yml', 'policy.yml'),
          async ([shape, depth], file) => {
            const deep = nested(shape, depth, 'x-deep');
            const files: Record<string, string> =
              file === 'policy.yml' ? { 'policy.yml': POLICY + deep } : file === 'config/deploy.yml' ? { [file]: CONFIG + deep } : { [file]: `servers:\n  web:\n    hosts: [2.2.2.2]\n${deep}` };
            const args = file === 'policy.yml' ? ['policy'] : file === 'config/deploy.yml' ? [] : ['-d', 'staging'];
            const r = await run(command(args), app(files));
            expectRefused(r, `${file}:`, `nested more than ${YAML_MAX_DEPTH} levels`);
            expect(r.stderr).not.toContain('recursive');
          },
        ),
        { numRuns: RUNS },
      );
    },
    RUNS * RUN_TIMEOUT_MS,
  );

  it('an alias counts the levels it brings in; an alias inside the node it names is recursive', async () => {
    const half = Math.ceil(YAML_MAX_DEPTH / 2) + 10;
    const viaAlias = `x-a: &a ${'['.repeat(half)}1${']'.repeat(half)}\nx-b: ${'['.repeat(half)}*a${']'.repeat(half)}\n`;
    expectRefused(await run(command([]), app({ 'config/deploy.yml': CONFIG + viaAlias })), 'config/deploy.yml:', `the alias *a nests its value more than ${YAML_MAX_DEPTH} levels deep`);
    expectRefused(await run(command(['policy']), app({ 'policy.yml': POLICY + viaAlias })), 'policy.yml:', `the alias *a nests its value more than ${YAML_MAX_DEPTH} levels deep`);
    for (const recursive of ['x-r: &r [1, *r]\n', 'x-r: &r {k: *r}\n']) {
      expectRefused(await run(command([]), app({ 'config/deploy.yml': CONFIG + recursive })), 'config/deploy.yml:', 'recursive YAML alias');
      expectRefused(await run(command(['policy']), app({ 'policy.yml': recursive + POLICY })), 'policy.yml:1', 'recursive YAML alias');
    }
  });
});
