/** Policies from YAML text, without touching the file system. */
import { expect } from 'vitest';
import { formatPolicyProblem, PolicyError } from '../../src/errors.js';
import { parsePolicy, type Policy } from '../../src/policy/index.js';

/** Key files that "exist" for these tests: anything under /p/keys/. */
const exists = (p: string) => p.startsWith('/p/keys/');

export function policy(yaml: string): Policy {
  return parsePolicy(yaml, 'gate.yml', { dir: '/p', exists });
}

/** The problems a policy is refused with, one `file:line:column: path: message` string each. */
export function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml, 'gate.yml', { dir: '/p', exists });
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return (e as PolicyError).problems.map(formatPolicyProblem);
  }
  throw new Error('the policy was accepted');
}

/** A policy of one rule matching every image, with the given requirement groups (YAML, indented 4). */
export function ruleWith(groups: string): string {
  return `version: 1\nrules:\n  - name: r\n${groups}`;
}
