/**
 * Backend-independent pieces: validating entries read from storage, chaining a new batch, reading
 * and checking a stored chain one entry at a time (ChainReader), and the in-memory index readers
 * answer from.
 */
import { GENESIS_HASH, validatedEntryHash } from './hash.js';
import { tagRefOf } from './tag-ref.js';
import { LEDGER_EVENTS, LEDGER_ROLES, LEDGER_SOURCES, type LedgerEntry, type NewEntry, type TagHistory, type TagRef } from './types.js';

/** The last entry of a ledger, as far as a writer needs it. */
export interface ChainTip {
  seq: number;
  hash: string;
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
// OCI digest grammar: algorithm ":" encoded. SHA256_DIGEST, a subset, is tried first: nearly every
// digest is one, and it is several times cheaper to match (a reader checks up to three per entry).
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const isDigest = (v: string): boolean => SHA256_DIGEST.test(v) || DIGEST.test(v);
const FIELDS = new Set(['seq', 'time', 'registry', 'repository', 'tag', 'digest', 'platformDigests', 'event', 'source', 'role', 'actor', 'config', 'prev', 'hash']);
const EVENTS = new Set<string>(LEDGER_EVENTS);
const SOURCES = new Set<string>(LEDGER_SOURCES);
const ROLES = new Set<string>(LEDGER_ROLES);
/** Events whose digest is null. */
const NULL_DIGEST_EVENTS = new Set<string>(['deleted', 'forgotten']);

/** A string key for one tag, for callers' maps. NUL cannot occur in a registry, repository or tag. */
export function tagKey(registry: string, repository: string, tag: string): string {
  return `${registry}\u0000${repository}\u0000${tag}`;
}

/** `time` as stored: `toISOString()` form. Anything else would not survive a PostgreSQL round trip. */
function normalizeTime(time: string | Date | undefined, now: Date): string {
  const d = time === undefined ? now : new Date(time);
  if (Number.isNaN(d.getTime())) throw new TypeError(`ledger entry time "${String(time)}" is not a date`);
  return d.toISOString();
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function platformDigestsProblem(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'platformDigests must be an object';
  for (const [platform, digest] of Object.entries(v)) {
    if (typeof digest !== 'string' || !isDigest(digest)) return `platformDigests["${platform}"] is not a digest`;
  }
  return undefined;
}

/** Why the tag fields, digest and event of an entry (new or stored) are not acceptable, if they are not. */
function contentProblem(e: Record<string, unknown>): string | undefined {
  for (const f of ['registry', 'repository', 'tag'] as const) {
    if (!isNonEmptyString(e[f])) return `${f} must be a non-empty string`;
    if ((e[f] as string).includes('\u0000')) return `${f} contains a NUL character`;
  }
  if (typeof e.event !== 'string' || !EVENTS.has(e.event)) return `event must be one of ${LEDGER_EVENTS.join(', ')}`;
  if (typeof e.source !== 'string' || !SOURCES.has(e.source)) return `source must be one of ${LEDGER_SOURCES.join(', ')}`;
  if (e.role !== undefined && (typeof e.role !== 'string' || !ROLES.has(e.role))) return `role must be one of ${LEDGER_ROLES.join(', ')}`;
  if (e.digest === null) {
    if (!NULL_DIGEST_EVENTS.has(e.event)) return `digest is null but event is not "deleted" or "forgotten"`;
  } else if (typeof e.digest !== 'string' || !isDigest(e.digest)) {
    return 'digest must be a digest (algorithm:hex) or null';
  } else if (NULL_DIGEST_EVENTS.has(e.event)) {
    return `event "${e.event}" must have a null digest`;
  }
  const pd = platformDigestsProblem(e.platformDigests);
  if (pd) return pd;
  if (e.actor !== undefined && typeof e.actor !== 'string') return 'actor must be a string';
  return configProblem(e);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `config` is there exactly for `config-approved`, with a version and a document. */
function configProblem(e: Record<string, unknown>): string | undefined {
  if (e.event !== 'config-approved') return e.config === undefined ? undefined : 'config is only for event "config-approved"';
  const c = e.config;
  if (!isPlainObject(c) || typeof c.version !== 'string' || !isPlainObject(c.document)) return 'config must be {version, document}';
  for (const key of Object.keys(c)) if (key !== 'version' && key !== 'document') return `unknown field "config.${key}"`;
  return undefined;
}

/**
 * Checks a caller's entry before it is chained. A bad entry is a bug in the caller, not a user
 * mistake, hence TypeError.
 */
export function assertNewEntry(e: NewEntry): void {
  let problem = contentProblem(e as unknown as Record<string, unknown>);
  if (!problem && e.time !== undefined) {
    const d = new Date(e.time);
    if (Number.isNaN(d.getTime()) || !ISO_TIME.test(d.toISOString())) problem = `time "${String(e.time)}" is not a date in years 0-9999`;
  }
  if (problem) throw new TypeError(`invalid ledger entry for ${String(e.registry)}/${String(e.repository)}:${String(e.tag)}: ${problem}`);
}

/** Turns a batch into stored entries chained after `tip` (null for an empty ledger). */
export function chainBatch(batch: NewEntry[], tip: ChainTip | null, now = new Date()): LedgerEntry[] {
  let seq = tip?.seq ?? 0;
  let prev = tip?.hash ?? GENESIS_HASH;
  const out: LedgerEntry[] = [];
  for (const e of batch) {
    assertNewEntry(e);
    // Optional fields only when present, so the canonical JSON (and the hash) is the same whether
    // the entry was built here, read from a file or read from a database row.
    const hasPlatforms = e.platformDigests !== undefined && Object.keys(e.platformDigests).length > 0;
    const base: Omit<LedgerEntry, 'hash'> = {
      seq: ++seq,
      time: normalizeTime(e.time, now),
      registry: e.registry,
      repository: e.repository,
      tag: e.tag,
      digest: e.digest,
      ...(hasPlatforms ? { platformDigests: { ...e.platformDigests } } : {}),
      event: e.event,
      source: e.source,
      ...(e.role !== undefined ? { role: e.role } : {}),
      ...(e.actor !== undefined && e.actor !== '' ? { actor: e.actor } : {}),
      ...(e.config !== undefined ? { config: { version: e.config.version, document: e.config.document } } : {}),
      prev,
    };
    const entry: LedgerEntry = { ...base, hash: validatedEntryHash(base) };
    out.push(entry);
    prev = entry.hash;
  }
  return out;
}

/** A stored entry, or why the value read from storage is not one. */
export type Checked = { entry: LedgerEntry; reason?: undefined } | { entry?: undefined; reason: string };

/** Validates the shape of a value read from storage and recomputes its hash (not its links). */
export function checkStored(raw: unknown): Checked {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { reason: 'not a ledger entry (not a JSON object)' };
  const e = raw as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!FIELDS.has(key)) return { reason: `unknown field "${key}"` };
  }
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1) return { reason: 'seq must be a positive integer' };
  // The toISOString() form. (A regex rather than a Date round trip: this runs for every line read.
  // A well-formed but impossible date is still caught, by the hash, if it was ever changed.)
  if (typeof e.time !== 'string' || !ISO_TIME.test(e.time)) {
    return { reason: 'time must be an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SS.sssZ)' };
  }
  const problem = contentProblem(e);
  if (problem) return { reason: problem };
  // prev and hash need no pattern check: hash must equal the recomputed hash, prev the previous one.
  if (typeof e.prev !== 'string') return { reason: 'prev must be a string' };
  if (typeof e.hash !== 'string') return { reason: 'hash must be a string' };
  const entry = raw as LedgerEntry;
  if (validatedEntryHash(entry) !== entry.hash) return { reason: 'hash does not match the entry: the entry was edited' };
  return { entry };
}

/** Why `entry` cannot follow `tip` in the chain, if it cannot. */
function linkProblem(entry: LedgerEntry, tip: ChainTip | null): string | undefined {
  const expectedSeq = (tip?.seq ?? 0) + 1;
  if (entry.seq !== expectedSeq) {
    return entry.seq <= expectedSeq - 1 ? `seq ${entry.seq} does not increase (the previous entry is seq ${tip?.seq ?? 0})` : `seq ${entry.seq} follows seq ${tip?.seq ?? 0}: entries are missing`;
  }
  if (entry.prev !== (tip?.hash ?? GENESIS_HASH)) {
    return tip ? `prev does not match the hash of entry ${tip.seq}: an entry was removed, inserted or reordered` : 'prev of the first entry is not the genesis hash: entries before it are missing';
  }
  return undefined;
}

/** Where a chain stops verifying: the entry's seq (as stored, else the one expected there), its 1-based position among the values read, and why. */
export interface ChainBreak {
  seq: number;
  position: number;
  reason: string;
}

/**
 * Walks a chain in order, one stored value at a time: checks each value's shape and hash
 * (checkStored) and its link to the one before (linkProblem), keeps the tip, and adds each entry
 * that verifies to `index` when there is one. The first value that does not verify is the break
 * (`firstBroken`); after it nothing is checked, values are only counted. The one loop under every
 * reader of a stored chain: the file parser (file-parser.ts, which also reads merge sides) and the
 * PostgreSQL ledger's load and verify.
 */
export class ChainReader {
  /** Values read, the ones after the break included. */
  count = 0;
  tip: ChainTip | null;
  firstBroken?: ChainBreak;
  /** What a head check needs without keeping the entries: the hash of seq 1, and of seq `hashAt.seq` once read. */
  first?: string;
  readonly hashAt?: { seq: number; hash?: string };
  private readonly names = new Map<string, string>();

  /**
   * Continues the chain `index` holds (from its tip), adding to it; without one, only checks (and
   * keeps nothing but the tip, the first hash and the hash at `hashAtSeq`: memory stays flat).
   */
  constructor(
    readonly index?: EntryIndex,
    hashAtSeq?: number,
  ) {
    this.tip = index?.tip ?? null;
    if (hashAtSeq !== undefined) this.hashAt = { seq: hashAtSeq };
  }

  get broken(): boolean {
    return this.firstBroken !== undefined;
  }

  /** Reads the next stored value: the entry, or undefined when it breaks the chain (or the chain broke before). */
  read(raw: unknown): LedgerEntry | undefined {
    this.count++;
    if (this.firstBroken) return undefined;
    const checked = checkStored(raw);
    const problem = checked.reason ?? linkProblem(checked.entry!, this.tip);
    if (problem !== undefined) {
      const stored = (raw as { seq?: unknown } | null)?.seq;
      this.breakHere(problem, checked.entry?.seq ?? (typeof stored === 'number' ? stored : undefined));
      return undefined;
    }
    const entry = checked.entry!;
    if (entry.seq === 1) this.first = entry.hash;
    if (this.hashAt?.seq === entry.seq) this.hashAt.hash = entry.hash;
    if (this.index) {
      // prev was just found equal to the previous entry's hash: keep one copy of that string. The
      // names that repeat from entry to entry are kept once each too: less memory and less for the
      // garbage collector to move, and map lookups on strings whose hash is already computed.
      if (this.tip) entry.prev = this.tip.hash;
      entry.registry = this.intern(entry.registry);
      entry.repository = this.intern(entry.repository);
      entry.tag = this.intern(entry.tag);
      entry.event = this.intern(entry.event);
      entry.source = this.intern(entry.source);
      this.index.add(entry);
    }
    this.tip = { seq: entry.seq, hash: entry.hash };
    return entry;
  }

  /** The next value is not an entry at all (a line that is not JSON): the chain breaks there, if it had not already. */
  refuse(reason: string): void {
    this.count++;
    if (!this.firstBroken) this.breakHere(reason, undefined);
  }

  /** Counts a value after the break without looking at it. */
  skip(): void {
    this.count++;
  }

  private breakHere(reason: string, seq: number | undefined): void {
    this.firstBroken = { seq: seq ?? (this.tip?.seq ?? 0) + 1, position: this.count, reason };
  }

  private intern<T extends string>(s: T): T {
    const known = this.names.get(s);
    if (known !== undefined) return known as T;
    this.names.set(s, s);
    return s;
  }
}

/**
 * The entries a reader answers from, with a by-tag index. Filled in chain order by ChainReader,
 * which checks each entry (checkStored + linkProblem) before adding it.
 */
export class EntryIndex {
  readonly entries: LedgerEntry[] = [];
  // registry → repository → tag → entries. Nested maps rather than one map keyed by a joined string:
  // no key string is built per entry, which keeps loading 100,000 entries fast.
  private readonly byTag = new Map<string, Map<string, Map<string, LedgerEntry[]>>>();

  get tip(): ChainTip | null {
    const last = this.entries[this.entries.length - 1];
    return last ? { seq: last.seq, hash: last.hash } : null;
  }

  /** Adds one entry already checked with checkStored + linkProblem (ChainReader). */
  add(entry: LedgerEntry): void {
    this.entries.push(entry);
    // An approved config is not a tag: in the chain, not in the by-tag index.
    if (entry.event === 'config-approved') return;
    let repos = this.byTag.get(entry.registry);
    if (!repos) this.byTag.set(entry.registry, (repos = new Map()));
    let tags = repos.get(entry.repository);
    if (!tags) repos.set(entry.repository, (tags = new Map()));
    const list = tags.get(entry.tag);
    if (list) list.push(entry);
    else tags.set(entry.tag, [entry]);
  }

  history(registry: string, repository: string, tag: string): LedgerEntry[] {
    return [...(this.byTag.get(registry)?.get(repository)?.get(tag) ?? [])];
  }

  /** In order of first appearance. */
  tags(): TagRef[] {
    return this.lists().map((list) => tagRefOf(list[0]!));
  }

  /** Every tag with its entries (a copy), in order of first appearance: tags() and history() at once. */
  histories(): TagHistory[] {
    return this.lists().map((list) => ({ tag: tagRefOf(list[0]!), history: [...list] }));
  }

  /** Each tag's entries, ordered by the tag's first appearance. */
  private lists(): LedgerEntry[][] {
    const lists: LedgerEntry[][] = [];
    for (const repos of this.byTag.values()) {
      for (const tags of repos.values()) for (const list of tags.values()) lists.push(list);
    }
    return lists.sort((a, b) => a[0]!.seq - b[0]!.seq);
  }
}
