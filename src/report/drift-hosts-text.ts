/**
 * The HOSTS section of `drift --hosts` text output: each container Kamal labelled for the service,
 * whether its image is the one the ledger approves for its tag, and the hosts that could not be read.
 */
import type { HostsDrift } from '../hosts/drift-hosts.js';
import { table } from './table.js';

function short(digest: string | undefined): string {
  return digest ? digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…') : '-';
}

/** Lines to print; with `quiet`, only what needs a person (unapproved containers, unreadable hosts). */
export function hostsText(h: HostsDrift, quiet: boolean): string[] {
  const lines: string[] = [];
  const rows = h.hosts.flatMap((x) => x.containers.filter((c) => !quiet || !c.ok).map((c) => [x.host, c.name, c.image, short(c.pulled ?? c.imageId), c.ok ? 'approved' : 'UNAPPROVED']));
  if (rows.length) lines.push(table(['HOST', 'CONTAINER', 'IMAGE', 'RUNNING', 'LEDGER'], rows), '');
  for (const c of h.unapproved) lines.push(`host.unapproved_image: host ${c.host}: container ${c.name} ${c.reason ?? 'runs an unapproved image'}`);
  for (const x of h.failed) lines.push(`error: host ${x.host} could not be checked: ${x.error}`);
  const containers = h.hosts.reduce((n, x) => n + x.containers.length, 0);
  lines.push(
    `${h.hosts.length} hosts checked: ${containers} containers of the service, ${h.unapproved.length} running an unapproved image${h.failed.length ? `, ${h.failed.length} hosts could not be checked` : ''}`,
  );
  return lines;
}
