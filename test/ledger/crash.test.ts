/**
 * File ledger crash safety, with real processes and real file systems:
 * - a writer killed with SIGKILL in the middle of its appends leaves a ledger that loads (library and
 *   `kamal-gate ledger verify`), holding every append the writer saw complete, its chain intact;
 * - a write that fails part-way through an append (full disk, file size limit) fails
 *   `kamal-gate record` cleanly and leaves the ledger byte for byte as it was;
 * - a read-only ledger (file or folder) fails `kamal-gate record` / `verify` cleanly, the ledger
 *   byte for byte as it was.
 *
 * How the failures are produced. The suite runs as root (test script, CI), and root ignores
 * permission bits, so the first choice is a privileged mechanism giving the real error; when the
 * machine refuses it (no CAP_SYS_ADMIN for mount, a file system without `chattr`, such as overlayfs)
 * an unprivileged mechanism produces a failure of the same kind instead. Each test never skips, says
 * in its name which mechanism ran, and checks the errno it expects is the one reported.
 * KAMAL_GATE_TEST_NO_MOUNT=1 forces the fallbacks, so both paths can be run on a machine that
 * allows the privileged ones.
 * - write failing part-way: a small tmpfs mounted by the test and filled up (ENOSPC, page-granular
 *   as on any file system: a write that fits part-way writes that part and then fails, which is
 *   what a torn-append bug needs to show). Fallback: the CLI runs under RLIMIT_FSIZE (`prlimit`)
 *   set a little past the ledger's size, so the append's write lands part-way and the next write
 *   fails with EFBIG (Node ignores SIGXFSZ, so the process gets the errno instead of dying).
 * - read-only file: `chattr +i` (the immutable attribute: EPERM even for root). Fallback: the file
 *   chmod 0444 and the CLI run as uid/gid 65534 (`nobody`), which gets EACCES.
 * - read-only folder: a read-only bind mount (EROFS) of the ledger's folder. Fallback: the folder
 *   chmod 0555 and the CLI run as uid/gid 65534, which gets EACCES.
 * A machine where neither mechanism can be set up fails the test, saying why.
 */
import { execFile as execFileCb, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLedger, type NewEntry } from '../../src/ledger/index.js';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { buildLedgerModule, type BuiltModule } from './children.js';

const execFile = promisify(execFileCb);
const CHILD = join(import.meta.dirname, 'crash-child.mjs');

const dirs: string[] = [];
const mounts: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kamal-gate-crash-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const m of mounts.reverse()) await execFile('umount', ['-l', m]).catch(() => undefined);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function sh(cmd: string, args: string[], why: string): Promise<void> {
  try {
    await execFile(cmd, args);
  } catch (e) {
    throw new Error(`${why}: \`${cmd} ${args.join(' ')}\` failed (${(e as Error).message.trim()}). These tests need root with CAP_SYS_ADMIN, as \`npm test\` runs in CI.`);
  }
}

const entry = (n: number, extra: Partial<NewEntry> = {}): NewEntry => ({
  registry: 'reg.test',
  repository: 'acme/app',
  tag: `v${n}`,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
  event: 'recorded',
  source: 'record',
  ...extra,
});

describe('a file ledger writer killed with SIGKILL mid-append', () => {
  let built: BuiltModule;
  beforeAll(async () => {
    built = await buildLedgerModule();
  }, 120_000);
  afterAll(async () => {
    await built?.remove();
  });

  /** Starts a writer, kills it after its `afterOks`-th completed append (+ `delay`), returns what it reported. */
  /**
   * `growth`: after the `afterOks`-th append, watch the file (busy-polling its size) and kill the
   * writer the moment its next write starts to land: the kernel stops a write to a file at a page
   * boundary on SIGKILL, so this is how a kill mid-write leaves a torn last line.
   */
  function killedWriter(path: string, sizes: string, afterOks: number, delay: 'sync' | 'immediate' | 'growth' | number): Promise<Array<{ seq: number; hash: string }>> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CHILD, built.path, path, sizes], { stdio: ['ignore', 'pipe', 'pipe'] });
      const reported: Array<{ seq: number; hash: string }> = [];
      let out = '';
      let err = '';
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        if (delay === 'sync') child.kill('SIGKILL');
        else if (delay === 'growth') {
          const size = () => (existsSync(path) ? statSync(path).size : 0);
          const base = size();
          for (let i = 0; i < 2_000_000 && size() === base; i++);
          child.kill('SIGKILL');
        } else if (delay === 'immediate') setImmediate(() => child.kill('SIGKILL'));
        else setTimeout(() => child.kill('SIGKILL'), delay);
      };
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        let nl;
        while ((nl = out.indexOf('\n')) >= 0) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          const m = /^ok (\d+) (sha256:[0-9a-f]{64})$/.exec(line);
          if (m) reported.push({ seq: Number(m[1]), hash: m[2]! });
          if ((afterOks === 0 && line.startsWith('ready')) || (afterOks > 0 && reported.length === afterOks)) kill();
        }
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`the writer exited by itself (code ${code}): ${err}`));
        else resolve(reported);
      });
    });
  }

  it('leaves a ledger that loads, with every append the writer reported complete and an intact chain', async () => {
    const path = join(await freshDir(), '.kamal', 'image-ledger.jsonl');
    // Kills at varied moments: right after an append returned, a tick later, a few ms later (often
    // while the next batch is being built or written), with batches of 1 to 2,000 entries.
    const rounds: Array<[string, number, 'sync' | 'immediate' | number]> = [
      ['1', 0, 'sync'],
      ['1,1000', 1, 'sync'],
      ['1000', 1, 'immediate'],
      ['5,1000', 3, 1],
      ['2000,1', 2, 'sync'],
      ['1', 25, 'immediate'],
      ['1500', 2, 3],
      ['1,1,1000', 5, 'sync'],
      ['40', 10, 2],
    ];
    const allReported: Array<{ seq: number; hash: string }> = [];
    let torn = 0;
    const check = async (): Promise<void> => {
      // The library reads it: the chain verifies and every reported append is there, as reported.
      const ledger = new FileLedger(path);
      const report = await ledger.verify();
      expect(report.ok, JSON.stringify(report)).toBe(true);
      if (report.repairedTornLine) torn++;
      const entries = existsSync(path) ? await ledger.all() : [];
      for (const r of allReported) expect(entries[r.seq - 1]?.hash, `seq ${r.seq}`).toBe(r.hash);
      // So does the CLI (a writer killed before it created the file leaves no ledger: exit 2, named).
      const cli = await runCli(['ledger', 'verify', '--ledger', path]);
      expect(cli.stderr).not.toMatch(/internal error|at \S+:\d+:\d+/);
      if (!existsSync(path)) {
        expect(cli.code, cli.stdout + cli.stderr).toBe(2);
        expect(cli.stderr).toContain(`no ledger at ${path}`);
        return;
      }
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
      expect(cli.stdout).toContain(`${entries.length} entries, hash chain intact`);
    };
    for (const [sizes, afterOks, delay] of rounds) {
      allReported.push(...(await killedWriter(path, sizes, afterOks, delay)));
      await check();
    }
    // The next writer (after the last kill: a stale lock, maybe a torn line) appends, keeping everything.
    const warnings: string[] = [];
    const ledger = new FileLedger(path, { onWarning: (m) => warnings.push(m), lockTimeoutMs: 10_000 });
    const before = (await ledger.all()).length;
    await ledger.append([entry(1)]);
    const after = await new FileLedger(path).all();
    expect(after).toHaveLength(before + 1);
    for (const r of allReported) expect(after[r.seq - 1]?.hash).toBe(r.hash);
    expect((await new FileLedger(path).verify()).ok).toBe(true);
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(allReported.length).toBeGreaterThan(rounds.length);
    // Printed for the record: how many kills left a torn last line that the next writer removed.
    console.log(`SIGKILL rounds: ${rounds.length}, reported appends: ${allReported.length}, entries: ${after.length}, torn last lines seen: ${torn}`);
  }, 180_000);

  it('a kill inside a write leaves a torn last line: the ledger loads without it, the next writer removes it', async () => {
    // A 20,000-entry batch (~10 MB) written to a fresh ledger; the writer is killed as the write
    // starts to land. Each kill usually tears the line; a busy machine may need a few tries.
    let torn = 0;
    let tries = 0;
    while (torn === 0 && tries < 10) {
      tries++;
      const path = join(await freshDir(), 'image-ledger.jsonl');
      expect(await killedWriter(path, '20000', 0, 'growth')).toEqual([]);
      if (!existsSync(path)) continue;
      const bytes = await readFile(path);
      const ledger = new FileLedger(path);
      const report = await ledger.verify();
      expect(report.ok, JSON.stringify(report)).toBe(true);
      const complete = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
      expect(report.entries).toBe(complete.toString().split('\n').length - 1);
      if (!report.repairedTornLine) continue;
      torn++;
      const cli = await runCli(['ledger', 'verify', '--ledger', path]);
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
      expect(cli.stdout).toContain(`${report.entries} entries, hash chain intact (a torn last line`);
      const warnings: string[] = [];
      const [next] = await new FileLedger(path, { onWarning: (m) => warnings.push(m) }).append([entry(1)]);
      expect(next!.seq).toBe(report.entries + 1);
      expect(warnings.join('\n')).toContain('removed a torn last line');
      const after = await readFile(path);
      expect(after.subarray(0, complete.length).equals(complete)).toBe(true);
      expect(await new FileLedger(path).verify()).toEqual({ ok: true, entries: report.entries + 1 });
    }
    console.log(`kills inside a write: ${tries} tries, ${torn} torn`);
    expect(torn, `no kill landed inside a write in ${tries} tries`).toBe(1);
  }, 180_000);
});

/**
 * Which mechanism each test below uses: the privileged one when this machine allows it (tried once,
 * here, so that the test names can say), else the unprivileged fallback.
 */
const FORCE_FALLBACK = process.env['KAMAL_GATE_TEST_NO_MOUNT'] === '1';
const NOBODY = 65534;
/** Why a fallback runs, for the test names. */
const NOT_USED = FORCE_FALLBACK ? 'set aside by KAMAL_GATE_TEST_NO_MOUNT=1' : 'refused here';

/** Runs `steps` in order, then `undo` (always); returns why it was refused, or undefined. */
async function refused(steps: Array<[string, string[]]>, undo: Array<[string, string[]]>): Promise<string | undefined> {
  if (FORCE_FALLBACK) return 'KAMAL_GATE_TEST_NO_MOUNT=1';
  try {
    for (const [cmd, args] of steps) await execFile(cmd, args);
    return undefined;
  } catch (e) {
    return (e as Error).message.trim().split('\n').slice(0, 2).join(' ');
  } finally {
    for (const [cmd, args] of undo) await execFile(cmd, args).catch(() => undefined);
  }
}
const probeDir = await mkdtemp(join(tmpdir(), 'kamal-gate-probe-'));
await mkdir(join(probeDir, 'a'));
await mkdir(join(probeDir, 'b'));
await writeFile(join(probeDir, 'f'), '');
const noTmpfs = await refused([['mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', join(probeDir, 'a')]]], [['umount', [join(probeDir, 'a')]]]);
const noChattr = await refused([['chattr', ['+i', join(probeDir, 'f')]]], [['chattr', ['-i', join(probeDir, 'f')]]]);
const noRoMount = await refused(
  [
    ['mount', ['--bind', join(probeDir, 'a'), join(probeDir, 'b')]],
    ['mount', ['-o', 'remount,bind,ro', join(probeDir, 'b')]],
  ],
  [['umount', [join(probeDir, 'b')]]],
);
await rm(probeDir, { recursive: true, force: true });
for (const [what, why, fallback] of [
  ['full disk: mounting a tmpfs', noTmpfs, 'RLIMIT_FSIZE (EFBIG)'],
  ['immutable file: chattr +i', noChattr, `chmod 0444, CLI as uid ${NOBODY} (EACCES)`],
  ['read-only mount: a read-only bind mount', noRoMount, `chmod 0555 folder, CLI as uid ${NOBODY} (EACCES)`],
] as const) {
  const not = FORCE_FALLBACK ? 'set aside by KAMAL_GATE_TEST_NO_MOUNT=1' : `refused (${why})`;
  console.log(why === undefined ? `${what}: available, used` : `${what}: ${not}; using the fallback: ${fallback}`);
}

/**
 * Runs the built CLI like runCli (fresh cwd, fresh cache), under a file size limit (`fsize`
 * bytes, through prlimit) or as another user (`uid`: its cwd and cache are made its own).
 */
async function runCliLimited(args: string[], limits: { fsize?: number; uid?: number }): Promise<CliResult> {
  const cwd = await freshDir();
  const cache = await freshDir();
  const env: NodeJS.ProcessEnv = { ...process.env, KAMAL_GATE_CACHE_DIR: cache, HOME: cwd };
  for (const k of ['KAMAL_VERSION', 'VERSION', 'KAMAL_DESTINATION']) delete env[k];
  const ids = limits.uid === undefined ? {} : { uid: limits.uid, gid: limits.uid };
  if (limits.uid !== undefined) {
    // The user must be able to load the built CLI and its node_modules from this checkout.
    const load = spawnSync(process.execPath, ['-e', `import(${JSON.stringify(pathToFileURL(join(dirname(CLI), 'cli', 'main.js')).href)})`], { ...ids, encoding: 'utf8' });
    if (load.status !== 0) {
      throw new Error(
        `uid ${limits.uid} cannot load the built CLI (${CLI}): make the checkout and its node_modules readable and its folders traversable by other users (${load.stderr.split('\n').find((l) => /Error/.test(l)) ?? load.stderr.trim()})`,
      );
    }
    await chown(cwd, limits.uid, limits.uid);
    await chown(cache, limits.uid, limits.uid);
  }
  const [cmd, argv] = limits.fsize === undefined ? [process.execPath, [CLI, ...args]] : ['prlimit', [`--fsize=${limits.fsize}`, '--', process.execPath, CLI, ...args]];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run \`${cmd}\` (${e.message}); the fallback needs prlimit (util-linux) for a file size limit`)));
    child.on('close', (code, signal) => resolvePromise({ code: code ?? -1, stdout, stderr: signal ? `${stderr}\nkilled by ${signal}` : stderr }));
  });
}

/** Makes `dir` and every folder above it up to the temp folder traversable by another user. */
async function traversable(dir: string): Promise<void> {
  for (let d = dir; d.startsWith(tmpdir()) && d !== tmpdir(); d = dirname(d)) {
    await chmod(d, ((await stat(d)).mode & 0o777) | 0o055);
  }
}

describe('a file ledger that cannot be written, through the CLI', () => {
  let reg: TestRegistry;
  let builder: ImageBuilder;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'none' });
    builder = new ImageBuilder(reg);
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  /** A ledger with `n` entries written by the real writer, and an image pushed for `record` to add. */
  async function setUp(dir: string, n: number, repo: string): Promise<{ path: string; ref: string }> {
    const path = join(dir, '.kamal', 'image-ledger.jsonl');
    await new FileLedger(path).append(Array.from({ length: n }, (_, i) => entry(i + 1)));
    await builder.pushImage(repo, 'v1', { seed: repo });
    return { path, ref: `${reg.host}/${repo}:v1` };
  }

  /** Every file in the ledger's folder with its bytes: nothing added, nothing changed. */
  async function snapshot(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of await readdir(dir)) out[name] = (await readFile(join(dir, name))).toString('base64');
    return out;
  }

  function expectCleanFailure(res: { code: number; stdout: string; stderr: string }, path: string, errno: RegExp, remedy: RegExp): void {
    expect(res.code, res.stdout + res.stderr).toBe(3);
    expect(res.stderr).toContain(path);
    expect(res.stderr).toMatch(errno);
    expect(res.stderr).toMatch(remedy);
    expect(res.stderr).toContain('the entries already in the ledger are unchanged');
    expect(res.stderr).not.toMatch(/internal error|at \S+:\d+:\d+/);
  }

  /** After the failures: the next run records, chained onto the untouched entries. */
  async function expectRecordsAfter(path: string, ref: string, entries: number): Promise<void> {
    const ok = await runCli(['record', ref, '--ledger', path]);
    expect(ok.code, ok.stderr).toBe(0);
    const verified = await runCli(['ledger', 'verify', '--ledger', path]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toContain(`${entries} entries, hash chain intact`);
  }

  if (noTmpfs === undefined)
    it('a full disk (ENOSPC, a filled tmpfs) mid-append: exit 3 naming the file, the ledger byte for byte unchanged', async () => {
      const mnt = await freshDir();
      await sh('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], 'mounting a small tmpfs to fill up');
      mounts.push(mnt);
      const { path, ref } = await setUp(mnt, 3, 'crash/full');
      const kamal = join(mnt, '.kamal');
      // Pad the ledger with one more entry so that its last 4 KiB page has only ~100 bytes free: the
      // append then writes part of its line into that page and fails on the next (the torn write).
      const line = (await readFile(path, 'utf8')).split('\n')[2]!.length + 1; // entry 3's line, actor absent
      const size = (await stat(path)).size;
      const actorOverhead = ',"actor":""'.length;
      let grow = (4096 - 100 - (size % 4096) + 8192) % 4096;
      if (grow < line + actorOverhead + 1) grow += 4096;
      await new FileLedger(path).append([entry(4, { actor: 'a'.repeat(grow - line - actorOverhead) })]);
      const slack = 4096 - ((await stat(path)).size % 4096);
      expect(slack).toBe(100);
      // Fill the file system, then free exactly one page: room for the lock file, none for the batch.
      await writeFile(join(mnt, 'reserve'), Buffer.alloc(4096));
      await execFile('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=4096']).catch(() => undefined);
      await rm(join(mnt, 'reserve'));
      const before = await snapshot(kamal);

      const res = await runCli(['record', ref, '--ledger', path]);
      expectCleanFailure(res, path, /ENOSPC|no space left/i, /free space/);
      expect(await snapshot(kamal)).toEqual(before);

      // Disk completely full: even the lock cannot be written. Same clean failure, nothing left behind.
      await writeFile(join(mnt, 'filler2'), Buffer.alloc(8192)).catch(() => undefined);
      const res2 = await runCli(['verify', ref, '--ledger', path]);
      expectCleanFailure(res2, path, /ENOSPC|no space left/i, /free space/);
      expect(await snapshot(kamal)).toEqual(before);

      // Space freed: the next run records, chained onto the untouched entries.
      await rm(join(mnt, 'filler'));
      await rm(join(mnt, 'filler2'), { force: true });
      await expectRecordsAfter(path, ref, 5);
    }, 60_000);

  if (noTmpfs !== undefined)
    it(`a write failing mid-append (EFBIG: the CLI under RLIMIT_FSIZE; tmpfs mount ${NOT_USED}): exit 3 naming the file, the ledger byte for byte unchanged`, async () => {
      const dir = await freshDir();
      const { path, ref } = await setUp(dir, 3, 'crash/fsize');
      const kamal = join(dir, '.kamal');
      // A large entry 4, so that the limit below (the ledger's size + 100 bytes) stays far above the
      // size of anything else the CLI writes (its lock, its cache entries).
      await new FileLedger(path).append([entry(4, { actor: 'a'.repeat(64 * 1024) })]);
      const size = (await stat(path)).size;
      const before = await snapshot(kamal);

      // The append's first write lands 100 bytes of its line (a torn line), the next fails with EFBIG.
      const res = await runCliLimited(['record', ref, '--ledger', path], { fsize: size + 100 });
      expectCleanFailure(res, path, /EFBIG|file too large/i, /file size limit/);
      expect(await snapshot(kamal)).toEqual(before);

      // No file may grow at all: even the lock cannot be written. Same clean failure, nothing left behind.
      const res2 = await runCliLimited(['verify', ref, '--ledger', path], { fsize: 0 });
      expectCleanFailure(res2, path, /EFBIG|file too large/i, /file size limit/);
      expect(await snapshot(kamal)).toEqual(before);

      // Without the limit: the next run records, chained onto the untouched entries.
      await expectRecordsAfter(path, ref, 5);
    }, 60_000);

  if (noChattr === undefined)
    it('an immutable ledger file (chattr +i: EPERM, even for root): exit 3 naming the file, byte for byte unchanged', async () => {
      const dir = await freshDir();
      const { path, ref } = await setUp(dir, 3, 'crash/immutable');
      await sh('chattr', ['+i', path], 'setting the immutable attribute on the ledger');
      try {
        const before = await snapshot(join(dir, '.kamal'));
        for (const cmd of ['record', 'verify']) {
          const res = await runCli([cmd, ref, '--ledger', path]);
          expectCleanFailure(res, path, /EPERM|operation not permitted/i, /lsattr/);
          expect(await snapshot(join(dir, '.kamal'))).toEqual(before);
        }
      } finally {
        await execFile('chattr', ['-i', path]);
      }
      const ok = await runCli(['record', ref, '--ledger', path]);
      expect(ok.code, ok.stderr).toBe(0);
    }, 60_000);

  if (noChattr !== undefined)
    it(`a read-only ledger file (chmod 0444, the CLI as uid ${NOBODY}: EACCES; chattr +i ${NOT_USED}): exit 3 naming the file, byte for byte unchanged`, async () => {
      const dir = await freshDir();
      const { path, ref } = await setUp(dir, 3, 'crash/readonly-file');
      const kamal = join(dir, '.kamal');
      // The folder is the user's (its lock can be made), the file is root's and read-only.
      await traversable(dir);
      await chown(kamal, NOBODY, NOBODY);
      await chmod(path, 0o444);
      const before = await snapshot(kamal);
      for (const cmd of ['record', 'verify']) {
        const res = await runCliLimited([cmd, ref, '--ledger', path], { uid: NOBODY });
        expectCleanFailure(res, path, /EACCES|permission denied/i, /writable by this user/);
        expect(await snapshot(kamal)).toEqual(before);
      }
      await chmod(path, 0o644);
      const ok = await runCli(['record', ref, '--ledger', path]);
      expect(ok.code, ok.stderr).toBe(0);
    }, 60_000);

  /** A lock left by a writer that has died: breaking it needs a write too. */
  async function staleLock(path: string): Promise<void> {
    const dead = spawn(process.execPath, ['-e', '0']);
    const pid = dead.pid!;
    await new Promise((r) => dead.on('close', r));
    await writeFile(`${path}.lock`, `${JSON.stringify({ pid, hostname: hostname(), time: new Date().toISOString() })}\n`);
  }

  if (noRoMount === undefined)
    it('a ledger on a read-only mount (EROFS): exit 3 naming the file, byte for byte unchanged, also with a stale lock there', async () => {
      const dir = await freshDir();
      const { path, ref } = await setUp(dir, 3, 'crash/readonly');
      const kamal = join(dir, '.kamal');
      const ro = join(await freshDir(), 'ro');
      await mkdir(ro);
      await sh('mount', ['--bind', kamal, ro], 'bind-mounting the ledger folder');
      mounts.push(ro);
      await sh('mount', ['-o', 'remount,bind,ro', ro], 'making the bind mount read-only');
      const roPath = join(ro, 'image-ledger.jsonl');
      const before = await snapshot(kamal);
      const res = await runCli(['record', ref, '--ledger', roPath]);
      expectCleanFailure(res, roPath, /EROFS|read-only file system/i, /read-only file system: remount/);
      expect(await snapshot(kamal)).toEqual(before);

      // A stale lock left by a writer that died before the mount went read-only: still a clean failure.
      await execFile('umount', [ro]);
      await staleLock(path);
      await sh('mount', ['--bind', kamal, ro], 'bind-mounting the ledger folder');
      await sh('mount', ['-o', 'remount,bind,ro', ro], 'making the bind mount read-only');
      const before2 = await snapshot(kamal);
      const res2 = await runCli(['verify', ref, '--ledger', roPath]);
      expectCleanFailure(res2, roPath, /EROFS|read-only file system/i, /read-only file system: remount/);
      expect(await snapshot(kamal)).toEqual(before2);
      const read = await runCli(['ledger', 'verify', '--ledger', roPath]);
      expect(read.code, read.stdout + read.stderr).toBe(0);
      expect(read.stdout).toContain('3 entries, hash chain intact');
    }, 60_000);

  if (noRoMount !== undefined)
    it(`a ledger in a read-only folder (chmod 0555, the CLI as uid ${NOBODY}: EACCES; read-only mount ${NOT_USED}): exit 3 naming the file, byte for byte unchanged, also with a stale lock there`, async () => {
      const dir = await freshDir();
      const { path, ref } = await setUp(dir, 3, 'crash/readonly-dir');
      const kamal = join(dir, '.kamal');
      // Folder and file are root's; the user can read both and write neither.
      await traversable(dir);
      await chmod(kamal, 0o555);
      await chmod(path, 0o644);
      const before = await snapshot(kamal);
      const res = await runCliLimited(['record', ref, '--ledger', path], { uid: NOBODY });
      expectCleanFailure(res, path, /EACCES|permission denied/i, /writable by this user/);
      expect(await snapshot(kamal)).toEqual(before);

      await staleLock(path);
      const before2 = await snapshot(kamal);
      const res2 = await runCliLimited(['verify', ref, '--ledger', path], { uid: NOBODY });
      expectCleanFailure(res2, path, /EACCES|permission denied/i, /writable by this user/);
      expect(await snapshot(kamal)).toEqual(before2);
      const read = await runCliLimited(['ledger', 'verify', '--ledger', path], { uid: NOBODY });
      expect(read.code, read.stdout + read.stderr).toBe(0);
      expect(read.stdout).toContain('3 entries, hash chain intact');
    }, 60_000);
});
