/**
 * Which rules apply to an image and what it must therefore satisfy. Pure: no I/O.
 *
 * Order: the built-in defaults (ledger: trust on first use, enforced; config lint: warn), then `defaults`, then every
 * rule that matches, in file order. A rule that sets a requirement group REPLACES that group as a
 * whole (no merging of keys across rules), so each group has exactly one origin and `policy
 * explain` can name the line that decided it. Put broad rules first and specific ones after.
 */
import { formatReference, parseReference, repositoryName } from '../registry/reference.js';
import type { Role } from '../types.js';
import { isExpired } from './duration.js';
import { globMatch } from './glob.js';
import type { EffectiveRequirements, ExceptionStatus, GroupSettings, Policy, PolicyException, Rule, RuleMatch } from './types.js';

export interface ImageRef {
  /** An image reference; normalized here (`redis:7` → `docker.io/library/redis:7`). */
  ref: string;
  role: Role;
}

interface Named {
  ref: string;
  repository: string;
  tag?: string;
}

/** Throws ReferenceFormatError when `ref` is not a valid image reference. */
function name(ref: string): Named {
  const r = parseReference(ref);
  return { ref: formatReference(r), repository: repositoryName(r), ...(r.tag ? { tag: r.tag } : {}) };
}

export function matchRule(rule: Rule, repository: string, role: Role): RuleMatch {
  const reasons: string[] = [];
  let applies = true;
  const { images, roles } = rule.match;
  if (!images) reasons.push('any image');
  else {
    const hit = images.find((g) => globMatch('repository', g, repository));
    if (hit) reasons.push(`${repository} matches "${hit}"`);
    else {
      applies = false;
      reasons.push(`${repository} matches none of ${images.map((g) => `"${g}"`).join(', ')}`);
    }
  }
  if (!roles) reasons.push('any role');
  else if (roles.includes(role)) reasons.push(`role ${role} is one of ${roles.join(', ')}`);
  else {
    applies = false;
    reasons.push(`role ${role} is not one of ${roles.join(', ')}`);
  }
  return { rule: rule.name, source: rule.source, applies, reasons };
}

/** What `image` must satisfy under `policy`, and which rule (at which line) set each requirement. */
export function requirementsFor(policy: Policy, image: ImageRef): EffectiveRequirements {
  const n = name(image.ref);
  const rules = policy.rules.map((r) => matchRule(r, n.repository, image.role));
  const groups: EffectiveRequirements['groups'] = {
    ledger: { value: { mode: 'enforce', trust: 'tofu' }, origin: { rule: 'built-in' } },
    // Config lint is reported, but fails nothing, until a policy says so.
    config: { value: { mode: 'warn', ignore: [] }, origin: { rule: 'built-in' } },
    ...policy.defaults,
  };
  policy.rules.forEach((rule, i) => {
    if (rules[i]!.applies) Object.assign(groups, rule.groups satisfies GroupSettings);
  });
  return { ...n, role: image.role, rules, groups };
}

/** Whether an exception names this image (normalized ref, with its tag when it has one). */
export function exceptionCoversImage(e: PolicyException, ref: string): boolean {
  const n = name(ref);
  const subject = n.tag ? `${n.repository}:${n.tag}` : n.repository;
  return e.images.some((g) => globMatch('reference', g, subject));
}

export function exceptionCoversRule(e: PolicyException, rule: string): boolean {
  return e.rules.some((g) => globMatch('rule', g, rule));
}

/** The exceptions that name this image, active or expired at `now`. */
export function exceptionsFor(policy: Policy, ref: string, now: Date): ExceptionStatus[] {
  return policy.exceptions.filter((e) => exceptionCoversImage(e, ref)).map((exception) => ({ exception, expired: isExpired(exception.expires, now) }));
}
