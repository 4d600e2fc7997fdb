/**
 * Reading a file the user gave us: the Kamal config and its destination overlay, secrets files, the
 * policy, key files, a trusted root. Only a regular file is read (a named pipe would block forever,
 * a device like /dev/zero never ends, a socket cannot be opened), and no more than a limit for its
 * kind: a 200 MB deploy.yml is refused with a message, not read until the heap runs out.
 *
 * The check is made on the file descriptor that is read (fstat), so nothing can swap the file
 * between a check and the read. The open itself uses O_NONBLOCK: if a FIFO is put in place after the
 * stat that refuses one up front, opening it still returns at once (and fstat then refuses it);
 * O_NOCTTY keeps a terminal from becoming the controlling one. Symbolic links are followed: a link
 * to a regular file is that file.
 *
 * Errors of the file system (ENOENT, EACCES, ENOTDIR…) are thrown as they come, with a folder as
 * EISDIR, so callers keep their own wording for a missing file. A file that is not regular or is too
 * large is refused through `refuse`, which builds the caller's error class (ConfigError,
 * PolicyError, UsageError) from a message naming the limit.
 */
import { constants, type Stats } from 'node:fs';
import { mkdir, open, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errCode, UsageError } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * How large each kind of file may be. Real ones are far smaller: a deploy.yml or a policy is a few
 * KiB (the configs in fixtures/kamal at most 1.3 KiB, the shipped policies under 4 KiB; even a list
 * of 5,000 hosts is about 100 KiB), a PEM key under 4 KiB, the public-good Sigstore trusted root
 * under 10 KiB. The YAML limit also bounds the parse: the slowest shape for the YAML parser (a flow
 * list of one-character items) takes about 4.5 s and 600 MB at 1 MiB, about a second at 256 KiB.
 */
export const FILE_LIMITS = {
  /** deploy.yml, a destination overlay, a policy. */
  yaml: 256 * KiB,
  /** `.kamal/secrets*`, `.env` files, the SSH config `ssh.config` names. */
  text: 1 * MiB,
  /** A cosign public key or the checkpoint signing key (PEM). */
  key: 64 * KiB,
  /** A Sigstore trusted_root.json. */
  trustedRoot: 4 * MiB,
  /** Docker's config.json (registry credentials). */
  dockerConfig: 4 * MiB,
  /**
   * A whole file ledger read at once (the sides of a merge; FileLedger itself streams it): some
   * two million entries, far past what a deploy history holds.
   */
  ledger: 1024 * MiB,
} as const;

export interface ReadUserFileOptions {
  /** The most bytes the file may hold. */
  limit: number;
  /** What the file is, for messages: "a Kamal config file", "a policy". */
  what: string;
  /** Builds the caller's error from what is wrong with the file (the message does not repeat the path). */
  refuse: (message: string) => Error;
}

const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_NOCTTY = constants.O_NOCTTY ?? 0;

/** The whole file, checked as described above. */
export async function readUserFile(path: string, opts: ReadUserFileOptions): Promise<Buffer> {
  // Refuse what is plainly not a regular file before opening it at all (opening some devices has
  // effects); the fstat below is the check that counts.
  checkKind(await stat(path), opts);
  const fh = await open(path, constants.O_RDONLY | O_NONBLOCK | O_NOCTTY);
  try {
    const st = await fh.stat();
    checkKind(st, opts);
    // Read until the end, one byte past the limit at most: a file that grew since fstat is refused,
    // not cut short. The size is a hint (0 for some files that have content, such as /proc's).
    let buf = Buffer.allocUnsafe(Math.min(opts.limit, Math.max(st.size, 64 * KiB)) + 1);
    let done = 0;
    for (;;) {
      if (done === buf.length) {
        const bigger = Buffer.allocUnsafe(Math.min(opts.limit + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, done);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, done, buf.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
      if (done > opts.limit) throw opts.refuse(tooLarge(undefined, opts));
    }
    return buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}

/** The whole file as UTF-8 text. */
export async function readUserText(path: string, opts: ReadUserFileOptions): Promise<string> {
  return (await readUserFile(path, opts)).toString('utf8');
}

function checkKind(st: Stats, opts: ReadUserFileOptions): void {
  if (st.isDirectory()) {
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read`), { code: 'EISDIR', errno: -21, syscall: 'read' });
  }
  if (!st.isFile()) {
    const kind = kindOf(st);
    throw opts.refuse(`is ${kind}, not a regular file: kamal-gate reads ${opts.what} only from a regular file (reading ${kind} could block or never end); give the path of the file itself`);
  }
  if (st.size > opts.limit) throw opts.refuse(tooLarge(st.size, opts));
}

function kindOf(st: Stats): string {
  return specialFileKind(st) ?? 'a special file';
}

/** What a file that is neither a regular file nor a folder is, for messages ("a named pipe (FIFO)"). */
export function specialFileKind(st: Stats): string | undefined {
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return undefined;
}

function tooLarge(size: number | undefined, opts: ReadUserFileOptions): string {
  const is = size === undefined ? 'is larger than' : `is ${size.toLocaleString('en-US')} bytes, more than`;
  return `${is} the ${formatBytes(opts.limit)} kamal-gate reads from ${opts.what}: check that this is the right file`;
}

/** A limit for messages: `64 KiB`, `1 MiB`. */
function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n.toLocaleString('en-US')} bytes`;
}

/**
 * Writes a file the user named (`ledger export -o`, `policy init --path`), creating its folder when
 * `mkdirs` says so. A path that cannot be written is the user's to fix: a UsageError naming the path,
 * the reason and what to do, never an internal error.
 */
export async function writeUserFile(path: string, text: string, opts: { flag: string; shown?: string; mkdirs?: boolean }): Promise<void> {
  try {
    if (opts.mkdirs) await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  } catch (e) {
    const code = errCode(e) ?? 'an error';
    const why: Record<string, string> = {
      EACCES: 'permission denied',
      EPERM: 'permission denied',
      ENOENT: 'its folder does not exist',
      ENOTDIR: 'a part of the path is not a folder',
      EEXIST: 'a part of the path is not a folder',
      EISDIR: 'it is a folder',
      EROFS: 'the file system is read-only',
      ENOSPC: 'the disk is full',
    };
    throw new UsageError(`${opts.flag} ${opts.shown ?? path}: cannot write it (${why[code] ?? code}); name a file in a folder this user can write`);
  }
}
