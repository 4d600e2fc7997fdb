/**
 * `kamal-gate lint`: the Kamal config's dangerous settings (kamal/lint/index.ts), governed by the policy's
 * `config` group, in text, json, sarif or github format. No network. Exit 1 when a finding at or
 * above `--fail-on` (default high) is present, like other linters, or when an enforced finding fails;
 * 0 otherwise; 2 for a config or policy error. (`verify` follows the policy's modes only.)
 */
import { dirname, resolve } from 'node:path';
import { configChecks } from '../checks/config.js';
import { readDeployPlanAndConfig } from '../kamal/index.js';
import { lintApp } from '../kamal/lint/index.js';
import { decide } from '../policy/decide.js';
import { printable } from '../printable.js';
import { colourOn, painter, PLAIN, type Paint } from '../report/colour.js';
import { loadPolicy } from '../policy/load.js';
import type { DecidedFinding } from '../policy/types.js';
import { verdictOf } from '../report/ci.js';
import { renderVerifyGithub } from '../report/github.js';
import { lintFindingReport, lintReport, type LintReport } from '../report/lint-model.js';
import { VERIFY_SCHEMA, type VerifyReport } from '../report/model.js';
import { renderVerifySarif } from '../report/sarif.js';
import { SEVERITY_RANK } from '../types.js';
import { erbMode, type TargetOptions } from './context.js';
import type { Io } from './io.js';

import { LINT_FORMATS, type FailOn, type LintFormat } from './formats.js';
export { LINT_FORMATS, type LintFormat };

export interface LintOptions extends TargetOptions {
  format: LintFormat;
  policy?: string;
  /** The least severity that fails the run whatever the policy mode (default high); `none`: the policy's modes alone. */
  failOn?: FailOn;
}

/** The version only names the app image here; lint needs none, so a stand-in keeps git out of it. */
const NO_VERSION = 'unversioned';

export async function runLint(opts: LintOptions, io: Io, now = new Date()): Promise<LintReport> {
  const cwd = io.cwd;
  const env = io.env;
  const common = { configFile: opts.configFile, destination: opts.destination, env, cwd, erb: erbMode(opts, env) };
  const hasVersion = Boolean(opts.version || env['KAMAL_VERSION'] || env['VERSION']);
  const { plan, config } = await readDeployPlanAndConfig({ ...common, ...(hasVersion ? { version: opts.version } : { version: NO_VERSION }) });
  const appRoot = resolve(dirname(config.configPath), '..');
  const { policy, origin } = await loadPolicy({ path: opts.policy, cwd: appRoot });
  const lint = await lintApp({ root: config.root, targets: plan.targets, appRoot, cwd, destination: config.destination, env });
  const decision = decide(configChecks(lint.findings, policy), policy, now);
  // --fail-on: what the policy only warns about fails lint at that severity or worse; a waived finding never does.
  const failOn = opts.failOn ?? 'high';
  const overThreshold = (f: DecidedFinding) => failOn !== 'none' && !f.fails && !f.exception && SEVERITY_RANK[f.severity] <= SEVERITY_RANK[failOn];
  const decided = decision.findings.map((f) => (overThreshold(f) ? { ...f, fails: true } : f));
  const findings = decided.sort(worstFirst).map(lintFindingReport);
  const exitCode = decision.exitCode || (decision.findings.some(overThreshold) ? 1 : 0);
  return lintReport({
    config: config.configFile,
    files: config.files,
    ...(config.destination !== undefined ? { destination: config.destination } : {}),
    ...(config.erb === 'ruby' ? { erb: 'ruby' as const } : {}),
    policy: { file: policy.file, origin },
    failOn,
    findings,
    notes: [...config.notes, ...lint.notes],
    exitCode,
  });
}

function worstFirst(a: DecidedFinding, b: DecidedFinding): number {
  return (
    Number(b.fails) - Number(a.fails) ||
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
    (a.source?.file ?? '').localeCompare(b.source?.file ?? '') ||
    (a.source?.line ?? 0) - (b.source?.line ?? 0)
  );
}

/** The lint report in the shape the CI renderers (SARIF, GitHub) read: every finding stands on its own file line. */
function asVerifyReport(r: LintReport): VerifyReport {
  return {
    schema: VERIFY_SCHEMA,
    tool: r.tool,
    config: r.config,
    ...(r.destination !== undefined ? { destination: r.destination } : {}),
    images: [],
    notes: r.notes,
    policy: r.policy,
    policyFindings: r.findings.map(({ image: _image, ...f }) => f),
    exitCode: r.exitCode,
  };
}

function summary(r: LintReport): string {
  const failing = r.findings.filter((f) => verdictOf(f) === 'fail').length;
  const warnings = r.findings.filter((f) => verdictOf(f) === 'warn').length;
  const waived = r.findings.filter((f) => verdictOf(f) === 'waived').length;
  const s = (n: number) => (n === 1 ? '' : 's');
  const verdict = r.exitCode === 0 ? 'passed' : 'FAILED';
  const parts = [`${r.findings.length} finding${s(r.findings.length)}`];
  if (failing) parts.push(`${failing} failing`);
  if (warnings) parts.push(`${warnings} warning${s(warnings)}`);
  if (waived) parts.push(`${waived} waived`);
  const threshold =
    r.failOn === undefined ? '' : `; --fail-on ${r.failOn}: ${r.failOn === 'none' ? "only the policy's enforced rules fail" : `${r.failOn}${r.failOn === 'critical' ? '' : ' or worse'} fails`}`;
  return `kamal-gate lint ${verdict}: ${parts.join(', ')} in ${r.files.join(', ')} (policy ${r.policy.file}${threshold})`;
}

export function renderLintText(r: LintReport, paint: Paint = PLAIN): string {
  const out: string[] = [];
  for (const f of r.findings) {
    const at = f.source ? `${f.source.file}:${f.source.line}` : r.config;
    // Messages quote the config (mount specs, key names, file names): shown escaped, like the verify report.
    out.push(`${at}: ${paint(f.severity, `${verdictOf(f).toUpperCase()} ${f.severity}`, verdictOf(f) === 'waived')} ${f.rule}: ${printable(f.message, Infinity)}`);
    if (f.waivedBy) out.push(`    waived until ${f.waivedBy.expires} by ${f.waivedBy.source.file}:${f.waivedBy.source.line}: ${printable(f.waivedBy.reason, Infinity)}`);
    else if (f.remedy) out.push(`    fix: ${printable(f.remedy, Infinity)}`);
  }
  for (const n of r.notes) out.push(`note: ${printable(n, Infinity)}`);
  if (out.length) out.push('');
  out.push(summary(r));
  return out.join('\n') + '\n';
}

export async function lintCommand(opts: LintOptions, io: Io): Promise<number> {
  const report = await runLint(opts, io);
  if (opts.format === 'json') io.out(JSON.stringify(report, null, 2) + '\n');
  else if (opts.format === 'sarif') io.out(renderVerifySarif(asVerifyReport(report)));
  else if (opts.format === 'github') io.out(renderVerifyGithub(asVerifyReport(report), { summary: summary(report) }));
  else io.out(renderLintText(report, painter(colourOn(io.outIsTty, io.env))));
  return report.exitCode;
}
