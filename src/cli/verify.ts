import { checkLedger } from '../checks/ledger.js';
import { failing, imageReport, toolInfo, VERIFY_SCHEMA, type VerifyReport } from '../report/model.js';
import { renderStats, renderVerifyText } from '../report/text.js';
import type { Finding } from '../types.js';
import { combineExitCodes, resolutionExitCode, resolveTargets } from '../verify.js';
import { loadTargets, makeClient, parsePlatforms, type RegistryOptions, type TargetOptions } from './context.js';
import { actorFrom, openLedgerFor, sourceFrom, type LedgerFlags } from './ledger-options.js';
import type { Io } from './main.js';

export interface VerifyOptions extends TargetOptions, RegistryOptions, LedgerFlags {
  format: 'text' | 'json';
  stats?: boolean;
  requireRecorded?: boolean;
}

export async function verifyCommand(refs: string[], opts: VerifyOptions, io: Io): Promise<number> {
  const started = performance.now();
  const { plan, targets, notes } = await loadTargets(refs, opts, io.env);
  const platforms = parsePlatforms(opts.platform);
  const ledger = await openLedgerFor(opts, io, plan);
  try {
    const client = await makeClient(opts, targets, io.env);
    try {
      const results = await resolveTargets(client, targets, { platforms });
      const findings = new Map<number, Finding[]>();
      if (ledger) {
        const checked = await checkLedger(ledger, results, {
          source: sourceFrom(io.env, 'verify'),
          actor: actorFrom(io.env),
          requireRecorded: opts.requireRecorded ?? false,
        });
        for (const i of checked.explained) results[i] = { ...results[i]!, error: undefined };
        for (const [i, f] of checked.findings) findings.set(i, f);
        if (checked.entries.length) await ledger.append(checked.entries);
      }
      const all = [...findings.values()].flat();
      const exitCode = combineExitCodes([resolutionExitCode(results), all.some(failing) ? 1 : 0]);
      const report: VerifyReport = {
        schema: VERIFY_SCHEMA,
        tool: toolInfo(),
        images: results.map((r, i) => imageReport(r, findings.get(i))),
        notes,
        exitCode,
      };
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
      return exitCode;
    } finally {
      await client.close();
    }
  } finally {
    await ledger?.close();
  }
}
