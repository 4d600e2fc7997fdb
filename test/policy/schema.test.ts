/** The published JSON Schema: up to date with the code, described, and strict. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policySchemaJson, shippedPolicyPath } from '../../src/policy/index.js';

type Json = Record<string, unknown>;

/** Every property schema in the document, with its path. */
function properties(schema: Json, path = ''): [string, Json][] {
  const out: [string, Json][] = [];
  const props = (schema['properties'] ?? {}) as Record<string, Json>;
  for (const [k, v] of Object.entries(props)) {
    out.push([`${path}.${k}`, v], ...properties(v, `${path}.${k}`));
  }
  if (schema['items']) out.push(...properties(schema['items'] as Json, `${path}[]`));
  for (const alt of (schema['anyOf'] ?? []) as Json[]) out.push(...properties(alt, path));
  return out;
}

describe('policies/schema.json', () => {
  it('is what the code generates (regenerate: node dist/cli.js policy schema > policies/schema.json)', () => {
    const committed = JSON.parse(readFileSync(shippedPolicyPath('schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(policySchemaJson());
  });

  it('is draft 2020-12 and describes every key', () => {
    const schema = policySchemaJson();
    expect(schema['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    const all = properties(schema);
    expect(all.length).toBeGreaterThan(60);
    const undescribed = all.filter(([, s]) => typeof s['description'] !== 'string').map(([p]) => p);
    expect(undescribed).toEqual([]);
  });

  it('refuses unknown keys in every object', () => {
    const objects = [['', policySchemaJson()] as [string, Json], ...properties(policySchemaJson())].filter(([, s]) => s['type'] === 'object');
    expect(objects.length).toBeGreaterThan(10);
    expect(objects.filter(([, s]) => s['additionalProperties'] !== false).map(([p]) => p)).toEqual([]);
  });
});
