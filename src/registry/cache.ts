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
 * What is deliberately not cached, though a warm run would be cheaper with it: anything looked up
 * by a name that can be re-pointed. An image tag (an attacker with push access re-points it; the
 * ledger must see that). A `sha256-<hex>.sig`/`.att` tag, the referrers list or its fallback tag:
 * signatures are added (a newly signed image must pass) and removed (deleting a signature is how a
 * team withdraws its approval of a digest, so a remembered "signed" verdict could pass an image its
 * signers no longer stand behind). A base image's tag and tag list: staleness and newer releases
 * are about what the tag points to now. So a warm run still asks each of those once; only the
 * content their answers name (the signature manifest and its layers, the base's manifests and
 * config) comes from here, and it is verified exactly as if it had just been downloaded.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { digestAlgorithm, verifyDigest } from './digest.js';
import { DIGEST_ALGORITHMS, validateDigest } from './reference.js';

export const DEFAULT_CACHE_MAX_BYTES = 512 * 1024 * 1024;
/** Entries larger than this are not stored (manifests and configs are capped at 4 MiB anyway). */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
/** Temp files older than this were left by a process that died mid-write. */
const STALE_TMP_MS = 60 * 60 * 1000;

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
    try {
      validateDigest(digest);
    } catch {
      return undefined;
    }
    return join(this.dir, 'blobs', digestAlgorithm(digest), digest.slice(digest.indexOf(':') + 1));
  }

  /** The content of `digest`, re-hashed; undefined on a miss (and for a corrupt file, which is removed). */
  async get(digest: string): Promise<Buffer | undefined> {
    const path = this.disabled ? undefined : this.pathOf(digest);
    if (!path) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      this.stats.misses++;
      return undefined;
    }
    if (!hashesTo(bytes, digest)) {
      this.stats.corrupt++;
      this.stats.misses++;
      await unlink(path).catch(() => {});
      return undefined;
    }
    this.stats.hits++;
    // Least recently used goes first on eviction: a hit makes the file young again.
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
    return bytes;
  }

  /** Stores `bytes` under `digest` when they match it; a failure to write turns the cache off. */
  async put(digest: string, bytes: Uint8Array): Promise<void> {
    const path = this.disabled ? undefined : this.pathOf(digest);
    if (!path || bytes.length > MAX_ENTRY_BYTES) return;
    if (!hashesTo(bytes, digest)) return; // never store content under a name it does not have
    try {
      const tmpDir = join(this.dir, 'tmp');
      await mkdir(tmpDir, { recursive: true });
      await mkdir(join(path, '..'), { recursive: true });
      this.size ??= this.scan();
      const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.${process.pid}`);
      await writeFile(tmp, bytes, { mode: 0o644 });
      await rename(tmp, path);
    } catch (e) {
      this.disable(e);
      return;
    }
    this.stats.writes++;
    this.added += bytes.length;
    if ((await this.size) + this.added > this.maxBytes) {
      this.evicting ??= this.evict().finally(() => (this.evicting = undefined));
      await this.evicting;
    }
  }

  private disable(e: unknown): void {
    if (this.disabled) return;
    this.disabled = true;
    const code = (e as { code?: string }).code;
    this.onWarning(
      `the cache directory ${this.dir} cannot be written (${code ?? (e instanceof Error ? e.message : String(e))}); continuing without a cache. Fix its permissions, pass --cache-dir DIR, or --no-cache`,
    );
  }

  /** Every cached file with its size and mtime; stale temp files are removed on the way. */
  private async entries(): Promise<Array<{ path: string; size: number; mtimeMs: number }>> {
    const out: Array<{ path: string; size: number; mtimeMs: number }> = [];
    const blobs = join(this.dir, 'blobs');
    for (const algo of await readdir(blobs).catch(() => [] as string[])) {
      if (!Object.hasOwn(DIGEST_ALGORITHMS, algo)) continue;
      for (const name of await readdir(join(blobs, algo)).catch(() => [] as string[])) {
        const path = join(blobs, algo, name);
        const st = await stat(path).catch(() => undefined);
        if (st?.isFile()) out.push({ path, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    const tmp = join(this.dir, 'tmp');
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const name of await readdir(tmp).catch(() => [] as string[])) {
      const st = await stat(join(tmp, name)).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) await unlink(join(tmp, name)).catch(() => {});
    }
    return out;
  }

  private async scan(): Promise<number> {
    return (await this.entries()).reduce((n, e) => n + e.size, 0);
  }

  /** Removes the least recently used files until the directory holds at most 90% of the bound. */
  private async evict(): Promise<void> {
    const all = (await this.entries()).sort((a, b) => a.mtimeMs - b.mtimeMs);
    let total = all.reduce((n, e) => n + e.size, 0);
    const target = Math.floor(this.maxBytes * 0.9);
    for (const e of all) {
      if (total <= target) break;
      await unlink(e.path).then(
        () => this.stats.evicted++,
        () => {}, // another process got there first
      );
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
