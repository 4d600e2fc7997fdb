/** Where the digest ledger lives, who is writing to it, and how each command opens it. */
import { dirname, join, resolve } from 'node:path';
import { parseLedgerLocation } from '../ledger/location.js';
import type { Ledger, LedgerSource } from '../ledger/types.js';
import type { DeployPlan } from '../types.js';
import type { Io } from './io.js';

export const DEFAULT_LEDGER = join('.kamal', 'image-ledger.jsonl');

export interface LedgerFlags {
  ledger?: string | false;
}

/**
 * The ledger the user named: --ledger, then $KAMAL_GATE_LEDGER_URL (an empty variable counts as
 * unset), checked (ledger/location.ts: a path or a postgres:// URL; anything else is a UsageError with the
 * password masked, and the password is a secret from here on). Undefined when neither is given.
 */
function explicitLedgerLocation(flags: LedgerFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (typeof flags.ledger === 'string') return checked(flags.ledger, '--ledger');
  const url = env['KAMAL_GATE_LEDGER_URL'];
  return url ? checked(url, '$KAMAL_GATE_LEDGER_URL') : undefined;
}

function checked(location: string, origin: string): string {
  const where = parseLedgerLocation(location, origin);
  return where.kind === 'postgres' ? where.url : where.path;
}

/**
 * The ledger location: --ledger, then $KAMAL_GATE_LEDGER_URL, then `.kamal/image-ledger.jsonl` in
 * the folder that holds the Kamal config's `config/` folder (the app root), else the current folder.
 */
function ledgerLocation(flags: LedgerFlags, io: Pick<Io, 'env' | 'cwd'>, plan?: DeployPlan): string {
  const explicit = explicitLedgerLocation(flags, io.env);
  if (explicit !== undefined) return explicit;
  const root = plan ? resolve(dirname(plan.configFile), '..') : io.cwd;
  return join(root, DEFAULT_LEDGER);
}

export interface OpenLedgerMode {
  /**
   * The command only reads the ledger (drift, ledger verify|show|export): a file ledger that does not
   * exist is a UsageError ("no ledger at …; `kamal-gate record` creates it"), never an empty ledger
   * that passes.
   */
  mustExist?: boolean;
  /**
   * Whether, when the user named no ledger and there is no deploy plan, the default
   * `.kamal/image-ledger.jsonl` in the current folder is used (true) or no ledger at all (false:
   * `verify REF…` outside an app creates nothing). Default true.
   */
  defaultWithoutPlan?: boolean;
  /**
   * Check the newest signed checkpoint against the ledger as it is opened (default true): a ledger
   * that lacks the checkpointed entry, or holds another one at that seq, is refused (exit 2).
   * `ledger verify` checks it itself, to report rather than throw.
   */
  checkHead?: boolean;
}

/** The ledger for a command; undefined with --no-ledger, or when `mode.defaultWithoutPlan` is false and nothing names one. */
export async function openLedgerFor(flags: LedgerFlags, io: Io, plan?: DeployPlan, mode: OpenLedgerMode = {}): Promise<Ledger | undefined> {
  if (flags.ledger === false) return undefined;
  if (!plan && mode.defaultWithoutPlan === false && explicitLedgerLocation(flags, io.env) === undefined) return undefined;
  const location = ledgerLocation(flags, io, plan);
  // Loaded here, not at start-up: only commands that open the ledger pay for it (and pg only for postgres://).
  const { openLedger } = await import('../ledger/index.js');
  const ledger = await openLedger(location, {
    onWarning: (m) => io.err(`warning: ${m}\n`),
    onLockWait: (h) => io.err(`waiting for the ledger lock held by pid ${h.pid} on ${h.hostname} since ${h.time}\n`),
    ...(mode.mustExist ? { mustExist: true } : {}),
  });
  if (mode.checkHead !== false) {
    try {
      await (await import('../ledger/head.js')).checkHead(ledger, checkpointRoot(flags, io.env));
    } catch (e) {
      await ledger.close();
      throw e;
    }
  }
  return ledger;
}

/**
 * The Sigstore trusted root keyless checkpoints are verified against: `verify --trusted-root`, else
 * $KAMAL_GATE_TRUSTED_ROOT (a private Sigstore deployment), else the public-good root.
 */
export function checkpointRoot(flags: LedgerFlags & { trustedRoot?: string }, env: NodeJS.ProcessEnv): { trustedRoot?: string } {
  const root = flags.trustedRoot ?? env['KAMAL_GATE_TRUSTED_ROOT'];
  return root ? { trustedRoot: root } : {};
}

/** Who is acting, when the environment says: Kamal's performer, else the CI job. Never a secret. */
export function actorFrom(env: NodeJS.ProcessEnv): string | undefined {
  if (env['KAMAL_PERFORMER']) return env['KAMAL_PERFORMER'];
  if (env['GITHUB_ACTIONS'] && env['GITHUB_REPOSITORY'] && env['GITHUB_RUN_ID']) {
    return `github:${env['GITHUB_REPOSITORY']}/actions/runs/${env['GITHUB_RUN_ID']}${env['GITHUB_ACTOR'] ? ` (${env['GITHUB_ACTOR']})` : ''}`;
  }
  if (env['GITLAB_CI'] && env['CI_JOB_URL']) return `gitlab:${env['CI_JOB_URL']}`;
  if (env['BUILDKITE_BUILD_URL']) return `buildkite:${env['BUILDKITE_BUILD_URL']}`;
  if (env['CIRCLE_BUILD_URL']) return `circleci:${env['CIRCLE_BUILD_URL']}`;
  return undefined;
}

/** Inside a Kamal hook (Kamal sets KAMAL_COMMAND for hooks) the source is `hook`. */
export function sourceFrom(env: NodeJS.ProcessEnv, otherwise: LedgerSource): LedgerSource {
  return env['KAMAL_COMMAND'] ? 'hook' : otherwise;
}
