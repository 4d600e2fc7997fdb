/**
 * Three-way merge of the file ledger, for git (`kamal-gate ledger merge-file`, the merge driver
 * `kamal-gate ledger merge-driver install` registers).
 *
 * Two branches that each append to `.kamal/image-ledger.jsonl` both extend the same chain, so a plain
 * text merge either conflicts or, with both sides' lines kept, breaks the chain ("seq 2 does not
 * increase"). The merge here keeps both sides' entries in one chain:
 *
 * - the common prefix is the longest run of identical entries (identical hashes) from seq 1 of OURS
 *   and THEIRS. BASE only has to verify: when a side does not extend it (history rewritten on that
 *   branch) the merge still works from the common prefix of the two sides;
 * - OUR entries after the prefix stay as they are, byte for byte, at the same positions (so our
 *   signed checkpoint still matches the merged ledger);
 * - THEIR entries after the prefix follow, in their order, re-sequenced and re-chained after ours
 *   (`chainBatch`, keeping their original `time`), except duplicates: an entry of theirs whose
 *   content (registry, repository, tag, digest, platformDigests, event, source, role, actor, time)
 *   equals an entry of ours after the prefix (each of ours matches at most one of theirs). Those come
 *   from an earlier merge between the same branches, which re-chained the same entries;
 * - a tag that both branches decided differently is a conflict, and nothing is merged: each side's
 *   decision is the approved digest the tag has on that side (tagState) when that side approved or
 *   forgot the tag after the prefix (an entry that `approves`, or a `forgotten` entry; base-image
 *   observations never decide). Two different approved digests conflict; so does an approval on one
 *   side and a forget on the other (appending one after the other would let the merge direction
 *   decide whether the tag stays tracked). The same decision on both sides is no conflict. Last, the
 *   merged ledger must give every tag a side decided the digest that side gave it (reordering
 *   entries must not change an approval); otherwise that is a conflict too.
 *
 * A side that does not verify is refused with LedgerError (exit 2) naming the side and line. A torn
 * last line (an interrupted write, see file.ts) is dropped, as the next writer would drop it.
 */
import { LedgerError } from '../errors.js';
import { chainBatch, tagKey } from './chain.js';
import { parseLedger, type ParsedLedger } from './file.js';
import { canonicalJson } from './hash.js';
import { approves, tagState } from './state.js';
import type { LedgerEntry, NewEntry, TagRef } from './types.js';

type MergeSideName = 'base' | 'ours' | 'theirs';

/** One version of the ledger: its bytes and what to call it in messages (a file name). */
export interface MergeSide {
  text: Buffer;
  file: string;
}

export interface MergeInput {
  base: MergeSide;
  ours: MergeSide;
  theirs: MergeSide;
  /** The ledger's path in the repository (git's %P), for messages. */
  path?: string;
  /**
   * Merge even when tags conflict (the conflicts are still reported): their entries come after ours,
   * so for a conflicting tag the merged ledger approves what theirs approved until someone approves
   * the right digest (`kamal-gate record --approve-move`). For resolving a conflict by hand.
   */
  keepConflicts?: boolean;
}

/** What one side decided for a tag after the prefix: its approved digest, or null (forgotten, or none). */
export type Decision = string | null;

export interface TagConflict extends TagRef {
  ours: Decision;
  theirs: Decision;
  /** Set when both sides agree but the merged order would give the tag another approval. */
  merged?: Decision;
}

export interface LedgerMergeResult {
  /** The merged ledger's bytes: OURS (torn line dropped) then their re-chained entries. Absent on conflict (unless keepConflicts). */
  text?: Buffer;
  /** The merged ledger's entries (absent like `text`). */
  entries?: LedgerEntry[];
  /** Whether `text` differs from OURS (false: nothing to write). */
  changed: boolean;
  /** Entries common to both sides (from seq 1). */
  prefix: number;
  /** Our entries after the prefix (kept as they are). */
  ours: number;
  /** Their entries after the prefix appended to the merged ledger. */
  appended: number;
  /** Their entries after the prefix dropped as duplicates of ours. */
  duplicates: number;
  /** Sides that do not extend BASE (the merge then used the common prefix of OURS and THEIRS). */
  notExtendingBase: Array<'ours' | 'theirs'>;
  /** Sides whose torn last line was dropped. */
  tornDropped: MergeSideName[];
  conflicts: TagConflict[];
}

const SIDE_LABEL: Record<MergeSideName, string> = {
  base: 'the common ancestor (BASE)',
  ours: 'our side (OURS, the branch merged into)',
  theirs: 'their side (THEIRS, the branch being merged)',
};

function parseSide(side: MergeSide, name: MergeSideName, path: string): ParsedLedger {
  const parsed = parseLedger(side.text);
  const b = parsed.firstBroken;
  if (b) {
    throw new LedgerError(
      `cannot merge ${path}: ${SIDE_LABEL[name]} does not verify: ${side.file}:${b.line}: ${b.reason} (entry seq ${b.seq}). ` +
        `Nothing was merged. Repair the ledger on that branch first (\`kamal-gate ledger verify\` there, and restore it from version control), then merge again.`,
      side.file,
      b.line,
    );
  }
  return parsed;
}

/** How many entries from seq 1 the two chains share. Equal hashes at a position mean equal chains up to it. */
export function commonPrefix(a: readonly LedgerEntry[], b: readonly LedgerEntry[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i]!.hash === b[i]!.hash) i++;
  return i;
}

/** What makes two entries the same observation, whatever their position in a chain. */
function contentKey(e: LedgerEntry): string {
  return canonicalJson([e.registry, e.repository, e.tag, e.digest, e.platformDigests ?? null, e.event, e.source, e.role ?? null, e.actor ?? null, e.config ?? null, e.time]);
}

/** A stored entry as a new entry to chain again: its content, its original time. */
function asNewEntry(e: LedgerEntry): NewEntry {
  const out: NewEntry = { registry: e.registry, repository: e.repository, tag: e.tag, digest: e.digest, event: e.event, source: e.source, time: e.time };
  if (e.platformDigests !== undefined) out.platformDigests = e.platformDigests;
  if (e.role !== undefined) out.role = e.role;
  if (e.actor !== undefined) out.actor = e.actor;
  if (e.config !== undefined) out.config = e.config;
  return out;
}

/** An entry that decides a tag's approval: it approves its digest, or it forgets the tag. */
function decides(e: LedgerEntry): boolean {
  return approves(e) || (e.event === 'forgotten' && e.role !== 'base');
}

function approvedOf(parsed: ParsedLedger, t: TagRef): Decision {
  return tagState(parsed.index.history(t.registry, t.repository, t.tag)).approved ?? null;
}

/** OURS as its bytes, its torn last line dropped and its last line ended. */
function oursBytes(ours: MergeSide, parsed: ParsedLedger): Buffer {
  const text = parsed.torn ? ours.text.subarray(0, parsed.torn.offset) : ours.text;
  return text.length > 0 && text[text.length - 1] !== 0x0a ? Buffer.concat([text, Buffer.from('\n')]) : text;
}

export function mergeLedgers(input: MergeInput): LedgerMergeResult {
  const path = input.path ?? input.ours.file;
  const base = parseSide(input.base, 'base', path);
  const ours = parseSide(input.ours, 'ours', path);
  const theirs = parseSide(input.theirs, 'theirs', path);
  const b = base.index.entries;
  const o = ours.index.entries;
  const t = theirs.index.entries;

  const prefix = commonPrefix(o, t);
  const notExtendingBase: Array<'ours' | 'theirs'> = [];
  if (commonPrefix(b, o) < b.length) notExtendingBase.push('ours');
  if (commonPrefix(b, t) < b.length) notExtendingBase.push('theirs');
  const tornDropped = (['base', 'ours', 'theirs'] as const).filter((s) => ({ base, ours, theirs })[s].torn);

  const oursTail = o.slice(prefix);
  const theirsTail = t.slice(prefix);
  const unmatched = new Map<string, number>();
  for (const e of oursTail) {
    const k = contentKey(e);
    unmatched.set(k, (unmatched.get(k) ?? 0) + 1);
  }
  const fresh: LedgerEntry[] = [];
  for (const e of theirsTail) {
    const k = contentKey(e);
    const n = unmatched.get(k) ?? 0;
    if (n > 0) unmatched.set(k, n - 1);
    else fresh.push(e);
  }
  const tip = o.length ? { seq: o[o.length - 1]!.seq, hash: o[o.length - 1]!.hash } : null;
  const appended = chainBatch(fresh.map(asNewEntry), tip);
  const text = Buffer.concat([oursBytes(input.ours, ours), Buffer.from(appended.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8')]);

  // The merged ledger must verify before anyone writes it.
  const merged = parseLedger(text);
  if (merged.firstBroken || merged.torn || merged.index.entries.length !== o.length + appended.length) {
    const why = merged.firstBroken ? `line ${merged.firstBroken.line}: ${merged.firstBroken.reason}` : 'entries are missing';
    throw new LedgerError(`cannot merge ${path}: the merged ledger does not verify (${why}). Nothing was merged; this is a bug in kamal-gate, please report it.`, path);
  }

  const conflicts = findConflicts(oursTail, theirsTail, ours, theirs, merged);
  const result: LedgerMergeResult = {
    changed: !text.equals(input.ours.text),
    prefix,
    ours: oursTail.length,
    appended: appended.length,
    duplicates: theirsTail.length - fresh.length,
    notExtendingBase,
    tornDropped,
    conflicts,
  };
  if (conflicts.length && !input.keepConflicts) return { ...result, changed: false };
  return { ...result, text, entries: merged.index.entries };
}

function findConflicts(oursTail: readonly LedgerEntry[], theirsTail: readonly LedgerEntry[], ours: ParsedLedger, theirs: ParsedLedger, merged: ParsedLedger): TagConflict[] {
  const touched = (tail: readonly LedgerEntry[]) => {
    const out = new Map<string, { tag: TagRef; decided: boolean }>();
    for (const e of tail) {
      const k = tagKey(e.registry, e.repository, e.tag);
      const seen = out.get(k);
      if (seen) seen.decided ||= decides(e);
      else out.set(k, { tag: { registry: e.registry, repository: e.repository, tag: e.tag }, decided: decides(e) });
    }
    return out;
  };
  const ourTags = touched(oursTail);
  const theirTags = touched(theirsTail);
  const conflicts: TagConflict[] = [];
  for (const [k, ourSide] of ourTags) {
    const theirSide = theirTags.get(k);
    if (!theirSide || !(ourSide.decided || theirSide.decided)) continue;
    const tag = ourSide.tag;
    const od = approvedOf(ours, tag);
    const td = approvedOf(theirs, tag);
    const md = approvedOf(merged, tag);
    const wanted = new Set<Decision>();
    if (ourSide.decided) wanted.add(od);
    if (theirSide.decided) wanted.add(td);
    if (wanted.size > 1) conflicts.push({ ...tag, ours: od, theirs: td });
    else if (!wanted.has(md)) conflicts.push({ ...tag, ours: od, theirs: td, merged: md });
  }
  return conflicts;
}
