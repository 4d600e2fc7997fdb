/**
 * The policy engine: what every image must satisfy, from one reviewed YAML file.
 *
 *   const { policy } = await loadPolicy({ path: opts.policy, cwd });      // PolicyError (exit 2) listing every problem
 *   const req = requirementsFor(policy, { ref: subject.ref, role });     // drives the checks: req.groups.base?.value.maxAge …
 *   const { findings, exitCode } = decide(allFindings, policy, new Date()); // mode, exception, fails per finding
 *
 * See policies/baseline.yml for the format in use and src/policy/schema.ts for every key.
 */
export { decide } from './decide.js';
export { durationProblem, expiryInstant, isExpired, parseDuration } from './duration.js';
export { globMatch, globProblem, type GlobKind } from './glob.js';
export { embeddedPolicy, loadPolicy, PROJECT_POLICY, shippedPolicyPath } from './load.js';
export { parsePolicy, type ParseOptions } from './parse.js';
export { exceptionCoversImage, exceptionCoversRule, exceptionsFor, matchRule, requirementsFor, type ImageRef } from './match.js';
export { describeGroup, renderCheck, renderExplain } from './render.js';
export { EXCEPTION_EXPIRED, FAILING_SEVERITIES, groupOf, RULE_PREFIXES, TAG_MOVES } from './rules.js';
export { policySchema, policySchemaJson, type PolicyDocument, type PolicyInput } from './schema.js';
export * from './types.js';
