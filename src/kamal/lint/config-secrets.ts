/**
 * Secrets written in the Kamal config itself: variables in `env.clear` whose name or value says
 * they are secrets (`config.secret_in_clear_env`), and registry passwords written as literals
 * (`config.literal_registry_password`). A value an ERB ENV lookup produced is not written in the file;
 * public values (Stripe publishable keys and price ids, host lists: secret-values.ts) are not secrets.
 */
import type { Target } from '../../types.js';
import type { EnvVar } from '../configuration/env.js';
import type { Registry } from '../configuration/registry.js';
import { at, type Report, type RuleChecks } from './rule.js';
import { isPlaceholder, isSecretName, publicValueKind, secretValueKind } from './secret-values.js';

export const secretInClearEnv: RuleChecks = {
  clearEnv(report: Report, variable: EnvVar, target: Target): void {
    const { name: key, value, loc, where } = variable;
    if (value === null || typeof value === 'boolean') return;
    if (loc.erb) return;
    // `${VAR}` (postgres://app:${POSTGRES_PASSWORD}@db/app) names a secret set elsewhere: only what is written literally counts.
    const text = String(value).replace(/\$\{[A-Za-z_][A-Za-z0-9_]*\}/g, '');
    if (isPlaceholder(text) || publicValueKind(text)) return;
    const kind = secretValueKind(text);
    const byName = isSecretName(key);
    if (!kind && !byName) return;
    report({
      severity: 'high',
      target,
      source: at(loc),
      message: `${where}.${key} is written in the config in clear${kind ? ` and its value looks like ${kind}` : ' and its name says it is a secret'}: it is in the repository and visible to anyone who can run docker inspect`,
      remedy: `move ${key} to env.secret (a list of names) and put ${key}=$${key} (or a password manager lookup) in .kamal/secrets; then rotate the value, it is already in the git history`,
      evidence: { where, key, ...(kind ? { looksLike: kind } : {}) },
    });
  },
};

export const literalRegistryPassword: RuleChecks = {
  registry(report: Report, registry: Registry, target: Target): void {
    const password = registry.password;
    if (password?.kind !== 'literal' || password.value === undefined) return;
    if (password.loc.erb) return; // <%= ENV["…"] %>: read from the environment, not written here
    const { where } = registry;
    report({
      severity: 'high',
      target,
      source: at(password.loc),
      message: `${where}.password is written in the config: the registry password is in the repository for anyone who can read it`,
      remedy: `name a secret instead (${where}.password: [KAMAL_REGISTRY_PASSWORD]) and put KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD in .kamal/secrets; then revoke the password, it is in the git history`,
      evidence: { where: `${where}.password` },
    });
  },
};
