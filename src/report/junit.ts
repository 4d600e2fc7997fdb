/**
 * `--format junit`: JUnit XML for CI systems that show test reports. One testsuite, one testcase per
 * image (name = the reference, classname = the role); a <failure> per failing finding or resolution
 * error (type = rule id); warnings and waived findings in <system-out>; an absent alias is skipped.
 * Findings about the policy itself are one more testcase, classname `policy`.
 */
import { problems, type Problem } from './ci.js';
import type { ImageReport, VerifyReport } from './model.js';

/** Characters XML 1.0 does not allow at all (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/FFFF). */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text content: forbidden characters become U+FFFD, markup characters are escaped. */
export function xmlText(s: string): string {
  return s.replace(NOT_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An attribute value in double quotes; tab, LF and CR as character references so they survive normalization. */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

function detail(p: Problem): string {
  const lines = [`${p.severity} ${p.rule}: ${p.message}`];
  if (p.location) lines.push(`at ${p.location.file}:${p.location.line}${p.location.column ? `:${p.location.column}` : ''}`);
  if (p.remedy && p.verdict !== 'waived') lines.push(`fix: ${p.remedy}`);
  if (p.finding?.waivedBy) lines.push(`waived until ${p.finding.waivedBy.expires} by ${p.finding.waivedBy.source.file}:${p.finding.waivedBy.source.line}: ${p.finding.waivedBy.reason}`);
  return lines.join('\n');
}

interface Case {
  name: string;
  classname: string;
  failures: Problem[];
  others: Problem[];
  skipped?: string;
  out: string[];
}

function imageCase(image: ImageReport, list: Problem[]): Case {
  const mine = list.filter((p) => p.image === image);
  const c: Case = { name: image.ref, classname: image.role, failures: mine.filter((p) => p.verdict === 'fail'), others: mine.filter((p) => p.verdict !== 'fail'), out: [] };
  if (image.pinned) c.out.push(`pinned: ${image.pinned}`);
  for (const [platform, digest] of Object.entries(image.platformDigests ?? {})) c.out.push(`  ${platform} → ${digest}`);
  if (image.status === 'absent') c.skipped = `${image.ref} (alias of ${image.aliasOf ?? 'the app image'}) is not in the registry; Kamal re-tags it on the hosts`;
  return c;
}

export function renderVerifyJunit(report: VerifyReport): string {
  const list = problems(report);
  const cases = report.images.map((i) => imageCase(i, list));
  const policyProblems = list.filter((p) => !p.image);
  if (policyProblems.length) {
    cases.push({
      name: `policy ${report.policy?.file ?? ''}`.trim(),
      classname: 'policy',
      failures: policyProblems.filter((p) => p.verdict === 'fail'),
      others: policyProblems.filter((p) => p.verdict !== 'fail'),
      out: [],
    });
  }
  const failures = cases.filter((c) => c.failures.length).length;
  const skipped = cases.filter((c) => c.skipped).length;
  const suite = { name: 'kamal-gate verify', tests: cases.length, failures, errors: 0, skipped };
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${attrs({ name: 'kamal-gate', tests: suite.tests, failures, errors: 0, skipped })}>`];
  const props: Array<[string, string]> = [
    ['kamal-gate.version', report.tool.version],
    ['exitCode', String(report.exitCode)],
  ];
  if (report.config) props.push(['config', report.config]);
  if (report.destination) props.push(['destination', report.destination]);
  if (report.version) props.push(['version', report.version]);
  if (report.policy) props.push(['policy', report.policy.file]);
  out.push(`  <testsuite${attrs(suite)}>`, '    <properties>');
  for (const [name, value] of props) out.push(`      <property${attrs({ name, value })}/>`);
  out.push('    </properties>');
  for (const c of cases) {
    out.push(`    <testcase${attrs({ name: c.name, classname: c.classname })}>`);
    if (c.skipped) out.push(`      <skipped${attrs({ message: c.skipped })}/>`);
    for (const p of c.failures) out.push(`      <failure${attrs({ message: p.message, type: p.rule })}>${xmlText(detail(p))}</failure>`);
    const text = [...c.out, ...c.others.map((p) => `${p.verdict.toUpperCase()} ${detail(p)}`)];
    if (text.length) out.push(`      <system-out>${xmlText(text.join('\n'))}</system-out>`);
    out.push('    </testcase>');
  }
  if (report.notes.length) out.push(`    <system-out>${xmlText(report.notes.map((n) => `note: ${n}`).join('\n'))}</system-out>`);
  out.push('  </testsuite>', '</testsuites>');
  return out.join('\n') + '\n';
}
