/**
 * The digest ledger: an append-only, hash-chained record of which digest every tag pointed to and
 * when. Two backends (a JSON Lines file, PostgreSQL) with the same semantics and the same chain.
 */

/**
 * What happened to a tag:
 * - `recorded`: the first time the ledger saw the tag (or `kamal-gate record` after a push);
 * - `observed`: seen again pointing to the digest the ledger already had;
 * - `moved`: the tag now points to another digest (an overwrite or a rollback);
 * - `deleted`: the tag is gone from the registry (`digest` is null);
 * - `restored`: a deleted tag is back, pointing to a digest it had before;
 * - `approved`: `kamal-gate record --approve-move REF@DIGEST`: a deliberate approval of a tag that
 *   moved, naming the digest (source `record`, with the actor);
 * - `forgotten`: `kamal-gate ledger forget REF`: the ledger stops tracking the tag (`digest` is null);
 *   what came before no longer approves anything, and a later record starts afresh.
 * - `config-approved`: `kamal-gate record` approved the effective deploy (src/kamal/effective.ts) of
 *   a service and destination. Not a tag: registry `kamal-config`, repository the service, tag the
 *   destination (`default` without one), digest the config fingerprint, `config` the document. These
 *   entries are in the chain (and `all()`), never in `history()` or `tags()`.
 */
export type LedgerEvent = 'recorded' | 'observed' | 'moved' | 'deleted' | 'restored' | 'approved' | 'forgotten' | 'config-approved';

/** Which command wrote the entry (`ledger`: `kamal-gate ledger forget`). */
export type LedgerSource = 'record' | 'verify' | 'drift' | 'hook' | 'ledger';

export const LEDGER_EVENTS: readonly LedgerEvent[] = ['recorded', 'observed', 'moved', 'deleted', 'restored', 'approved', 'forgotten', 'config-approved'];

/** The registry name of `config-approved` entries (not a registry: no host has no dot or colon). */
export const CONFIG_REGISTRY = 'kamal-config';

/** What a `config-approved` entry approves: the version it was recorded with and the effective deploy (no secret values). */
interface ApprovedConfigBody {
  version: string;
  document: Record<string, unknown>;
}

/**
 * What the tag is to the deploy:
 * - `base`: a base image tag observed while measuring staleness. Upstream moves these on purpose: a
 *   base observation never approves anything and a base tag that moves is information, not drift.
 * - `deploy`: a tag the deploy pulls. Absent means deploy too; it is written only to pin a tag as a
 *   deploy tag when it also has base observations (see state.ts `tagKind`).
 */
export type LedgerRole = 'base' | 'deploy';
export const LEDGER_ROLES: readonly LedgerRole[] = ['base', 'deploy'];
export const LEDGER_SOURCES: readonly LedgerSource[] = ['record', 'verify', 'drift', 'hook', 'ledger'];

/** The fields a caller gives; the ledger adds `seq`, `prev` and `hash` (and `time` when absent). */
export interface NewEntry {
  registry: string;
  repository: string;
  tag: string;
  /** What the tag points to (an index digest for multi-platform images); null only for `deleted` and `forgotten`. */
  digest: string | null;
  /** When the tag is an index: each platform's manifest digest, e.g. `{"linux/amd64": "sha256:…"}`. */
  platformDigests?: Record<string, string>;
  event: LedgerEvent;
  source: LedgerSource;
  /** Absent for deploy tags; `base` for base-image observations (see LedgerRole). */
  role?: LedgerRole;
  /** Who caused it, when known: the CI job, `KAMAL_PERFORMER`. Never a secret. */
  actor?: string;
  /** Only for `config-approved`: the approved effective deploy. */
  config?: ApprovedConfigBody;
  /** When it was seen (any form `Date` parses); default now. Stored as ISO 8601 UTC with milliseconds. */
  time?: string | Date;
}

/** One line of the file ledger, one row of the database ledger. */
export interface LedgerEntry {
  /** 1 for the first entry, then +1 for each entry: no gaps. */
  seq: number;
  /** ISO 8601 UTC, `toISOString()` form (e.g. `2025-01-31T12:00:00.000Z`). */
  time: string;
  registry: string;
  repository: string;
  tag: string;
  /** Null for `deleted` and `forgotten`. */
  digest: string | null;
  platformDigests?: Record<string, string>;
  event: LedgerEvent;
  source: LedgerSource;
  role?: LedgerRole;
  actor?: string;
  config?: ApprovedConfigBody;
  /** The `hash` of the previous entry; `GENESIS_HASH` ("sha256:" + 64 zeros) for the first. */
  prev: string;
  /** "sha256:" + hex sha256 of the canonical JSON of this entry without `hash` (see hash.ts). */
  hash: string;
}

/** A tag as the ledger keys it. */
export interface TagRef {
  registry: string;
  repository: string;
  tag: string;
}

/** The result of checking the whole hash chain. */
export interface ChainReport {
  ok: boolean;
  /** Entries in the ledger (a torn last line not counted). */
  entries: number;
  /** The first entry that breaks the chain: `line` for the file ledger (1-based). */
  firstBroken?: { seq: number; line?: number; reason: string };
  /**
   * File ledger: the last line is torn (a crash mid-write). Readers ignore it; the next writer
   * truncates it away before appending. Set by `verify()` when such a line is present.
   */
  repairedTornLine?: boolean;
  /** With `VerifyOptions.hashAt`: the hash of entry seq 1, when it verifies (a checkpoint's `ledger`). */
  firstHash?: string;
  /** With `VerifyOptions.hashAt`: the hash of the entry at that seq, when present and verified (a checkpoint's `hash`). */
  hashAt?: string;
}

/** What `verify()` also reports, so a head check needs no second read (head.ts verifyWithHead). */
export interface VerifyOptions {
  /** The seq whose hash `ChainReport.hashAt` reports (a checkpoint's seq). */
  hashAt?: number;
}

/** One tag and its entries, oldest first. */
export interface TagHistory {
  tag: TagRef;
  history: LedgerEntry[];
}

export interface Ledger {
  /** The file path, or the database URL with its password redacted: for messages. */
  readonly location: string;
  /**
   * Appends one batch under the writer lock, chained after the last entry, and returns the entries
   * as stored (with seq, time, prev, hash). The batch is all-or-nothing in PostgreSQL; in the file it
   * is one write + fsync (a crash mid-write leaves a torn last line that the next writer removes).
   * Throws LedgerError when the entry to chain onto does not verify (never writes on top of it).
   */
  append(entries: NewEntry[]): Promise<LedgerEntry[]>;
  /** Every entry in seq order. Throws LedgerError when the chain does not verify. */
  all(): Promise<LedgerEntry[]>;
  /** One tag's entries in seq order (empty when never recorded). Throws LedgerError like `all()`. */
  history(registry: string, repository: string, tag: string): Promise<LedgerEntry[]>;
  /** Every tag ever recorded, in order of first appearance. Throws LedgerError like `all()`. */
  tags(): Promise<TagRef[]>;
  /** Every tag with its history, in order of first appearance: `tags()` and each `history()` from one reading. */
  histories(): Promise<TagHistory[]>;
  /**
   * Recomputes every hash and prev link; reports the first broken entry instead of throwing. Reads
   * the ledger afresh, keeping only what the report needs: memory does not grow with the ledger.
   */
  verify(options?: VerifyOptions): Promise<ChainReport>;
  /**
   * The newest signed checkpoint of the ledger's head (checkpoint-format.ts), as stored: the file
   * `<ledger>.checkpoint` beside a file ledger, the newest row of `kamal_gate_checkpoints` in
   * PostgreSQL. Undefined when there is none.
   */
  readCheckpoint(): Promise<string | undefined>;
  /** Stores a signed checkpoint document: replaces the file (atomically), or adds a row. */
  writeCheckpoint(document: string, seq: number): Promise<void>;
  close(): Promise<void>;
}

export interface LedgerOptions {
  /** How long a writer waits for the lock (file) or advisory lock (PostgreSQL). Default 30 s. */
  lockTimeoutMs?: number;
  /** PostgreSQL: how long to wait for a connection. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * File ledger: called once per append when another live process holds the lock and this one has
   * to wait (e.g. to print "waiting for the ledger lock held by pid 123 on ci-7").
   */
  onLockWait?: (holder: LockHolder) => void;
  /** File ledger: called when a torn last line is found by a reader or removed by a writer. */
  onWarning?: (message: string) => void;
  /**
   * File ledger: a missing file is a UsageError ("no ledger at …") instead of an empty ledger. For
   * the commands that only read (drift, ledger verify|show|export): a mistyped path must not pass.
   */
  mustExist?: boolean;
}

/** What a file ledger's lock file records about its holder. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO 8601 time the lock was taken. */
  time: string;
}
