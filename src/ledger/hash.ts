/**
 * The hash chain shared by both backends. An entry's hash is
 *   "sha256:" + hex(sha256(canonicalJson(entry without `hash`)))
 * where canonical JSON sorts object keys recursively (JavaScript's default string order, i.e. by
 * UTF-16 code units), has no white space and omits undefined fields. Each entry's `prev` is the
 * previous entry's hash, and the first entry's `prev` is GENESIS_HASH. Because the hash covers the
 * data and not the storage, a ledger exported from one backend verifies in the other.
 */
import { hash as oneShotHash } from 'node:crypto';
import type { LedgerEntry } from './types.js';

export const GENESIS_HASH = `sha256:${'0'.repeat(64)}`;

export function canonicalJson(value: unknown): string {
  const out = canonical(value);
  if (out === undefined) throw new TypeError('canonicalJson: value is undefined');
  return out;
}

function canonical(value: unknown): string | undefined {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v) ?? 'null').join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = canonical(obj[key]);
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
  }
  return `{${parts.join(',')}}`;
}

function sha256Hex(text: string): string {
  return oneShotHash('sha256', text, 'hex');
}

/** The hash an entry must carry: computed over every field except `hash` itself. */
export function entryHash(entry: Omit<LedgerEntry, 'hash'> | LedgerEntry): string {
  const { hash: _ignored, ...rest } = entry as LedgerEntry;
  return `sha256:${sha256Hex(canonicalJson(rest))}`;
}

/**
 * `canonicalJson` of an entry without `hash`, written out field by field: the same string, several
 * times faster, which matters when a reader checks 100,000 entries. Only for entries whose fields
 * have been validated (no unknown fields, strings where strings belong): see chain.ts checkStored.
 */
export function canonicalEntryJson(e: Omit<LedgerEntry, 'hash'>): string {
  const s = JSON.stringify;
  // Keys in sorted order: actor, config, digest, event, platformDigests, prev, registry, repository, role,
  // seq, source, tag, time. digest, event, role, source and time are validated to hold only characters JSON
  // does not escape, so they are quoted directly; the free-form strings go through JSON.stringify.
  let out = '{';
  if (e.actor !== undefined) out += `"actor":${s(e.actor)},`;
  if (e.config !== undefined) out += `"config":${canonicalJson(e.config)},`;
  out += `"digest":${e.digest === null ? 'null' : `"${e.digest}"`},"event":"${e.event}"`;
  if (e.platformDigests !== undefined) out += `,"platformDigests":${canonicalPlatformDigests(e.platformDigests)}`;
  out +=
    `,"prev":${s(e.prev)},"registry":${s(e.registry)},"repository":${s(e.repository)}` +
    `${e.role !== undefined ? `,"role":"${e.role}"` : ''},"seq":${e.seq}` +
    `,"source":"${e.source}","tag":${s(e.tag)},"time":"${e.time}"}`;
  return out;
}

/** canonicalJson of a validated platformDigests map: platform names are free-form, digests are not escaped by JSON. */
function canonicalPlatformDigests(pd: Record<string, string>): string {
  const keys = Object.keys(pd).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i ? ',' : ''}${JSON.stringify(keys[i])}:"${pd[keys[i]!]}"`;
  return `${out}}`;
}

/** `entryHash` for a validated entry (see canonicalEntryJson). */
export function validatedEntryHash(e: Omit<LedgerEntry, 'hash'>): string {
  return `sha256:${sha256Hex(canonicalEntryJson(e))}`;
}
