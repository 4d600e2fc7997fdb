/**
 * Durations and dates in policies. A duration is a whole number followed by `h` (hours), `d` (days)
 * or `w` (weeks): `36h`, `90d`, `12w`. Months and years are refused (their length varies; `m`
 * could be minutes or months): write days. A date is `YYYY-MM-DD`; an exception that expires on a
 * date applies through the end of that day, UTC.
 */
import type { Duration } from './types.js';

export const DURATION_PATTERN = /^[1-9][0-9]{0,5}[hdw]$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Why `input` is not a duration, in words a user can act on. */
export function durationProblem(input: unknown): string {
  if (typeof input === 'number') {
    return `a duration needs a unit: write ${input}d (days), ${input}w (weeks) or ${input}h (hours)`;
  }
  if (typeof input !== 'string') return 'expected a duration such as 90d, 12w or 36h';
  const m = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(input);
  if (m && /^(m|mo|mon|month|months|y|yr|year|years)$/i.test(m[2]!)) {
    return `"${input}": months and years vary in length (and "m" could be minutes); write days, e.g. ${m[2]!.toLowerCase().startsWith('y') ? '365d' : '90d'}`;
  }
  if (m && Number(m[1]) === 0) return `"${input}": a duration must be at least 1`;
  return `"${input}" is not a duration: write a whole number followed by h (hours), d (days) or w (weeks), e.g. 90d`;
}

/** Parses a duration already checked against DURATION_PATTERN. */
export function parseDuration(text: string): Duration {
  const unit = text.slice(-1);
  return { text, ms: Number(text.slice(0, -1)) * (UNIT_MS[unit] ?? Number.NaN) };
}

/** The first instant an exception expiring on `date` (`YYYY-MM-DD`) no longer applies. */
export function expiryInstant(date: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1));
}

export function isExpired(date: string, now: Date): boolean {
  return now.getTime() >= expiryInstant(date).getTime();
}
