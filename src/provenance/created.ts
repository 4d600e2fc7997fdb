/**
 * When an image was created, from the sources that can say so: its config `created` where that is
 * a real time (dates.ts), then the `org.opencontainers.image.created` annotation (platform
 * manifest, index) or label; and when the ledger first saw a digest, for when neither can.
 */
import type { LedgerEntry } from '../ledger/types.js';
import type { Resolution } from '../registry/client.js';
import { checkTime, dated } from './dates.js';
import type { BaseAge, ImageAge, TimeRefusal, TimeSource } from './types.js';

export const CREATED = 'org.opencontainers.image.created';

export interface CreatedTime {
  time: string;
  source: Extract<TimeSource, 'config' | 'annotation' | 'label'>;
}

/**
 * The first real creation time of `r`, noting in `evidence` (and in `refused`, when given) each
 * value refused and why. A time before `notBefore` (the base's creation) is refused too: an image
 * cannot predate its base, so it was clamped (SOURCE_DATE_EPOCH set to an old commit).
 */
export function createdOf(r: Resolution, now: Date, evidence: string[], what: string, opts: { notBefore?: string; refused?: TimeRefusal[] } = {}): CreatedTime | undefined {
  const { notBefore, refused } = opts;
  const sources: Array<[CreatedTime['source'], string, string | undefined]> = [
    ['config', 'config created', r.config?.created],
    ['annotation', `manifest annotation ${CREATED}`, r.manifest.annotations[CREATED]],
    ['annotation', `index annotation ${CREATED}`, r.index?.annotations[CREATED]],
    ['label', `label ${CREATED}`, r.config?.labels[CREATED]],
  ];
  for (const [source, where, value] of sources) {
    if (!value) continue; // absent or empty: nothing to refuse
    const t = checkTime(value, now);
    if (!t.ok) {
      evidence.push(`${what} ${where}: ${t.reason}`);
      refused?.push({ source, where, value: value.slice(0, 80), reason: t.reason });
      continue;
    }
    if (notBefore && Date.parse(t.time) < Date.parse(notBefore)) {
      evidence.push(`${what} ${where} ${t.time} is before its base was created (${notBefore}): a clamped date, not a build time`);
      refused?.push({ source, where, value: value.slice(0, 80), reason: `${JSON.stringify(t.time)} is before its base was created (${notBefore}): a clamped date` });
      continue;
    }
    evidence.push(`${what} ${where} ${t.time}`);
    return { time: t.time, source };
  }
  return undefined;
}

/**
 * The image's own age for `image.maxAge`. With `base` (from baseAge), a time before the base's own
 * creation time is refused as clamped; a ledger first-seen time only bounds the base's age, so it
 * is not used for that.
 */
export function imageAge(r: Resolution, opts: { now?: Date; base?: Pick<BaseAge, 'created'> } = {}): ImageAge {
  const now = opts.now ?? new Date();
  const evidence: string[] = [];
  const baseTime = opts.base?.created;
  const notBefore = baseTime && baseTime.source !== 'ledger' && baseTime.source !== 'now' ? baseTime.time : undefined;
  const refused: TimeRefusal[] = [];
  const c = createdOf(r, now, evidence, 'image', { ...(notBefore ? { notBefore } : {}), refused });
  const out: ImageAge = { evidence };
  if (refused.length) out.refused = refused;
  if (!c) {
    evidence.push('the image has no real creation time');
    return out;
  }
  return { created: dated(c.time, c.source, now), ...out };
}

/**
 * When the ledger first saw any of `digests` as a tag's digest or as one of its platform digests
 * (the ledger keys a tag by its index digest; a base may be recorded by its platform manifest).
 */
export function ledgerFirstSeen(history: readonly LedgerEntry[], digests: ReadonlyArray<string | undefined>): string | undefined {
  const wanted = new Set(digests.filter((d): d is string => !!d));
  for (const e of history) {
    if ((e.digest && wanted.has(e.digest)) || Object.values(e.platformDigests ?? {}).some((d) => wanted.has(d))) return e.time;
  }
  return undefined;
}
