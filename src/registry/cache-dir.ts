/**
 * Whether the content cache's directory may be used, checked once before the first read or write
 * (the way ssh refuses a key file others can write):
 *
 * - The directory is created when missing, with mode 0700 (and so are the parents it needs, like
 *   `$XDG_CACHE_HOME`).
 * - It may be a symbolic link (a cache kept on another disk), but only one owned by this user: a
 *   link someone else planted in a shared folder (`/tmp/cache` pointing into an app) is refused.
 * - The directory it leads to, and its `tmp/`, `blobs/`, `blobs/<algorithm>/` and `memo/` folders, must be
 *   real folders (not symbolic links: the cache never follows a link it did not create, and it
 *   creates none), owned by this user (root may use root's), and not writable by group or others.
 *
 * Anything else makes the cache unusable: one warning and the run goes on without it. The checks
 * cost a few lstat calls per process.
 */
import { lstat, mkdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { errCode } from '../errors.js';
import { DIGEST_ALGORITHMS } from './reference.js';

export type CacheDirCheck = { ok: true; root: string } | { ok: false; warning: string };

const REMEDY = 'Continuing without a cache. Pass --cache-dir DIR (a folder of your own, mode 700), or --no-cache';

function mode(st: Stats): string {
  return `0${(st.mode & 0o777).toString(8)}`;
}

/** Why a folder of the cache must not be used, or undefined when it may. */
export function unsafeFolder(st: Stats, uid: number | undefined): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link: the cache never follows a link inside its directory';
  if (!st.isDirectory()) return 'is not a directory';
  if (uid === undefined) return undefined; // Windows: no POSIX owners or modes
  if (st.uid !== uid) return `is owned by another user (uid ${st.uid}, this process runs as uid ${uid}), who could plant or delete files in it`;
  if (st.mode & 0o022) return `is writable by group or others (mode ${mode(st)}), who could plant or delete files in it`;
  return undefined;
}

export function currentUid(): number | undefined {
  return typeof process.geteuid === 'function' ? process.geteuid() : undefined;
}

/** Checks (and creates, when missing) the cache directory `dir` and its folders. */
export async function checkCacheDir(dir: string): Promise<CacheDirCheck> {
  const uid = currentUid();
  const refuse = (what: string, why: string): CacheDirCheck => ({
    ok: false,
    warning: `the cache directory ${what} ${why}. ${REMEDY}${why.includes('group or others') ? ` (or restrict it: chmod -R go-w ${dir})` : ''}`,
  });
  let st: Stats;
  try {
    st = await lstat(dir).catch(async (e: unknown) => {
      if (errCode(e) !== 'ENOENT') throw e;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return lstat(dir);
    });
  } catch (e) {
    return { ok: false, warning: `the cache directory ${dir} cannot be written (${errCode(e) ?? String(e)}); continuing without a cache. Fix its permissions, pass --cache-dir DIR, or --no-cache` };
  }
  let root = dir;
  if (st.isSymbolicLink()) {
    if (uid !== undefined && st.uid !== uid) return refuse(dir, `is a symbolic link owned by another user (uid ${st.uid}), which could point anywhere`);
    try {
      root = await realpath(dir);
      st = await stat(root);
    } catch (e) {
      return refuse(dir, `is a symbolic link that leads nowhere (${errCode(e) ?? String(e)})`);
    }
  }
  const whyRoot = unsafeFolder(st, uid);
  if (whyRoot)
    return whyRoot === 'is not a directory'
      ? { ok: false, warning: `the cache directory ${dir} cannot be written (not a directory); continuing without a cache. Fix its permissions, pass --cache-dir DIR, or --no-cache` }
      : refuse(dir, whyRoot);

  for (const rel of ['tmp', 'blobs', ...Object.keys(DIGEST_ALGORITHMS).map((a) => join('blobs', a)), 'memo']) {
    const path = join(root, rel);
    let sub: Stats;
    try {
      sub = await lstat(path).catch(async (e: unknown) => {
        if (errCode(e) !== 'ENOENT') throw e;
        await mkdir(path, { mode: 0o700 }).catch((m: unknown) => {
          if (errCode(m) !== 'EEXIST') throw m; // another process made it meanwhile
        });
        return lstat(path);
      });
    } catch (e) {
      return {
        ok: false,
        warning: `the cache directory ${dir} cannot be written (${errCode(e) ?? String(e)} on ${rel}); continuing without a cache. Fix its permissions, pass --cache-dir DIR, or --no-cache`,
      };
    }
    const why = unsafeFolder(sub, uid);
    if (why) return refuse(`${dir} has a folder ${rel} that`, `${why}; remove it (the cache makes it again)`);
  }
  return { ok: true, root };
}
