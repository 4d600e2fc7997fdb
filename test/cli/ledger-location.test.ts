/**
 * Where the ledger is, through the real CLI against the real registry (issue 12, items 4 and 6):
 * a missing or mistyped ledger is an error for the commands that only read it, a location that is
 * neither a path nor a postgres:// URL is refused without showing its password, `verify REF` outside
 * an app creates no ledger, and a symbolic link as the ledger or its lock is refused, never followed.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { FileLedger, type NewEntry } from '../../src/ledger/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app');
const PASSWORD = 'Ledger-Pw-7f3c9a';

let reg: TestRegistry;
let builder: ImageBuilder;
let work: string;
let v1: string;
let n = 0;

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  builder = new ImageBuilder(reg);
  await builder.pushImage('acme/where', 'v1', { seed: 'where-v1', created: '2026-01-01T00:00:00Z' });
  v1 = `${reg.host}/acme/where:v1`;
  work = mkdtempSync(join(tmpdir(), 'kg-ledger-location-'));
});
afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh, empty folder to run in. */
function folder(): string {
  const dir = join(work, `run-${++n}`);
  mkdirSync(dir);
  return dir;
}

/** Every file and link under `dir`, relative. */
function tree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`${prefix}${e.name}/`, ...tree(join(dir, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`]));
}

const both = (r: CliResult) => r.stdout + r.stderr;

describe('a ledger that does not exist', () => {
  it('is exit 2 for drift and every ledger subcommand, naming the path, and nothing is created', async () => {
    const cwd = folder();
    const cases: Array<{ args: string[]; env?: NodeJS.ProcessEnv; path: string }> = [
      { args: ['drift', '--ledger', '.kamal/image-ledgr.jsonl'], path: '.kamal/image-ledgr.jsonl' },
      { args: ['ledger', 'verify', '--ledger', 'nope.jsonl'], path: 'nope.jsonl' },
      { args: ['ledger', 'show', '--ledger', 'nope.jsonl'], path: 'nope.jsonl' },
      { args: ['ledger', 'show', v1, '--ledger', 'nope.jsonl'], path: 'nope.jsonl' },
      { args: ['ledger', 'export', '--ledger', 'nope.jsonl'], path: 'nope.jsonl' },
      { args: ['ledger', 'verify'], env: { KAMAL_GATE_LEDGER_URL: 'elsewhere/ledger.jsonl' }, path: 'elsewhere/ledger.jsonl' },
      // no --ledger: the default beside where it runs
      { args: ['drift'], path: join(cwd, '.kamal', 'image-ledger.jsonl') },
      { args: ['ledger', 'verify', '--format', 'json'], path: join(cwd, '.kamal', 'image-ledger.jsonl') },
    ];
    for (const c of cases) {
      const r = await runCli(c.args, { cwd, ...(c.env ? { env: c.env } : {}) });
      expect(r.code, c.args.join(' ')).toBe(2);
      expect(r.stderr, c.args.join(' ')).toContain(`no ledger at ${c.path}; \`kamal-gate record\` creates it`);
      expect(r.stdout).not.toMatch(/0 tags checked|hash chain intact/);
    }
    expect(tree(cwd)).toEqual([]);
  });

  it('is still created by record, after which drift and ledger verify read it', async () => {
    const cwd = folder();
    const rec = await runCli(['record', v1, '--ledger', 'new/ledger.jsonl'], { cwd });
    expect(rec.code).toBe(0);
    expect(existsSync(join(cwd, 'new', 'ledger.jsonl'))).toBe(true);
    const d = await runCli(['drift', '--ledger', 'new/ledger.jsonl'], { cwd });
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('1 tags checked');
    expect((await runCli(['ledger', 'verify', '--ledger', 'new/ledger.jsonl'], { cwd })).stdout).toContain('1 entries, hash chain intact');
  });
});

describe('a ledger location that is neither a path nor a postgres:// URL', () => {
  const bad = [
    ` postgres://gate:${PASSWORD}@127.0.0.1:1/ledger`,
    `postgres://gate:${PASSWORD}@127.0.0.1:1/ledger `,
    `postgres:/gate:${PASSWORD}@127.0.0.1:1/ledger`,
    `postgresql+asyncpg://gate:${PASSWORD}@127.0.0.1:1/ledger`,
    `mysql://gate:${PASSWORD}@127.0.0.1:1/ledger`,
    `http://gate:${PASSWORD}@127.0.0.1:1/ledger`,
    `postgres:/127.0.0.1/ledger?sslmode=disable&password=${PASSWORD}`,
  ];

  it('is exit 2 from --ledger and $KAMAL_GATE_LEDGER_URL, the password masked, and no ledger file appears', async () => {
    const commands = [['verify', v1], ['record', v1], ['drift'], ['ledger', 'verify'], ['ledger', 'show']];
    for (const [i, location] of bad.entries()) {
      // verify (where the ledger decides pass or fail) every time, and the other commands in turn
      for (const args of [commands[0]!, commands[1 + (i % 4)]!]) {
        for (const via of ['flag', 'env'] as const) {
          const cwd = folder();
          const r = via === 'flag' ? await runCli([...args, '--ledger', location], { cwd }) : await runCli(args, { cwd, env: { KAMAL_GATE_LEDGER_URL: location } });
          const what = `${via} ${JSON.stringify(location)} ${args.join(' ')}`;
          expect(r.code, what).toBe(2);
          expect(r.stderr, what).toContain(via === 'flag' ? '--ledger' : 'KAMAL_GATE_LEDGER_URL');
          expect(r.stderr, what).toMatch(/white space|not a ledger location/);
          expect(both(r), what).not.toContain(PASSWORD);
          expect(both(r), what).not.toContain(encodeURIComponent(PASSWORD));
          expect(tree(cwd), what).toEqual([]);
        }
      }
    }
  }, 60_000);

  it('shows the location with the password masked and says what would work', async () => {
    const r = await runCli(['drift', '--ledger', `postgresql+asyncpg://gate:${PASSWORD}@db.internal/ledger`], { cwd: folder() });
    expect(r.stderr).toContain('postgresql+asyncpg://gate:***@db.internal/ledger');
    expect(r.stderr).toContain('postgresql://USER:PASSWORD@HOST:PORT/DATABASE');
    const oneSlash = await runCli(['drift'], { cwd: folder(), env: { KAMAL_GATE_LEDGER_URL: `postgres:/gate:${PASSWORD}@db.internal/ledger` } });
    expect(oneSlash.stderr).toContain('postgres:/gate:***@db.internal/ledger');
    expect(oneSlash.stderr).toContain('postgres:// (two slashes)');
    const space = await runCli(['ledger', 'verify', '--ledger', ' .kamal/image-ledger.jsonl'], { cwd: folder() });
    expect(space.code).toBe(2);
    expect(space.stderr).toContain('white space');
    // a file whose name has a colon is still reachable
    const colon = await runCli(['record', v1, '--ledger', './ledger:v1.jsonl'], { cwd: folder() });
    expect(colon.code).toBe(0);
    expect(colon.stdout).toContain('1 ledger entry written to ./ledger:v1.jsonl');
    const bare = await runCli(['record', v1, '--ledger', 'ledger:v1.jsonl'], { cwd: folder() });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('./ledger:v1.jsonl');
  });
});

describe('verify REF with no ledger named', () => {
  it('outside a Kamal app: passes, creates nothing and says there is no ledger (text and JSON)', async () => {
    const cwd = folder();
    const text = await runCli(['verify', v1], { cwd });
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/note: no digest ledger: no Kamal config \(config\/deploy\.yml\) here and no --ledger or \$KAMAL_GATE_LEDGER_URL/);
    const json = await runCli(['verify', v1, '--format', 'json'], { cwd });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { notes: string[]; ledger?: string };
    expect(report.notes.some((note) => note.startsWith('no digest ledger'))).toBe(true);
    expect(report.ledger).toBeUndefined();
    expect(tree(cwd)).toEqual([]);
    // --no-ledger: no ledger, as asked, and no note about it
    const off = await runCli(['verify', v1, '--no-ledger'], { cwd });
    expect(off.code).toBe(0);
    expect(off.stdout).not.toContain('no digest ledger');
    // --require-recorded cannot be met without a ledger: a usage error, not a silent pass
    const strict = await runCli(['verify', v1, '--require-recorded'], { cwd });
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('--require-recorded needs a digest ledger');
    expect(tree(cwd)).toEqual([]);
  });

  it('in a Kamal app: the default ledger beside the app, as before; a named one anywhere', async () => {
    const app = join(work, `app-${++n}`);
    cpSync(FIXTURE, app, { recursive: true });
    const r = await runCli(['verify', v1, '--format', 'json'], { cwd: app });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { notes: string[] }).notes.join('\n')).not.toContain('no digest ledger');
    expect(readFileSync(join(app, '.kamal', 'image-ledger.jsonl'), 'utf8')).toContain('"repository":"acme/where"');
    const cwd = folder();
    const viaEnv = await runCli(['verify', v1], { cwd, env: { KAMAL_GATE_LEDGER_URL: 'mine.jsonl' } });
    expect(viaEnv.code).toBe(0);
    expect(tree(cwd)).toEqual(['mine.jsonl']);
  });
});

describe('a symbolic link as the ledger or its lock', () => {
  /** A folder outside the app holding `name` (with `content` when given). */
  function outside(name: string, content?: string): string {
    const dir = folder();
    const path = join(dir, name);
    if (content !== undefined) writeFileSync(path, content);
    return path;
  }

  it('a dangling ledger link is refused for reading and writing, naming it, and its target is never created', async () => {
    const cwd = folder();
    const target = outside('planted.jsonl');
    symlinkSync(target, join(cwd, 'ledger.jsonl'));
    for (const args of [['record', v1], ['verify', v1], ['drift'], ['ledger', 'verify'], ['ledger', 'show'], ['ledger', 'export']]) {
      const r = await runCli([...args, '--ledger', 'ledger.jsonl'], { cwd });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain('ledger.jsonl is a symbolic link');
      expect(existsSync(target), args.join(' ')).toBe(false);
    }
    // The default location too: .kamal/image-ledger.jsonl of a Kamal app, planted as a link.
    const app = join(work, `app-${++n}`);
    cpSync(FIXTURE, app, { recursive: true });
    mkdirSync(join(app, '.kamal'), { recursive: true });
    symlinkSync(target, join(app, '.kamal', 'image-ledger.jsonl'));
    const v = await runCli(['verify', v1], { cwd: app });
    expect(v.code).toBe(2);
    expect(v.stderr).toContain(`${join(app, '.kamal', 'image-ledger.jsonl')} is a symbolic link`);
    expect(existsSync(target)).toBe(false);
  });

  it('a link to a real ledger outside is refused and the file is left byte for byte', async () => {
    const real = join(folder(), 'real.jsonl');
    expect((await runCli(['record', v1, '--ledger', real])).code).toBe(0);
    const before = readFileSync(real);
    const mtime = statSync(real).mtimeMs;
    const cwd = folder();
    symlinkSync(real, join(cwd, 'ledger.jsonl'));
    await builder.pushImage('acme/where', 'v1-moved', { seed: 'moved' });
    for (const args of [['record', v1, `${reg.host}/acme/where:v1-moved`], ['verify', v1], ['drift'], ['ledger', 'show']]) {
      const r = await runCli([...args, '--ledger', 'ledger.jsonl'], { cwd });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('ledger.jsonl is a symbolic link');
    }
    expect(readFileSync(real).equals(before)).toBe(true);
    expect(statSync(real).mtimeMs).toBe(mtime);
    expect(existsSync(`${real}.lock`)).toBe(false);
  });

  it('a ledger whose folder is a link is fine: only the last component is checked', async () => {
    const cwd = folder();
    const shared = folder();
    symlinkSync(shared, join(cwd, '.kamal'));
    const r = await runCli(['record', v1, '--ledger', '.kamal/image-ledger.jsonl'], { cwd });
    expect(r.code).toBe(0);
    expect(tree(shared)).toEqual(['image-ledger.jsonl']);
    expect((await runCli(['drift', '--ledger', '.kamal/image-ledger.jsonl'], { cwd })).code).toBe(0);
  });

  it('a lock that is a link (dangling, or to a file) is refused, naming it, and nothing is written', async () => {
    for (const kind of ['dangling', 'to a file'] as const) {
      const cwd = folder();
      const ledger = join(cwd, 'ledger.jsonl');
      expect((await runCli(['record', v1, '--ledger', ledger], { cwd })).code).toBe(0);
      const before = readFileSync(ledger);
      // A lock file as a dead process would leave it: followed, it would be judged stale and removed.
      const holder = `${JSON.stringify({ pid: 2 ** 22 + 1, hostname: 'elsewhere', time: '2026-01-01T00:00:00.000Z' })}\n`;
      const target = kind === 'dangling' ? outside('lock-target') : outside('precious', holder);
      symlinkSync(target, `${ledger}.lock`);
      const r = await runCli(['record', `${reg.host}/acme/where:v1-moved`, '--ledger', ledger], { cwd });
      expect(r.code, kind).toBe(2);
      expect(r.stderr, kind).toContain(`${ledger}.lock is a symbolic link`);
      expect(readFileSync(ledger).equals(before), kind).toBe(true);
      expect(lstatSync(`${ledger}.lock`).isSymbolicLink(), kind).toBe(true);
      if (kind === 'dangling') expect(existsSync(target)).toBe(false);
      else expect(readFileSync(target, 'utf8')).toBe(holder);
    }
  }, 60_000);
});

describe('a symbolic link as the ledger checkpoint', () => {
  it('is refused like the ledger and its lock, and its target is left alone', async () => {
    const cwd = folder();
    const ledger = join(cwd, 'ledger.jsonl');
    expect((await runCli(['record', v1, '--ledger', ledger], { cwd })).code).toBe(0);
    const target = join(folder(), 'planted.checkpoint');
    symlinkSync(target, `${ledger}.checkpoint`);
    for (const args of [
      ['ledger', 'verify'],
      ['verify', v1],
      ['record', v1],
    ]) {
      const r = await runCli([...args, '--ledger', ledger], { cwd });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(`${ledger}.checkpoint is a symbolic link`);
    }
    expect(existsSync(target)).toBe(false);
  });
});

describe('the file ledger refuses links on every read and write, not only when opened', () => {
  const entry: NewEntry = { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, event: 'recorded', source: 'record' };

  it('a link swapped in after opening is refused by the read and by the append (O_NOFOLLOW)', async () => {
    const dir = folder();
    const path = join(dir, 'ledger.jsonl');
    const ledger = new FileLedger(path);
    await ledger.append([entry]);
    const real = join(folder(), 'moved.jsonl');
    cpSync(path, real);
    rmSync(path);
    symlinkSync(real, path);
    await expect(ledger.all()).rejects.toBeInstanceOf(LedgerError);
    await expect(ledger.append([{ ...entry, tag: 'v2' }])).rejects.toThrow(/is a symbolic link/);
    rmSync(path);
    symlinkSync(join(dir, 'nowhere.jsonl'), path);
    await expect(new FileLedger(path).append([entry])).rejects.toBeInstanceOf(LedgerError);
    expect(existsSync(join(dir, 'nowhere.jsonl'))).toBe(false);
    expect(readFileSync(real, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a lock link is refused by the append itself', async () => {
    const dir = folder();
    const path = join(dir, 'ledger.jsonl');
    symlinkSync(join(dir, 'elsewhere'), `${path}.lock`);
    await expect(new FileLedger(path).append([entry])).rejects.toThrow(/ledger\.jsonl\.lock is a symbolic link/);
    expect(existsSync(join(dir, 'elsewhere'))).toBe(false);
  });
});
