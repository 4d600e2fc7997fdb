/**
 * The file ledger's own files (the ledger, `<ledger>.lock`, `<ledger>.lock.break`) are opened
 * without following a symbolic link in their last component: a link there, dangling or not, could
 * send a read or a write anywhere (outside the app, onto another team's file), so it is refused with
 * LedgerError (exit 2) naming the path. O_NOFOLLOW makes the open itself refuse, so nothing can
 * swap a link in between a check and the use. The folders above may be links (teams keep
 * `.kamal/` elsewhere that way); only the final component is checked.
 *
 * A named pipe, a device or a socket is refused the same way (reading a FIFO blocks forever,
 * /dev/zero never ends): by lstat before, and by fstat on what was opened, with O_NONBLOCK so that
 * opening a FIFO put in place meanwhile returns at once.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { errCode, LedgerError, UsageError } from '../errors.js';
import { specialFileKind } from '../user-file.js';

/** 0 where the platform has no O_NOFOLLOW (Windows): there the lstat check before opening is all there is. */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

const O_NONBLOCK = constants.O_NONBLOCK ?? 0;

const FLAGS = {
  r: constants.O_RDONLY | O_NONBLOCK,
  'a+': constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | O_NONBLOCK,
} as const;

function symlinkError(path: string, what = 'the ledger'): LedgerError {
  return new LedgerError(
    `${path} is a symbolic link: kamal-gate does not read or write ${what} through a link, which could point anywhere. ` + `Replace the link with the file itself, or point --ledger at the real file.`,
    path,
  );
}

function specialFileError(path: string, kind: string, what = 'the ledger'): LedgerError {
  return new LedgerError(`${path} is ${kind}, not a regular file: kamal-gate reads and writes ${what} only as a regular file: point --ledger at a regular file.`, path);
}

function refuseSpecial(path: string, st: Stats, what?: string): void {
  const kind = specialFileKind(st);
  if (kind) throw specialFileError(path, kind, what);
}

export function missingLedgerError(path: string): UsageError {
  return new UsageError(`no ledger at ${path}; \`kamal-gate record\` creates it`);
}

/** The file's own lstat, or undefined when it does not exist; a symbolic link throws symlinkError. */
export async function lstatNoLink(path: string, what?: string): Promise<Stats | undefined> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  if (st.isSymbolicLink()) throw symlinkError(path, what);
  refuseSpecial(path, st, what);
  return st;
}

/**
 * Opens `path` for reading (`r`) or appending, created when missing (`a+`), refusing a symbolic
 * link as its last component. Other errors (ENOENT, EACCES…) are thrown as they come.
 */
export async function openNoFollow(path: string, flags: keyof typeof FLAGS, mode = 0o644, what?: string): Promise<FileHandle> {
  if (!O_NOFOLLOW) await lstatNoLink(path, what);
  let fh: FileHandle;
  try {
    fh = await open(path, FLAGS[flags] | O_NOFOLLOW, mode);
  } catch (e) {
    // Linux and macOS say ELOOP for a link under O_NOFOLLOW, FreeBSD EMLINK; a loop in the folders
    // above says ELOOP too, so only a link in the last component becomes symlinkError.
    const code = errCode(e);
    if (code === 'ELOOP' || code === 'EMLINK') {
      const st = await lstat(path).catch(() => undefined);
      if (st?.isSymbolicLink()) throw symlinkError(path, what);
    }
    throw e;
  }
  try {
    refuseSpecial(path, await fh.stat(), what);
  } catch (e) {
    await fh.close();
    throw e;
  }
  return fh;
}
