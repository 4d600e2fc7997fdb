/**
 * What the machine formats for CI (SARIF, GitHub workflow commands, JUnit) share: one flat list of
 * everything worth reporting (findings of each image, policy findings, images that could not be
 * resolved), each with its verdict and the file line it belongs to.
 */
import { SEVERITY_RANK, type Severity, type SourceLocation } from '../types.js';
import type { FindingReport, ImageReport, VerifyReport } from './model.js';

export type Verdict = 'fail' | 'warn' | 'waived' | 'info';

/**
 * How every report reads a finding: failing (fail closed when undecided), waived by an exception,
 * information that never fails (`signature.verified`), or a warning.
 */
export function verdictOf(f: FindingReport): Verdict {
  if (f.fails) return 'fail';
  if (f.waivedBy) return 'waived';
  if (f.fails === false && f.severity === 'info') return 'info';
  if (f.mode === 'warn' || f.fails === false) return 'warn';
  return 'fail';
}

export interface Problem {
  /** The finding's rule id, or `registry.<kind>` for an image that could not be resolved. */
  rule: string;
  verdict: Verdict;
  severity: Severity;
  message: string;
  remedy?: string;
  /** Where to point: the config line of the image, or the policy line of a policy finding. */
  location?: SourceLocation;
  /** The policy rule that set the requirement, when known. */
  related?: { rule: string; source: SourceLocation };
  image?: ImageReport;
  finding?: FindingReport;
}

function isLocation(v: unknown): v is SourceLocation {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return typeof o['file'] === 'string' && typeof o['line'] === 'number' && o['line'] >= 1;
}

/** Where a policy-level finding belongs: its evidence's source (an expired exception), else the policy line that set it. */
function policyLocation(f: FindingReport): SourceLocation | undefined {
  if (f.source) return f.source;
  const ev = f.evidence?.['source'];
  if (isLocation(ev)) return ev;
  return f.waivedBy?.source ?? f.setBy?.source;
}

/** Every finding and resolution error, worst first (failing before warnings before waived, then severity), stable otherwise. */
export function problems(report: VerifyReport): Problem[] {
  const out: Problem[] = [];
  for (const image of report.images) {
    for (const f of image.findings ?? []) {
      const p: Problem = { rule: f.rule, verdict: verdictOf(f), severity: f.severity, message: f.message, image, finding: f };
      if (f.remedy) p.remedy = f.remedy;
      const loc = f.source ?? image.source;
      if (loc) p.location = loc;
      if (f.setBy?.source) p.related = { rule: f.setBy.rule, source: f.setBy.source };
      out.push(p);
    }
    if (image.status === 'error') {
      const p: Problem = {
        rule: `registry.${image.error?.kind ?? 'error'}`,
        verdict: 'fail',
        severity: 'high',
        message: `${image.role} ${image.name}: ${image.ref} could not be verified: ${image.error?.message ?? 'unknown error'}`,
        remedy: 'make the image resolvable (tag pushed, registry reachable, credentials accepted) and run again; an image that cannot be verified is never passed',
        image,
      };
      if (image.source) p.location = image.source;
      out.push(p);
    }
  }
  for (const f of report.policyFindings ?? []) {
    const p: Problem = { rule: f.rule, verdict: verdictOf(f), severity: f.severity, message: f.message, finding: f };
    if (f.remedy) p.remedy = f.remedy;
    const loc = policyLocation(f);
    if (loc) p.location = loc;
    out.push(p);
  }
  const rank = (p: Problem) => ({ fail: 0, warn: 100, waived: 200, info: 300 })[p.verdict] + (SEVERITY_RANK[p.severity] ?? 5);
  return out
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ p }) => p);
}

/** One line for people: the same counts as the text report's last line. */
export function summaryLine(report: VerifyReport): string {
  const all = problems(report);
  const pinned = report.images.filter((r) => r.status === 'pinned').length;
  const errors = report.images.filter((r) => r.status === 'error').length;
  const failing = all.filter((p) => p.verdict === 'fail' && p.finding).length;
  const warnings = all.filter((p) => p.verdict === 'warn').length;
  const waived = all.filter((p) => p.verdict === 'waived').length;
  const s = (n: number) => (n === 1 ? '' : 's');
  const verdict = report.exitCode === 0 ? 'passed' : report.exitCode === 1 ? 'FAILED (policy violation)' : report.exitCode === 3 ? 'FAILED (could not verify)' : 'FAILED';
  return (
    `kamal-gate verify ${verdict}: ${pinned} image${s(pinned)} pinned` +
    `${errors ? `, ${errors} could not be verified` : ''}${failing ? `, ${failing} failing finding${s(failing)}` : ''}` +
    `${warnings ? `, ${warnings} warning${s(warnings)}` : ''}${waived ? `, ${waived} waived` : ''}`
  );
}
