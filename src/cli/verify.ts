import { dirname, resolve } from 'node:path';
import { loadPolicy } from '../policy/load.js';
import { findingReport, imageReport, toolInfo, VERIFY_SCHEMA, type VerifyReport } from '../report/model.js';
import { renderStats, renderVerifyText } from '../report/text.js';
import { verifyTargets } from '../verify.js';
import { loadTargets, makeClient, parsePlatforms, type RegistryOptions, type TargetOptions } from './context.js';
import { actorFrom, openLedgerFor, sourceFrom, type LedgerFlags } from './ledger-options.js';
import type { Io } from './main.js';

export interface VerifyOptions extends TargetOptions, RegistryOptions, LedgerFlags {
  format: 'text' | 'json';
  stats?: boolean;
  requireRecorded?: boolean;
  policy?: string;
}

export async function verifyCommand(refs: string[], opts: VerifyOptions, io: Io): Promise<number> {
  const started = performance.now();
  const { plan, targets, notes } = await loadTargets(refs, opts, io.env);
  // The app root (the folder holding config/) is where .kamal/ lives: policy and ledger both.
  const root = plan ? resolve(dirname(plan.configFile), '..') : process.cwd();
  const { policy, origin } = await loadPolicy({ path: opts.policy, cwd: root });
  const platforms = parsePlatforms(opts.platform);
  const ledger = await openLedgerFor(opts, io, plan);
  try {
    const client = await makeClient(opts, targets, io.env);
    try {
      const run = await verifyTargets(client, targets, {
        platforms,
        policy,
        ...(ledger ? { ledger } : {}),
        requireRecorded: opts.requireRecorded ?? false,
        source: sourceFrom(io.env, 'verify'),
        actor: actorFrom(io.env),
        now: new Date(),
      });
      const report: VerifyReport = {
        schema: VERIFY_SCHEMA,
        tool: toolInfo(),
        images: run.results.map((r, i) => imageReport(r, run.findings.get(i), run.bases.get(i))),
        notes,
        policy: { file: policy.file, origin },
        exitCode: run.exitCode,
      };
      if (run.policyFindings.length) report.policyFindings = run.policyFindings.map(findingReport);
      if (plan) {
        report.config = plan.configFile;
        if (plan.destination) report.destination = plan.destination;
        report.version = plan.version;
        report.versionSource = plan.versionSource;
      }
      if (ledger) report.ledger = ledger.location;
      if (opts.stats) report.stats = Object.fromEntries(client.stats.entries());
      io.out(opts.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : renderVerifyText(report));
      if (opts.stats && opts.format !== 'json') io.err(renderStats(client.stats.entries(), targets.length, performance.now() - started));
      return run.exitCode;
    } finally {
      await client.close();
    }
  } finally {
    await ledger?.close();
  }
}
