/**
 * A content-addressed on-disk cache for what the registry client fetches by digest: manifests,
 * image configs, signature and attestation manifests and their blobs. Content named by its digest
 * never changes, so an entry never goes stale; what a tag points to is never stored here.
 *
 * Layout: `<dir>/blobs/<algorithm>/<hex>`, one file per digest, written to `<dir>/tmp/` and renamed
 * into place, so a reader (in this or another process) sees a whole file or none. Every read is
 * hashed again: a file whose bytes do not match its name (disk corruption, a hand edit, a tampered
 * cache) is removed and treated as a miss, so the cache can never make a digest check weaker than
 * fetching from the registry. `put` hashes too, so only content that matches its digest is stored.
 *
 * The size is bounded: hits refresh a file's mtime, and when a process has written past the bound
 * the least recently used files (oldest mtime) are removed down to 90% of it. Several processes may
 * share the directory: writes are atomic renames of identical content, and a file another process
 * evicts is just a miss. A directory that cannot be used degrades to no cache, with one warning.
 *
 * The directory is checked before first use (cache-dir.ts): created 0700 when missing, refused when
 * another user owns it or group/others can write it, or when one of its folders is a symbolic link.
 * Inside it nothing is followed or removed that the cache did not make: files are opened with
 * O_NOFOLLOW, directories are listed without following links, and only regular files whose names
 * are the cache's own (`blobs/<algorithm>/<hex of the right length>`, `memo/<64 hex>`, `tmp/<16 hex>.<pid>`) are
 * ever unlinked, so a link or a foreign file placed there can cost nothing outside the cache.
 *
 * What is deliberately not cached, though a warm run would be cheaper with it: anything looked up
 * by a name that can be re-pointed. An image tag (an attacker with push access re-points it; the
 * ledger must see that). A `sha256-<hex>.sig`/`.att` tag, the referrers list or its fallback tag:
 * signatures are added (a newly signed image must pass) and removed (deleting a signature is how a
 * team withdraws its approval of a digest, so a remembered "signed" verdict could pass an image its
 * signers no longer stand behind). A base image's tag and tag list: staleness and newer releases
 * are about what the tag points to now. So a warm run still asks the registry each of those it
 * relies on (for signatures: the one place that satisfied the policy last time, see the notes
 * below); only the content their answers name (the signature manifest and its layers, the base's
 * manifests and config) comes from here, verified exactly as if it had just been downloaded.
 *
 * Beside the content, small notes under `memo/<64 hex>` (getNote/putNote): hints a check keeps for
 * its next run, such as where an image's signature was found (signatures/memo.ts). A note is not
 * content-addressed, so whoever reads one must treat it as a hint that can only narrow where to
 * look first, never as an answer: a missing, corrupt or hostile note must cost a full check, never
 * pass one.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkCacheDir, currentUid, unsafeFolder } from './cache-dir.js';
import { digestAlgorithm, verifyDigest } from './digest.js';
import { DIGEST_ALGORITHMS, validateDigest } from './reference.js';

export const DEFAULT_CACHE_MAX_BYTES = 512 * 1024 * 1024;
/** Entries larger than this are not stored (manifests and configs are capped at 4 MiB anyway). */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
/** Temp files older than this were left by a process that died mid-write. */
const STALE_TMP_MS = 60 * 60 * 1000;
/** The names of the cache's notes: `memo/<64 hex>`. */
const NOTE_NAME = /^[0-9a-f]{64}$/;
/** A note larger than this is not written, and not read. */
const MAX_NOTE_BYTES = 64 * 1024;
/** The names of the cache's own temp files: `<16 hex>.<pid>`. */
const TMP_NAME = /^[0-9a-f]{16}\.\d+$/;
/** 0 where the platform lacks them (Windows). */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;

/** `$KAMAL_GATE_CACHE_DIR`, else `$XDG_CACHE_HOME/kamal-gate`, else `~/.cache/kamal-gate`. */
export function defaultContentCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['KAMAL_GATE_CACHE_DIR']) return env['KAMAL_GATE_CACHE_DIR'];
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'kamal-gate');
}

export interface ContentCacheOptions {
  /** Bytes kept at most (default 512 MiB). */
  maxBytes?: number;
  /** Called once when the directory cannot be used and the cache turns itself off. */
  onWarning?: (message: string) => void;
}

export interface ContentCacheStats {
  hits: number;
  misses: number;
  writes: number;
  /** Files whose bytes no longer matched their digest: removed and counted as misses. */
  corrupt: number;
  evicted: number;
}

export class ContentCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly stats: ContentCacheStats = { hits: 0, misses: 0, writes: 0, corrupt: 0, evicted: 0 };
  private disabled = false;
  private readonly onWarning: (message: string) => void;
  /** Bytes in the directory as of the first write's scan, plus what this process wrote since. */
  private size?: Promise<number>;
  private added = 0;
  private evicting?: Promise<void>;
  /** The checked directory (its real path), or undefined when it must not be used. */
  private ready?: Promise<string | undefined>;

  constructor(dir: string, opts: ContentCacheOptions = {}) {
    this.dir = dir;
    this.maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.onWarning = opts.onWarning ?? (() => {});
  }

  /** False once the directory proved unusable. */
  get enabled(): boolean {
    return !this.disabled;
  }

  /** Where the content of `digest` lives, or undefined for a digest this cache does not take. */
  pathOf(digest: string): string | undefined {
    const rel = this.relativePath(digest);
    return rel === undefined ? undefined : join(this.dir, rel);
  }

  /** The content of `digest`, re-hashed; undefined on a miss (and for a corrupt file, which is removed). */
  async get(digest: string): Promise<Buffer | undefined> {
    const rel = this.disabled ? undefined : this.relativePath(digest);
    const root = rel ? await this.root() : undefined;
    if (!rel || !root) return undefined;
    const path = join(root, rel);
    let bytes: Buffer | undefined;
    try {
      const fh = await open(path, constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        const st = await fh.stat();
        if (st.isFile() && st.size <= MAX_ENTRY_BYTES) {
          bytes = await fh.readFile();
          if (hashesTo(bytes, digest)) {
            // Least recently used goes first on eviction: a hit makes the file young again.
            const now = new Date();
            await fh.utimes(now, now).catch(() => {});
            this.stats.hits++;
            return bytes;
          }
        }
      } finally {
        await fh.close();
      }
    } catch {
      // missing, or a link (O_NOFOLLOW): a miss
    }
    this.stats.misses++;
    if (bytes !== undefined) {
      this.stats.corrupt++;
      await this.removeOwn(path);
    }
    return undefined;
  }

  /** Stores `bytes` under `digest` when they match it; a failure to write turns the cache off. */
  async put(digest: string, bytes: Uint8Array): Promise<void> {
    const rel = this.disabled ? undefined : this.relativePath(digest);
    if (!rel || bytes.length > MAX_ENTRY_BYTES) return;
    if (!hashesTo(bytes, digest)) return; // never store content under a name it does not have
    const root = await this.root();
    if (!root) return;
    try {
      this.size ??= this.scan(root);
      await writeReplacing(root, rel, bytes, 0o644);
    } catch (e) {
      this.disable(e);
      return;
    }
    this.stats.writes++;
    this.added += bytes.length;
    if ((await this.size) + this.added > this.maxBytes) {
      this.evicting ??= this.evict(root).finally(() => (this.evicting = undefined));
      await this.evicting;
    }
  }

  /** The note named `name` (64 hex), or undefined (missing, too large, a link, not a regular file). */
  async getNote(name: string): Promise<Buffer | undefined> {
    const root = !this.disabled && NOTE_NAME.test(name) ? await this.root() : undefined;
    if (!root) return undefined;
    try {
      const fh = await open(join(root, 'memo', name), constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        const st = await fh.stat();
        return st.isFile() && st.size <= MAX_NOTE_BYTES ? await fh.readFile() : undefined;
      } finally {
        await fh.close();
      }
    } catch {
      return undefined;
    }
  }

  /** Writes the note `name` (64 hex), replacing it atomically; a failure to write turns the cache off. */
  async putNote(name: string, bytes: Uint8Array): Promise<void> {
    if (this.disabled || !NOTE_NAME.test(name) || bytes.length > MAX_NOTE_BYTES) return;
    const root = await this.root();
    if (!root) return;
    try {
      await writeReplacing(root, join('memo', name), bytes, 0o600);
    } catch (e) {
      this.disable(e);
    }
  }

  /** `blobs/<algorithm>/<hex>` for a digest this cache takes. */
  private relativePath(digest: string): string | undefined {
    try {
      validateDigest(digest);
    } catch {
      return undefined;
    }
    return join('blobs', digestAlgorithm(digest), digest.slice(digest.indexOf(':') + 1));
  }

  /** The directory's real path once checked; undefined (after one warning) when it must not be used. */
  private root(): Promise<string | undefined> {
    this.ready ??= checkCacheDir(this.dir).then((r) => {
      if (r.ok) return r.root;
      this.refuse(r.warning);
      return undefined;
    });
    return this.ready;
  }

  private refuse(warning: string): void {
    if (this.disabled) return;
    this.disabled = true;
    this.onWarning(warning);
  }

  private disable(e: unknown): void {
    const code = (e as { code?: string }).code;
    this.refuse(
      `the cache directory ${this.dir} cannot be written (${code ?? (e instanceof Error ? e.message : String(e))}); continuing without a cache. Fix its permissions, pass --cache-dir DIR, or --no-cache`,
    );
  }

  /** Unlinks `path` only when it is a regular file (never a link's target, never a folder). */
  private async removeOwn(path: string): Promise<boolean> {
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isFile()) return false;
    return unlink(path).then(
      () => true,
      () => false, // another process got there first
    );
  }

  /** The regular files directly in `folder` whose names `name` accepts; none when the folder is not the cache's own. */
  private async ownFiles(folder: string, name: RegExp): Promise<Array<{ path: string; size: number; mtimeMs: number }>> {
    const st = await lstat(folder).catch(() => undefined);
    if (!st || unsafeFolder(st, currentUid())) return [];
    const out: Array<{ path: string; size: number; mtimeMs: number }> = [];
    for (const ent of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      if (!ent.isFile() || !name.test(ent.name)) continue; // a link, a folder, a name that is not ours
      const path = join(folder, ent.name);
      const fst = await lstat(path).catch(() => undefined);
      if (fst?.isFile()) out.push({ path, size: fst.size, mtimeMs: fst.mtimeMs });
    }
    return out;
  }

  /** Every cached file with its size and mtime; stale temp files are removed on the way. */
  private async entries(root: string): Promise<Array<{ path: string; size: number; mtimeMs: number }>> {
    const out: Array<{ path: string; size: number; mtimeMs: number }> = [];
    for (const [algo, hexLength] of Object.entries(DIGEST_ALGORITHMS)) {
      out.push(...(await this.ownFiles(join(root, 'blobs', algo), new RegExp(`^[0-9a-f]{${hexLength}}$`))));
    }
    out.push(...(await this.ownFiles(join(root, 'memo'), NOTE_NAME)));
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const t of await this.ownFiles(join(root, 'tmp'), TMP_NAME)) {
      if (t.mtimeMs < cutoff) await this.removeOwn(t.path);
    }
    return out;
  }

  private async scan(root: string): Promise<number> {
    return (await this.entries(root)).reduce((n, e) => n + e.size, 0);
  }

  /** Removes the least recently used files until the directory holds at most 90% of the bound. */
  private async evict(root: string): Promise<void> {
    const all = (await this.entries(root)).sort((a, b) => a.mtimeMs - b.mtimeMs);
    let total = all.reduce((n, e) => n + e.size, 0);
    const target = Math.floor(this.maxBytes * 0.9);
    for (const e of all) {
      if (total <= target) break;
      if (await this.removeOwn(e.path)) this.stats.evicted++;
      total -= e.size;
    }
    this.size = Promise.resolve(total);
    this.added = 0;
  }
}

/** Whether `bytes` hash to `digest` (a digest pathOf took, so its algorithm is known). */
function hashesTo(bytes: Uint8Array, digest: string): boolean {
  try {
    verifyDigest(bytes, digest, 'cache');
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `bytes` to `rel` under the cache root, replacing what is there at once: a new file of its
 * own in tmp/ (never one that exists, never through a link), then renamed over the name.
 */
async function writeReplacing(root: string, rel: string, bytes: Uint8Array, mode: number): Promise<void> {
  const tmp = join(root, 'tmp', `${randomBytes(8).toString('hex')}.${process.pid}`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, mode);
  try {
    await fh.writeFile(bytes);
  } finally {
    await fh.close();
  }
  await rename(tmp, join(root, rel));
}
