/**
 * Writes outside the app, through the real CLI:
 *
 * - `hook install|uninstall` with `.kamal/hooks/pre-deploy` as a symbolic link (to a file outside
 *   the app, to a binary, dangling), a directory or a FIFO: exit 2 naming the path, and the file
 *   outside byte-identical with its mode unchanged. A hooks folder that leads outside the app is
 *   used only when named with --dir.
 * - the content cache with `tmp/` or `blobs/…` linked into an app folder holding old files: nothing
 *   outside the cache is deleted; a cache directory others can write, or owned by another user
 *   (chown 65534), gives one warning and `inspect` still works against the real registry, uncached;
 *   a missing default directory is created 0700.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const HOOK = join('.kamal', 'hooks', 'pre-deploy');
const NOBODY = 65534;

let work: string;
let n = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kg-hooks-cache-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function fresh(name: string): string {
  const d = join(work, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** An app folder with `.kamal/hooks`, and a folder outside it. */
function appAndOutside(): { app: string; hooks: string; outside: string } {
  const app = fresh('app');
  const hooks = join(app, '.kamal', 'hooks');
  mkdirSync(hooks, { recursive: true });
  return { app, hooks, outside: fresh('outside') };
}

/** Every file under `dir` with its bytes' hash, mode and kind: what must not change. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name);
    const st = lstatSync(p);
    const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    const hash = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : '';
    out[name] = `${kind} ${(st.mode & 0o7777).toString(8)} ${hash} ${st.isFile() ? st.mtimeMs : ''}`;
  }
  return out;
}

const hook = (app: string, cmd: 'install' | 'uninstall', extra: string[] = []) => runCli(['hook', cmd, ...extra], { cwd: app });

function expectUsageError(r: CliResult, ...patterns: RegExp[]): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error|this is a bug|\n\s+at /);
  for (const p of patterns) expect(r.stderr).toMatch(p);
}

describe('hook install|uninstall: pre-deploy that is not a regular file', () => {
  const SHARED = '#!/bin/sh\n# shared hook of every app\necho shared\n';

  it('a symbolic link to a file outside the app: exit 2, the file byte-identical and its mode unchanged', async () => {
    const { app, hooks, outside } = appAndOutside();
    writeFileSync(join(outside, 'pre-deploy'), SHARED, { mode: 0o644 });
    chmodSync(join(outside, 'pre-deploy'), 0o644);
    symlinkSync(join(outside, 'pre-deploy'), join(hooks, 'pre-deploy'));
    const before = snapshot(outside);
    expectUsageError(await hook(app, 'install'), /\.kamal\/hooks\/pre-deploy is a symbolic link/, /cp --remove-destination/);
    expect(snapshot(outside)).toEqual(before);
    expect(statSync(join(outside, 'pre-deploy')).mode & 0o777).toBe(0o644);
    expect(lstatSync(join(hooks, 'pre-deploy')).isSymbolicLink()).toBe(true);
    expect(readdirSync(hooks)).toEqual(['pre-deploy']);
    expectUsageError(await hook(app, 'uninstall'), /symbolic link/);
    expect(snapshot(outside)).toEqual(before);
  });

  it('a symbolic link to a shared file that already holds the gate: uninstall leaves it alone (exit 2)', async () => {
    const { app, hooks, outside } = appAndOutside();
    // a real install elsewhere makes the file
    const other = appAndOutside();
    expect((await hook(other.app, 'install')).code).toBe(0);
    copyFileSync(join(other.hooks, 'pre-deploy'), join(outside, 'pre-deploy'));
    symlinkSync(join(outside, 'pre-deploy'), join(hooks, 'pre-deploy'));
    const before = snapshot(outside);
    expectUsageError(await hook(app, 'uninstall'), /symbolic link/);
    expectUsageError(await hook(app, 'install', ['--command', '--no-ledger']), /symbolic link/);
    expect(snapshot(outside)).toEqual(before);
  });

  it('a symbolic link to a binary: not renamed, not replaced (exit 2)', async () => {
    const { app, hooks, outside } = appAndOutside();
    copyFileSync('/bin/true', join(outside, 'deploy-check'));
    chmodSync(join(outside, 'deploy-check'), 0o755);
    symlinkSync(join(outside, 'deploy-check'), join(hooks, 'pre-deploy'));
    const before = snapshot(outside);
    expectUsageError(await hook(app, 'install'), /symbolic link/);
    expect(snapshot(outside)).toEqual(before);
    expect(existsSync(join(outside, 'deploy-check.kamal-gate-original'))).toBe(false);
    expect(readdirSync(hooks)).toEqual(['pre-deploy']);
  });

  it('a dangling symbolic link: exit 2, nothing created where it points', async () => {
    const { app, hooks, outside } = appAndOutside();
    symlinkSync(join(outside, 'missing-hook'), join(hooks, 'pre-deploy'));
    expectUsageError(await hook(app, 'install'), /symbolic link .*does not exist/, /rm \.kamal\/hooks\/pre-deploy/);
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(join(hooks, 'pre-deploy')).isSymbolicLink()).toBe(true);
    expectUsageError(await hook(app, 'uninstall'), /symbolic link/);
  });

  it('a directory: a usage error naming the path (exit 2), not an internal error', async () => {
    const { app, hooks } = appAndOutside();
    mkdirSync(join(hooks, 'pre-deploy'));
    writeFileSync(join(hooks, 'pre-deploy', 'keep'), 'x');
    expectUsageError(await hook(app, 'install'), /\.kamal\/hooks\/pre-deploy is a directory, not a file/, /mv /);
    expectUsageError(await hook(app, 'uninstall'), /\.kamal\/hooks\/pre-deploy is a directory/);
    expect(readdirSync(join(hooks, 'pre-deploy'))).toEqual(['keep']);
    expect(readdirSync(hooks)).toEqual(['pre-deploy']);
  });

  it('a FIFO: exit 2 at once (never opened for reading, so nothing hangs)', async () => {
    const { app, hooks } = appAndOutside();
    execFileSync('mkfifo', [join(hooks, 'pre-deploy')]);
    expectUsageError(await hook(app, 'install'), /pre-deploy is a named pipe \(FIFO\), not a file/);
    expectUsageError(await hook(app, 'uninstall'), /named pipe/);
    expect(lstatSync(join(hooks, 'pre-deploy')).isFIFO()).toBe(true);
  }, 15_000);

  it('pre-deploy.kamal-gate-original as a symbolic link: a hook in another language is not moved over it (exit 2)', async () => {
    const { app, hooks, outside } = appAndOutside();
    writeFileSync(join(hooks, 'pre-deploy'), '#!/usr/bin/env ruby\nputs 1\n', { mode: 0o755 });
    writeFileSync(join(outside, 'victim'), 'victim\n');
    symlinkSync(join(outside, 'victim'), join(hooks, 'pre-deploy.kamal-gate-original'));
    const before = snapshot(outside);
    expectUsageError(await hook(app, 'install'), /pre-deploy\.kamal-gate-original is a symbolic link/);
    expect(snapshot(outside)).toEqual(before);
    expect(readFileSync(join(hooks, 'pre-deploy'), 'utf8')).toBe('#!/usr/bin/env ruby\nputs 1\n');
  });
});

describe('hook install|uninstall: a hooks folder that leads outside the app', () => {
  it('.kamal/hooks linked to a shared folder: refused without --dir (nothing written there); with --dir it is changed on purpose', async () => {
    const app = fresh('app');
    const shared = fresh('shared-hooks');
    mkdirSync(join(app, '.kamal'));
    symlinkSync(shared, join(app, '.kamal', 'hooks'));
    expectUsageError(await hook(app, 'install'), /outside this app/, new RegExp(`--dir ${shared.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(readdirSync(shared)).toEqual([]);
    expectUsageError(await hook(app, 'uninstall'), /outside this app/);
    const asked = await hook(app, 'install', ['--dir', shared]);
    expect(asked.code, asked.stderr).toBe(0);
    expect(readdirSync(shared)).toEqual(['pre-deploy']);
    expect((await hook(app, 'uninstall', ['--dir', shared])).code).toBe(0);
    expect(readdirSync(shared)).toEqual([]);
  });

  it('.kamal linked outside, hooks folder missing: no folder is created outside', async () => {
    const app = fresh('app');
    const elsewhere = fresh('shared-kamal');
    symlinkSync(elsewhere, join(app, '.kamal'));
    expectUsageError(await hook(app, 'install'), /outside this app/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('a link that stays inside the app is fine', async () => {
    const app = fresh('app');
    mkdirSync(join(app, 'deploy-hooks'));
    mkdirSync(join(app, '.kamal'));
    symlinkSync(join('..', 'deploy-hooks'), join(app, '.kamal', 'hooks'));
    const r = await hook(app, 'install');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(app, 'deploy-hooks'))).toEqual(['pre-deploy']);
    expect(lstatSync(join(app, HOOK)).isFile()).toBe(true);
  });
});

describe('content cache: never outside its directory, never a directory others control', () => {
  let reg: TestRegistry;
  let ref: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'none' });
    await new ImageBuilder(reg).pushImage('acme/shop', 'v1', {
      seed: 'cache-hostile',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
    });
    ref = `${reg.host}/acme/shop:v1`;
  });
  afterAll(async () => {
    await reg?.stop();
  });

  const inspect = (cacheDir: string, extra: string[] = []) => runCli(['inspect', ref, '--format', 'json', '--cache-dir', cacheDir, ...extra], { env: { DOCKER_CONFIG: join(work, 'no-docker') } });
  const blobs = (dir: string) => (existsSync(join(dir, 'blobs', 'sha256')) ? readdirSync(join(dir, 'blobs', 'sha256')) : []);
  const warnings = (r: CliResult) => r.stderr.match(/warning: /g) ?? [];

  /** An app folder with a ledger and other files, all two hours old; one named like a cache file. */
  function appWithOldFiles(): { app: string; before: Record<string, string> } {
    const app = fresh('cache-victim');
    writeFileSync(join(app, 'image-ledger.jsonl'), '{"seq":1}\n');
    writeFileSync(join(app, 'notes.txt'), 'keep me\n');
    writeFileSync(join(app, '0123456789abcdef.42'), 'named like a cache temp file\n');
    writeFileSync(join(app, 'a'.repeat(64)), 'named like a cache blob\n');
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const f of readdirSync(app)) utimesSync(join(app, f), old, old);
    return { app, before: snapshot(app) };
  }

  it('a proper cache directory is used (the control for what follows)', async () => {
    const dir = fresh('cache-ok');
    chmodSync(dir, 0o700);
    const r = await inspect(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r)).toEqual([]);
    expect(blobs(dir).length).toBeGreaterThan(0);
  });

  for (const linked of ['tmp', 'blobs', join('blobs', 'sha256'), 'memo']) {
    it(`${linked}/ linked into an app folder with old files: nothing outside the cache is deleted, one warning`, async () => {
      const { app, before } = appWithOldFiles();
      const dir = fresh('cache-linked');
      chmodSync(dir, 0o700);
      if (linked !== 'blobs') mkdirSync(join(dir, 'blobs'), { mode: 0o700 });
      symlinkSync(app, join(dir, linked));
      // small enough that the first write evicts: eviction and the stale-temp sweep both run
      const r = await inspect(dir, ['--cache-max-size', '0.001']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).digest).toMatch(/^sha256:/);
      expect(snapshot(app)).toEqual(before);
      expect(warnings(r)).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`folder ${linked.replace('/', '\\/')} that is a symbolic link`));
    });
  }

  it("a real tmp/ holding files that are not the cache's own: only its own stale temp files are removed", async () => {
    const dir = fresh('cache-foreign');
    chmodSync(dir, 0o700);
    mkdirSync(join(dir, 'tmp'), { mode: 0o700 });
    const old = new Date(Date.now() - 2 * 3600_000);
    writeFileSync(join(dir, 'tmp', 'foreign.txt'), 'not ours');
    writeFileSync(join(dir, 'tmp', '0123456789abcdef.7'), 'ours, stale');
    for (const f of readdirSync(join(dir, 'tmp'))) utimesSync(join(dir, 'tmp', f), old, old);
    const r = await inspect(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'tmp'))).toEqual(['foreign.txt']);
  });

  it('a cache directory writable by others (0777): one warning, inspect works without the cache', async () => {
    const dir = fresh('cache-0777');
    chmodSync(dir, 0o777);
    for (let i = 0; i < 2; i++) {
      const r = await inspect(dir, ['--stats']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).digest).toMatch(/^sha256:/);
      expect(warnings(r)).toHaveLength(1);
      expect(r.stderr).toMatch(/writable by group or others \(mode 0777\).*continuing without a cache/i);
      expect(r.stderr).toMatch(/chmod -R go-w/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a cache directory owned by another user (uid 65534): one warning, inspect works without the cache', async () => {
    const dir = fresh('cache-nobody');
    chmodSync(dir, 0o755);
    chownSync(dir, NOBODY, NOBODY);
    const r = await inspect(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/owned by another user \(uid 65534/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a cache folder inside owned by another user: refused too', async () => {
    const dir = fresh('cache-sub-nobody');
    chmodSync(dir, 0o700);
    mkdirSync(join(dir, 'blobs'), { mode: 0o755 });
    chownSync(join(dir, 'blobs'), NOBODY, NOBODY);
    const r = await inspect(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/folder blobs that is owned by another user/);
  });

  it('the cache directory as a symbolic link planted by another user: refused; one of our own is followed', async () => {
    const target = fresh('cache-target');
    chmodSync(target, 0o700);
    const planted = join(fresh('shared-tmp'), 'cache');
    symlinkSync(target, planted);
    lchownSync(planted, NOBODY, NOBODY);
    const r = await inspect(planted);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/symbolic link owned by another user/);
    expect(readdirSync(target)).toEqual([]);
    const own = join(fresh('own'), 'cache');
    symlinkSync(target, own);
    const ok = await inspect(own);
    expect(ok.code, ok.stderr).toBe(0);
    expect(warnings(ok)).toEqual([]);
    expect(blobs(target).length).toBeGreaterThan(0);
  });

  it('the default directory is created 0700 (and $XDG_CACHE_HOME with it)', async () => {
    const xdg = join(fresh('xdg'), 'cache-home');
    const r = await runCli(['inspect', ref, '--format', 'json'], { env: { XDG_CACHE_HOME: xdg, DOCKER_CONFIG: join(work, 'no-docker') } });
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(xdg, 'kamal-gate')).mode & 0o777).toBe(0o700);
    expect(statSync(xdg).mode & 0o777).toBe(0o700);
    expect(blobs(join(xdg, 'kamal-gate')).length).toBeGreaterThan(0);
  });
});
