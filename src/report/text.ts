import { printable } from '../printable.js';
import { SEVERITY_RANK } from '../types.js';
import type { RegistryStats } from '../registry/stats.js';
import { verdictOf } from './ci.js';
import { PLAIN, type Paint } from './colour.js';
import type { FindingReport, ImageReport, VerifyReport } from './model.js';
import { shortDigest, table } from './table.js';

function verdict(f: FindingReport): string {
  return verdictOf(f).toUpperCase();
}

function renderFinding(f: FindingReport, paint: Paint): string[] {
  const at = f.source ? ` (${f.source.file}:${f.source.line})` : '';
  const lines = [`  ${paint(f.severity, `${verdict(f)} ${f.severity}`, verdict(f) === 'WAIVED')} ${f.rule}${at}: ${printable(f.message, Infinity)}`];
  if (f.remedy && verdict(f) !== 'WAIVED') lines.push(`       fix: ${printable(f.remedy, Infinity)}`);
  if (f.waivedBy) lines.push(`       waived until ${f.waivedBy.expires} by ${f.waivedBy.source.file}:${f.waivedBy.source.line}: ${printable(f.waivedBy.reason, Infinity)}`);
  return lines;
}

function where(r: ImageReport): string {
  return r.source ? `${r.source.file}:${r.source.line}` : '';
}

/** `paint`: colour for a terminal (colour.ts); plain by default. */
export function renderVerifyText(report: VerifyReport, paint: Paint = PLAIN): string {
  const out: string[] = [];
  if (report.config) {
    const dest = report.destination ? ` (destination ${report.destination})` : '';
    out.push(`${report.config}${dest}, version ${report.version} (from ${report.versionSource})`, '');
  }
  const rows = report.images.map((r) => [r.role, r.ref, r.status === 'pinned' ? shortDigest(r.digest) : r.status === 'error' ? 'ERROR' : r.status, r.platform ?? '-', r.created ?? '-']);
  out.push(table(['ROLE', 'IMAGE', 'DIGEST', 'PLATFORM', 'CREATED'], rows));
  out.push(...hostsSection(report.images));
  const pinned = report.images.filter((r) => r.status === 'pinned');
  // What to deploy: an image with a failing finding is resolved too, but is no pin to use.
  const passed = pinned.filter((r) => !(r.findings ?? []).some((f) => verdictOf(f) === 'fail'));
  if (passed.length) {
    out.push('', 'Pinned:');
    const shown = new Set<string>();
    for (const r of passed) {
      if (shown.has(r.pinned!)) continue;
      shown.add(r.pinned!);
      out.push(`  ${r.pinned}`);
      for (const [platform, digest] of Object.entries(r.platformDigests ?? {})) out.push(`    ${platform} → ${digest}`);
    }
  }
  const withFindings = report.images.filter((r) => r.findings?.length);
  // Images with failing findings first, then by their worst severity.
  const worst = (r: ImageReport) => Math.min(...r.findings!.map((f) => (f.fails ? 0 : 10) + (SEVERITY_RANK[f.severity] ?? 5)));
  withFindings.sort((a, b) => worst(a) - worst(b));
  for (const r of withFindings) {
    const loc = where(r);
    out.push('', `${r.role} ${r.name === r.ref ? '' : `${r.name} `}${r.ref}${loc ? ` (${loc})` : ''}`);
    for (const f of r.findings!) out.push(...renderFinding(f, paint));
  }
  if (report.policyFindings?.length) {
    out.push('', `policy ${report.policy?.file ?? ''}`);
    for (const f of report.policyFindings) out.push(...renderFinding(f, paint));
  }
  const problems = report.images.filter((r) => r.status === 'absent' || r.status === 'error');
  if (problems.length) {
    out.push('');
    for (const r of problems) {
      const loc = where(r);
      if (r.status === 'absent') out.push(`note: ${r.ref} (alias of ${r.aliasOf ?? 'the app image'}) is not in the registry; Kamal re-tags it on the hosts, so this is not a failure`);
      else out.push(`error: ${r.role} ${r.name}${loc ? ` (${loc})` : ''}: ${printable(r.error?.message ?? '', Infinity)}`);
    }
  }
  for (const n of report.notes) out.push(`note: ${printable(n, Infinity)}`);
  const failed = report.images.filter((r) => r.status === 'error').length;
  const all = [...report.images.flatMap((r) => r.findings ?? []), ...(report.policyFindings ?? [])];
  const failing = all.filter((f) => verdictOf(f) === 'fail').length;
  const warnings = all.filter((f) => verdictOf(f) === 'warn').length;
  out.push(
    '',
    `${pinned.length} image${pinned.length === 1 ? '' : 's'} pinned${failed ? `, ${failed} could not be verified` : ''}` +
      `${failing ? `, ${failing} failing finding${failing === 1 ? '' : 's'}` : ''}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}` +
      `${report.policy ? ` (policy ${report.policy.file}` : ''}${report.ledger ? `${report.policy ? ', ' : ' ('}ledger ${report.ledger}` : ''}${report.policy || report.ledger ? ')' : ''}`,
  );
  return out.join('\n') + '\n';
}

/** `verify --hosts`: what each host holds under each image's reference. */
function hostsSection(images: ImageReport[]): string[] {
  const rows = images.flatMap((r) =>
    (r.hosts ?? []).map((h) => [
      h.host,
      r.ref,
      h.status === 'pass' ? 'ok' : h.status === 'error' ? 'ERROR' : h.status.toUpperCase(),
      h.status === 'error' ? printable(h.error ?? '', 80) : h.id ? shortDigest(h.id) : '-',
    ]),
  );
  return rows.length ? ['', 'HOSTS', table(['HOST', 'IMAGE', 'HOLDS', 'ID'], rows)] : [];
}

/** `--stats` with `--hosts`: each host's SSH session. */
export function renderSshStats(sessions: Array<{ host: string; ms: number; images: number; error?: string }>): string {
  const rows = sessions.map((s) => [s.host, '1', String(s.images), `${s.ms} ms`, s.error ? 'unreachable' : 'ok']);
  return table(['HOST', 'SSH SESSIONS', 'IMAGES', 'TIME', 'STATUS'], rows) + '\n';
}

export function renderStats(stats: Array<[string, RegistryStats]>, images: number, wallMs: number): string {
  const rows = stats.map(([reg, s]) => [reg, String(s.requests), String(s.bytes), `${Math.round(s.ms)} ms`, String(s.cacheHits)]);
  const total = stats.reduce((n, [, s]) => n + s.requests, 0);
  const lines = [table(['REGISTRY', 'REQUESTS', 'BYTES', 'TIME', 'CACHE HITS'], rows)];
  lines.push(`${total} requests for ${images} image${images === 1 ? '' : 's'} (${images ? (total / images).toFixed(1) : '0'} per image), ${Math.round(wallMs)} ms wall`);
  return lines.join('\n') + '\n';
}
