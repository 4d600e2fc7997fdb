import { DRIFT_KINDS, runDrift, type DriftItem } from '../drift.js';
import { table } from '../report/table.js';
import { VERSION } from '../version.js';
import { combineExitCodes } from '../verify.js';
import { existsSync } from 'node:fs';
import { DEFAULT_CONFIG_FILE } from '../kamal/index.js';
import { loadTargets, makeClient, type RegistryOptions, type TargetOptions } from './context.js';
import { actorFrom, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './main.js';
import { UsageError } from '../errors.js';

export interface DriftOptions extends RegistryOptions, LedgerFlags, TargetOptions {
  format: 'text' | 'json';
  concurrency?: string;
  quiet?: boolean;
  stats?: boolean;
}

const LABEL: Record<string, string> = { overwritten: 'OVERWRITTEN', rolled_back: 'ROLLED BACK', deleted: 'DELETED' };

function describe(i: DriftItem): string {
  if (i.kind === 'deleted') return `gone; the ledger approved ${i.approved}${i.approvedFirstSeen ? ` (first seen ${i.approvedFirstSeen})` : ''}`;
  const seen = i.observedFirstSeen ? ` (first seen ${i.observedFirstSeen})` : ' (never seen before)';
  return `now ${i.observed}${seen}; the ledger approved ${i.approved}${i.approvedFirstSeen ? ` (first seen ${i.approvedFirstSeen})` : ''}`;
}

/** `kamal-gate drift`: re-resolve every tag in the ledger and report the ones that moved. */
export async function driftCommand(opts: DriftOptions, io: Io, isTty: boolean): Promise<number> {
  let concurrency = 32;
  if (opts.concurrency !== undefined) {
    concurrency = Number(opts.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError('--concurrency takes a whole number from 1 to 256');
  }
  const started = performance.now();
  // A Kamal config beside the ledger supplies registry credentials (and the default ledger
  // location); drift checks every tag in the ledger, so the version does not matter.
  const config = opts.configFile ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  const { plan, targets } = config ? await loadTargets([], { ...opts, configFile: config, version: opts.version ?? 'drift' }, io.env) : { plan: undefined, targets: [] };
  const ledger = (await openLedgerFor(opts, io, plan))!;
  try {
    const client = await makeClient(opts, targets, io.env);
    try {
      const showProgress = isTty && !opts.quiet;
      const result = await runDrift(ledger, client, {
        concurrency,
        actor: actorFrom(io.env),
        onProgress: showProgress ? (done, total) => io.err(`\rchecking ${done}/${total} tags…`) : undefined,
      });
      if (showProgress) io.err('\r\x1b[K');
      if (result.entries.length) await ledger.append(result.entries);
      const drifted = result.items.filter((i) => i.kind && DRIFT_KINDS.has(i.kind));
      const errors = result.items.filter((i) => i.error);
      const exitCode = combineExitCodes([drifted.length ? 1 : 0, ...errors.map((e) => e.error!.exitCode)]);
      const wallMs = performance.now() - started;
      const summary = {
        tags: result.items.length,
        unchanged: result.items.filter((i) => i.kind === 'same' || i.kind === 'restored').length,
        overwritten: drifted.filter((i) => i.kind === 'overwritten').length,
        rolledBack: drifted.filter((i) => i.kind === 'rolled_back').length,
        deleted: drifted.filter((i) => i.kind === 'deleted').length,
        errors: errors.length,
      };
      if (opts.format === 'json') {
        const doc = {
          schema: 'kamal-gate/drift/v1',
          tool: { name: 'kamal-gate', version: VERSION },
          ledger: ledger.location,
          summary,
          drift: drifted.map((i) => ({ ref: i.ref, kind: i.kind, observed: i.observed, approved: i.approved, approvedFirstSeen: i.approvedFirstSeen, observedFirstSeen: i.observedFirstSeen })),
          errors: errors.map((i) => ({ ref: i.ref, kind: i.error!.kind, message: i.error!.message })),
          entriesWritten: result.entries.length,
          stats: opts.stats ? { ...client.stats.total(), wallMs: Math.round(wallMs) } : undefined,
          exitCode,
        };
        io.out(JSON.stringify(doc, null, 2) + '\n');
      } else {
        const lines: string[] = [];
        if (drifted.length) {
          lines.push(table(['DRIFT', 'TAG', 'WHAT'], drifted.map((i) => [LABEL[i.kind!]!, i.ref, describe(i)])), '');
        }
        const byMessage = new Map<string, string[]>();
        for (const e of errors) byMessage.set(e.error!.message, [...(byMessage.get(e.error!.message) ?? []), e.ref]);
        for (const [message, refs] of byMessage) lines.push(`error: ${refs.length === 1 ? refs[0] : `${refs.length} tags (${refs[0]}, …)`}: ${message}`);
        lines.push(
          `${summary.tags} tags checked in ${ledger.location}: ${summary.unchanged} unchanged, ${summary.overwritten} overwritten, ${summary.rolledBack} rolled back, ${summary.deleted} deleted${summary.errors ? `, ${summary.errors} could not be checked` : ''}`,
        );
        io.out(lines.join('\n') + '\n');
        if (opts.stats) {
          const t = client.stats.total();
          io.err(`${t.requests} requests for ${summary.tags} tags (${summary.tags ? (t.requests / summary.tags).toFixed(2) : 0} per tag), ${Math.round(wallMs)} ms wall\n`);
        }
      }
      return exitCode;
    } finally {
      await client.close();
    }
  } finally {
    await ledger.close();
  }
}
