/**
 * Whether an image's `created` time is a real build time. Many builders write a fixed date for
 * reproducibility (oci.md §7): ko and Jib the Unix epoch, buildpacks 1980-01-01T00:00:01Z,
 * SOURCE_DATE_EPOCH=0 the epoch again. Such dates say nothing about age and must not pass for one.
 */
import type { DatedFact, TimeSource } from './types.js';

/**
 * Anything earlier is a fixed or clamped date: no container image was built before 2000 (Docker
 * appeared in 2013). 1970 (SOURCE_DATE_EPOCH=0, ko, Jib) and 1980 (buildpacks) fall under it.
 */
const EARLIEST_REAL_TIME = Date.UTC(2000, 0, 1);
/**
 * How far ahead of this machine's clock a time may be and still count (as age 0): one day, which
 * covers clock skew between builder and CI and a builder that writes local time marked as UTC
 * (offsets reach +14:00). Anything later is refused: it tells nothing about the image's age.
 */
const FUTURE_SLACK_MS = 24 * 60 * 60 * 1000;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const BUILDPACKS_TIME = Date.UTC(1980, 0, 1, 0, 0, 1);

export type TimeCheck = { ok: true; time: string } | { ok: false; reason: string };

/** A creation time when `value` is a real one (normalized to ISO 8601 UTC), else why not. */
export function checkTime(value: unknown, now: Date): TimeCheck {
  if (typeof value !== 'string' || value === '') return { ok: false, reason: 'absent' };
  const shown = JSON.stringify(value.slice(0, 40));
  const m = value.length <= 40 ? RFC3339.exec(value) : null;
  if (!m) return { ok: false, reason: `${shown} is not an RFC 3339 time` };
  const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // Date.parse rolls 2024-02-30 over to March: check the fields are a real calendar time first.
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  const ms = Date.parse(value.replace(' ', 'T'));
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || sec > 60 || Number.isNaN(ms)) return { ok: false, reason: `${shown} is not a valid time` };
  if (ms === 0) return { ok: false, reason: `${shown} is the Unix epoch (ko, Jib, SOURCE_DATE_EPOCH=0 write it): not a build time` };
  if (ms === BUILDPACKS_TIME) return { ok: false, reason: `${shown} is the fixed date buildpacks write: not a build time` };
  if (ms < EARLIEST_REAL_TIME) return { ok: false, reason: `${shown} is before 2000: a fixed or clamped date, not a build time` };
  if (ms > now.getTime() + FUTURE_SLACK_MS) return { ok: false, reason: `${shown} is in the future (more than 1 day ahead of this machine's clock)` };
  return { ok: true, time: new Date(ms).toISOString() };
}

export function dated(time: string, source: TimeSource, now: Date): DatedFact {
  return { time, source, ageMs: Math.max(0, now.getTime() - Date.parse(time)) };
}

/** `3d 4h`-style duration for evidence lines. */
export function formatAge(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const d = Math.floor(h / 24);
  return d > 0 ? `${d}d ${h % 24}h` : `${h}h`;
}
