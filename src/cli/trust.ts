/**
 * `kamal-gate trust refresh | show`: the one online step, fetching the current Sigstore trusted root
 * through TUF; and which root verification uses now, and how old it is.
 */
import { stat } from 'node:fs/promises';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { EXIT } from '../errors.js';
import { loadTrustedRoot, refreshTrustedRoot } from '../signatures/trust.js';
import type { Io } from './io.js';

export async function trustRefreshCommand(opts: { cacheDir?: string; mirror?: string }, io: Io): Promise<number> {
  try {
    const { path } = await refreshTrustedRoot({ ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), ...(opts.mirror ? { mirrorURL: opts.mirror } : {}) });
    io.out(`trusted root updated: ${path}\n`);
    return EXIT.ok;
  } catch (e) {
    io.err(`kamal-gate: could not refresh the Sigstore trusted root from ${e instanceof Error ? e.message : String(e)}; verification keeps using the root it has (\`kamal-gate trust show\`)\n`);
    return EXIT.unverifiable;
  }
}

const DAY = 86_400_000;

function age(from: Date, now: Date): string {
  const days = Math.floor((now.getTime() - from.getTime()) / DAY);
  return `${from.toISOString().slice(0, 10)}, ${days <= 0 ? 'today' : `${days} day${days === 1 ? '' : 's'} ago`}`;
}

/** The newest key or certificate authority the root lists: when the root last changed, as far as its content says. */
function newestKey(root: TrustedRoot): Date | undefined {
  const starts = [
    ...root.certificateAuthorities.map((c) => c.validFor?.start),
    ...root.tlogs.map((t) => t.publicKey?.validFor?.start),
    ...root.ctlogs.map((t) => t.publicKey?.validFor?.start),
    ...root.timestampAuthorities.map((t) => t.validFor?.start),
  ].filter((d): d is Date => d instanceof Date);
  return starts.length ? new Date(Math.max(...starts.map((d) => d.getTime()))) : undefined;
}

const WHAT = { file: 'given with --trusted-root', cached: 'fetched by `kamal-gate trust refresh`', shipped: 'shipped with kamal-gate (public-good Sigstore)' } as const;

export async function trustShowCommand(opts: { cacheDir?: string; trustedRoot?: string }, io: Io, now = new Date()): Promise<number> {
  const loaded = await loadTrustedRoot({ ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), ...(opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : {}) });
  const lines = [`trusted root: ${loaded.source}`, `  ${WHAT[loaded.kind]}`];
  const modified = await stat(loaded.source).then(
    (s) => s.mtime,
    () => undefined,
  );
  if (modified) lines.push(`  file written ${age(modified, now)}`);
  const newest = newestKey(loaded.root);
  if (newest) lines.push(`  newest key valid from ${age(newest, now)}`);
  const r = loaded.root;
  lines.push(`  ${r.certificateAuthorities.length} certificate authorities, ${r.tlogs.length} transparency logs, ${r.ctlogs.length} CT logs, ${r.timestampAuthorities.length} timestamp authorities`);
  if (loaded.kind !== 'file') lines.push('  `kamal-gate trust refresh` (online) fetches the current one');
  io.out(lines.join('\n') + '\n');
  return EXIT.ok;
}
