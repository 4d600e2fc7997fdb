/**
 * The depth rule of src/yaml-limits.ts at its boundary, in-process through both readers (the Kamal
 * config's parseYaml and the policy's readPolicyTree): a collection nested exactly YAML_MAX_DEPTH
 * levels (the document's own mapping is level 0) loads with its content and line numbers, one level
 * more is refused with the depth message at the line of that collection, and an alias is held to the
 * same count. test/hostile/yaml-shapes.test.ts runs the same shapes through the real CLI.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { OffsetMap } from '../src/kamal/source-map.js';
import { parseYaml, type ConfigNode } from '../src/kamal/yaml-tree.js';
import { locate, readPolicyTree } from '../src/policy/yaml.js';
import { YAML_MAX_DEPTH } from '../src/yaml-limits.js';

type Shape = 'flow list' | 'flow map' | 'block map' | 'block list' | 'compact list';
const SHAPES: Shape[] = ['flow list', 'flow map', 'block map', 'block list', 'compact list'];

/** `a: 1`, then `x:` holding `depth` nested collections around the scalar 1. */
function nested(shape: Shape, depth: number): string {
  switch (shape) {
    case 'flow list':
      return `a: 1\nx: ${'['.repeat(depth)}1${']'.repeat(depth)}\n`;
    case 'flow map':
      return `a: 1\nx: ${'{k: '.repeat(depth)}1${'}'.repeat(depth)}\n`;
    case 'block map':
      return `a: 1\nx:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1\n`;
    case 'block list':
      return `a: 1\nx:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(i + 1)}-`).join('\n')} 1\n`;
    case 'compact list':
      return `a: 1\nx:\n  ${'- '.repeat(depth)}1\n`;
  }
}

/** Line of the collection at `level` (1 = the value of `x`). */
function lineOf(shape: Shape, level: number): number {
  if (shape === 'flow list' || shape === 'flow map') return 2;
  return shape === 'compact list' ? 3 : 2 + level;
}

function load(text: string): ConfigNode | undefined {
  const map = new OffsetMap('deploy.yml', text);
  map.literal(0, 0);
  return parseYaml(text, map);
}

function refusal(text: string): ConfigError {
  try {
    load(text);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('loaded');
}

describe(`YAML nested exactly ${YAML_MAX_DEPTH} levels loads, ${YAML_MAX_DEPTH + 1} is refused`, () => {
  for (const shape of SHAPES) {
    it(`${shape}: the Kamal config reader`, () => {
      const root = load(nested(shape, YAML_MAX_DEPTH));
      if (root?.kind !== 'map') throw new Error('not a map');
      expect(root.entries.get('a')?.value).toMatchObject({ kind: 'scalar', value: 1 });
      let node = root.entries.get('x')?.value;
      for (let level = 1; level <= YAML_MAX_DEPTH; level++) {
        expect(node?.loc.line, `level ${level}`).toBe(lineOf(shape, level));
        if (node?.kind === 'seq') node = node.items[0];
        else if (node?.kind === 'map') node = node.entries.get('k')?.value;
        else throw new Error(`level ${level}: ${node?.kind}`);
      }
      expect(node).toMatchObject({ kind: 'scalar', value: 1, loc: { line: lineOf(shape, YAML_MAX_DEPTH) } });

      const e = refusal(nested(shape, YAML_MAX_DEPTH + 1));
      expect(e.message).toContain(`nested more than ${YAML_MAX_DEPTH} levels deep`);
      expect(e.message).not.toContain('recursive');
      expect(e.line).toBe(lineOf(shape, YAML_MAX_DEPTH + 1));
    });

    it(`${shape}: the policy reader`, () => {
      const ok = readPolicyTree(nested(shape, YAML_MAX_DEPTH), 'policy.yml');
      expect(ok.problems).toEqual([]);
      const path: PropertyKey[] = ['x'];
      let value = (ok.data as { x: unknown }).x;
      for (let level = 1; level <= YAML_MAX_DEPTH; level++) {
        const key = Array.isArray(value) ? 0 : 'k';
        path.push(key);
        value = (value as Record<PropertyKey, unknown>)[key];
      }
      expect(value).toBe(1);
      expect(locate(ok.tree, path)?.line).toBe(lineOf(shape, YAML_MAX_DEPTH));

      const deep = readPolicyTree(nested(shape, YAML_MAX_DEPTH + 1), 'policy.yml');
      expect(deep.problems).toEqual([expect.objectContaining({ line: lineOf(shape, YAML_MAX_DEPTH + 1), message: expect.stringContaining(`nested more than ${YAML_MAX_DEPTH} levels deep`) })]);
    });
  }

  it('an alias counts the levels it brings in the same way: exactly the limit loads, one more is refused at the alias', () => {
    const text = (around: number, height: number) => `a: &a ${'['.repeat(height)}1${']'.repeat(height)}\nb: ${'['.repeat(around)}*a${']'.repeat(around)}\n`;
    const at = load(text(200, YAML_MAX_DEPTH - 200));
    let node = at?.kind === 'map' ? at.entries.get('b')?.value : undefined;
    for (let level = 1; level <= YAML_MAX_DEPTH; level++) node = node?.kind === 'seq' ? node.items[0] : undefined;
    expect(node).toMatchObject({ kind: 'scalar', value: 1, loc: { line: 1 } });
    expect(readPolicyTree(text(200, YAML_MAX_DEPTH - 200), 'policy.yml').problems).toEqual([]);

    const e = refusal(text(200, YAML_MAX_DEPTH - 199));
    expect(e.message).toContain(`the alias *a nests its value more than ${YAML_MAX_DEPTH} levels deep`);
    expect(e.line).toBe(2);
    expect(readPolicyTree(text(200, YAML_MAX_DEPTH - 199), 'policy.yml').problems).toEqual([expect.objectContaining({ line: 2, message: expect.stringContaining('the alias *a nests its value') })]);
  });
});
