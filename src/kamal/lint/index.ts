/**
 * Config lint: dangerous settings in a Kamal config and the files beside it, each a Finding with
 * the file and line to fix. The rule table below lists every rule; each rule's checks live in the
 * module of its family. Reads only: nothing from the config is executed, and the only process
 * started is `git ls-files` (tracked-secrets.ts).
 *
 * A finding never carries a secret value: messages name the key, the file and the line.
 */
import type { Finding, Target } from '../../types.js';
import { Configuration } from '../configuration/index.js';
import type { ConfigMap } from '../yaml-tree.js';
import { literalRegistryPassword, secretInClearEnv } from './config-secrets.js';
import { privileged, runtimeSocket } from './container.js';
import { accessoryUnpinned, imageLatest } from './images.js';
import type { AppFiles, LintRule, Report, RuleChecks } from './rule.js';
import { literalSshKey, sshHostKeyUnchecked } from './ssh.js';
import { secretsTracked } from './tracked-secrets.js';

/**
 * Every lint rule. At one place in the config the rules' checks run in this order (so key_data
 * findings come before the proxy_command one, and the SSH config file is read before git is asked).
 */
const LINT_RULES: readonly LintRule[] = [
  { id: 'config.docker_socket', family: 'container', checks: runtimeSocket, description: 'A container mounts the Docker (or containerd/podman) socket, which gives it root on the host' },
  { id: 'config.privileged', family: 'container', checks: privileged, description: 'A container runs privileged, with added capabilities, host namespaces, devices or security profiles turned off' },
  { id: 'config.secret_in_clear_env', family: 'secrets-in-config', checks: secretInClearEnv, description: 'A secret is written in env.clear, so it is in the repository and in docker inspect' },
  {
    id: 'config.literal_registry_password',
    family: 'secrets-in-config',
    checks: literalRegistryPassword,
    description: 'The registry password is written in the Kamal config instead of naming a secret',
  },
  { id: 'config.literal_ssh_key', family: 'ssh', checks: literalSshKey, description: 'A private SSH key is written in the Kamal config (ssh.key_data) instead of naming a secret' },
  { id: 'config.ssh_host_key_unchecked', family: 'ssh', checks: sshHostKeyUnchecked, description: 'SSH host key verification is turned off, so a man in the middle can take the deploy' },
  { id: 'config.image_latest', family: 'images', checks: imageLatest, description: 'An image is deployed by the latest tag (or no tag), whatever was pushed last' },
  { id: 'config.accessory_unpinned', family: 'images', checks: accessoryUnpinned, description: 'An accessory image is referenced by a mutable tag, not pinned by digest' },
  { id: 'config.secrets_tracked', family: 'tracked-secrets', checks: secretsTracked, description: 'A secrets or .env file with literal secret values is tracked by git' },
];

/** What each lint rule finds, for reports (SARIF rule descriptions, `lint --format json`). */
export const LINT_RULE_DESCRIPTIONS: Record<string, string> = Object.fromEntries(LINT_RULES.map((r) => [r.id, r.description]));

export interface LintInput {
  /** The merged config tree (kamal/config.ts loadConfig); read through its Configuration view. */
  root: ConfigMap;
  /** The deploy plan's targets: findings are attached to the image they concern. */
  targets: Target[];
}

function appTarget(targets: Target[]): Target | undefined {
  return targets.find((t) => t.role === 'app' && !t.aliasOf) ?? targets[0];
}

/** Runs `check` of every rule at one place; findings without a target concern `target`. */
function runAt(findings: Finding[], target: Target, check: (checks: RuleChecks, report: Report) => void): void {
  for (const rule of LINT_RULES) check(rule.checks, (f) => findings.push({ rule: rule.id, ...f, target: f.target ?? target }));
}

/** The findings the config tree itself gives (no I/O). */
export function lintConfig(input: LintInput): Finding[] {
  const { targets } = input;
  const app = appTarget(targets);
  if (!app) return [];
  const config = Configuration.of(input.root);
  const findings: Finding[] = [];
  const place = (target: Target, check: (checks: RuleChecks, report: Report) => void) => runAt(findings, target, check);

  // Root volumes and env apply to every role.
  for (const v of config.volumes) place(app, (c, r) => c.volume?.(r, v, app));
  for (const v of config.env.allClear) place(app, (c, r) => c.clearEnv?.(r, v, app));
  for (const role of config.servers.asWritten) {
    for (const o of role.options) place(app, (c, r) => c.option?.(r, o, app));
    for (const v of role.env.allClear) place(app, (c, r) => c.clearEnv?.(r, v, app));
  }
  const registry = config.registry;
  if (registry) place(app, (c, r) => c.registry?.(r, registry, app));
  for (const accessory of config.accessories) {
    const target = targets.find((t) => t.role === 'accessory' && t.name === accessory.name) ?? app;
    for (const o of accessory.options) place(target, (c, r) => c.option?.(r, o, target));
    for (const v of accessory.volumes) place(target, (c, r) => c.volume?.(r, v, target));
    for (const v of accessory.env.allClear) place(target, (c, r) => c.clearEnv?.(r, v, target));
    const own = accessory.registry;
    if (own) place(target, (c, r) => c.registry?.(r, own, target));
  }
  place(app, (c, r) => c.ssh?.(r, config.ssh));
  for (const t of targets) place(app, (c, r) => c.image?.(r, t));
  return findings;
}

export interface LintAppOptions extends LintInput {
  /** The folder holding config/ and .kamal/: where Kamal runs and where git is asked. */
  appRoot: string;
  /** File names in findings are relative to this folder (default: appRoot). */
  cwd?: string;
  /** The destination linted (`-d`): only the secrets files Kamal reads for it are looked at. */
  destination?: string;
  env?: NodeJS.ProcessEnv;
}

export interface LintResult {
  findings: Finding[];
  /** What the user should know (a check that could not run). */
  notes: string[];
}

/** The config tree's findings plus those of files beside it (git-tracked secrets, the SSH config file). */
export async function lintApp(opts: LintAppOptions): Promise<LintResult> {
  const findings = lintConfig(opts);
  const app = appTarget(opts.targets);
  if (!app) return { findings, notes: [] };
  const files: AppFiles = { config: Configuration.of(opts.root), appRoot: opts.appRoot, cwd: opts.cwd ?? opts.appRoot, destination: opts.destination, env: opts.env ?? process.env };
  const notes: string[] = [];
  for (const rule of LINT_RULES) {
    if (!rule.checks.files) continue;
    notes.push(...(await rule.checks.files((f) => findings.push({ rule: rule.id, ...f, target: f.target ?? app }), files)));
  }
  return { findings, notes };
}
