/**
 * `kamal-gate config diff [--from VERSION]`: the settings of the effective deploy (kamal/effective.ts)
 * that differ between the config approved in the ledger (the latest for the destination, or the one
 * approved with VERSION) and the working tree's. For review in pull requests: text, JSON, or GitHub
 * annotations on the lines the changed settings are written at. Exit 0 when equal, 1 when different
 * (as `diff`), 2 on errors and when nothing was approved.
 */
import { UsageError } from '../errors.js';
import { configFingerprint, effectiveDeploy } from '../kamal/effective.js';
import { diffDeploys } from '../kamal/effective-diff.js';
import { settingLocation } from '../kamal/configuration/setting-location.js';
import { readDeployPlanAndConfig } from '../kamal/index.js';
import { renderConfigDiffGithub, renderConfigDiffText } from '../report/config-diff.js';
import { configDiffReport } from '../report/config-diff-model.js';
import type { SourceLocation } from '../types.js';
import { erbMode, type TargetOptions } from './context.js';
import type { Io } from './io.js';
import { openLedgerFor, type LedgerFlags } from './ledger-options.js';
import { approvedConfig, type ApprovedConfig } from '../ledger/config-approval.js';

export type ConfigDiffFormat = 'text' | 'json' | 'github';

export interface ConfigDiffOptions extends Omit<TargetOptions, 'version'>, LedgerFlags {
  from?: string;
  format: ConfigDiffFormat;
}

/** The version the working tree is read with: the app image's version tag is `{version}` in the effective deploy either way. */
const WORKING_VERSION = 'working-tree';

export async function configDiffCommand(opts: ConfigDiffOptions, io: Io): Promise<number> {
  if (opts.ledger === false) throw new UsageError('config diff compares with the config approved in the ledger; it needs one (drop --no-ledger)');
  const loaded = await readDeployPlanAndConfig({
    configFile: opts.configFile,
    destination: opts.destination,
    version: WORKING_VERSION,
    env: io.env,
    cwd: io.cwd,
    erb: erbMode(opts, io.env),
  });
  const working = effectiveDeploy(loaded);
  const { plan, config } = loaded;
  const ledger = (await openLedgerFor(opts, io, plan, { mustExist: true }))!;
  let approved: ApprovedConfig | undefined;
  try {
    approved = await approvedConfig(ledger, plan.service, plan.destination, opts.from);
  } finally {
    await ledger.close();
  }
  const where = `${plan.service}${plan.destination ? ` (destination ${plan.destination})` : ''}`;
  if (!approved) {
    throw new UsageError(
      opts.from !== undefined
        ? `no config was approved for ${where} with version ${opts.from} in ${ledger.location}; \`kamal-gate record --version ${opts.from}\` approves it`
        : `no config was approved for ${where} in ${ledger.location}; \`kamal-gate record\` in the pipeline approves it`,
    );
  }
  const changes = diffDeploys(approved.document, working);
  const locate = (path: string): SourceLocation | undefined => {
    const loc = settingLocation(config.configuration, path);
    return loc ? { file: loc.file, line: loc.line } : undefined;
  };
  const title = `${config.configFile}${plan.destination ? ` -d ${plan.destination}` : ''} against the config approved${approved.version ? ` for ${approved.version}` : ''}`;
  if (opts.format === 'json') {
    const report = configDiffReport(
      {
        config: config.configFile,
        service: plan.service,
        destination: plan.destination,
        from: { source: 'approved', ...(approved.version ? { version: approved.version } : {}), fingerprint: approved.fingerprint },
        to: { source: 'working-tree', fingerprint: configFingerprint(working) },
      },
      changes,
      locate,
    );
    io.out(JSON.stringify(report, null, 2) + '\n');
  } else if (opts.format === 'github') {
    io.out(renderConfigDiffGithub(changes, config.configFile, locate, title));
  } else {
    io.out(renderConfigDiffText(changes, title));
  }
  return changes.length ? 1 : 0;
}
