/**
 * Checks on one resolved image that need nothing but the image and its requirements: tags that may
 * not be deployed, references that must be pinned, platforms that must be offered, and the image's
 * own age. Each returns findings with the numbers that led to them; a group in mode `off` is skipped.
 */
import { formatPlatform, parsePlatform, samePlatform } from '../registry/manifest.js';
import { globMatch } from '../policy/glob.js';
import type { EffectiveRequirements } from '../policy/types.js';
import { CREATED, imageAge } from '../provenance/index.js';
import type { Resolution } from '../registry/client.js';
import type { Finding, Subject, Target } from '../types.js';

const DAY_MS = 86_400_000;

export function days(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** `tags.forbid` (tag.forbidden) and `tags.requireDigest` (tag.not_pinned). */
export function tagChecks(target: Target, subject: Subject, req: EffectiveRequirements): Finding[] {
  const tags = req.groups.tags?.value;
  if (!tags || tags.mode === 'off') return [];
  const out: Finding[] = [];
  const pinned = target.ref.includes('@');
  if (subject.tag && !pinned) {
    const pattern = tags.forbid.find((p) => globMatch('tag', p, subject.tag!));
    if (pattern) {
      out.push({
        rule: 'tag.forbidden',
        severity: 'high',
        target,
        digest: subject.digest,
        message: `${subject.ref} uses the tag "${subject.tag}", which the policy forbids (${pattern})`,
        remedy: `deploy a version tag or a digest: ${subject.registry}/${subject.repository}@${subject.digest}`,
        evidence: { tag: subject.tag, forbid: pattern },
      });
    }
  }
  if (tags.requireDigest && !pinned) {
    out.push({
      rule: 'tag.not_pinned',
      severity: 'medium',
      target,
      digest: subject.digest,
      message: `${target.ref} is not pinned by digest; it resolves to ${subject.digest} now`,
      remedy: `write it as ${target.ref.replace(/@.*$/, '')}@${subject.digest} in the config`,
      evidence: { ref: target.ref, digest: subject.digest },
    });
  }
  return out;
}

/** `platforms.require` (platform.missing); `builder` means the platforms the Kamal config builds for. */
export function platformChecks(target: Target, subject: Subject, req: EffectiveRequirements): Finding[] {
  const platforms = req.groups.platforms?.value;
  if (!platforms || platforms.mode === 'off') return [];
  const required = platforms.require === 'builder' ? (target.platforms ?? []) : platforms.require.map(parsePlatform);
  const offered = subject.platforms.length ? subject.platforms : subject.platform ? [subject.platform] : [];
  const missing = required.filter((p) => !offered.some((o) => samePlatform(o, p)));
  if (!missing.length) return [];
  return [
    {
      rule: 'platform.missing',
      severity: 'high',
      target,
      digest: subject.digest,
      message: `${subject.ref} has no ${missing.map(formatPlatform).join(', ')} image (it offers ${offered.map(formatPlatform).join(', ') || 'none'})`,
      remedy: 'build and push the image for every platform the servers run (Kamal builder.arch)',
      evidence: { required: required.map(formatPlatform), offered: offered.map(formatPlatform) },
    },
  ];
}

/**
 * `image.maxAge`, from the image's own real created time: image.too_old when it is older, and
 * image.unknown_age when no real time can be found (absent, not a date, before 2000, or more than a
 * day in the future: see provenance/dates.ts), since an age that cannot be told is never a pass.
 */
export function imageAgeCheck(target: Target, r: Resolution, req: EffectiveRequirements, now: Date): Finding[] {
  const image = req.groups.image?.value;
  if (!image || image.mode === 'off' || !image.maxAge) return [];
  const age = imageAge(r, { now });
  if (!age.created) {
    const refused = age.refused ?? [];
    const found = refused.length
      ? refused.map((x) => `its ${x.where} ${x.reason}`).join('; ')
      : `it has no creation time at all (no config created, no ${CREATED} annotation or label)`;
    return [
      {
        rule: 'image.unknown_age',
        severity: 'medium',
        target,
        digest: r.digest,
        message: `the age of ${target.ref} cannot be told, so the policy's maxAge ${image.maxAge.text} cannot be checked: ${found}`,
        remedy: `build it with a real creation time (set SOURCE_DATE_EPOCH to the commit time, not 0, or add the ${CREATED} annotation with the build time), or waive image.unknown_age for it with a policy exception`,
        evidence: {
          created: r.config?.created?.slice(0, 80) ?? null,
          refused: refused.map((x) => ({ source: x.source, where: x.where, value: x.value, reason: x.reason })),
          maxAge: image.maxAge.text,
        },
      },
    ];
  }
  if (age.created.ageMs <= image.maxAge.ms) return [];
  return [
    {
      rule: 'image.too_old',
      severity: 'medium',
      target,
      digest: r.digest,
      message: `${target.ref} was built ${age.created.time} (${days(age.created.ageMs)} days ago, from its ${age.created.source}); the policy allows ${image.maxAge.text}`,
      remedy: 'rebuild and redeploy the image',
      evidence: { created: age.created.time, createdSource: age.created.source, ageDays: days(age.created.ageMs), maxAge: image.maxAge.text },
    },
  ];
}

