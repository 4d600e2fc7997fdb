/**
 * The image age check, `image.maxAge`, from the image's own real created time: image.too_old when it
 * is older, and image.unknown_age when no real time can be found (absent, not a date, before 2000, or
 * more than a day in the future: see provenance/dates.ts), since an age that cannot be told is never a pass.
 */
import { CREATED, imageAge } from '../provenance/index.js';
import type { ImageCheck } from './types.js';

const DAY_MS = 86_400_000;

/** Whole days in `ms`, as findings and the report count them. */
export function days(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export const imageAgeCheck: ImageCheck = {
  name: 'image age',
  on: 'image',
  run(image, ctx) {
    const req = ctx.requirements.groups.image?.value;
    if (!req || req.mode === 'off' || !req.maxAge) return { findings: [] };
    const { target, resolution: r } = image;
    const age = imageAge(r, { now: ctx.now });
    if (!age.created) {
      const refused = age.refused ?? [];
      const found = refused.length ? refused.map((x) => `its ${x.where} ${x.reason}`).join('; ') : `it has no creation time at all (no config created, no ${CREATED} annotation or label)`;
      return {
        findings: [
          {
            rule: 'image.unknown_age',
            severity: 'medium',
            target,
            digest: r.digest,
            message: `the age of ${target.ref} cannot be told, so the policy's maxAge ${req.maxAge.text} cannot be checked: ${found}`,
            remedy: `build it with a real creation time (set SOURCE_DATE_EPOCH to the commit time, not 0, or add the ${CREATED} annotation with the build time), or waive image.unknown_age for it with a policy exception`,
            evidence: {
              created: r.config?.created?.slice(0, 80) ?? null,
              refused: refused.map((x) => ({ source: x.source, where: x.where, value: x.value, reason: x.reason })),
              maxAge: req.maxAge.text,
            },
          },
        ],
      };
    }
    if (age.created.ageMs <= req.maxAge.ms) return { findings: [] };
    return {
      findings: [
        {
          rule: 'image.too_old',
          severity: 'medium',
          target,
          digest: r.digest,
          message: `${target.ref} was built ${age.created.time} (${days(age.created.ageMs)} days ago, from its ${age.created.source}); the policy allows ${req.maxAge.text}`,
          remedy: 'rebuild and redeploy the image',
          evidence: { created: age.created.time, createdSource: age.created.source, ageDays: days(age.created.ageMs), maxAge: req.maxAge.text },
        },
      ],
    };
  },
};
