import type { RegistryStats } from '../registry/stats.js';
import type { ImageReport, VerifyReport } from './model.js';
import { shortDigest, table } from './table.js';

function where(r: ImageReport): string {
  return r.source ? `${r.source.file}:${r.source.line}` : '';
}

export function renderVerifyText(report: VerifyReport): string {
  const out: string[] = [];
  if (report.config) {
    const dest = report.destination ? ` (destination ${report.destination})` : '';
    out.push(`${report.config}${dest}, version ${report.version} (from ${report.versionSource})`, '');
  }
  const rows = report.images.map((r) => [
    r.role,
    r.ref,
    r.status === 'pinned' ? shortDigest(r.digest) : r.status === 'error' ? 'ERROR' : r.status,
    r.platform ?? '-',
    r.created ?? '-',
  ]);
  out.push(table(['ROLE', 'IMAGE', 'DIGEST', 'PLATFORM', 'CREATED'], rows));
  const pinned = report.images.filter((r) => r.status === 'pinned');
  if (pinned.length) {
    out.push('', 'Pinned:');
    const shown = new Set<string>();
    for (const r of pinned) {
      if (shown.has(r.pinned!)) continue;
      shown.add(r.pinned!);
      out.push(`  ${r.pinned}`);
      for (const [platform, digest] of Object.entries(r.platformDigests ?? {})) out.push(`    ${platform} → ${digest}`);
    }
  }
  const withFindings = report.images.filter((r) => r.findings?.length);
  if (withFindings.length) {
    out.push('');
    for (const r of withFindings) {
      const loc = where(r);
      for (const f of r.findings!) {
        out.push(`${f.severity.toUpperCase()} ${f.rule}: ${r.role} ${r.name}${loc ? ` (${loc})` : ''}`, `  ${f.message}`);
        if (f.remedy) out.push(`  fix: ${f.remedy}`);
      }
    }
  }
  const problems = report.images.filter((r) => r.status === 'absent' || r.status === 'error');
  if (problems.length) {
    out.push('');
    for (const r of problems) {
      const loc = where(r);
      if (r.status === 'absent') out.push(`note: ${r.ref} (alias of ${r.aliasOf ?? 'the app image'}) is not in the registry; Kamal re-tags it on the hosts, so this is not a failure`);
      else out.push(`error: ${r.role} ${r.name}${loc ? ` (${loc})` : ''}: ${r.error?.message}`);
    }
  }
  for (const n of report.notes) out.push(`note: ${n}`);
  const failed = report.images.filter((r) => r.status === 'error').length;
  const findings = report.images.reduce((n, r) => n + (r.findings?.length ?? 0), 0);
  out.push(
    '',
    `${pinned.length} image${pinned.length === 1 ? '' : 's'} pinned${failed ? `, ${failed} could not be verified` : ''}` +
      `${findings ? `, ${findings} finding${findings === 1 ? '' : 's'}` : ''}${report.ledger ? ` (ledger ${report.ledger})` : ''}`,
  );
  return out.join('\n') + '\n';
}

export function renderStats(stats: Array<[string, RegistryStats]>, images: number, wallMs: number): string {
  const rows = stats.map(([reg, s]) => [reg, String(s.requests), String(s.bytes), `${Math.round(s.ms)} ms`]);
  const total = stats.reduce((n, [, s]) => n + s.requests, 0);
  const lines = [table(['REGISTRY', 'REQUESTS', 'BYTES', 'TIME'], rows)];
  lines.push(`${total} requests for ${images} image${images === 1 ? '' : 's'} (${images ? (total / images).toFixed(1) : '0'} per image), ${Math.round(wallMs)} ms wall`);
  return lines.join('\n') + '\n';
}
