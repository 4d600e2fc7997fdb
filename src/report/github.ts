/**
 * `--format github`: GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`)
 * for every finding and resolution error, located at the config or policy line; a markdown job
 * summary for $GITHUB_STEP_SUMMARY; and one line for people.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { problems, summaryLine, verdictOf, type Problem } from './ci.js';
import type { VerifyReport } from './model.js';
import { shortDigest } from './table.js';

/** Escapes the message part of a workflow command, as GitHub's toolkit does. */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a property value (`file=`, `title=`): the data escapes plus `:` and `,`. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

const COMMAND: Record<Problem['verdict'], string> = { fail: 'error', warn: 'warning', waived: 'notice', info: 'notice' };

function workspacePath(file: string, cwd: string): string {
  if (!isAbsolute(file)) return file.split(sep).join('/');
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : file;
}

export interface GithubOptions {
  /** Paths are made relative to this folder (GitHub resolves them against the workspace). */
  cwd?: string;
  /** The last line for people (default: verify's summary line). */
  summary?: string;
}

export function renderVerifyGithub(report: VerifyReport, opts: GithubOptions = {}): string {
  const cwd = opts.cwd ?? process.cwd();
  const lines: string[] = [];
  for (const p of problems(report)) {
    const props: string[] = [];
    if (p.location) {
      props.push(`file=${escapeProperty(workspacePath(p.location.file, cwd))}`, `line=${p.location.line}`);
      if (p.location.column) props.push(`col=${p.location.column}`);
    }
    props.push(`title=${escapeProperty(`${p.rule}${p.image ? ` (${p.image.role} ${p.image.name})` : ''}`)}`);
    let message = p.message;
    if (p.verdict === 'waived' && p.finding?.waivedBy) message += `\nWaived until ${p.finding.waivedBy.expires}: ${p.finding.waivedBy.reason}`;
    else if (p.remedy) message += `\nFix: ${p.remedy}`;
    lines.push(`::${COMMAND[p.verdict]} ${props.join(',')}::${escapeData(message)}`);
  }
  lines.push(opts.summary ?? summaryLine(report));
  return lines.join('\n') + '\n';
}

/** Markdown table cells: no line breaks, pipes escaped, HTML neutralized. */
function cell(s: string): string {
  return s
    .replace(/\r?\n|\r/g, ' ')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

const ICON: Record<Problem['verdict'], string> = { fail: '❌ fail', warn: '⚠️ warn', waived: 'ℹ️ waived', info: '✅ info' };

/** The job summary: images with digest and verdict, then every finding, worst first. */
export function renderVerifySummaryMarkdown(report: VerifyReport): string {
  const out: string[] = ['## kamal-gate verify', ''];
  const context = [
    report.config ? `\`${cell(report.config)}\`` : undefined,
    report.destination ? `destination **${cell(report.destination)}**` : undefined,
    report.version ? `version \`${cell(report.version)}\`` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  if (context) out.push(context, '');
  out.push(`**${cell(summaryLine(report))}**`, '');
  out.push('| Role | Image | Digest | Verdict |', '| --- | --- | --- | --- |');
  for (const image of report.images) {
    const findings = image.findings ?? [];
    const verdicts = findings.map(verdictOf);
    const verdict =
      image.status === 'error'
        ? '❌ could not verify'
        : image.status === 'absent'
          ? 'absent (alias, not a failure)'
          : verdicts.includes('fail')
            ? '❌ fail'
            : verdicts.includes('warn')
              ? '⚠️ pass with warnings'
              : '✅ pass';
    const digest = image.digest ? `\`${shortDigest(image.digest)}\`` : image.status === 'error' ? cell(image.error?.kind ?? 'error') : '-';
    out.push(`| ${image.role} ${cell(image.name)} | \`${cell(image.ref)}\` | ${digest} | ${verdict} |`);
  }
  const list = problems(report);
  if (list.length) {
    out.push('', '### Findings', '', '| Verdict | Severity | Rule | Where | Message |', '| --- | --- | --- | --- | --- |');
    for (const p of list) {
      const where = p.location ? `\`${cell(p.location.file)}:${p.location.line}\`` : p.image ? `\`${cell(p.image.ref)}\`` : '-';
      let message = p.message;
      if (p.verdict === 'waived' && p.finding?.waivedBy) message += ` (waived until ${p.finding.waivedBy.expires}: ${p.finding.waivedBy.reason})`;
      else if (p.remedy) message += ` Fix: ${p.remedy}`;
      out.push(`| ${ICON[p.verdict]} | ${p.severity} | \`${cell(p.rule)}\` | ${where} | ${cell(message)} |`);
    }
  }
  return out.join('\n') + '\n\n';
}
