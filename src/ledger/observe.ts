/**
 * The one observation step `record`, `verify` and `drift` share: read what the ledger holds for a
 * tag (once), compare what the registry says now with it, and build the entry that records it (or
 * none when the ledger already says so). What each command then does with the result (record
 * refuses a moved tag, verify turns it into a finding, drift reports it) stays with the command.
 *
 *   const t = await readTag(ledger, tag);
 *   const { classification, entry } = observe(t, { digest }, { source: 'verify' });
 *   if (entry) await ledger.append([entry]);
 */
import { baseObservationEntry, classify, observationEntry, tagKind, tagState, type Classification, type Observation, type TagKind, type TagState } from './state.js';
import { tagRefOf } from './tag-ref.js';
import type { Ledger, LedgerEntry, LedgerSource, NewEntry, TagRef } from './types.js';

/** A tag as the ledger holds it: its history, where it points and what it is approved to, and whether it is a deploy or a base tag. */
export interface TagRecord {
  tag: TagRef;
  history: LedgerEntry[];
  state: TagState;
  kind: TagKind;
}

/** Looks the tag up in the ledger. Throws LedgerError when the ledger does not verify. */
export async function readTag(ledger: Ledger, tag: TagRef): Promise<TagRecord> {
  return tagRecord(tag, await ledger.history(tag.registry, tag.repository, tag.tag));
}

/** A tag's record from its history (readTag, or Ledger.histories() for every tag at once). */
export function tagRecord(tag: TagRef, history: LedgerEntry[]): TagRecord {
  return { tag, history, state: tagState(history), kind: tagKind(history) };
}

/**
 * The digest the registry is expected to answer for the tag (a hint for a conditional request): the
 * approved digest of a deploy tag, the digest a base tag was last seen pointing to.
 */
export function expectedDigest(t: TagRecord): string | undefined {
  return t.kind === 'base' ? (t.history.at(-1)?.digest ?? undefined) : t.state.approved;
}

export interface ObserveOptions {
  source: LedgerSource;
  /** Who caused it (CI job, KAMAL_PERFORMER); left out when empty. */
  actor?: string;
  /** Only entries up to this seq approve (a required signed checkpoint's seq). */
  approvalsUpTo?: number;
  /**
   * The tag is a deploy target (verify): when the ledger knows it only as some image's base, pin it
   * as a deploy tag (role `deploy`), so drift keeps holding it to its approval (an image cannot
   * demote a deploy tag by naming it as its base).
   */
  pinDeploy?: boolean;
}

export interface Observed {
  /** How the observed digest compares with the digest the ledger approved. */
  classification: Classification;
  /** The entry to append, or null when there is nothing new to record. */
  entry: NewEntry | null;
}

function metaOf(opts: ObserveOptions): { source: LedgerSource; actor?: string } {
  return { source: opts.source, ...(opts.actor ? { actor: opts.actor } : {}) };
}

/** What a deploy tag points to now, against its approval, and the entry that records it. */
export function observe(t: TagRecord, observed: Observation, opts: ObserveOptions): Observed {
  const classification = classify(t.history, observed, opts.approvalsUpTo !== undefined ? { approvalsUpTo: opts.approvalsUpTo } : {});
  let entry = observationEntry(t.tag, observed, classification, metaOf(opts), t.history);
  if (opts.pinDeploy && t.kind === 'base') {
    if (entry) entry.role = 'deploy';
    else if (observed.digest !== null) entry = { ...tagRefOf(t.tag), digest: observed.digest, event: 'observed', source: opts.source, role: 'deploy', ...(opts.actor ? { actor: opts.actor } : {}) };
  }
  return { classification, entry };
}

export interface BaseObserved {
  /** Upstream moved the tag since it was last observed (information for staleness, never drift). */
  moved: boolean;
  /** The digest it was last observed pointing to. */
  last?: string;
  /** The base observation to append, or null when the ledger already says so. */
  entry: NewEntry | null;
}

/** What a base tag (only ever observed as some image's base) points to now, and the base observation that records it. */
export function observeBase(t: TagRecord, digest: string | null, opts: ObserveOptions): BaseObserved {
  const last = t.history.at(-1)?.digest;
  return { moved: digest !== last, ...(last ? { last } : {}), entry: baseObservationEntry(t.tag, { digest }, metaOf(opts), t.history) };
}
