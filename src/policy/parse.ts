/**
 * Parsing and checking a policy's text: YAML with line numbers, the schema (zod), the semantic
 * checks, then compilation. A policy with any problem is refused as a whole, every problem listed
 * (file:line:column, key path, what is wrong). load.ts loads this only when it has text to parse.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PolicyError, type PolicyProblem } from '../errors.js';
import { compilePolicy } from './compile.js';
import { locateProblems, schemaProblems } from './issues.js';
import { policySchema } from './schema.js';
import { semanticProblems } from './semantics.js';
import type { Policy } from './types.js';
import { readPolicyTree } from './yaml.js';

export interface ParseOptions {
  /** The folder relative paths (key files) are resolved against; default: the policy file's. */
  dir?: string;
  /** Whether a key file exists; default: the file system. */
  exists?: (absolutePath: string) => boolean;
}

/**
 * Parses and checks a policy. `file` is the name used in messages and source locations. Throws one
 * PolicyError listing every problem.
 */
export function parsePolicy(text: string, file: string, opts: ParseOptions = {}): Policy {
  const dir = opts.dir ?? dirname(resolve(file));
  const { tree, data: read, problems } = readPolicyTree(text, file);
  if (problems.length) throw invalid(file, problems);
  const data = read ?? {};
  const parsed = policySchema.safeParse(data);
  const raw = [...(parsed.success ? [] : schemaProblems(parsed.error.issues, data)), ...semanticProblems(data, { dir, exists: opts.exists ?? existsSync })];
  if (raw.length || !parsed.success) throw invalid(file, locateProblems(tree, raw));
  return compilePolicy(parsed.data, tree, dir);
}

function invalid(file: string, problems: PolicyProblem[]): PolicyError {
  const sorted = [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  const n = sorted.length;
  return new PolicyError(`invalid policy ${file}: ${n} problem${n === 1 ? '' : 's'}; fix ${n === 1 ? 'it' : 'them'} (nothing is checked under a policy that does not load)`, sorted);
}
