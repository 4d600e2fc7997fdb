/**
 * The file ledger (the default): JSON Lines, one entry per line, append-only, meant to be committed
 * next to the Kamal config (`.kamal/image-ledger.jsonl`).
 *
 * Writers take `<path>.lock` (lock.ts), read the tail of the file for the entry to chain onto,
 * append the batch with one write and fsync it. A crash mid-write can leave a torn last line: final
 * bytes without a newline that are not a JSON entry, or a final line of NUL bytes (a power loss on
 * some file systems). Readers report and ignore it; the next writer truncates it away under the
 * lock. A final line that has its newline but is not JSON was damaged after it was written: like
 * any other damage it makes the ledger untrusted. Anything else wrong (a
 * middle line that is not an entry, a broken hash or prev link, seq out of order) makes the ledger
 * untrusted: readers throw LedgerError naming the line; nothing is ever rewritten.
 */
import { constants } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errCode, LedgerError, LedgerUnavailableError, UsageError } from '../errors.js';
import { EntryIndex, assertNewEntry, chainBatch } from './chain.js';
import { LEDGER_ENTRY_MAX_BYTES, LEDGER_LINE_MAX_BYTES, type ParsedLedger } from './file-parser.js';
import { parseLedgerHandle, readAt, readTail } from './file-tail.js';
import { NOTHING_WRITTEN, fsRemedy } from './fs-errors.js';
import { acquireLock } from './lock.js';
import { formatTagRef } from './tag-ref.js';
import { lstatNoLink, missingLedgerError, openNoFollow } from './no-follow.js';
import type { ChainReport, Ledger, LedgerEntry, LedgerOptions, NewEntry, TagHistory, TagRef, VerifyOptions } from './types.js';

/** A signed checkpoint is a few KiB (a keyless one carries a certificate chain); anything far larger is not one. */
const MAX_CHECKPOINT_BYTES = 1 << 20;
const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

export { LedgerParser, parseLedger, type ParsedLedger } from './file-parser.js';

/** Reads and checks a ledger file a chunk at a time (`options`: see LedgerParser). */
async function parseLedgerFile(path: string, options?: Parameters<typeof parseLedgerHandle>[1]): Promise<ParsedLedger> {
  const fh = await openNoFollow(path, 'r');
  try {
    return await parseLedgerHandle(fh, options);
  } finally {
    await fh.close();
  }
}

function untrustedError(path: string, broken: { seq: number; line: number; reason: string }): LedgerError {
  return new LedgerError(
    `${path}:${broken.line}: ${broken.reason} (entry seq ${broken.seq}). The ledger cannot be trusted: ` +
      `run \`kamal-gate ledger verify\` and restore ${path} from version control (\`git log -p -- ${path}\`).`,
    path,
    broken.line,
  );
}

/** One JSON line per entry, fields in a readable order (the hash does not depend on it). */
function serialize(e: LedgerEntry): string {
  const ordered: Record<string, unknown> = {
    seq: e.seq,
    time: e.time,
    registry: e.registry,
    repository: e.repository,
    tag: e.tag,
    digest: e.digest,
    platformDigests: e.platformDigests,
    event: e.event,
    source: e.source,
    role: e.role,
    actor: e.actor,
    config: e.config,
    prev: e.prev,
    hash: e.hash,
  };
  return `${JSON.stringify(ordered)}\n`;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class FileLedger implements Ledger {
  readonly location: string;
  private readonly lockTimeoutMs: number;
  private cache?: { key: string; parsed: ParsedLedger };
  /** Serializes this instance's appends, so they queue here rather than poll the lock file. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly options: LedgerOptions = {},
  ) {
    this.location = path;
    this.lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  append(entries: NewEntry[]): Promise<LedgerEntry[]> {
    const run = this.queue.then(() => this.appendLocked(entries));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendLocked(batch: NewEntry[]): Promise<LedgerEntry[]> {
    if (batch.length === 0) return [];
    batch.forEach(assertNewEntry); // before touching the disk: a bad entry is a caller bug
    const dir = dirname(this.path);
    let createdDir: string | undefined;
    try {
      createdDir = await mkdir(dir, { recursive: true });
    } catch (e) {
      throw this.unavailable(`cannot append to ${this.path}: cannot create ${dir}`, e, NOTHING_WRITTEN);
    }
    if (createdDir) await fsyncDir(dirname(createdDir)).catch(() => undefined);
    for (;;) {
      const lock = await acquireLock(`${this.path}.lock`, {
        timeoutMs: this.lockTimeoutMs,
        ledger: this.path,
        onWait: this.options.onLockWait,
      });
      try {
        // Defensive: if our lock file was removed behind our back (by hand), take it again rather
        // than write without it.
        const mine = await lock.stillHeld().catch((e: unknown) => {
          throw this.unavailable(`cannot append to ${this.path}: cannot check its lock`, e, NOTHING_WRITTEN);
        });
        if (!mine) continue;
        return await this.writeBatch(batch, dir);
      } finally {
        await lock.release();
      }
    }
  }

  /** Under the lock: chain onto the tail as it is on disk now (other processes append) and write. */
  private async writeBatch(batch: NewEntry[], dir: string): Promise<LedgerEntry[]> {
    let created = false;
    try {
      created = (await lstatNoLink(this.path)) === undefined;
    } catch (e) {
      if (e instanceof LedgerError) throw e;
      throw this.unavailable(`cannot append to ${this.path}: cannot read it`, e, NOTHING_WRITTEN);
    }
    let fh: FileHandle;
    try {
      // O_NOFOLLOW: a link put in place since the check above is refused by the open itself.
      fh = await openNoFollow(this.path, 'a+');
    } catch (e) {
      if (e instanceof LedgerError) throw e;
      throw this.unavailable(`cannot append to ${this.path}: cannot open it for writing`, e, NOTHING_WRITTEN);
    }
    try {
      const { size } = await fh.stat();
      const tail = await readTail(fh, size);
      if (tail.broken) {
        // Never chain onto an entry that does not verify: find and name the broken line.
        const parsed = await parseLedgerHandle(fh);
        const broken = parsed.firstBroken ?? { seq: (parsed.index.tip?.seq ?? 0) + 1, line: parsed.lines, reason: 'the last entry does not verify' };
        throw untrustedError(this.path, broken);
      }
      if (tail.tornOffset !== undefined) {
        await fh.truncate(tail.tornOffset);
        this.options.onWarning?.(`${this.path}: removed a torn last line (an interrupted write) before appending; no complete entry was lost`);
      }
      const entries = chainBatch(batch, tail.tip);
      const lines = entries.map(serialize);
      const long = lines.findIndex((l) => Buffer.byteLength(l, 'utf8') > LEDGER_ENTRY_MAX_BYTES);
      if (long >= 0) {
        const e = entries[long]!;
        throw new LedgerUnavailableError(
          `cannot append to ${this.path}: the entry for ${formatTagRef(e)} would be a line of ${Buffer.byteLength(lines[long]!, 'utf8')} bytes, ` +
            `more than the ${LEDGER_ENTRY_MAX_BYTES} an entry may take (readers refuse lines over ${LEDGER_LINE_MAX_BYTES}). ${NOTHING_WRITTEN}`,
          this.path,
        );
      }
      const data = Buffer.from((tail.missingNewline ? '\n' : '') + lines.join(''), 'utf8');
      // Where the file ends before this batch: a failed write is cut back to here.
      const end = tail.tornOffset ?? size;
      try {
        let written = 0;
        while (written < data.length) {
          // The file is opened O_APPEND: each write lands at the end. Normally one write does it all.
          const { bytesWritten } = await fh.write(data, written, data.length - written);
          written += bytesWritten;
        }
        await fh.sync();
        if (created) await fsyncDir(dir);
      } catch (e) {
        // A full disk (ENOSPC) or a file size limit (EFBIG) can fail a write after part of the batch
        // landed, and a failed fsync leaves it unknown what is on disk. The caller is told the append
        // failed, so none of it may stay: cut the file back to what it held before.
        this.cache = undefined;
        const restored = await fh
          .truncate(end)
          .then(() => fh.sync())
          .then(
            () => true,
            () => false,
          );
        throw this.unavailable(
          `cannot append to ${this.path}`,
          e,
          restored ? NOTHING_WRITTEN : 'Not appended: the entries already in the ledger are unchanged, but part of this batch may remain at the end of the file: run `kamal-gate ledger verify`.',
        );
      }
      this.cache = undefined;
      return entries;
    } catch (e) {
      if (e instanceof LedgerError || e instanceof LedgerUnavailableError || e instanceof TypeError) throw e;
      throw this.unavailable(`cannot append to ${this.path}`, e, NOTHING_WRITTEN);
    } finally {
      await fh.close();
    }
  }

  /**
   * Reads the file, or reuses the last reading when the file has not changed since. With `verifyOnly`
   * it reads afresh, checks every line and keeps no entry (nothing cached): `verify()`.
   */
  private async load(verifyOnly?: VerifyOptions): Promise<ParsedLedger> {
    let key: string;
    try {
      const st = await lstatNoLink(this.path);
      if (!st) return this.missing();
      key = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (e) {
      if (e instanceof LedgerError || e instanceof UsageError) throw e;
      throw this.unavailable(`cannot read ${this.path}`, e);
    }
    if (!verifyOnly && this.cache?.key === key) return this.cache.parsed;
    let parsed: ParsedLedger;
    try {
      parsed = await parseLedgerFile(this.path, verifyOnly ? { checkOnly: true, ...(verifyOnly.hashAt !== undefined ? { hashAt: verifyOnly.hashAt } : {}) } : undefined);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return this.missing();
      if (e instanceof LedgerError) throw e;
      throw this.unavailable(`cannot read ${this.path}`, e);
    }
    if (parsed.torn) {
      this.options.onWarning?.(`${this.path}:${parsed.torn.line}: torn last line (an interrupted write) ignored; the next append removes it`);
    }
    if (!verifyOnly) this.cache = { key, parsed };
    return parsed;
  }

  /** No file: an empty ledger, or for readers that need one (options.mustExist) a usage error. */
  private missing(): ParsedLedger {
    if (this.options.mustExist) throw missingLedgerError(this.path);
    return { index: new EntryIndex(), lines: 0 };
  }

  private async trusted(): Promise<EntryIndex> {
    const parsed = await this.load();
    if (parsed.firstBroken) throw untrustedError(this.path, parsed.firstBroken);
    return parsed.index;
  }

  async all(): Promise<LedgerEntry[]> {
    return [...(await this.trusted()).entries];
  }

  async history(registry: string, repository: string, tag: string): Promise<LedgerEntry[]> {
    return (await this.trusted()).history(registry, repository, tag);
  }

  async tags(): Promise<TagRef[]> {
    return (await this.trusted()).tags();
  }

  async histories(): Promise<TagHistory[]> {
    return (await this.trusted()).histories();
  }

  async verify(options: VerifyOptions = {}): Promise<ChainReport> {
    const parsed = await this.load(options); // afresh, every line checked, no entry kept
    const report: ChainReport = { ok: !parsed.firstBroken, entries: parsed.lines };
    if (parsed.firstBroken) report.firstBroken = parsed.firstBroken;
    if (parsed.torn) report.repairedTornLine = true;
    if (options.hashAt !== undefined) {
      if (parsed.firstHash !== undefined) report.firstHash = parsed.firstHash;
      if (parsed.hashAt !== undefined) report.hashAt = parsed.hashAt;
    }
    return report;
  }

  /** `<ledger>.checkpoint`: the newest signed checkpoint, one JSON document. */
  get checkpointPath(): string {
    return `${this.path}.checkpoint`;
  }

  async readCheckpoint(): Promise<string | undefined> {
    let fh: FileHandle;
    try {
      fh = await openNoFollow(this.checkpointPath, 'r', 0o644, 'the ledger checkpoint');
    } catch (e) {
      if (errCode(e) === 'ENOENT') return undefined;
      if (e instanceof LedgerError) throw e;
      throw this.unavailable(`cannot read ${this.checkpointPath}`, e);
    }
    try {
      const { size } = await fh.stat();
      if (size > MAX_CHECKPOINT_BYTES)
        throw new LedgerError(`${this.checkpointPath} is ${size} bytes, more than a checkpoint can be (${MAX_CHECKPOINT_BYTES}): restore it from version control`, this.checkpointPath);
      return (await readAt(fh, 0, size)).toString('utf8');
    } finally {
      await fh.close();
    }
  }

  /** Replaces the checkpoint file atomically (a temporary file beside it, fsync, rename, fsync the folder). */
  async writeCheckpoint(document: string): Promise<void> {
    const target = this.checkpointPath;
    const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    try {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o644);
      try {
        await fh.writeFile(document);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
      await fsyncDir(dirname(target));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw this.unavailable(`cannot write ${target}`, e, 'The ledger entries are unchanged; run `kamal-gate ledger checkpoint` again.');
    }
  }

  async close(): Promise<void> {
    await this.queue;
  }

  private unavailable(what: string, cause: unknown, state = ''): LedgerUnavailableError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const tail = [state, fsRemedy(cause)].filter(Boolean).join(' ');
    return new LedgerUnavailableError(`${what}: ${reason}.${tail ? ` ${tail}` : ''}`, this.path, { cause });
  }
}
