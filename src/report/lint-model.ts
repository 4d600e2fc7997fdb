/**
 * `kamal-gate lint --format json`: the Kamal config's dangerous settings as the policy decides them.
 * Versioned by `schema`, bumped on any incompatible change. The SARIF and GitHub forms render it
 * through the verify report (see cli/lint.ts).
 */
import type { DecidedFinding } from '../policy/types.js';
import type { Severity } from '../types.js';
import { findingReport, toolInfo, type FindingReport, type VerifyReport } from './model.js';

export const LINT_SCHEMA = 'kamal-gate/lint/v1';

export interface LintFindingReport extends FindingReport {
  /** The image the finding is attached to. */
  image: { role: string; name: string; ref: string };
}

export interface LintReport {
  schema: typeof LINT_SCHEMA;
  tool: VerifyReport['tool'];
  config: string;
  files: string[];
  destination?: string;
  /** `ruby` when Ruby rendered the config's ERB (--erb ruby); absent when it was read without running it. */
  erb?: 'ruby';
  policy: { file: string; origin: string };
  /** `--fail-on`: a finding of this severity or worse fails the run (`fails: true`), whatever its mode; `none`: the policy's modes alone decide. */
  failOn?: Severity | 'none';
  findings: LintFindingReport[];
  notes: string[];
  exitCode: number;
}

export function lintFindingReport(f: DecidedFinding): LintFindingReport {
  return { ...findingReport(f), image: { role: f.target.role, name: f.target.name, ref: f.target.ref } };
}

/** The report from its parts; `schema` and `tool` are added here. */
export function lintReport(r: Omit<LintReport, 'schema' | 'tool'>): LintReport {
  return {
    schema: LINT_SCHEMA,
    tool: toolInfo(),
    config: r.config,
    files: r.files,
    ...(r.destination !== undefined ? { destination: r.destination } : {}),
    ...(r.erb !== undefined ? { erb: r.erb } : {}),
    policy: r.policy,
    ...(r.failOn !== undefined ? { failOn: r.failOn } : {}),
    findings: r.findings,
    notes: r.notes,
    exitCode: r.exitCode,
  };
}
