/**
 * File ledger crash safety, with real processes and real file systems:
 * - a writer killed with SIGKILL in the middle of its appends leaves a ledger that loads (library and
 *   `kamal-gate ledger verify`), holding every append the writer saw complete, its chain intact;
 * - a full disk (ENOSPC) fails `kamal-gate record` cleanly and leaves the ledger byte for byte as it was;
 * - a read-only ledger (immutable file, read-only mount) fails `kamal-gate record` / `verify`
 *   cleanly, the ledger byte for byte as it was.
 *
 * How the failures are produced (all need root, as the test script and CI run):
 * - ENOSPC: a small tmpfs mounted by the test and filled up. This is the real error a full disk
 *   gives, page-granular as on any file system: a write that fits part-way writes that part and
 *   then fails, which is what a torn-append bug needs to show. (RLIMIT_FSIZE would give EFBIG,
 *   another errno through another path; tmpfs is the honest full disk.)
 * - read-only: root ignores permission bits, so chmod would prove nothing. `chattr +i` (the ext4
 *   immutable attribute: EPERM even for root) on the ledger file, and a read-only bind mount
 *   (EROFS) of the ledger's folder. Each test checks the errno it expects is the one reported.
 * A machine where these cannot be set up fails the test, saying why; it never skips.
 */
import { execFile as execFileCb, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLedger, type NewEntry } from '../../src/ledger/index.js';
import { runCli } from '../helpers/cli.js';
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
        }
        else if (delay === 'immediate') setImmediate(() => child.kill('SIGKILL'));
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
      // So does the CLI.
      const cli = await runCli(['ledger', 'verify', '--ledger', path]);
      expect(cli.stderr).not.toMatch(/internal error|at \S+:\d+:\d+/);
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
    const ok = await runCli(['record', ref, '--ledger', path]);
    expect(ok.code, ok.stderr).toBe(0);
    const verified = await runCli(['ledger', 'verify', '--ledger', path]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toContain('5 entries, hash chain intact');
  }, 60_000);

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

    // A stale lock left by a writer that died before the mount went read-only: breaking it needs a
    // write too. Still a clean failure.
    await execFile('umount', [ro]);
    const dead = spawn(process.execPath, ['-e', '0']);
    const pid = dead.pid!;
    await new Promise((r) => dead.on('close', r));
    await writeFile(`${path}.lock`, `${JSON.stringify({ pid, hostname: (await import('node:os')).hostname(), time: new Date().toISOString() })}\n`);
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
});
