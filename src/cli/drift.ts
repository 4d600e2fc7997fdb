import { existsSync } from 'node:fs';
import { DriftMetrics, parseInterval, parseShard, postWebhook, serveMetrics, webhookPayload, webhookUrl, type Shard } from '../drift-service.js';
import { DRIFT_KINDS, runDrift, type DriftItem } from '../drift.js';
import { UsageError } from '../errors.js';
import { DEFAULT_CONFIG_FILE } from '../kamal/index.js';
import type { ClassificationKind } from '../ledger/state.js';
import type { Ledger } from '../ledger/types.js';
import type { RegistryClient } from '../registry/client.js';
import { table } from '../report/table.js';
import { VERSION } from '../version.js';
import { combineExitCodes } from '../verify.js';
import { loadTargets, makeClient, type RegistryOptions, type TargetOptions } from './context.js';
import { actorFrom, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './main.js';

export interface DriftOptions extends RegistryOptions, LedgerFlags, TargetOptions {
  format: 'text' | 'json';
  concurrency?: string;
  quiet?: boolean;
  stats?: boolean;
  watch?: boolean;
  interval?: string;
  metrics?: string;
  webhook?: string;
  shard?: string;
}

const LABEL: Record<string, string> = { overwritten: 'OVERWRITTEN', rolled_back: 'ROLLED BACK', deleted: 'DELETED' };

function describe(i: DriftItem): string {
  if (i.kind === 'deleted') return `gone; the ledger approved ${i.approved}${i.approvedFirstSeen ? ` (first seen ${i.approvedFirstSeen})` : ''}`;
  const seen = i.observedFirstSeen ? ` (first seen ${i.observedFirstSeen})` : ' (never seen before)';
  return `now ${i.observed}${seen}; the ledger approved ${i.approved}${i.approvedFirstSeen ? ` (first seen ${i.approvedFirstSeen})` : ''}`;
}

interface Round {
  exitCode: number;
  drifted: DriftItem[];
  errors: number;
  tags: number;
  ms: number;
}

/** One drift round: check every tag (of this shard), append what changed, print the result. */
async function round(ledger: Ledger, client: RegistryClient, opts: DriftOptions, io: Io, ctx: { concurrency: number; shard?: Shard; progress: boolean }): Promise<Round> {
  const started = performance.now();
  const requestsBefore = client.stats.total().requests;
  const result = await runDrift(ledger, client, {
    concurrency: ctx.concurrency,
    actor: actorFrom(io.env),
    ...(ctx.shard ? { shard: ctx.shard } : {}),
    onProgress: ctx.progress ? (done, total) => io.err(`\rchecking ${done}/${total} tags…`) : undefined,
  });
  if (ctx.progress) io.err('\r\x1b[K');
  if (result.entries.length) await ledger.append(result.entries);
  const drifted = result.items.filter((i) => i.kind && DRIFT_KINDS.has(i.kind as ClassificationKind));
  const baseMoved = result.items.filter((i) => i.kind === 'base_moved');
  const forgotten = result.items.filter((i) => i.forgotten).length;
  const errors = result.items.filter((i) => i.error);
  const exitCode = combineExitCodes([drifted.length ? 1 : 0, ...errors.map((e) => e.error!.exitCode)]);
  const ms = performance.now() - started;
  const requests = client.stats.total().requests - requestsBefore;
  const summary = {
    tags: result.items.length,
    unchanged: result.items.filter((i) => i.kind === 'same' || i.kind === 'restored').length,
    overwritten: drifted.filter((i) => i.kind === 'overwritten').length,
    rolledBack: drifted.filter((i) => i.kind === 'rolled_back').length,
    deleted: drifted.filter((i) => i.kind === 'deleted').length,
    baseTags: result.items.filter((i) => i.kind === 'base_moved' || i.kind === 'base_same').length,
    baseMoved: baseMoved.length,
    forgotten,
    errors: errors.length,
  };
  if (opts.format === 'json') {
    const doc = {
      schema: 'kamal-gate/drift/v1',
      tool: { name: 'kamal-gate', version: VERSION },
      ledger: ledger.location,
      ...(ctx.shard ? { shard: `${ctx.shard.index}/${ctx.shard.count}` } : {}),
      summary,
      drift: drifted.map((i) => ({ ref: i.ref, kind: i.kind, observed: i.observed, approved: i.approved, approvedFirstSeen: i.approvedFirstSeen, observedFirstSeen: i.observedFirstSeen })),
      baseMoved: baseMoved.map((i) => ({ ref: i.ref, observed: i.observed, previous: i.approved })),
      errors: errors.map((i) => ({ ref: i.ref, kind: i.error!.kind, message: i.error!.message })),
      entriesWritten: result.entries.length,
      stats: opts.stats ? { requests, wallMs: Math.round(ms) } : undefined,
      exitCode,
    };
    io.out(JSON.stringify(doc, opts.watch ? undefined : null, opts.watch ? undefined : 2) + '\n');
  } else {
    const lines: string[] = [];
    if (drifted.length) lines.push(table(['DRIFT', 'TAG', 'WHAT'], drifted.map((i) => [LABEL[i.kind!]!, i.ref, describe(i)])), '');
    const byMessage = new Map<string, string[]>();
    for (const e of errors) byMessage.set(e.error!.message, [...(byMessage.get(e.error!.message) ?? []), e.ref]);
    for (const [message, refs] of byMessage) lines.push(`error: ${refs.length === 1 ? refs[0] : `${refs.length} tags (${refs[0]}, …)`}: ${message}`);
    for (const i of baseMoved) lines.push(`info: base tag ${i.ref} moved upstream to ${i.observed}${i.approved ? ` (was ${i.approved})` : ''}: expected for base images; rebuild to pick it up`);
    const where = `${ledger.location}${ctx.shard ? ` (shard ${ctx.shard.index}/${ctx.shard.count})` : ''}`;
    lines.push(
      `${opts.watch ? `${new Date().toISOString()} ` : ''}${summary.tags} tags checked in ${where}: ${summary.unchanged} unchanged, ${summary.overwritten} overwritten, ${summary.rolledBack} rolled back, ${summary.deleted} deleted${summary.baseTags ? `, ${summary.baseTags} base tags observed` : ''}${summary.forgotten ? `, ${summary.forgotten} forgotten` : ''}${summary.errors ? `, ${summary.errors} could not be checked` : ''}`,
    );
    io.out(lines.join('\n') + '\n');
    if (opts.stats) io.err(`${requests} requests for ${summary.tags} tags (${summary.tags ? (requests / summary.tags).toFixed(2) : 0} per tag), ${Math.round(ms)} ms wall\n`);
  }
  return { exitCode, drifted, errors: errors.length, tags: summary.tags, ms };
}

/**
 * `kamal-gate drift`: re-resolve every tag in the ledger and report the ones that moved. With
 * --watch it runs a round every --interval until SIGTERM or SIGINT, which let the round in flight
 * finish, then exits 0.
 */
export async function driftCommand(opts: DriftOptions, io: Io, isTty: boolean): Promise<number> {
  let concurrency = 32;
  if (opts.concurrency !== undefined) {
    concurrency = Number(opts.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError('--concurrency takes a whole number from 1 to 256');
  }
  const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
  if (!opts.watch && (opts.interval || opts.metrics)) throw new UsageError('--interval and --metrics go with --watch');
  const interval = parseInterval(opts.interval ?? '15m');
  // A bad URL is a usage error now, not a warning after the first drift; and it is a secret from here on.
  if (opts.webhook !== undefined) webhookUrl(opts.webhook);
  // A Kamal config beside the ledger supplies registry credentials (and the default ledger
  // location); drift checks every tag in the ledger, so the version does not matter.
  const config = opts.configFile ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  const { plan, targets } = config ? await loadTargets([], { ...opts, configFile: config, version: opts.version ?? 'drift' }, io.env) : { plan: undefined, targets: [] };
  // drift only checks what the ledger holds: a missing ledger is a mistake, not zero tags that pass.
  const ledger = (await openLedgerFor(opts, io, plan, { mustExist: true }))!;
  const metrics = new DriftMetrics();
  const served = opts.metrics ? await serveMetrics(opts.metrics, metrics) : undefined;
  if (served) io.err(`metrics on ${served.url}\n`);
  const ctx = { concurrency, ...(shard ? { shard } : {}), progress: isTty && !opts.quiet && !opts.watch };
  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopping = true;
    wake?.();
  };
  if (opts.watch) {
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }
  try {
    const client = await makeClient(opts, targets, io.env, (m) => io.err(`warning: ${m}\n`));
    try {
      let lastDrift = '';
      for (;;) {
        const r = await round(ledger, client, opts, io, ctx);
        metrics.round({ tags: r.tags, drift: r.drifted.length, errors: r.errors, ms: r.ms });
        const key = r.drifted.map((d) => `${d.ref}|${d.observed}`).sort().join('\n');
        if (opts.webhook && r.drifted.length && key !== lastDrift) {
          try {
            await postWebhook(opts.webhook, webhookPayload(r.drifted, ledger.location));
          } catch (e) {
            io.err(`warning: the drift webhook failed: ${e instanceof Error ? e.message : String(e)}\n`);
          }
        }
        lastDrift = key;
        if (!opts.watch) return r.exitCode;
        if (stopping) return 0;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        if (stopping) return 0;
      }
    } finally {
      await client.close();
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    served?.server.close();
    await ledger.close();
  }
}
