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

  /** Keeps verified content under the digest its bytes hash to (the disk cache hashes it again). */
  async put(digest: string, bytes: Buffer): Promise<void> {
    this.bytes.set(digest, bytes);
    await this.cache?.put(digest, bytes);
  }
}
