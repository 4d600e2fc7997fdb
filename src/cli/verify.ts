import { appendFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { redact } from '../redact.js';
import { renderVerifyGithub, renderVerifySummaryMarkdown } from '../report/github.js';
import { renderVerifyJunit } from '../report/junit.js';
import { renderVerifySarif } from '../report/sarif.js';
import { loadPolicy } from '../policy/load.js';
import { findingReport, imageReport, toolInfo, VERIFY_SCHEMA, withHosts, type VerifyReport } from '../report/model.js';
import { painter, colourOn } from '../report/colour.js';
import { renderSshStats, renderStats, renderVerifyText } from '../report/text.js';
import { startResolving, verifyTargets } from '../verify.js';
import { HostsRun } from '../hosts/verify-hosts.js';
import { runOnHost } from '../hosts/ssh.js';
import { imageHosts, sshSettings } from '../hosts/targets.js';
import { effectiveDeploy } from '../kamal/effective.js';
import { DEFAULT_CONFIG_FILE, type LoadedConfig } from '../kamal/index.js';
import { lintApp } from '../kamal/lint/index.js';
import type { DeployPlan, Finding } from '../types.js';
import { defaultConfigHere, loadTargets, makeClient, parsePlatforms, type RegistryOptions, type TargetOptions } from './context.js';
import { actorFrom, checkpointRoot, openLedgerFor, sourceFrom, type LedgerFlags } from './ledger-options.js';
import type { VerifyFormat } from './formats.js';
import type { Io } from './io.js';
import { commandLineSigners, type SignerFlags } from './signers.js';
import { commandLineAttestations, type AttestationFlags } from './attestation-flags.js';
import { reportRunError, writeReportFiles, type ReportFileFlags } from './verify-outputs.js';

export { VERIFY_FORMATS, type VerifyFormat } from './formats.js';

/** The report in the chosen format; with `github`, also the job summary appended to $GITHUB_STEP_SUMMARY. */
function emitReport(report: VerifyReport, format: VerifyFormat, io: Io): void {
  if (format === 'json') return io.out(JSON.stringify(report, null, 2) + '\n');
  if (format === 'sarif') return io.out(renderVerifySarif(report));
  if (format === 'junit') return io.out(renderVerifyJunit(report));
  if (format === 'github') {
    io.out(renderVerifyGithub(report));
    const summary = io.env['GITHUB_STEP_SUMMARY'];
    if (summary) {
      try {
        appendFileSync(summary, redact(renderVerifySummaryMarkdown(report)));
      } catch (e) {
        io.err(`warning: could not append the job summary to GITHUB_STEP_SUMMARY (${summary}): ${(e as Error).message}\n`);
      }
    }
    return;
  }
  io.out(renderVerifyText(report, painter(colourOn(io.outIsTty, io.env))));
}

async function lintPlan(plan: DeployPlan, config: LoadedConfig, io: Io): Promise<Finding[]> {
  const appRoot = resolve(dirname(config.configPath), '..');
  return (await lintApp({ root: config.root, targets: plan.targets, appRoot, cwd: io.cwd, destination: config.destination, env: io.env })).findings;
}

/** Said when `verify REF…` runs with no ledger because none was named and no Kamal config is here. */
export const NO_LEDGER_NOTE =
  `no digest ledger: no Kamal config (${DEFAULT_CONFIG_FILE}) here and no --ledger or $KAMAL_GATE_LEDGER_URL, ` +
  'so tags are neither checked against nor recorded in a ledger (pass --ledger PATH|URL to use one, or --no-ledger to silence this note)';

export interface VerifyOptions extends TargetOptions, RegistryOptions, LedgerFlags, SignerFlags, AttestationFlags, ReportFileFlags {
  format: VerifyFormat;
  stats?: boolean;
  requireRecorded?: boolean;
  policy?: string;
  trustedRoot?: string;
  quiet?: boolean;
  /** `--hosts`: also check what every host holds, over SSH. */
  hosts?: boolean;
}

export async function verifyCommand(refs: string[], opts: VerifyOptions, io: Io): Promise<number> {
  const started = performance.now();
  let report: VerifyReport;
  try {
    report = await buildVerifyReport(refs, opts, io);
  } catch (e) {
    reportRunError(e, opts, io);
    throw e;
  }
  emitReport(report, opts.format, io);
  writeReportFiles(report, opts, io);
  if (report.stats && opts.format !== 'json') io.err(renderStats(Object.entries(report.stats), report.images.length, performance.now() - started));
  if (report.sshStats && opts.format !== 'json') io.err(renderSshStats(report.sshStats));
  return report.exitCode;
}

/**
 * Everything `verify` does but print: the typed report (its exitCode included). Progress and warnings
 * go to `io.err`; the library's `verifyImages` (src/api.ts) calls this with an Io of its own.
 */
export async function buildVerifyReport(refs: string[], opts: Omit<VerifyOptions, 'format'>, io: Io): Promise<VerifyReport> {
  // Signer flags and their key files are checked before anything else is read or asked.
  const extraSignatures = await commandLineSigners(opts, io.cwd, io.env);
  const extraAttestations = commandLineAttestations(opts);
  const { plan, config, targets, notes: planNotes } = await loadTargets(refs, opts, io);
  let notes = planNotes;
  let hosts: HostsRun | undefined;
  if (opts.hosts) {
    if (refs.length) throw new UsageError('verify --hosts checks the images of the Kamal config on its hosts; give no image references with it');
    if (!config)
      throw new UsageError(
        `verify --hosts reads the hosts and their ssh settings from the Kamal config, and there is none (${DEFAULT_CONFIG_FILE}); run it in the app (or give -c) without image references`,
      );
    const settings = sshSettings(config.configuration);
    hosts = new HostsRun(imageHosts(config.configuration, targets, io.env), (host, script) => runOnHost(host, script, settings, { env: io.env }), {
      rollback: io.env['KAMAL_COMMAND'] === 'rollback',
      ...(io.isTty && !opts.quiet ? { onProgress: (done: number, total: number) => io.err(`\rchecking ${done}/${total} hosts…${done === total ? '\r\x1b[K' : ''}`) } : {}),
    });
  }
  // The registry client, and the resolution under way, before the policy, the lint and the ledger
  // load: the registry answers meanwhile. (A failure here closes the client, whose requests then end.)
  const platforms = parsePlatforms(opts.platform);
  const client = await makeClient(opts, targets, io);
  let finished = false;
  let ledger: Awaited<ReturnType<typeof openLedgerFor>> | undefined;
  try {
    const resolving = startResolving(client, targets, {
      platforms,
      // Progress on a terminal only, on stderr, so piped output stays plain.
      ...(io.isTty && !opts.quiet ? { onProgress: (done: number, total: number) => io.err(`\rresolving ${done}/${total} images…${done === total ? '\r\x1b[K' : ''}`) } : {}),
    });
    // The app root (the folder holding config/) is where .kamal/ lives: policy and ledger both.
    const root = plan ? resolve(dirname(plan.configFile), '..') : io.cwd;
    const { policy, origin } = await loadPolicy({ path: opts.policy, cwd: root });
    // The config's dangerous settings, as `kamal-gate lint` finds them; the policy's config group decides.
    const configFindings = plan && config ? await lintPlan(plan, config, io) : [];
    // The effective deploy, compared with the one `record` approved (checks/config-approval.ts).
    const deployConfig = plan && config ? { document: effectiveDeploy({ plan, config }), ...(plan.destination !== undefined ? { destination: plan.destination } : {}) } : undefined;
    // Explicit refs outside an app (no config/deploy.yml here) and no --ledger or $KAMAL_GATE_LEDGER_URL:
    // no ledger, rather than a .kamal/ folder created wherever the command happens to run.
    ledger = await openLedgerFor(opts, io, plan, { defaultWithoutPlan: defaultConfigHere(io) });
    if (!ledger && opts.ledger !== false) {
      if (opts.requireRecorded) {
        throw new UsageError(`--require-recorded needs a digest ledger: there is no Kamal config (${DEFAULT_CONFIG_FILE}) here; pass --ledger PATH|URL or set KAMAL_GATE_LEDGER_URL`);
      }
      notes = [...notes, NO_LEDGER_NOTE];
    }
    const run = await verifyTargets(
      client,
      targets,
      {
        platforms,
        policy,
        ...(ledger ? { ledger } : {}),
        requireRecorded: opts.requireRecorded ?? false,
        configFindings,
        ...(deployConfig ? { deployConfig } : {}),
        ...(opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : {}),
        ...checkpointRootOption(checkpointRoot(opts, io.env)),
        ...(extraSignatures ? { extraSignatures } : {}),
        ...(extraAttestations ? { extraAttestations } : {}),
        ...(hosts ? { hosts } : {}),
        source: sourceFrom(io.env, 'verify'),
        actor: actorFrom(io.env),
        now: new Date(),
      },
      resolving,
    );
    const report: VerifyReport = {
      schema: VERIFY_SCHEMA,
      tool: toolInfo(),
      images: run.results.map((r) => withHosts(imageReport(r, r.findings, r.base), hosts?.reportFor(r.target))),
      notes,
      policy: { file: policy.file, origin },
      exitCode: run.exitCode,
    };
    if (run.policyFindings.length) report.policyFindings = run.policyFindings.map(findingReport);
    if (plan) {
      report.config = plan.configFile;
      if (plan.destination) report.destination = plan.destination;
      if (config?.erb === 'ruby') report.erb = 'ruby';
      report.version = plan.version;
      report.versionSource = plan.versionSource;
    }
    if (ledger) report.ledger = ledger.location;
    if (opts.stats) report.stats = Object.fromEntries(client.stats.entries());
    if (opts.stats && hosts) report.sshStats = hosts.sessionTimes;
    finished = true;
    return report;
  } finally {
    // A run that failed (a bad policy, say) does not wait for the registry: its requests are dropped.
    await (finished ? client.close() : client.abort());
    await ledger?.close();
  }
}

/** verify's option for the root keyless ledger checkpoints are verified against. */
function checkpointRootOption(r: { trustedRoot?: string }): { checkpointRoot?: string } {
  return r.trustedRoot ? { checkpointRoot: r.trustedRoot } : {};
}
