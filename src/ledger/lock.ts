/**
 * The file ledger's writer lock: `<ledger>.lock`, created with O_EXCL, holding the holder's pid,
 * host name, time and a random token.
 *
 * A lock whose pid is dead on this host is stale and is broken. Several waiters may judge the same
 * lock stale at once, and a waiter that read the stale lock long ago must not remove a newer, live
 * one. So breaking happens under a second O_EXCL file, `<ledger>.lock.break`: its holder re-reads
 * the lock and removes it only if it is still the very file judged stale (same inode, mtime and
 * content). While the break file exists nobody else removes the lock, and a new lock can only be
 * created once the stale one is gone, so the re-check and the removal cannot be overtaken. A break
 * file left by a waiter that died within those few milliseconds is itself cleared when its pid is
 * dead (or it is older than 10 s and unreadable).
 *
 * Locks held on another host (a shared file system) are never judged stale: we cannot see that
 * host's processes. The waiter gives up at its deadline with a message saying how to remove it.
 *
 * A symbolic link as the lock or the break file is refused (LedgerError, exit 2): O_EXCL never
 * creates through one, and reading one is refused by O_NOFOLLOW (no-follow.ts).
 */
import { randomUUID } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { errCode, LedgerError, LedgerUnavailableError } from '../errors.js';
import { NOTHING_WRITTEN, fsRemedy } from './fs-errors.js';
import { openNoFollow } from './no-follow.js';
import type { LockHolder } from './types.js';

export interface LockOptions {
  timeoutMs: number;
  onWait?: (holder: LockHolder) => void;
  /** For messages: the ledger the lock protects. */
  ledger: string;
}

export interface HeldLock {
  /** True while the lock file is still the one this process created. */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

/** A lock file that cannot be parsed this long after its last change is one whose creator died mid-write. */
const UNREADABLE_STALE_MS = 5_000;

interface LockFile {
  holder?: LockHolder;
  /** Identifies this exact lock file: inode, mtime and content. */
  identity: string;
  stale: boolean;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return errCode(e) === 'EPERM';
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.time === 'string') {
      return { pid: v.pid, hostname: v.hostname, time: v.time };
    }
  } catch {
    // fall through
  }
  return undefined;
}

/** Reads the lock file; undefined when there is none. */
async function readLock(lockPath: string, unreadableStaleMs = UNREADABLE_STALE_MS): Promise<LockFile | undefined> {
  let fh;
  try {
    // A link here (dangling or not) is refused: it could make us read, judge stale and remove anything.
    fh = await openNoFollow(lockPath, 'r', undefined, "the ledger's lock");
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = await fh.stat();
    const text = await fh.readFile('utf8');
    const holder = parseHolder(text);
    const stale = holder ? holder.hostname === hostname() && !pidAlive(holder.pid) : Date.now() - st.mtimeMs > unreadableStaleMs;
    return { holder, identity: `${st.ino}:${st.mtimeMs}:${text}`, stale };
  } finally {
    await fh.close();
  }
}

/** The break file of a waiter that died mid-break is removed after this long if it cannot be read. */
const BREAK_STALE_MS = 10_000;

/**
 * Removes the stale lock `judged`, and only it (see the module comment). Returns false when another
 * waiter is breaking it right now.
 */
async function breakStale(lockPath: string, judged: LockFile): Promise<boolean> {
  const guard = `${lockPath}.break`;
  try {
    const fh = await open(guard, 'wx', 0o644);
    try {
      await fh.writeFile(`${JSON.stringify({ pid: process.pid, hostname: hostname(), time: new Date().toISOString() })}\n`);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw e;
    const other = await readLock(guard, BREAK_STALE_MS);
    if (other?.stale) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    const now = await readLock(lockPath);
    if (now && now.identity === judged.identity) await unlink(lockPath);
    return true;
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

export async function acquireLock(lockPath: string, options: LockOptions): Promise<HeldLock> {
  try {
    return await acquire(lockPath, options);
  } catch (e) {
    if (e instanceof LedgerUnavailableError || e instanceof LedgerError) throw e;
    // Reading, creating or breaking the lock failed (a read-only or full file system, permissions).
    const remedy = fsRemedy(e);
    throw new LedgerUnavailableError(
      `cannot append to ${options.ledger}: cannot take its lock ${lockPath}: ${(e as Error).message}.` + ` ${NOTHING_WRITTEN}${remedy ? ` ${remedy}` : ''}`,
      options.ledger,
      { cause: e },
    );
  }
}

async function acquire(lockPath: string, options: LockOptions): Promise<HeldLock> {
  const me: LockHolder & { token: string } = {
    pid: process.pid,
    hostname: hostname(),
    time: new Date().toISOString(),
    token: randomUUID(),
  };
  const content = `${JSON.stringify(me)}\n`;
  const deadline = Date.now() + options.timeoutMs;
  let waited = false;
  let delay = 5;
  for (;;) {
    let fh;
    try {
      fh = await open(lockPath, 'wx', 0o644);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw e;
    }
    if (fh) {
      let ino: number;
      try {
        await fh.writeFile(content);
        ino = (await fh.stat()).ino;
      } catch (e) {
        // E.g. a full disk: the lock file exists but is empty. Remove it rather than leave every
        // other writer waiting for it to go stale.
        await fh.close().catch(() => undefined);
        await unlink(lockPath).catch(() => undefined);
        throw e;
      }
      await fh.close();
      return held(lockPath, ino, content);
    }
    const lock = await readLock(lockPath);
    if (!lock) continue; // released between our open and our read
    if (lock.stale) {
      if (!(await breakStale(lockPath, lock))) await sleep(1 + Math.random() * 5);
      continue;
    }
    if (!waited && lock.holder) {
      waited = true;
      options.onWait?.(lock.holder);
    }
    if (Date.now() >= deadline) {
      const who = lock.holder ? `pid ${lock.holder.pid} on ${lock.holder.hostname} since ${lock.holder.time}` : 'a process that has not written its pid yet';
      throw new LedgerUnavailableError(
        `the ledger ${options.ledger} is locked by ${who}; gave up after ${Math.round(options.timeoutMs / 1000)} s. ` + `If that process is gone, remove ${lockPath}.`,
        options.ledger,
      );
    }
    // Back off with jitter so waiters do not retry in lockstep.
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}

function held(lockPath: string, ino: number, content: string): HeldLock {
  const stillHeld = async (): Promise<boolean> => {
    let fh;
    try {
      fh = await openNoFollow(lockPath, 'r', undefined, "the ledger's lock");
    } catch (e) {
      // Gone, or a link swapped in for our lock file: either way it is not ours.
      if (errCode(e) === 'ENOENT' || e instanceof LedgerError) return false;
      throw e;
    }
    try {
      const [st, text] = await Promise.all([fh.stat(), fh.readFile('utf8')]);
      return st.ino === ino && text === content;
    } finally {
      await fh.close();
    }
  };
  return {
    stillHeld,
    async release() {
      // Never throws: a lock this process cannot check or remove goes stale once it exits.
      if (await stillHeld().catch(() => false)) await unlink(lockPath).catch(() => undefined);
    },
  };
}
