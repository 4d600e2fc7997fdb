/**
 * zod's findings about a policy, as problems a user can act on: located at the key or value, with
 * the key's path, and for an unknown key the key that was probably meant.
 */
import { z } from 'zod';
import type { PolicyProblem } from '../errors.js';
import { groupShapes, policySchema } from './schema.js';
import { formatPath, locate, type KeyPath, type PolicyTree } from './yaml.js';

export interface RawProblem {
  path: KeyPath;
  message: string;
  /** Point at the key rather than its value (unknown keys, duplicates). */
  at?: 'key' | 'value';
}

export function locateProblems(tree: PolicyTree, raw: RawProblem[]): PolicyProblem[] {
  return raw.map((p) => ({ file: tree.file, ...locate(tree, p.path, p.at), path: formatPath(p.path) || undefined, message: p.message }));
}

export function schemaProblems(issues: readonly z.core.$ZodIssue[], data: unknown): RawProblem[] {
  return issues.flatMap((issue): RawProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...issue.path, key], message: unknownKey(issue.path, key), at: 'key' }));
    }
    return [{ path: issue.path, message: describeIssue(issue, valueAt(data, issue.path)) }];
  });
}

/** zod's own messages start with "Invalid" or "Too"; anything else was written in schema.ts. */
function isCustom(message: string): boolean {
  return !/^(Invalid|Too (small|big))/.test(message);
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && value === undefined) return 'required';
  if (isCustom(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${noun(issue.expected)}, got ${describe(value)}${issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean') ? ` (quote it: "${String(value)}")` : ''}`;
    case 'invalid_value': {
      const hint = (value === 'tofu' || value === 'strict') && issue.path.at(-1) === 'mode' ? `; the ledger's trust on first use is set with \`trust: ${value}\`` : '';
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${describe(value)}${hint}`;
    }
    case 'too_small':
      if (issue.origin === 'array') return 'must not be empty';
      if (issue.origin === 'string') return 'must not be empty';
      return `must be at least ${String(issue.minimum)}`;
    default:
      return issue.message;
  }
}

function noun(expected: string): string {
  const nouns: Record<string, string> = { string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'a list', object: 'a mapping' };
  return nouns[expected] ?? expected;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function unknownKey(parent: KeyPath, key: string): string {
  const known = keysAt(policySchema, parent);
  const close = closest(key, known);
  if (close) return `unknown key (did you mean ${close}?)`;
  const elsewhere = Object.entries(groupShapes)
    .filter(([, s]) => key in s.shape)
    .map(([g]) => g);
  if (elsewhere.length && !parent.some((p) => typeof p === 'string' && elsewhere.includes(p))) {
    return `unknown key here (${key} is a key of ${elsewhere.join(', ')})`;
  }
  return `unknown key (expected one of ${known.join(', ')})`;
}

/** The keys an object schema at `path` allows. */
function keysAt(schema: z.ZodType, path: KeyPath): string[] {
  let s: z.ZodType | undefined = schema;
  for (const seg of [...path, undefined]) {
    s = s && unwrap(s);
    if (seg === undefined) break;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(seg)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  while (cur instanceof z.ZodOptional || cur instanceof z.ZodDefault) cur = cur.unwrap() as z.ZodType;
  return cur;
}

/** The known key nearest to `key` (case-insensitive edit distance at most a third of its length, at least 1). */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
