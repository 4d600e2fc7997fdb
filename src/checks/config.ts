/**
 * Config lint findings under the policy: the `config` requirement group of each finding's image
 * decides. Mode `off` and rule ids in `ignore` drop the finding; what remains goes to the policy's
 * decision like any other finding (mode, exceptions, severity). `lint` filters all its findings at
 * once; `verify` runs the config check on each target, over the findings about it.
 */
import { globMatch } from '../policy/glob.js';
import { requirementsFor } from '../policy/match.js';
import type { Policy } from '../policy/types.js';
import type { Finding } from '../types.js';
import type { TargetCheck } from './types.js';

export function configChecks(findings: readonly Finding[], policy: Policy): Finding[] {
  return findings.filter((f) => {
    let config;
    try {
      config = requirementsFor(policy, { ref: f.target.ref, role: f.target.role }).groups.config?.value;
    } catch {
      return true; // a reference that does not parse: keep the finding (fail closed)
    }
    if (!config) return true;
    if (config.mode === 'off') return false;
    return !config.ignore.some((g) => globMatch('rule', g, f.rule));
  });
}

export const configCheck: TargetCheck = {
  name: 'config',
  on: 'target',
  run(r, ctx) {
    return {
      findings: configChecks(
        (ctx.configFindings ?? []).filter((f) => f.target === r.target),
        ctx.policy,
      ),
    };
  },
};
