/**
 * Pure functions over one tag's history (entries in seq order, as `Ledger.history` returns them):
 * where the tag points now, and how what the registry says now compares with that.
 */
import type { LedgerEntry, LedgerEvent, LedgerSource, NewEntry, TagRef } from './types.js';

/**
 * An entry approves its digest when it is a deploy-tag entry (never a base observation) and either
 * the build pipeline wrote it (`kamal-gate record`, source `record`: first use, or a move named
 * with `--approve-move`, event `approved`) or it is the tag's first recording (event `recorded`,
 * trust on first use by verify). What verify, drift and hooks observe afterwards is evidence, never
 * approval: an overwritten tag stays overwritten however often it is seen.
 */
export function approves(e: LedgerEntry): boolean {
  return e.role !== 'base' && e.digest !== null && (e.source === 'record' || e.event === 'recorded' || e.event === 'approved');
}

/**
 * Whether a tag is tracked as a deploy tag or only observed as a base image. A tag is a base tag
 * when it has base observations and nothing that makes it a deploy tag: an approval by `record` or
 * a hook, an `approved` event, or a `deploy` pin (verify writes one when it checks a deploy target
 * that also has base observations). Ledgers written before base observations were marked hold
 * unmarked base entries: those tags stay deploy tags until verify observes them as bases and nothing
 * else claims them (or `kamal-gate ledger forget` drops them).
 */
export type TagKind = 'deploy' | 'base';

export function tagKind(history: readonly LedgerEntry[]): TagKind {
  let base = false;
  for (const e of history) {
    if (e.role === 'base') base = true;
    else if (e.role === 'deploy' || e.source === 'record' || e.source === 'hook' || e.event === 'approved') return 'deploy';
  }
  return base ? 'base' : 'deploy';
}

export interface TagState {
  /** The digest the tag pointed to at its latest deploy entry; null when that entry is `deleted` or `forgotten`; undefined when never recorded. */
  current: string | null | undefined;
  /** The digest the tag is approved to point to: that of its latest approving entry. */
  approved: string | undefined;
  /** Every digest ever approved for the tag (since it was last forgotten). */
  approvedDigests: Set<string>;
  /** Each digest the tag ever pointed to → time of its first entry. */
  firstSeen: Map<string, string>;
  /** Each digest the tag ever pointed to → time of its latest entry. */
  lastSeen: Map<string, string>;
  /** Distinct digests in the order the tag first pointed to them. */
  digests: string[];
  /** The latest non-null digest (the digest before a deletion when `current` is null). */
  lastDigest?: string;
  /** The latest deploy entry. */
  last?: LedgerEntry;
  /** The latest deploy entry is `forgotten`: the ledger no longer tracks the tag. */
  forgotten: boolean;
}

/**
 * A deploy tag's state from its history. Base observations are left out; a `forgotten` entry wipes
 * everything before it (the tag starts afresh at its next recording).
 */
export interface StateOptions {
  /**
   * Only entries up to this seq may approve or forget (the seq a verified signed checkpoint covers,
   * when the policy requires one): later entries are evidence only, so an approval appended to the
   * ledger after its last signed checkpoint approves nothing.
   */
  approvalsUpTo?: number;
}

export function tagState(history: readonly LedgerEntry[], opts: StateOptions = {}): TagState {
  const upTo = opts.approvalsUpTo ?? Infinity;
  const fresh = (): TagState => ({ current: undefined, approved: undefined, approvedDigests: new Set(), firstSeen: new Map(), lastSeen: new Map(), digests: [], forgotten: false });
  let state = fresh();
  for (const e of history) {
    if (e.role === 'base') continue;
    if (e.event === 'forgotten' && e.seq > upTo) continue;
    if (e.event === 'forgotten') {
      state = fresh();
      state.current = null;
      state.last = e;
      state.forgotten = true;
      continue;
    }
    state.forgotten = false;
    state.current = e.digest;
    state.last = e;
    if (e.digest === null) continue;
    if (approves(e) && e.seq <= upTo) {
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

/** Every digest a tag was seen pointing to, any role, in order of first sight, with when: for base-image lookups. */
export function seenDigests(history: readonly LedgerEntry[]): { digests: string[]; firstSeen: Map<string, string> } {
  const firstSeen = new Map<string, string>();
  for (const e of history) if (e.digest !== null && !firstSeen.has(e.digest)) firstSeen.set(e.digest, e.time);
  return { digests: [...firstSeen.keys()], firstSeen };
}

/**
 * The base observation to append for what a base tag points to now (role `base`, never an
 * approval), or null when the latest entry of the tag already says so and the tag already has a
 * base observation (a tag recorded before base observations were marked gets one, so it reads as a
 * base tag from then on: see tagKind).
 */
export function baseObservationEntry(tag: TagRef, observed: Observation, meta: { source: LedgerSource; actor?: string; time?: string | Date }, history: readonly LedgerEntry[]): NewEntry | null {
  const last = history.at(-1);
  const marked = history.some((e) => e.role === 'base');
  if (observed.digest === null && (!last || last.digest === null)) return null;
  if (last && last.digest === observed.digest && marked) return null;
  const entry: NewEntry = {
    registry: tag.registry,
    repository: tag.repository,
    tag: tag.tag,
    digest: observed.digest,
    event: observed.digest === null ? 'deleted' : !last ? 'recorded' : last.digest === observed.digest ? 'observed' : 'moved',
    source: meta.source,
    role: 'base',
  };
  if (observed.digest !== null && observed.platformDigests) entry.platformDigests = observed.platformDigests;
  if (meta.actor !== undefined) entry.actor = meta.actor;
  if (meta.time !== undefined) entry.time = meta.time;
  return entry;
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

export function classify(history: readonly LedgerEntry[], observed: Pick<Observation, 'digest'>, opts: StateOptions = {}): Classification {
  const state = tagState(history, opts);
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
 * drift check every hour adds entries only when something changes). With source `record` the entry
 * approves its digest: `record` calls this only for a tag with no approval yet (first use).
 */
export function observationEntry(
  tag: TagRef,
  observed: Observation,
  classification: Classification,
  meta: { source: LedgerSource; actor?: string; time?: string | Date },
  history: readonly LedgerEntry[] = [],
): NewEntry | null {
  if (observed.digest === null && classification.kind !== 'deleted') return null;
  const state = tagState(history);
  const last = state.last;
  const approving = meta.source === 'record' && observed.digest !== null && classification.kind !== 'same';
  if (last && !state.forgotten && last.digest === observed.digest && !approving) return null;
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
