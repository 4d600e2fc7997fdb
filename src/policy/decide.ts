/**
 * The verdict: each finding gets the mode of the requirement group its rule id belongs to, as set
 * for its image, and the active exception that waives it, if any. Pure: no I/O.
 *
 * A finding fails the run when it is enforced, not waived, and of severity critical, high or
 * medium. Warnings, waived findings and low/info findings never fail. A finding whose group no
 * rule set, or whose rule id is unknown, is enforced (fail closed). Two checks carry their own
 * verdict instead of the group's mode: tag moves (`tags.immutable`: true fails, false warns) and
 * `base.unknown` / `base.unconfirmed` (`base.unknown`: enforce, or warn for warn/ignore). A group
 * in mode `off` should produce no findings; any that arrive are warnings. A finding that carries its own `requirement`
 * (the signer flags of `verify`) takes that mode and origin. Expired exceptions waive
 * nothing and each produces a `policy.exception_expired` finding (medium, warn).
 */
import type { Finding, Target } from '../types.js';
import { isExpired } from './duration.js';
import { exceptionCoversImage, exceptionCoversRule, requirementsFor } from './match.js';
import { BASE_UNIDENTIFIED, EXCEPTION_EXPIRED, FAILING_SEVERITIES, groupOf, TAG_MOVES } from './rules.js';
import type { DecidedFinding, Decision, EffectiveRequirements, Group, Origin, Policy, PolicyException, Requirements } from './types.js';

export function decide(findings: readonly Finding[], policy: Policy, now: Date): Decision {
  const requirements = new Map<string, EffectiveRequirements | undefined>();
  const active = policy.exceptions.filter((e) => !isExpired(e.expires, now));
  const expired = policy.exceptions.filter((e) => isExpired(e.expires, now));
  /** Expired exception → the targets (by ref) it would have waived a finding of, and those rule ids. */
  const missed = new Map<PolicyException, Map<string, { target: Target; rules: Set<string> }>>();

  const decided = findings.map((f): DecidedFinding => {
    const key = `${f.target.role} ${f.target.ref}`;
    if (!requirements.has(key)) requirements.set(key, effective(policy, f.target));
    const req = requirements.get(key);
    const covers = (e: PolicyException) => req !== undefined && exceptionCoversRule(e, f.rule) && exceptionCoversImage(e, req.ref);
    for (const e of expired.filter(covers)) {
      const byTarget = missed.get(e) ?? new Map<string, { target: Target; rules: Set<string> }>();
      const entry = byTarget.get(key) ?? { target: f.target, rules: new Set<string>() };
      entry.rules.add(f.rule);
      byTarget.set(key, entry);
      missed.set(e, byTarget);
    }
    const { mode, group, origin } = modeOf(f, req);
    const exception = active.find(covers);
    const fails = mode === 'enforce' && !exception && FAILING_SEVERITIES.has(f.severity);
    return { ...f, mode, ...(group ? { group } : {}), ...(origin ? { origin } : {}), ...(exception ? { exception } : {}), fails };
  });

  for (const e of expired) {
    const hits = [...(missed.get(e)?.values() ?? [])];
    if (hits.length === 0) decided.push(expiredFinding(e, policy, policyTarget(policy, e), []));
    for (const hit of hits) decided.push(expiredFinding(e, policy, hit.target, [...hit.rules]));
  }
  return { findings: decided, exitCode: decided.some((f) => f.fails) ? 1 : 0 };
}

/** Requirements for a finding's image; undefined when its reference does not parse (then: enforced, no exceptions). */
function effective(policy: Policy, target: Target): EffectiveRequirements | undefined {
  try {
    return requirementsFor(policy, { ref: target.ref, role: target.role });
  } catch {
    return undefined;
  }
}

function modeOf(f: Finding, req: EffectiveRequirements | undefined): { mode: DecidedFinding['mode']; group?: Group; origin?: Origin } {
  const group = groupOf(f.rule);
  if (f.requirement) return { mode: f.requirement.mode, ...(group ? { group } : {}), origin: f.requirement.origin };
  const setting = group && req?.groups[group];
  if (!group || !setting) return { mode: 'enforce', ...(group ? { group } : {}) };
  const value: Requirements[Group] = setting.value;
  let mode = value.mode === 'off' ? 'warn' : value.mode;
  if (group === 'base' && BASE_UNIDENTIFIED.includes(f.rule)) mode = (value as Requirements['base']).unknown === 'enforce' ? 'enforce' : 'warn';
  if (group === 'tags' && TAG_MOVES.includes(f.rule)) mode = (value as Requirements['tags']).immutable ? 'enforce' : 'warn';
  return { mode, group, origin: setting.origin };
}

/** The stand-in target of a policy-level finding: the policy file itself. */
function policyTarget(policy: Policy, e: PolicyException): Target {
  return { ref: policy.file, role: 'app', name: 'policy', source: e.source };
}

function expiredFinding(e: PolicyException, policy: Policy, target: Target, rules: string[]): DecidedFinding {
  const at = `${e.source.file}:${e.source.line}`;
  const effect = rules.length ? `; it no longer waives ${rules.join(', ')} for this image` : ' (no finding in this run falls under it)';
  return {
    rule: EXCEPTION_EXPIRED,
    severity: 'medium',
    target,
    message: `the exception at ${at} for ${e.rules.join(', ')} on ${e.images.join(', ')} expired on ${e.expires}${effect}. Its reason: ${e.reason}`,
    remedy: `if it is still needed, set a new expires date in ${policy.file} after review; otherwise remove it`,
    evidence: { images: e.images, rules: e.rules, reason: e.reason, expires: e.expires, source: e.source, noLongerWaived: rules },
    mode: 'warn',
    fails: false,
  };
}
