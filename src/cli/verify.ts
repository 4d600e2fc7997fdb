import { imageReport, toolInfo, VERIFY_SCHEMA, type VerifyReport } from '../report/model.js';
import { renderStats, renderVerifyText } from '../report/text.js';
import { resolutionExitCode, resolveTargets } from '../verify.js';
import { loadTargets, makeClient, parsePlatforms, type RegistryOptions, type TargetOptions } from './context.js';
import type { Io } from './main.js';

export interface VerifyOptions extends TargetOptions, RegistryOptions {
  format: 'text' | 'json';
  stats?: boolean;
}

export async function verifyCommand(refs: string[], opts: VerifyOptions, io: Io): Promise<number> {
  const started = performance.now();
  const { plan, targets, notes } = await loadTargets(refs, opts, io.env);
  const platforms = parsePlatforms(opts.platform);
  const client = await makeClient(opts, targets, io.env);
  try {
    const results = await resolveTargets(client, targets, { platforms });
    const exitCode = resolutionExitCode(results);
    const report: VerifyReport = {
      schema: VERIFY_SCHEMA,
      tool: toolInfo(),
      images: results.map(imageReport),
      notes,
      exitCode,
    };
    if (plan) {
      report.config = plan.configFile;
      if (plan.destination) report.destination = plan.destination;
      report.version = plan.version;
      report.versionSource = plan.versionSource;
    }
    if (opts.stats) report.stats = Object.fromEntries(client.stats.entries());
    io.out(opts.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : renderVerifyText(report));
    if (opts.stats && opts.format !== 'json') io.err(renderStats(client.stats.entries(), targets.length, performance.now() - started));
    return exitCode;
  } finally {
    await client.close();
  }
}
