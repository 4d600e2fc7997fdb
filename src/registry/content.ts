/**
 * Content fetched by digest during a run: immutable, so shared by every lookup, kept in memory for
 * the run and, when an on-disk cache is given, read from and written to it. Only content is kept,
 * never what a tag points to.
 */
import type { ContentCache } from './cache.js';
import type { Stats } from './stats.js';
import type { Repo } from './types.js';

export class RunContent {
  private readonly bytes = new Map<string, Buffer>();
  /** Writes to the on-disk cache still under way: they never hold up the run, and close() waits for them. */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly stats: Stats,
    private readonly cache?: ContentCache,
  ) {}

  /** Content by digest already fetched in this run. */
  inMemory(digest: string): Buffer | undefined {
    return this.bytes.get(digest);
  }

  /** Content by digest from the on-disk cache (re-hashed by the cache; a bad file is a miss). */
  async fromDisk(repo: Repo, digest: string): Promise<Buffer | undefined> {
    if (!this.cache) return undefined;
    const bytes = await this.cache.get(digest);
    if (!bytes) return undefined;
    this.stats.cacheHit(repo.registry);
    this.bytes.set(digest, bytes);
    return bytes;
  }

  /**
   * Keeps verified content under the digest its bytes hash to, in memory at once; the write to the
   * disk cache (which hashes it again) goes on behind the run. A failed write only disables the cache.
   */
  put(digest: string, bytes: Buffer): void {
    this.bytes.set(digest, bytes);
    if (!this.cache) return;
    const write = this.cache.put(digest, bytes).catch(() => undefined);
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write));
  }

  /** Waits for every write to the disk cache begun so far. */
  async flush(): Promise<void> {
    while (this.writing.size) await Promise.all([...this.writing]);
  }
}
