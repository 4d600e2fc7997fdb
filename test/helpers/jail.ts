/**
 * Runs a process in a jail where only chosen folders can be written, and snapshots folders to find
 * what changed outside them. Used by test/hostile/jail.test.ts.
 *
 * Two ways to build the jail, the first the machine allows:
 * - 'mount' (root with CAP_SYS_ADMIN): each process starts in its own mount namespace
 *   (`unshare --mount --propagation private`), where every writable mount of the machine except
 *   /proc and /sys is remounted read-only (`mount -o remount,bind,ro`) after each allowed folder has
 *   been bind-mounted onto itself (so it stays writable). A write anywhere else fails with EROFS, even
 *   for root. Nothing changes outside the namespace.
 * - 'user' (root without mount, or KAMAL_GATE_TEST_NO_MOUNT=1): the allowed folders are chowned to a
 *   uid/gid no account has (JAIL_UID) and the process runs as that uid (`setpriv`), so it can write
 *   only them and the world-writable folders (/tmp, /var/tmp, /dev/shm, /run/lock), which the caller
 *   checks for anything owned by JAIL_UID.
 * A machine that allows neither (not root) makes setUpJail throw, saying why.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { join, sep } from 'node:path';

/** A uid and gid that no account on the machine has: anything it owns, the jailed process made. */
export const JAIL_UID = 64123;

export type JailMode = 'mount' | 'user';

export interface JailResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface JailRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  input?: string;
}

/** Decodes the octal escapes of /proc/self/mountinfo (\040 for a space, …). */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points that are writable now and are not /proc or /sys (or under them). */
function writableMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 6) continue;
    const point = unescapeMountinfo(f[4]!);
    const perMount = f[5]!.split(',');
    if (!perMount.includes('rw')) continue;
    if (/^\/(proc|sys)(\/|$)/.test(point)) continue;
    out.push(point);
  }
  return [...new Set(out)];
}

/**
 * The shell run in the new namespace: bind every allowed folder onto itself, remount every other
 * writable mount read-only, re-enter the working folder, then exec the command. Arguments: N, the N folders, M, the M mounts, the command.
 */
const JAIL_SCRIPT = [
  'set -e',
  'n=$1; shift',
  'while [ "$n" -gt 0 ]; do mount --bind "$1" "$1"; shift; n=$((n-1)); done',
  'm=$1; shift',
  'while [ "$m" -gt 0 ]; do mount -o remount,bind,ro "$1"; shift; m=$((m-1)); done',
  // the working folder was entered before the binds: enter it again, through them
  'cd "$(pwd -P)"',
  'exec "$@"',
].join('\n');

function chownTree(path: string, uid: number): void {
  const r = spawnSync('chown', ['-R', '-h', `${uid}:${uid}`, path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chown -R ${uid} ${path} failed: ${r.stderr || r.error?.message}`);
}

export class Jail {
  private constructor(
    readonly mode: JailMode,
    /** realpaths of the folders the jailed process may write */
    readonly writable: string[],
    private readonly readOnlyMounts: string[],
    /** why the mount jail was not used, when it was not */
    readonly fallbackReason?: string,
  ) {}

  /**
   * Builds the jail for these folders (which must exist). In 'user' mode they are chowned to
   * JAIL_UID now; call `allow` again after adding files to them from the test.
   */
  static setUp(writable: string[], probeDir: string): Jail {
    const real = writable.map((w) => realpathSync(w));
    let reason: string;
    if (process.env['KAMAL_GATE_TEST_NO_MOUNT'] === '1') reason = 'KAMAL_GATE_TEST_NO_MOUNT=1';
    else {
      // Probe: in a namespace with probe/rw writable and everything else read-only, rw can be written and probe cannot.
      const rw = join(probeDir, 'rw');
      mkdirSync(rw, { recursive: true });
      const mounts = writableMounts();
      const r = spawnSync('unshare', mountJailArgs([rw], mounts, '/bin/sh', ['-c', 'touch "$1/ok" && ! touch "$2/no" 2>/dev/null', 'probe', rw, probeDir]), { encoding: 'utf8' });
      const worked = r.status === 0 && lstatSync(join(rw, 'ok'), { throwIfNoEntry: false }) !== undefined && lstatSync(join(probeDir, 'no'), { throwIfNoEntry: false }) === undefined;
      rmSync(rw, { recursive: true, force: true });
      if (worked) return new Jail('mount', real, mounts);
      reason = `a read-only mount namespace could not be set up (unshare/mount: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()})`;
    }
    if (process.getuid?.() !== 0) {
      throw new Error(`the jail needs root: ${reason}, and without root the process cannot be run as another user either. Run the tests as root (\`npm test\` in CI).`);
    }
    const probe = spawnSync('setpriv', [`--reuid=${JAIL_UID}`, `--regid=${JAIL_UID}`, '--clear-groups', '--', 'true'], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error(`the jail could not be set up: ${reason}, and setpriv failed too (${(probe.stderr || probe.error?.message || '').trim()}); util-linux's setpriv is needed`);
    const jail = new Jail('user', real, [], reason);
    for (const w of real) jail.allow(w);
    return jail;
  }

  /** 'user' mode: gives JAIL_UID the folder (again) and lets it reach it (every parent searchable). */
  allow(path: string): void {
    if (this.mode !== 'user') return;
    chownTree(path, JAIL_UID);
    // the parents must be searchable by the jailed uid (mkdtemp makes 0700 folders)
    let p = realpathSync(path);
    while (p !== sep && p !== '') {
      const parent = p.slice(0, p.lastIndexOf(sep)) || sep;
      if (parent === sep) break;
      const st = lstatSync(parent);
      if ((st.mode & 0o001) === 0 && st.uid === 0) chmodSync(parent, st.mode | 0o011);
      p = parent;
    }
  }

  /** The argv that runs `command args` in the jail. */
  argv(command: string, args: string[]): [string, string[]] {
    if (this.mode === 'mount') {
      return ['unshare', mountJailArgs(this.writable, this.readOnlyMounts, command, args)];
    }
    return ['setpriv', [`--reuid=${JAIL_UID}`, `--regid=${JAIL_UID}`, '--clear-groups', '--', command, ...args]];
  }

  /** Starts `command args` in the jail (the pid is the command's own: the wrappers exec it). */
  spawn(command: string, args: string[], opts: JailRunOptions): { child: ReturnType<typeof spawn>; done: Promise<JailResult> } {
    const [cmd, argv] = this.argv(command, args);
    const child = spawn(cmd, argv, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<JailResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
    });
    child.stdin!.end(opts.input ?? '');
    return { child, done };
  }

  run(command: string, args: string[], opts: JailRunOptions): Promise<JailResult> {
    return this.spawn(command, args, opts).done;
  }
}

// ── snapshots ───────────────────────────────────────────────────────────────────────────────────

export interface Entry {
  type: 'file' | 'dir' | 'link' | 'other';
  mode: number;
  uid: number;
  size?: number;
  mtimeMs?: number;
  target?: string;
}

export interface ScanOptions {
  /** how deep to go below the root (0: the root's entries only); default unlimited */
  depth?: number;
  /** realpaths not to descend into (their own entry is still recorded, without size and mtime) */
  skip?: string[];
  /** record folders' mtimes (what creating or removing an entry in them changes); default true */
  dirMtimes?: boolean;
  /** record files' sizes and mtimes; default true */
  fileTimes?: boolean;
}

/** path → entry for everything under `root` (not following symbolic links), the root itself included. */
export function scan(root: string, opts: ScanOptions = {}): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const { depth = Infinity, skip = [], dirMtimes = true, fileTimes = true } = opts;
  const visit = (path: string, level: number): void => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return;
    const skipped = skip.includes(path);
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other';
    const e: Entry = { type, mode: st.mode & 0o7777, uid: st.uid };
    if (!skipped && ((type === 'file' && fileTimes) || (type === 'dir' && dirMtimes))) {
      e.mtimeMs = st.mtimeMs;
      if (type === 'file') e.size = st.size;
    }
    if (type === 'link') e.target = readlinkSync(path);
    out.set(path, e);
    if (type !== 'dir' || skipped || level > depth) return;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch {
      return;
    }
    for (const name of names) visit(join(path, name), level + 1);
  };
  visit(root, 0);
  return out;
}

/** What differs between two scans, one line per path. */
export function diffScans(before: Map<string, Entry>, after: Map<string, Entry>): string[] {
  const out: string[] = [];
  for (const [path, a] of after) {
    const b = before.get(path);
    if (!b) out.push(`created ${a.type} ${path} (uid ${a.uid})`);
    else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`changed ${path}: ${JSON.stringify(b)} → ${JSON.stringify(a)}`);
  }
  for (const path of before.keys()) if (!after.has(path)) out.push(`removed ${path}`);
  return out;
}

/** unshare's arguments that run `command args` in a private mount namespace where only `writable` can be written (JAIL_SCRIPT). */
function mountJailArgs(writable: string[], readOnlyMounts: string[], command: string, args: string[]): string[] {
  return ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', JAIL_SCRIPT, 'jail', String(writable.length), ...writable, String(readOnlyMounts.length), ...readOnlyMounts, command, ...args];
}
