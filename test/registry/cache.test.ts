import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentCache, defaultContentCacheDir } from '../../src/registry/cache.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sha512 = (b: Buffer) => `sha512:${createHash('sha512').update(b).digest('hex')}`;
const blob = (i: number, size = 1024) => Buffer.alloc(size, `entry-${i}-`);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-cache-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function cachedFiles(): string[] {
  const out: string[] = [];
  for (const algo of existsSync(join(dir, 'blobs')) ? readdirSync(join(dir, 'blobs')) : []) {
    for (const f of readdirSync(join(dir, 'blobs', algo))) out.push(`${algo}:${f}`);
  }
  return out.sort();
}

describe('ContentCache', () => {
  it('misses, then hits with the same bytes, under <dir>/blobs/<algorithm>/<hex>', async () => {
    const cache = new ContentCache(dir);
    const b = Buffer.from('{"schemaVersion":2}');
    const d = sha256(b);
    expect(await cache.get(d)).toBeUndefined();
    await cache.put(d, b);
    expect(readFileSync(join(dir, 'blobs', 'sha256', d.slice(7)))).toEqual(b);
    expect(await new ContentCache(dir).get(d)).toEqual(b);
    expect(await cache.get(d)).toEqual(b);
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1, writes: 1, corrupt: 0 });
    // no temp files left behind
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('takes sha512 digests too, and refuses names that are not digests', async () => {
    const cache = new ContentCache(dir);
    const b = Buffer.from('sha512 content');
    await cache.put(sha512(b), b);
    expect(await cache.get(sha512(b))).toEqual(b);
    expect(cache.pathOf('sha256:../../etc/passwd')).toBeUndefined();
    expect(cache.pathOf('md5:d41d8cd98f00b204e9800998ecf8427e')).toBeUndefined();
    expect(cache.pathOf('constructor:abc')).toBeUndefined();
    expect(cache.pathOf(`sha256:${'a'.repeat(63)}`)).toBeUndefined();
  });

  it('never stores content under a digest it does not have', async () => {
    const cache = new ContentCache(dir);
    await cache.put(sha256(Buffer.from('honest')), Buffer.from('evil'));
    expect(cachedFiles()).toEqual([]);
    expect(cache.stats.writes).toBe(0);
  });

  it('re-hashes every read: a corrupt file is a miss and is removed', async () => {
    const cache = new ContentCache(dir);
    const b = Buffer.from('{"architecture":"amd64"}');
    const d = sha256(b);
    await cache.put(d, b);
    const path = cache.pathOf(d)!;
    writeFileSync(path, Buffer.from('{"architecture":"amd65"}'));
    expect(await cache.get(d)).toBeUndefined();
    expect(existsSync(path)).toBe(false);
    expect(cache.stats).toMatchObject({ corrupt: 1, hits: 0 });
    // another valid blob's bytes under this name: still not this digest
    await cache.put(d, b);
    writeFileSync(path, Buffer.from('{"other":"valid json"}'));
    expect(await cache.get(d)).toBeUndefined();
    expect(cache.stats.corrupt).toBe(2);
  });

  it('stays within its bound, evicting the least recently used first', async () => {
    const cache = new ContentCache(dir, { maxBytes: 10 * 1024 });
    const digests: string[] = [];
    for (let i = 0; i < 8; i++) {
      const b = blob(i);
      digests.push(sha256(b));
      await cache.put(sha256(b), b);
      // distinct ages, oldest first
      const t = new Date(Date.now() - (100 - i) * 1000);
      utimesSync(cache.pathOf(sha256(b))!, t, t);
    }
    // entry 0 is read, so it becomes the most recently used
    expect(await cache.get(digests[0]!)).toEqual(blob(0));
    for (let i = 8; i < 14; i++) await cache.put(sha256(blob(i)), blob(i));
    const total = cachedFiles().reduce((n, f) => n + statSync(cache.pathOf(f)!).size, 0);
    expect(total).toBeLessThanOrEqual(10 * 1024);
    expect(cache.stats.evicted).toBeGreaterThan(0);
    expect(existsSync(cache.pathOf(digests[0]!)!)).toBe(true); // recently read: kept
    expect(existsSync(cache.pathOf(digests[1]!)!)).toBe(false); // oldest untouched: gone
    expect(existsSync(cache.pathOf(sha256(blob(13)))!)).toBe(true); // just written: kept
  });

  it('several writers on one directory: every read is whole and right', async () => {
    const writers = Array.from({ length: 3 }, () => new ContentCache(dir));
    const items = Array.from({ length: 12 }, (_, i) => blob(i % 6, 16 * 1024 + i));
    await Promise.all(writers.flatMap((w) => items.map((b) => w.put(sha256(b), b))));
    const reader = new ContentCache(dir);
    for (const b of items) expect(await reader.get(sha256(b))).toEqual(b);
    expect(reader.stats.corrupt).toBe(0);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('a directory that cannot be written turns the cache off with one warning', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const warnings: string[] = [];
    const cache = new ContentCache(join(file, 'cache'), { onWarning: (m) => warnings.push(m) });
    const b = Buffer.from('content');
    await cache.put(sha256(b), b);
    await cache.put(sha256(blob(1)), blob(1));
    expect(await cache.get(sha256(b))).toBeUndefined();
    expect(cache.enabled).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot be written .*continuing without a cache/);
  });

  it('default directory: $KAMAL_GATE_CACHE_DIR, else $XDG_CACHE_HOME/kamal-gate, else ~/.cache/kamal-gate', () => {
    expect(defaultContentCacheDir({ KAMAL_GATE_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(defaultContentCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'kamal-gate'));
    expect(defaultContentCacheDir({ HOME: '/h' })).toMatch(/\.cache[/\\]kamal-gate$/);
  });
});
