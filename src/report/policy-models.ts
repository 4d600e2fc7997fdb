/**
 * The JSON documents of `kamal-gate policy check` and `policy explain`. Each is versioned by its
 * `schema`, bumped on any incompatible change. (`policy schema` prints the policy's JSON Schema.)
 */
import type { EffectiveRequirements, ExceptionStatus, LoadedPolicy, Policy } from '../policy/types.js';

const POLICY_CHECK_SCHEMA = 'kamal-gate/policy-check/v1';
const POLICY_EXPLAIN_SCHEMA = 'kamal-gate/policy-explain/v1';

/** `policy check`: the policy as loaded (a policy that does not load is an error, exit 2). */
export interface PolicyCheckReport {
  schema: typeof POLICY_CHECK_SCHEMA;
  valid: true;
  origin: LoadedPolicy['origin'];
  policy: Policy;
}

export function policyCheckReport(loaded: LoadedPolicy): PolicyCheckReport {
  return { schema: POLICY_CHECK_SCHEMA, valid: true, origin: loaded.origin, policy: loaded.policy };
}

/** `policy explain REF`: which rules apply to the image and why, what it must satisfy, its exceptions. */
export interface PolicyExplainReport extends EffectiveRequirements {
  schema: typeof POLICY_EXPLAIN_SCHEMA;
  /** The policy file. */
  policy: string;
  origin: LoadedPolicy['origin'];
  exceptions: ExceptionStatus[];
}

export function policyExplainReport(loaded: LoadedPolicy, eff: EffectiveRequirements, exceptions: ExceptionStatus[]): PolicyExplainReport {
  return { schema: POLICY_EXPLAIN_SCHEMA, policy: loaded.policy.file, origin: loaded.origin, ...eff, exceptions };
}
