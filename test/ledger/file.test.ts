/**
 * File ledger specifics: the on-disk format, corruption found and named by line, the torn last line
 * (reported, ignored, repaired), and the writer lock (stale locks recovered, live locks waited for).
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, LedgerUnavailableError } from '../../src/errors.js';
import { FileLedger, GENESIS_HASH, openLedger, type LedgerEntry, type LockHolder, type NewEntry } from '../../src/ledger/index.js';
import { buildLedgerModule, runChildren, type BuiltModule } from './children.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const entry = (n: number, extra: Partial<NewEntry> = {}): NewEntry => ({
  registry: 'ghcr.io',
  repository: 'acme/app',
  tag: `v${n}`,
  digest: d(n),
  event: 'recorded',
  source: 'record',
  ...extra,
});

const dirs: string[] = [];
async function freshPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kamal-gate-file-ledger-'));
  dirs.push(dir);
  return join(dir, 'nested', '.kamal', 'image-ledger.jsonl');
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A ledger file with `n` entries; returns its path, its lines and the stored entries. */
async function ledgerWith(n: number): Promise<{ path: string; lines: string[]; stored: LedgerEntry[] }> {
  const path = await freshPath();
  const stored = await new FileLedger(path).append(Array.from({ length: n }, (_, i) => entry(i + 1)));
  const lines = (await readFile(path, 'utf8')).split('\n').slice(0, -1);
  return { path, lines, stored };
}

/** The pid of a process that has exited (so certainly not alive now). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

async function untrusted(promise: Promise<unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

describe('file ledger format', () => {
  it('creates the file and its directories on the first append: one JSON entry per line', async () => {
    const path = await freshPath();
    const ledger = await openLedger(path);
    expect(ledger).toBeInstanceOf(FileLedger);
    expect(ledger.location).toBe(path);
    expect(await ledger.all()).toEqual([]);
    const stored = await ledger.append([entry(1), entry(2, { actor: 'KAMAL_PERFORMER=alice' })]);
    const text = await readFile(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').slice(0, -1);
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(stored);
    expect(Object.keys(JSON.parse(lines[0]!) as object)).toEqual(['seq', 'time', 'registry', 'repository', 'tag', 'digest', 'event', 'source', 'prev', 'hash']);
    // The lock is released and nothing else is left beside the ledger.
    expect(await readdir(join(path, '..'))).toEqual(['image-ledger.jsonl']);
  });
});

describe('file ledger line endings', () => {
  it('reads a ledger checked out with CRLF line endings and appends to it', async () => {
    const { path, lines, stored } = await ledgerWith(2);
    await writeFile(path, lines.map((l) => `${l}\r\n`).join(''));
    const ledger = new FileLedger(path);
    expect(await ledger.all()).toEqual(stored);
    await ledger.append([entry(3)]);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 3 });
  });
});

describe('file ledger corruption', () => {
  it('catches an edited digest, naming the line, and readers refuse the ledger', async () => {
    const { path, lines } = await ledgerWith(4);
    lines[1] = lines[1]!.replace(d(2), d(99));
    await writeFile(path, `${lines.join('\n')}\n`);
    const before = await readFile(path);

    const ledger = new FileLedger(path);
    expect(await ledger.verify()).toEqual({
      ok: false,
      entries: 4,
      firstBroken: { seq: 2, line: 2, reason: 'hash does not match the entry: the entry was edited' },
    });
    const error = await untrusted(ledger.history('ghcr.io', 'acme/app', 'v1'));
    expect(error.exitCode).toBe(2);
    expect(error.kind).toBe('ledger');
    expect(error.line).toBe(2);
    expect(error.message).toContain(`${path}:2:`);
    expect(error.message).toContain('kamal-gate ledger verify');
    expect(error.message).toContain('version control');
    await untrusted(ledger.all());
    await untrusted(ledger.tags());
    // Never rewritten.
    expect(await readFile(path)).toEqual(before);
  });

  it('catches an edit that recomputed the hash, at the next line', async () => {
    const { path, lines } = await ledgerWith(3);
    const edited = JSON.parse(lines[1]!) as LedgerEntry;
    edited.digest = d(99);
    const { entryHash } = await import('../../src/ledger/hash.js');
    edited.hash = entryHash(edited);
    lines[1] = JSON.stringify(edited);
    await writeFile(path, `${lines.join('\n')}\n`);
    const report = await new FileLedger(path).verify();
    expect(report.firstBroken).toMatchObject({ seq: 3, line: 3 });
    expect(report.firstBroken?.reason).toMatch(/prev does not match the hash of entry 2/);
  });

  it('catches a deleted middle line', async () => {
    const { path, lines } = await ledgerWith(4);
    lines.splice(1, 1);
    await writeFile(path, `${lines.join('\n')}\n`);
    const ledger = new FileLedger(path);
    const report = await ledger.verify();
    expect(report.ok).toBe(false);
    expect(report.entries).toBe(3);
    expect(report.firstBroken).toEqual({ seq: 3, line: 2, reason: 'seq 3 follows seq 1: entries are missing' });
    expect((await untrusted(ledger.all())).message).toContain(`${path}:2:`);
  });

  it('catches swapped lines, a deleted first line and a line that is not JSON', async () => {
    const { path, lines } = await ledgerWith(3);
    await writeFile(path, `${[lines[0], lines[2], lines[1]].join('\n')}\n`);
    expect((await new FileLedger(path).verify()).firstBroken).toMatchObject({ line: 2, seq: 3 });

    await writeFile(path, `${lines.slice(1).join('\n')}\n`);
    expect((await new FileLedger(path).verify()).firstBroken).toMatchObject({ line: 1, seq: 2 });

    await writeFile(path, `${[lines[0], '{"seq": 2,', lines[2]].join('\n')}\n`);
    expect((await new FileLedger(path).verify()).firstBroken).toEqual({ seq: 2, line: 2, reason: 'not valid JSON' });

    await writeFile(path, `${[lines[0], '', lines[1]].join('\n')}\n`);
    expect((await new FileLedger(path).verify()).firstBroken).toEqual({ seq: 2, line: 2, reason: 'empty line' });

    const extra = { ...(JSON.parse(lines[1]!) as object), note: 'hi' };
    await writeFile(path, `${[lines[0], JSON.stringify(extra)].join('\n')}\n`);
    expect((await new FileLedger(path).verify()).firstBroken).toEqual({ seq: 2, line: 2, reason: 'unknown field "note"' });
  });

  it('refuses to append onto a last entry that does not verify, and writes nothing', async () => {
    const { path, lines } = await ledgerWith(3);
    lines[2] = lines[2]!.replace(d(3), d(77));
    await writeFile(path, `${lines.join('\n')}\n`);
    const before = await readFile(path);
    const error = await untrusted(new FileLedger(path).append([entry(4)]));
    expect(error.message).toContain(`${path}:3:`);
    expect(await readFile(path)).toEqual(before);
  });
});

describe('file ledger torn last line', () => {
  it('reports and ignores partial final bytes, and the next append removes them keeping every entry', async () => {
    const { path, lines, stored } = await ledgerWith(3);
    // A crash in the middle of writing entry 4.
    const fourth = lines[2]!.replace('"seq":3', '"seq":4');
    await appendFile(path, fourth.slice(0, 40));
    const warnings: string[] = [];
    const ledger = new FileLedger(path, { onWarning: (w) => warnings.push(w) });

    expect(await ledger.verify()).toEqual({ ok: true, entries: 3, repairedTornLine: true });
    expect(await ledger.all()).toEqual(stored);
    expect(warnings.some((w) => w.includes(`${path}:4: torn last line`))).toBe(true);

    const [added] = await ledger.append([entry(4)]);
    expect(added).toMatchObject({ seq: 4, prev: stored[2]!.hash });
    expect(warnings.some((w) => w.includes('removed a torn last line'))).toBe(true);
    const text = await readFile(path, 'utf8');
    expect(text.startsWith(`${lines.join('\n')}\n`)).toBe(true);
    expect(text.split('\n')).toHaveLength(5);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 4 });
    expect(await ledger.all()).toEqual([...stored, added]);
  });

  it('treats a terminated final line that is not JSON (zeros after a crash) as torn', async () => {
    const { path, stored } = await ledgerWith(2);
    await appendFile(path, Buffer.from([0, 0, 0, 0, 0x0a]));
    const ledger = new FileLedger(path);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 2, repairedTornLine: true });
    expect(await ledger.all()).toEqual(stored);
    await ledger.append([entry(3)]);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 3 });
  });

  it('refuses a complete last line damaged after it was written (it has its newline): corruption, not a torn line', async () => {
    const { path, lines } = await ledgerWith(3);
    const damaged = `${lines[0]}\n${lines[1]}\n${lines[2]!.replace('"seq":3', '"seq":3\u0000').replace('{', '[')}\n`;
    await writeFile(path, damaged);
    const ledger = new FileLedger(path);
    const error = await untrusted(ledger.all());
    expect(error.line).toBe(3);
    expect(error.message).toContain(`${path}:3: not valid JSON`);
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBroken: { line: 3 } });
    // The writer does not remove it as if it were torn.
    await untrusted(ledger.append([entry(4)]));
    expect(await readFile(path, 'utf8')).toBe(damaged);
  });

  it('keeps a complete last entry that only lacks its newline', async () => {
    const { path, stored } = await ledgerWith(2);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, -1));
    const ledger = new FileLedger(path);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 2 });
    expect(await ledger.all()).toEqual(stored);
    await ledger.append([entry(3)]);
    expect((await ledger.all()).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 3 });
  });

  it('repairs a ledger whose only line is torn: the first entry chains from genesis', async () => {
    const path = await freshPath();
    await new FileLedger(path).append([entry(1)]);
    await writeFile(path, '{"seq":1,"time":"2025-');
    const ledger = new FileLedger(path);
    expect(await ledger.all()).toEqual([]);
    const [first] = await ledger.append([entry(1)]);
    expect(first).toMatchObject({ seq: 1, prev: GENESIS_HASH });
    expect(await ledger.verify()).toEqual({ ok: true, entries: 1 });
  });

  it('finds the tail of a ledger larger than one read chunk', async () => {
    const { path, stored } = await ledgerWith(1000);
    await appendFile(path, '{"seq":1001,"ti');
    const ledger = new FileLedger(path);
    const [next] = await ledger.append([entry(1001)]);
    expect(next).toMatchObject({ seq: 1001, prev: stored[999]!.hash });
    expect(await ledger.verify()).toEqual({ ok: true, entries: 1001 });
  });
});

describe('file ledger lock', () => {
  let built: BuiltModule;
  beforeAll(async () => {
    built = await buildLedgerModule();
  });
  afterAll(async () => {
    await built?.remove();
  });

  const lockFile = (holder: LockHolder): string => `${JSON.stringify(holder)}\n`;

  it('recovers a stale lock left by a dead process on this host', async () => {
    const { path } = await ledgerWith(1);
    await writeFile(`${path}.lock`, lockFile({ pid: deadPid(), hostname: hostname(), time: '2025-01-01T00:00:00.000Z' }));
    const waits: LockHolder[] = [];
    const [added] = await new FileLedger(path, { onLockWait: (h) => waits.push(h) }).append([entry(2)]);
    expect(added).toMatchObject({ seq: 2 });
    expect(waits).toEqual([]);
    expect(await readdir(join(path, '..'))).toEqual(['image-ledger.jsonl']);
  });

  it('recovers a lock file left empty by a process that died before writing it', async () => {
    const { path } = await ledgerWith(1);
    await writeFile(`${path}.lock`, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock`, old, old);
    await new FileLedger(path).append([entry(2)]);
    expect(await new FileLedger(path).verify()).toEqual({ ok: true, entries: 2 });
  });

  it('makes a second writer wait for a live lock, then proceed', async () => {
    const { path } = await ledgerWith(1);
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
    try {
      const lock: LockHolder = { pid: holder.pid!, hostname: hostname(), time: new Date().toISOString() };
      await writeFile(`${path}.lock`, lockFile(lock));
      const before = await readFile(path);
      let waiting!: (h: LockHolder) => void;
      const sawLock = new Promise<LockHolder>((resolve) => (waiting = resolve));
      const appended = new FileLedger(path, { onLockWait: (h) => waiting(h) }).append([entry(2)]);

      expect(await sawLock).toEqual(lock);
      expect(await readFile(path)).toEqual(before); // nothing written while the lock is held
      await rm(`${path}.lock`); // the holder finishes
      const [added] = await appended;
      expect(added).toMatchObject({ seq: 2 });
      expect(await new FileLedger(path).verify()).toEqual({ ok: true, entries: 2 });
    } finally {
      holder.kill();
    }
  });

  it('gives up at its deadline on a lock held on another host, saying who holds it', async () => {
    const { path } = await ledgerWith(1);
    const lock: LockHolder = { pid: deadPid(), hostname: 'other-runner.example', time: '2025-01-01T00:00:00.000Z' };
    await writeFile(`${path}.lock`, lockFile(lock));
    const error = await new FileLedger(path, { lockTimeoutMs: 300 }).append([entry(2)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerUnavailableError);
    expect((error as LedgerUnavailableError).exitCode).toBe(3);
    expect((error as Error).message).toContain(`pid ${lock.pid} on other-runner.example`);
    expect((error as Error).message).toContain(`remove ${path}.lock`);
    expect(await readFile(`${path}.lock`, 'utf8')).toBe(lockFile(lock)); // not ours to break
    expect(await new FileLedger(path).verify()).toEqual({ ok: true, entries: 1 });
  });

  it('serializes concurrent appends of one instance', async () => {
    const path = await freshPath();
    const ledger = new FileLedger(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.append([entry(i + 1)])));
    const all = await ledger.all();
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(all.map((e) => e.tag)).size).toBe(20);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 20 });
  });

  it('8 processes all finding the same stale lock recover it once and lose nothing', async () => {
    const path = await freshPath();
    await new FileLedger(path).append([entry(0)]);
    await writeFile(`${path}.lock`, lockFile({ pid: deadPid(), hostname: hostname(), time: '2025-01-01T00:00:00.000Z' }));
    const results = await runChildren(built.path, path, 8, 'append', 25);
    expect(results.map((r) => r.stderr)).toEqual(Array(8).fill(''));
    expect(results.map((r) => r.code)).toEqual(Array(8).fill(0));
    const ledger = new FileLedger(path);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 201 });
    for (let w = 0; w < 8; w++) {
      expect((await ledger.all()).filter((e) => e.repository === `w${w}`)).toHaveLength(25);
    }
    expect(await readdir(join(path, '..'))).toEqual(['image-ledger.jsonl']);
  }, 120_000);
});
