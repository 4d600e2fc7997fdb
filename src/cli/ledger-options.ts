/** Where the digest ledger lives, who is writing to it, and how each command opens it. */
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Ledger, LedgerSource } from '../ledger/types.js';
import { registerSecret } from '../redact.js';
import type { DeployPlan } from '../types.js';
import type { Io } from './main.js';

export const DEFAULT_LEDGER = join('.kamal', 'image-ledger.jsonl');

export interface LedgerFlags {
  ledger?: string | false;
}

export function addLedgerOption(cmd: Command, withNo = false): Command {
  cmd.option('--ledger <path|url>', `digest ledger: a file (default ${DEFAULT_LEDGER} beside the Kamal config) or postgres://… ($KAMAL_GATE_LEDGER_URL)`);
  if (withNo) cmd.option('--no-ledger', 'do not read or write the digest ledger');
  return cmd;
}

/**
 * The ledger location: --ledger, then $KAMAL_GATE_LEDGER_URL, then `.kamal/image-ledger.jsonl` in
 * the folder that holds the Kamal config's `config/` folder (the app root), else the current folder.
 */
export function ledgerLocation(flags: LedgerFlags, env: NodeJS.ProcessEnv, plan?: DeployPlan): string {
  if (typeof flags.ledger === 'string' && flags.ledger) return flags.ledger;
  const url = env['KAMAL_GATE_LEDGER_URL'];
  if (url) {
    try {
      registerSecret(new URL(url).password);
    } catch {
      // not a URL: reported when opened
    }
    return url;
  }
  const root = plan ? resolve(dirname(plan.configFile), '..') : process.cwd();
  return join(root, DEFAULT_LEDGER);
}

export async function openLedgerFor(flags: LedgerFlags, io: Io, plan?: DeployPlan): Promise<Ledger | undefined> {
  if (flags.ledger === false) return undefined;
  // Loaded here, not at start-up: only commands that open the ledger pay for it (and pg only for postgres://).
  const { openLedger } = await import('../ledger/index.js');
  return openLedger(ledgerLocation(flags, io.env, plan), {
    onWarning: (m) => io.err(`warning: ${m}\n`),
    onLockWait: (h) => io.err(`waiting for the ledger lock held by pid ${h.pid} on ${h.hostname} since ${h.time}\n`),
  });
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
