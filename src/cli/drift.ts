import { DEFAULT_DRIFT_CONCURRENCY, DRIFT_KINDS, runDrift, type DriftItem } from '../drift/run.js';
import { parseShard, type Shard } from '../drift/shard.js';
import { DriftMetrics, driftRounds, parseInterval, serveMetrics, webhookUrl, type RoundOutcome } from '../drift/watch.js';
import { UsageError } from '../errors.js';
import { driftHosts, type HostsDrift } from '../hosts/drift-hosts.js';
import type { RunOnHost } from '../hosts/running.js';
import { runOnHost } from '../hosts/ssh.js';
import { checkHostName, sshSettings } from '../hosts/targets.js';
import { DEFAULT_CONFIG_FILE, type LoadedConfig } from '../kamal/index.js';
import type { ClassificationKind } from '../ledger/state.js';
import type { Ledger } from '../ledger/types.js';
import type { RegistryClient } from '../registry/client.js';
import { driftReport, type DriftSummary } from '../report/drift-model.js';
import { hostsText } from '../report/drift-hosts-text.js';
import { table } from '../report/table.js';
import { combineExitCodes } from '../verify.js';
import { VERSION } from '../version.js';
import { defaultConfigHere, loadTargets, makeClient, type RegistryOptions, type TargetOptions } from './context.js';
import { actorFrom, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './io.js';

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
  /** `--hosts`: also read what each host of the Kamal config runs. */
  hosts?: boolean;
}

/** Hosts read at once by `drift --hosts`. */
const HOST_CONCURRENCY = 16;

const LABEL: Record<string, string> = { overwritten: 'OVERWRITTEN', rolled_back: 'ROLLED BACK', deleted: 'DELETED' };

function describe(i: DriftItem): string {
  if (i.kind === 'deleted') return `gone; the ledger approved ${i.approved}${i.approvedFirstSeen ? ` (first seen ${i.approvedFirstSeen})` : ''}`;
  const seen = i.observedFirstSeen ? ` (first seen ${i.observedFirstSeen})` : ' (never seen before)';
  return `now ${i.observed}${seen}; the ledger approved ${i.approved}${i.approvedFirstSeen ? ` (first seen ${i.approvedFirstSeen})` : ''}`;
}

/** One drift round: check every tag (of this shard), append what changed, print the result. */
async function round(
  ledger: Ledger,
  client: RegistryClient,
  opts: DriftOptions,
  io: Io,
  ctx: { concurrency: number; shard?: Shard; progress: boolean; hosts?: () => Promise<HostsDrift> },
): Promise<RoundOutcome> {
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
  const hosts = ctx.hosts ? await ctx.hosts() : undefined;
  const exitCode = combineExitCodes([drifted.length || hosts?.unapproved.length ? 1 : 0, hosts?.failed.length ? 3 : 0, ...errors.map((e) => e.error!.exitCode)]);
  const ms = performance.now() - started;
  const requests = client.stats.total().requests - requestsBefore;
  const summary: DriftSummary = {
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
    const doc = driftReport({
      ledger: ledger.location,
      ...(ctx.shard ? { shard: ctx.shard } : {}),
      summary,
      drifted,
      baseMoved,
      errors,
      entriesWritten: result.entries.length,
      ...(hosts ? { hosts } : {}),
      ...(opts.stats ? { stats: { requests, wallMs: Math.round(ms) } } : {}),
      exitCode,
    });
    io.out(JSON.stringify(doc, opts.watch ? undefined : null, opts.watch ? undefined : 2) + '\n');
  } else if (opts.quiet && !drifted.length && !errors.length && !hosts?.unapproved.length && !hosts?.failed.length) {
    // --quiet (cron): nothing needs a person, so nothing is printed (a cron job mails any output).
  } else {
    const lines: string[] = [];
    if (drifted.length)
      lines.push(
        table(
          ['DRIFT', 'TAG', 'WHAT'],
          drifted.map((i) => [LABEL[i.kind!]!, i.ref, describe(i)]),
        ),
        '',
      );
    const byMessage = new Map<string, string[]>();
    for (const e of errors) byMessage.set(e.error!.message, [...(byMessage.get(e.error!.message) ?? []), e.ref]);
    for (const [message, refs] of byMessage) lines.push(`error: ${refs.length === 1 ? refs[0] : `${refs.length} tags (${refs[0]}, …)`}: ${message}`);
    if (!opts.quiet)
      for (const i of baseMoved) lines.push(`info: base tag ${i.ref} moved upstream to ${i.observed}${i.approved ? ` (was ${i.approved})` : ''}: expected for base images; rebuild to pick it up`);
    const where = `${ledger.location}${ctx.shard ? ` (shard ${ctx.shard.index}/${ctx.shard.count})` : ''}`;
    lines.push(
      `${opts.watch ? `${new Date().toISOString()} ` : ''}${summary.tags} tags checked in ${where}: ${summary.unchanged} unchanged, ${summary.overwritten} overwritten, ${summary.rolledBack} rolled back, ${summary.deleted} deleted${summary.baseTags ? `, ${summary.baseTags} base tags observed` : ''}${summary.forgotten ? `, ${summary.forgotten} forgotten` : ''}${summary.errors ? `, ${summary.errors} could not be checked` : ''}`,
    );
    if (hosts) lines.push('', ...hostsText(hosts, opts.quiet ?? false));
    io.out(lines.join('\n') + '\n');
    if (hosts && opts.stats) io.err(hosts.hosts.map((h) => `ssh ${h.host}: ${h.ms} ms`).join('\n') + '\n');
    if (opts.stats) io.err(`${requests} requests for ${summary.tags} tags (${summary.tags ? (requests / summary.tags).toFixed(2) : 0} per tag), ${Math.round(ms)} ms wall\n`);
  }
  return { exitCode, drifted, items: result.items, ms };
}

/** `--hosts`: every app host of the config (each once), read over SSH as Kamal connects, against the ledger. */
function hostsRound(config: LoadedConfig, ledger: Ledger, io: Io, progress: boolean): () => Promise<HostsDrift> {
  const c = config.configuration;
  const hosts = [...new Set(c.servers.asWritten.flatMap((r) => r.hosts))].map(checkHostName);
  const settings = sshSettings(c);
  const run: RunOnHost = (host, script) => runOnHost(host, script, settings, { env: io.env });
  return async () => {
    const result = await driftHosts(hosts, run, ledger, {
      service: c.service.value,
      ...(config.destination ? { destination: config.destination } : {}),
      concurrency: HOST_CONCURRENCY,
      onProgress: progress ? (done, total) => io.err(`\rreading ${done}/${total} hosts…`) : undefined,
    });
    if (progress) io.err('\r\x1b[K');
    return result;
  };
}

/**
 * `kamal-gate drift`: re-resolve every tag in the ledger and report the ones that moved. With
 * --watch it runs a round every --interval until SIGTERM or SIGINT, which let the round in flight
 * finish, then exits 0.
 */
export async function driftCommand(opts: DriftOptions, io: Io, isTty: boolean): Promise<number> {
  let concurrency = DEFAULT_DRIFT_CONCURRENCY;
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
  const config = opts.configFile ?? (defaultConfigHere(io) ? DEFAULT_CONFIG_FILE : undefined);
  if (opts.hosts && !config)
    throw new UsageError(`drift --hosts reads the hosts and their ssh settings from the Kamal config, and there is no ${DEFAULT_CONFIG_FILE} here; run it in the app or give -c/--config-file`);
  const loaded = config ? await loadTargets([], { ...opts, configFile: config, version: opts.version ?? 'drift' }, io) : undefined;
  const { plan, targets } = loaded ?? { plan: undefined, targets: [] };
  // drift only checks what the ledger holds: a missing ledger is a mistake, not zero tags that pass.
  const ledger = (await openLedgerFor(opts, io, plan, { mustExist: true }))!;
  const metrics = new DriftMetrics(VERSION);
  const served = opts.metrics ? await serveMetrics(opts.metrics, metrics) : undefined;
  if (served) io.err(`metrics on ${served.url}\n`);
  const progress = isTty && !opts.quiet && !opts.watch;
  const hosts = opts.hosts && loaded?.config ? hostsRound(loaded.config, ledger, io, progress) : undefined;
  const ctx = { concurrency, ...(shard ? { shard } : {}), progress, ...(hosts ? { hosts } : {}) };
  // SIGTERM or SIGINT stops the rounds (the one in flight finishes): the loop only sees the AbortSignal.
  const stopper = new AbortController();
  const unsubscribe = opts.watch ? io.onSignal(['SIGTERM', 'SIGINT'], () => stopper.abort()) : undefined;
  try {
    // --concurrency bounds each registry twice over: tags in flight, and connections (one request each).
    const client = await makeClient(opts, targets, io, { connectionsPerOrigin: concurrency });
    try {
      return await driftRounds(() => round(ledger, client, opts, io, ctx), {
        watch: opts.watch ?? false,
        intervalMs: interval,
        metrics,
        ...(opts.webhook ? { webhook: { url: opts.webhook, ledger: ledger.location } } : {}),
        warn: (m) => io.err(`warning: ${m}\n`),
        signal: stopper.signal,
      });
    } finally {
      await client.close();
    }
  } finally {
    unsubscribe?.();
    served?.server.close();
    await ledger.close();
  }
}
