/**
 * Pure functions over one tag's history (entries in seq order, as `Ledger.history` returns them):
 * where the tag points now, and how what the registry says now compares with that.
 */
import type { LedgerEntry, LedgerEvent, LedgerSource, NewEntry, TagRef } from './types.js';

/**
 * An entry approves its digest when the build pipeline recorded it (`kamal-gate record`, source
 * `record`) or when it is the tag's first recording (event `recorded`, trust on first use). What
 * verify, drift and hooks observe afterwards is evidence, never approval: an overwritten tag stays
 * overwritten however often it is seen.
 */
export function approves(e: LedgerEntry): boolean {
  return e.digest !== null && (e.source === 'record' || e.event === 'recorded');
}

export interface TagState {
  /** The digest the tag pointed to at its latest entry; null when that entry is `deleted`; undefined when never recorded. */
  current: string | null | undefined;
  /** The digest the tag is approved to point to: that of its latest approving entry. */
  approved: string | undefined;
  /** Every digest ever approved for the tag. */
  approvedDigests: Set<string>;
  /** Each digest the tag ever pointed to → time of its first entry. */
  firstSeen: Map<string, string>;
  /** Each digest the tag ever pointed to → time of its latest entry. */
  lastSeen: Map<string, string>;
  /** Distinct digests in the order the tag first pointed to them. */
  digests: string[];
  /** The latest non-null digest (the digest before a deletion when `current` is null). */
  lastDigest?: string;
  /** The latest entry. */
  last?: LedgerEntry;
}

export function tagState(history: readonly LedgerEntry[]): TagState {
  const state: TagState = { current: undefined, approved: undefined, approvedDigests: new Set(), firstSeen: new Map(), lastSeen: new Map(), digests: [] };
  for (const e of history) {
    state.current = e.digest;
    state.last = e;
    if (e.digest === null) continue;
    if (approves(e)) {
      state.approved = e.digest;
      state.approvedDigests.add(e.digest);
    }
    state.lastDigest = e.digest;
    if (!state.firstSeen.has(e.digest)) {
      state.firstSeen.set(e.digest, e.time);
      state.digests.push(e.digest);
    }
    state.lastSeen.set(e.digest, e.time);
  }
  return state;
}

/**
 * How the digest a tag resolves to now compares with the digest the ledger approved for it:
 * - `unrecorded`: the ledger has no approved digest for the tag;
 * - `same`: the tag points to its approved digest;
 * - `restored`: the tag points to its approved digest again after being seen deleted;
 * - `deleted`: the tag is gone (observed digest null), however often that was seen before;
 * - `rolled_back`: the tag points to a digest approved earlier, not the latest approved one;
 * - `overwritten`: the tag points to a digest that was never approved (also one drift saw before).
 */
export type ClassificationKind = 'unrecorded' | 'same' | 'overwritten' | 'rolled_back' | 'deleted' | 'restored';

export interface Classification {
  kind: ClassificationKind;
  /** The approved digest the observation is compared with (absent for `unrecorded`). */
  previous?: string;
  /** When the ledger first saw `previous`. */
  firstSeenPrevious?: string;
  /** When the ledger first saw the observed digest, when it did. */
  firstSeenObserved?: string;
}

/** What the registry says now: the tag's digest, or null when the tag does not exist. */
export interface Observation {
  digest: string | null;
  platformDigests?: Record<string, string>;
}

export function classify(history: readonly LedgerEntry[], observed: Pick<Observation, 'digest'>): Classification {
  const state = tagState(history);
  const approved = state.approved;
  if (approved === undefined) return { kind: 'unrecorded' };
  const out: Classification = { kind: 'same', previous: approved, firstSeenPrevious: state.firstSeen.get(approved)! };
  const digest = observed.digest;
  if (digest !== null) {
    const seen = state.firstSeen.get(digest);
    if (seen !== undefined) out.firstSeenObserved = seen;
  }
  if (digest === null) out.kind = 'deleted';
  else if (digest === approved) out.kind = state.current === null ? 'restored' : 'same';
  else out.kind = state.approvedDigests.has(digest) ? 'rolled_back' : 'overwritten';
  return out;
}

/** The event to append for each kind of observation. */
export const EVENT_FOR_KIND: Readonly<Record<ClassificationKind, LedgerEvent>> = {
  unrecorded: 'recorded',
  same: 'observed',
  overwritten: 'moved',
  rolled_back: 'moved',
  deleted: 'deleted',
  restored: 'restored',
};

/**
 * The entry to append for an observation, or null when there is nothing new to record: a tag that
 * does not exist and never did, or a tag whose latest entry already says what was observed (so a
 * drift check every hour adds entries only when something changes). `record` always records a
 * digest it has not approved yet.
 */
export function observationEntry(
  tag: TagRef,
  observed: Observation,
  classification: Classification,
  meta: { source: LedgerSource; actor?: string; time?: string | Date },
  history: readonly LedgerEntry[] = [],
): NewEntry | null {
  if (observed.digest === null && classification.kind !== 'deleted') return null;
  const last = history.at(-1);
  const approving = meta.source === 'record' && observed.digest !== null && classification.kind !== 'same';
  if (last && last.digest === observed.digest && !approving) return null;
  const entry: NewEntry = {
    registry: tag.registry,
    repository: tag.repository,
    tag: tag.tag,
    digest: observed.digest,
    event: EVENT_FOR_KIND[classification.kind],
    source: meta.source,
  };
  if (observed.digest !== null && observed.platformDigests) entry.platformDigests = observed.platformDigests;
  if (meta.actor !== undefined) entry.actor = meta.actor;
  if (meta.time !== undefined) entry.time = meta.time;
  return entry;
}
