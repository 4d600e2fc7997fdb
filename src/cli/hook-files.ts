/**
 * The file handling of `kamal-gate hook install|uninstall`, which must never write outside the app
 * unless the user names the place:
 *
 * - The hooks folder (`.kamal/hooks`, or `--dir`) may be, or sit under, a symbolic link: teams link
 *   hooks folders into a shared repository. Without `--dir`, the folder must resolve to a place
 *   inside the app (the current directory); one that resolves outside is refused with exit 2 and
 *   the `--dir` to pass to change it there on purpose (every app sharing it then runs the gate).
 *   A folder named with `--dir` is used wherever it is: the user asked for it.
 * - `pre-deploy` itself (and `pre-deploy.kamal-gate-original`) must be a regular file or absent: a
 *   symbolic link (to a file elsewhere, to a binary, dangling), a directory, a FIFO, a socket or a
 *   device is a usage error (exit 2) naming the path and what to do. Reads open it with O_NOFOLLOW
 *   (and O_NONBLOCK, so a FIFO swapped in cannot hang the open) and check the opened file again.
 * - Every write goes to a new temporary file in the same folder (O_CREAT|O_EXCL|O_NOFOLLOW), made
 *   executable there, then renamed over the hook: a link or hard link at the hook's name is
 *   replaced, never written through, and Kamal never runs a half-written hook.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { errCode, UsageError } from '../errors.js';

/** 0 where the platform lacks them (Windows): there the lstat checks are all there is. */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
export const DEFAULT_HOOKS_DIR = join('.kamal', 'hooks');

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return undefined;
    throw e;
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function symlinkError(path: string, shown: string): UsageError {
  let target = '?';
  try {
    target = readlinkSync(path);
  } catch {
    // raced away: the message still says what to do
  }
  let dangling = false;
  try {
    statSync(path);
  } catch {
    dangling = true;
  }
  const remedy = dangling
    ? `It points nowhere: remove the link (rm ${shown}) and run again.`
    : `Make ${shown} a file of its own (cp --remove-destination "$(readlink -f ${shown})" ${shown}) and run again, or add the gate to the linked file by hand.`;
  return new UsageError(
    `${shown} is a symbolic link (to ${target}${dangling ? ', which does not exist' : ''}): kamal-gate does not edit a hook through a link, ` +
      `which would change the file it points to (outside this app, or shared with other apps) or replace a program there. ${remedy}`,
  );
}

/**
 * The lstat of a hook file, undefined when absent; a symbolic link or anything but a regular file
 * is a UsageError naming `shown` and what to do.
 */
export function checkHookFile(path: string, shown: string): Stats | undefined {
  const st = lstatOrUndefined(path);
  if (!st) return undefined;
  if (st.isSymbolicLink()) throw symlinkError(path, shown);
  if (!st.isFile()) {
    throw new UsageError(
      `${shown} is ${kindOf(st)}, not a file: Kamal runs ${shown} as a program, and kamal-gate only edits a regular file there. ` + `Move it away (mv ${shown} ${shown}.old) and run again.`,
    );
  }
  return st;
}

/** The hook's bytes and permission bits, or undefined when there is none; never through a link. */
export function readHookFile(path: string, shown: string): { content: Buffer; mode: number } | undefined {
  if (!checkHookFile(path, shown)) return undefined;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP' || code === 'EMLINK') throw symlinkError(path, shown);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${shown} is ${kindOf(st)}, not a file: move it away (mv ${shown} ${shown}.old) and run again.`);
    return { content: readFileSync(fd), mode: st.mode & 0o7777 };
  } finally {
    closeSync(fd);
  }
}

/** Writes `content` to a new temporary file beside `file`, with `mode`; returns its path. */
export function writeTemp(file: string, content: string, mode: number): string {
  const tmp = join(dirname(file), `.${basename(file)}.kamal-gate-${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
  try {
    writeFileSync(fd, content);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  return tmp;
}

/** Renames a file writeTemp made over `file` (a link or file there is replaced, not followed). */
export function commitTemp(tmp: string, file: string): void {
  try {
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}

export function writeHookFile(file: string, content: string, mode: number): void {
  commitTemp(writeTemp(file, content, mode), file);
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The absolute hooks folder for `--dir` (undefined: `.kamal/hooks`), checked: without `--dir` it
 * must resolve inside the app (`cwd`), through whatever links lead there; anything on the way must
 * be a folder. It may not exist yet.
 */
export function hooksFolder(cwd: string, dirOption: string | undefined): string {
  const shown = dirOption ?? DEFAULT_HOOKS_DIR;
  const dir = resolve(cwd, shown);
  // The deepest part of the path that exists decides where the rest will be created.
  let existing = dir;
  let st = lstatOrUndefined(existing);
  while (!st && dirname(existing) !== existing) {
    existing = dirname(existing);
    st = lstatOrUndefined(existing);
  }
  let real: string;
  try {
    real = join(realpathSync(existing), relative(existing, dir));
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT' || code === 'ELOOP') {
      throw new UsageError(`${shown}: ${relative(cwd, existing) || existing} is a symbolic link that leads nowhere; fix or remove it and run again`);
    }
    throw e;
  }
  const target = statSync(realpathSync(existing));
  if (!target.isDirectory()) {
    throw new UsageError(`${shown} is not a folder (${relative(cwd, existing) || existing} is ${kindOf(target)}); give the hooks folder with --dir PATH`);
  }
  if (dirOption === undefined && !isInside(real, realpathSync(cwd))) {
    throw new UsageError(
      `${shown} leads to ${real}, outside this app (a symbolic link on the way, to a shared hooks folder?). ` +
        `kamal-gate writes there only when you name the folder: run it again with --dir ${real} to change the pre-deploy hook of every app sharing it, ` +
        `or make ${shown} a folder of this app.`,
    );
  }
  return dir;
}
