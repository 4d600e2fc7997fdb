/**
 * Issue 14: no path of the gate writes outside the app folder, its ledger and its own cache directory.
 *
 * Every kamal-gate command runs, with realistic arguments against a real registry on loopback, in a
 * jail (test/helpers/jail.ts) where only these folders can be written:
 *   (a) the app (a copy of fixtures/demo-app, a git work tree),
 *   (b) the folder of a ledger kept outside the app (--ledger),
 *   (c) the cache directory (KAMAL_GATE_CACHE_DIR; a second one whose tmp/ is a symbolic link to a
 *       folder outside), and the user's own cache root ($XDG_CACHE_HOME), where `trust refresh` keeps
 *       the Sigstore trusted root: a trust anchor is never kept in a cache that may be shared,
 * and everything else is read-only: a read-only mount namespace when the machine allows mounts, else
 * the command runs as a uid that owns only those folders. HOME is a read-only folder of the test, so
 * ~/.cache, ~/.docker, ~/.config, ~/.sigstore are outside too. The test's own servers run outside the jail.
 *
 * A write attempted outside shows up three ways, each failing the test: the command's exit code is
 * not the one expected; EROFS/EACCES/EPERM (or their messages) in its output, also from a write
 * the command treats as optional (the content cache turns itself off with a warning); a difference
 * in before/after snapshots of the test's folder (outside the allowed ones: the decoys, HOME, the
 * folder commands run in when not in the app), the repository's top level, and (for the uid jail)
 * anything owned by the jail uid in the real $HOME, /tmp, /var/tmp, /dev/shm and /run/lock. A
 * failed write named in an error (`ENOENT: …, mkdir '/path'`) outside the allowed folders fails too.
 * Symbolic links pointing outside are planted where the gate writes: a pre-deploy hook linked to a
 * file outside, a cache whose tmp/ links to a folder outside (holding an old file a stale-temp sweep
 * would delete); those two also run once without the jail, against decoys, so a write or delete that
 * the jail turned into a silent no-op is seen in the snapshot.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-registry.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { diffScans, Jail, JAIL_UID, scan, type Entry, type JailResult } from '../helpers/jail.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const FIXTURE = join(REPO, 'fixtures', 'demo-app');
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
/** What a write refused by the jail looks like in a command's output. */
const REFUSED = /\b(EROFS|EACCES|EPERM)\b|read-only file system|permission denied|operation not permitted/i;
const CRASH = /internal error|at \S+:\d+:\d+\)?$/m;
/** A Node error for a call that writes (`ENOENT: no such file or directory, mkdir '/path'`), with its path(s). */
const WRITE_CALL = /\b(E[A-Z]+): [^,\n]+, (mkdir|mkdtemp|rename|unlink|rmdir|rm|symlink|link|copyfile|utime|lutime|chmod|lchmod|chown|lchown|truncate|write) '([^']+)'(?: -> '([^']+)')?/g;

/** The paths of failed writing calls named in `text` that are outside the allowed folders. */
function writesOutside(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(WRITE_CALL)) {
    for (const p of [m[3], m[4]]) if (p && !allowed.some((a) => p === a || p.startsWith(`${a}/`))) out.push(`${m[1]} ${m[2]} ${p}`);
  }
  return out;
}

let reg: TestRegistry;
let builder: ImageBuilder;
let receiver: FakeServer;
let shop: PushedImage;
let pg: PushedImage;
let valkey: PushedImage;
let jail: Jail;
/** the test's folder: everything below is the test's, the allowed folders among it */
let root: string;
let app: string;
let cache: string;
let linkedCache: string;
/** $XDG_CACHE_HOME: the user's own cache root, where `trust refresh` keeps the trusted root (never in a shared cache) */
let xdgCache: string;
let ledgerDir: string;
/** read-only: where commands that take no app run, HOME, the planted links' targets, the checkpoint key */
let elsewhere: string;
let home: string;
let outside: string;
let secrets: string;
let allowed: string[];
const hooks: string[] = [];
const ran: string[] = [];
const OLD_TEMP_FILES = ['old.tmp', '0123456789abcdef.4242'];

const ref = (img: PushedImage) => `${reg.host}/${img.repo}:${img.tag}`;

function git(args: string[], cwd: string): void {
  const r = spawnSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8', env: { ...process.env, HOME: home } });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
}

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  // The developer's and CI's own settings must not choose where things go.
  for (const k of Object.keys(e)) {
    if (k.startsWith('KAMAL_') || k.startsWith('GITHUB_') || k.startsWith('XDG_') || k.startsWith('SIGSTORE_') || k.startsWith('DOCKER_')) delete e[k];
  }
  for (const k of ['VERSION', 'COSIGN_PASSWORD', 'NODE_COMPILE_CACHE', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN']) delete e[k];
  return {
    ...e,
    HOME: home,
    KAMAL_GATE_CACHE_DIR: cache,
    XDG_CACHE_HOME: xdgCache,
    DEMO_REGISTRY: reg.host,
    KAMAL_REGISTRY_PASSWORD: reg.password,
    DOCKER_CONFIG: join(elsewhere, 'no-docker-config'),
    GIT_CEILING_DIRECTORIES: root,
    ...extra,
  };
}

interface Gate {
  cwd?: string;
  /** exit code expected (any of them) */
  code?: number | number[];
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Runs one kamal-gate command in the jail; fails on an unexpected exit code or a refused write in its output. */
async function gate(args: string[], opts: Gate = {}): Promise<JailResult> {
  const cwd = opts.cwd ?? app;
  const r = await jail.run(process.execPath, [CLI, ...args], { cwd, env: env(opts.env), ...(opts.input !== undefined ? { input: opts.input } : {}) });
  const shown = `kamal-gate ${args.join(' ')} (in ${cwd === app ? 'the app' : cwd})\nexit ${r.code}\n--- stdout\n${r.stdout.slice(0, 3000)}\n--- stderr\n${r.stderr.slice(0, 3000)}`;
  const codes = opts.code === undefined ? [0] : Array.isArray(opts.code) ? opts.code : [opts.code];
  expect(codes, shown).toContain(r.code);
  expect(r.stdout + r.stderr, shown).not.toMatch(REFUSED);
  expect(r.stderr, shown).not.toMatch(CRASH);
  expect(writesOutside(r.stdout + r.stderr), shown).toEqual([]);
  ran.push(args.join(' '));
  return r;
}

/** Everything the test looks at outside the allowed folders. */
function snapshot(): Map<string, Entry> {
  const all = new Map<string, Entry>();
  const add = (m: Map<string, Entry>, keep: (e: Entry, path: string) => boolean = () => true) => {
    for (const [p, e] of m) if (keep(e, p)) all.set(p, e);
  };
  add(scan(root, { skip: allowed }));
  // The repository's top level (less what .gitignore says other tests make there meanwhile: .tmp/,
  // coverage/, *.log) and the folders a tool might drop a file in.
  add(scan(REPO, { depth: 0, dirMtimes: false }), (_e, p) => !/^(\.tmp|coverage|.*\.log)$/.test(p.slice(REPO.length + 1)));
  for (const sub of ['.kamal', join('node_modules', '.cache'), 'fixtures', join('fixtures', 'demo-app'), join('fixtures', 'demo-app', '.kamal')]) {
    if (existsSync(join(REPO, sub))) add(scan(join(REPO, sub), { depth: 0, dirMtimes: false }));
  }
  // The commands' HOME is the test's (above); the real one and the world-writable folders: what the
  // jail uid made there (other test files write there too, as root, meanwhile).
  for (const dir of [homedir(), '/tmp', '/var/tmp', '/dev/shm', '/run/lock']) {
    if (existsSync(dir)) add(scan(dir, { depth: 0, dirMtimes: false, fileTimes: false }), (e) => e.uid === JAIL_UID);
  }
  return all;
}

/** Runs `body`, then fails with every path that changed outside the allowed folders. */
async function nothingElseChanges(body: () => Promise<void>): Promise<void> {
  const before = snapshot();
  await body();
  const after = snapshot();
  const changed = diffScans(before, after);
  // The jail uid owns nothing outside the allowed folders (it could only have made it).
  const owned = [...after].filter(([p, e]) => e.uid === JAIL_UID && !allowed.some((a) => p === a || p.startsWith(`${a}/`))).map(([p]) => `owned by the jail uid: ${p}`);
  expect([...changed, ...owned]).toEqual([]);
}

beforeAll(async () => {
  reg = await startRegistry({ auth: 'htpasswd', users: { demo: 'demo-registry-password-14' } });
  builder = new ImageBuilder(reg);
  receiver = await startFakeServer((req, res, body) => {
    if (req.method === 'POST') hooks.push(body.toString());
    // also the TUF mirror of `trust refresh`: it has nothing
    res.writeHead(req.method === 'POST' ? 200 : 404).end(req.method === 'POST' ? 'ok' : 'not found');
  });
  shop = await builder.pushImage('acme/shop', 'v1', { platforms: [AMD64, ARM64], created: '2026-11-01T10:00:00Z', labels: { service: 'shop' }, seed: 'shop-v1' });
  await builder.tagExisting('acme/shop', shop.digest, 'latest');
  await builder.tagExisting('acme/shop', shop.digest, 'latest-staging');
  pg = await builder.pushImage('library/postgres', '16.4', { created: '2026-08-14T09:00:00Z', seed: 'pg' });
  valkey = await builder.pushImage('library/valkey', '8.0', { platforms: [AMD64, ARM64], seed: 'valkey' });
  await builder.pushImage('library/valkey', '8.0-staging', { platforms: [AMD64, ARM64], seed: 'valkey-staging' });
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const payload = simpleSigning(`${reg.host}/acme/shop`, shop.digest);
  await pushLegacy(builder, 'acme/shop', shop.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, privateKey) } }]);

  root = realpathSync(mkdtempSync(join(tmpdir(), 'kg-jail-')));
  for (const d of ['app', 'cache', 'cache-linked', 'ledgers', 'elsewhere', 'home', 'outside', 'outside/tmp', 'secrets', 'xdg-cache']) mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
  xdgCache = join(root, 'xdg-cache');
  [app, cache, linkedCache, ledgerDir, elsewhere, home, outside, secrets] = ['app', 'cache', 'cache-linked', 'ledgers', 'elsewhere', 'home', 'outside', 'secrets'].map((d) => join(root, d)) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  cpSync(FIXTURE, app, { recursive: true });
  writeFileSync(join(app, '.kamal', 'cosign.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  cpSync(join(REPO, 'fixtures', 'demo-gate-policy.yml'), join(app, '.kamal', 'gate-policy.yml'));
  git(['init', '-q'], app);
  git(['add', '.'], app);
  git(['commit', '-q', '-m', 'app'], app);
  writeFileSync(join(secrets, 'checkpoint.key'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o644 });
  // the planted links' targets: a hook outside, and an old temp file a stale-temp sweep would remove
  writeFileSync(join(outside, 'pre-deploy'), '#!/bin/sh\necho "the team\'s own pre-deploy checks"\n', { mode: 0o755 });
  // (one named as the cache names its own temp files)
  const old = new Date(Date.now() - 3 * 3600_000);
  for (const name of OLD_TEMP_FILES) {
    writeFileSync(join(outside, 'tmp', name), "not the cache's");
    utimesSync(join(outside, 'tmp', name), old, old);
  }
  symlinkSync(join(outside, 'tmp'), join(linkedCache, 'tmp'));
  allowed = [app, cache, linkedCache, ledgerDir, xdgCache];
  const probe = join(root, 'probe');
  mkdirSync(probe);
  jail = Jail.setUp(allowed, probe);
  rmSync(probe, { recursive: true, force: true });
}, 60_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), receiver?.stop()]);
  if (root) rmSync(root, { recursive: true, force: true });
  if (jail) console.log(`jail: ${jail.mode}${jail.fallbackReason ? ` (fallback: ${jail.fallbackReason})` : ''}; ran ${ran.length} commands`);
});

describe(`every kamal-gate command writes only the app, its ledger and its cache`, () => {
  it('the jail itself: an allowed folder can be written, the folder around it cannot', async () => {
    const opts = { cwd: app, env: env() };
    // by absolute and by relative path (the working folder is the app)
    const ok = await jail.run('/bin/sh', ['-c', 'touch "$1/jail-probe" && rm "$1/jail-probe" && touch jail-probe && rm jail-probe', 'sh', app], opts);
    expect(ok.code, ok.stderr).toBe(0);
    for (const dir of [root, elsewhere, home, outside, REPO, '/etc']) {
      const no = await jail.run('/bin/sh', ['-c', 'touch "$1/jail-probe"', 'sh', dir], opts);
      expect(no.code, `${dir}: ${no.stderr}`).not.toBe(0);
      expect(no.stderr).toMatch(jail.mode === 'mount' ? /Read-only file system/ : /Permission denied/);
      expect(existsSync(join(dir, 'jail-probe'))).toBe(false);
    }
  });

  it('in the app: targets, lint, policy, record, verify (every format), inspect, drift, ledger, merge driver, hook', async () => {
    await nothingElseChanges(async () => {
      // Commands that write nothing run side by side; those that write the ledger one after the other.
      const [version] = await Promise.all([
        gate(['--version']),
        gate(['--help']),
        gate(['targets']), // the version from git HEAD
        gate(['targets', '-d', 'staging', '--version', 'v1', '--format', 'json']),
        gate(['lint'], { code: [0, 1] }),
        gate(['lint', '-d', 'staging', '--version', 'v1', '--format', 'sarif'], { code: [0, 1] }),
        gate(['policy', 'check']),
        gate(['policy', 'check', '--format', 'json', '--policy', '.kamal/gate-policy.yml']),
        gate(['policy', 'explain', ref(shop)]),
        gate(['policy', 'explain', ref(pg), '--role', 'accessory', '--format', 'json']),
        gate(['policy', 'schema']),
        gate(['policy', 'init', '--path', '.kamal/starter-policy.yml']),
      ]);
      expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
      expect(existsSync(join(app, '.kamal', 'starter-policy.yml'))).toBe(true);
      const key = join(secrets, 'checkpoint.key');
      const login = ['--registry-username', 'demo', '--registry-password-stdin', '--registry-server', reg.host];
      const password = { input: `${reg.password}\n` };
      await gate(['record', '--version', 'v1', '--checkpoint-key', key]);
      expect(readFileSync(join(app, '.kamal', 'image-ledger.jsonl'), 'utf8')).toContain(shop.digest);
      // verify writes the ledger (a tag seen for the first time) and the cache: concurrent runs share both
      await Promise.all([
        gate(['verify', '--version', 'v1', '--stats']),
        gate(['verify', '-d', 'staging', '--version', 'v1', '--format', 'sarif']),
        // an explicit ref in the app: the ledger beside the app's config
        gate(['verify', ref(shop), '--format', 'junit', '--key', '.kamal/cosign.pub', '--insecure-ignore-tlog', ...login], password),
        gate(['verify', '--version', 'v1', '--format', 'github', '--require-recorded', '--no-cache']),
        gate(['verify', '--version', 'v1', '--format', 'json', '--platform', 'linux/arm64', '--cache-max-size', '1'], { code: 3 }),
        gate(['verify', '-c', 'config/deploy.yml', '--version', 'v1', '--quiet', ...login], password),
        gate(['inspect', ref(shop), ...login], password),
        gate(['inspect', ref(valkey), ...login, '--format', 'json', '--platform', 'linux/arm64', '--stats'], password),
      ]);
      await Promise.all([
        gate(['drift']),
        gate(['drift', '--format', 'json', '--shard', '1/2', '-d', 'staging']),
        gate(['ledger', 'verify']),
        gate(['ledger', 'verify', '--format', 'json']),
        gate(['ledger', 'show']),
        gate(['ledger', 'show', ref(pg), '--format', 'json']),
        gate(['ledger', 'export']),
        gate(['ledger', 'export', '-o', 'ledger-export.json']),
      ]);
      expect(existsSync(join(app, 'ledger-export.json'))).toBe(true);
      await gate(['ledger', 'checkpoint', '--checkpoint-key', key]);
      await gate(['ledger', 'forget', ref(valkey)]);
      await gate(['record', '--version', 'v1', '--format', 'json']);
      // the merge driver: git config of this clone and .gitattributes, both in the app
      await gate(['ledger', 'merge-driver', 'install']);
      expect(readFileSync(join(app, '.gitattributes'), 'utf8')).toContain('image-ledger.jsonl');
      await gate(['ledger', 'merge-driver', 'uninstall']);
      const ledger = join(app, '.kamal', 'image-ledger.jsonl');
      for (const v of ['base', 'ours', 'theirs']) cpSync(ledger, join(app, `merge-${v}.jsonl`));
      jail.allow(app);
      await gate(['ledger', 'merge-file', 'merge-base.jsonl', 'merge-ours.jsonl', 'merge-theirs.jsonl', '.kamal/image-ledger.jsonl']);
      // the pre-deploy hook: created, updated, removed
      await gate(['hook', 'install']);
      await gate(['hook', 'install', '--command', '--require-recorded']);
      expect(readFileSync(join(app, '.kamal', 'hooks', 'pre-deploy'), 'utf8')).toContain('--require-recorded');
      await gate(['hook', 'uninstall']);
      await gate(['hook', 'install', '--dir', 'config/hooks']);
      await gate(['hook', 'uninstall', '--dir', 'config/hooks']);
    });
  }, 120_000);

  it('drift --watch (metrics, webhook) until SIGTERM, then an overwritten tag caught by verify, drift, record', async () => {
    await nothingElseChanges(async () => {
      const port = await freePort();
      const { child, done } = jail.spawn(process.execPath, [CLI, 'drift', '--watch', '--interval', '1s', '--metrics', `127.0.0.1:${port}`, '--webhook', `${receiver.url}/hook`, '--quiet'], {
        cwd: app,
        env: env(),
      });
      let rounds = 0;
      for (let i = 0; i < 150 && rounds < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        rounds = await fetch(`http://127.0.0.1:${port}/metrics`)
          .then((r) => r.text())
          .then((t) => Number(/^kamal_gate_drift_rounds_total (\d+)/m.exec(t)?.[1] ?? 0))
          .catch(() => 0);
      }
      child.kill('SIGTERM');
      const r = await done;
      expect(rounds, r.stderr).toBeGreaterThanOrEqual(2);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(REFUSED);
      ran.push('drift --watch');

      const evil = await builder.pushImage('acme/shop', 'v1', { platforms: [AMD64, ARM64], seed: 'backdoor' });
      await gate(['verify', '--version', 'v1'], { code: 1 });
      await gate(['drift', '--webhook', `${receiver.url}/hook`], { code: 1 });
      expect(hooks.join('\n')).toContain(evil.digest);
      await gate(['record', '--version', 'v1'], { code: 1 });
      await gate(['record', '--version', 'v1', '--approve-move', `${reg.host}/acme/shop:v1@${evil.digest}`]);
      // put back, and approved back, for the tests after this one
      await builder.pushManifest('acme/shop', 'v1', shop.bytes, shop.mediaType);
      await gate(['record', '--version', 'v1', '--approve-move', `${reg.host}/acme/shop:v1@${shop.digest}`]);
      await gate(['verify', '--version', 'v1']);
    });
  }, 60_000);

  it('outside any app: explicit refs, a ledger in its own folder, policy, trust refresh, config commands with no config', async () => {
    await nothingElseChanges(async () => {
      const creds = { cwd: elsewhere, input: `${reg.password}\n` };
      const login = ['--registry-username', 'demo', '--registry-password-stdin', '--registry-server', reg.host];
      // no Kamal config here: nothing may appear in this folder (no .kamal/image-ledger.jsonl)
      await Promise.all([
        gate(['verify', ref(pg), ...login], creds),
        gate(['verify', ref(shop), ref(valkey), ...login, '--format', 'json', '--no-ledger'], creds),
        gate(['inspect', ref(pg), ...login], creds),
      ]);
      const ledger = join(ledgerDir, 'images.jsonl');
      const key = join(secrets, 'checkpoint.key');
      const there = { cwd: elsewhere };
      await gate(['record', ref(pg), ref(valkey), ...login, '--ledger', ledger, '--checkpoint-key', key], creds);
      await Promise.all([
        gate(['verify', ref(pg), ...login, '--ledger', ledger], creds),
        gate(['drift', ...login, '--ledger', ledger], creds),
        gate(['ledger', 'verify', '--ledger', ledger], there),
        gate(['ledger', 'show', '--ledger', ledger], there),
        gate(['ledger', 'export', '--ledger', ledger, '-o', join(ledgerDir, 'export.json')], there),
        // the ledger given by environment, as CI does
        gate(['ledger', 'show'], { cwd: elsewhere, env: { KAMAL_GATE_LEDGER_URL: ledger } }),
      ]);
      await gate(['ledger', 'checkpoint', '--ledger', ledger, '--checkpoint-key', key], there);
      await gate(['ledger', 'forget', ref(valkey), '--ledger', ledger], there);
      const results = await Promise.all([
        gate(['policy', 'check'], there),
        gate(['policy', 'explain', 'redis:7.4', '--role', 'accessory'], there),
        gate(['policy', 'schema'], there),
        // the one online step: the mirror (the test's server) has nothing, so it fails cleanly
        gate(['trust', 'refresh', '--mirror', receiver.url], { cwd: elsewhere, code: 3 }),
        gate(['trust', 'refresh', '--mirror', receiver.url, '--cache-dir', cache], { cwd: elsewhere, code: 3 }),
        // commands that need a Kamal config, where there is none
        gate(['targets'], { cwd: elsewhere, code: 2 }),
        gate(['lint'], { cwd: elsewhere, code: 2 }),
        gate(['verify'], { cwd: elsewhere, code: 2 }),
        gate(['ledger', 'verify'], { cwd: elsewhere, code: 2 }),
        gate(['hook', 'uninstall'], there),
      ]);
      expect(results[3]!.stderr).toContain('could not refresh the Sigstore trusted root');
    });
  }, 60_000);

  it('links planted where the gate writes: a pre-deploy hook linked outside, a cache whose tmp/ links outside', async () => {
    const hooksDir = join(app, '.kamal', 'hooks');
    mkdirSync(hooksDir, { recursive: true });
    rmSync(join(hooksDir, 'pre-deploy'), { force: true });
    symlinkSync(join(outside, 'pre-deploy'), join(hooksDir, 'pre-deploy'));
    jail.allow(app);
    const hookBefore = readFileSync(join(outside, 'pre-deploy'));
    await nothingElseChanges(async () => {
      // whether it refuses the link (exit 2) or replaces it inside the app, the file outside stays as it was
      await gate(['hook', 'install'], { code: [0, 2] });
      await gate(['hook', 'uninstall'], { code: [0, 2] });
      await gate(['verify', '--version', 'v1'], { env: { KAMAL_GATE_CACHE_DIR: linkedCache } });
      await gate(['inspect', ref(pg), '--registry-username', 'demo', '--registry-password-stdin', '--registry-server', reg.host], {
        env: { KAMAL_GATE_CACHE_DIR: linkedCache },
        input: `${reg.password}\n`,
      });
      await gate(['verify', '--version', 'v1', '--cache-dir', linkedCache]);
    });
    expect(readFileSync(join(outside, 'pre-deploy'))).toEqual(hookBefore);
    for (const name of OLD_TEMP_FILES) expect(existsSync(join(outside, 'tmp', name))).toBe(true);
  }, 60_000);

  it('the same links without the jail: the decoys outside are not written, nor is anything removed from them', async () => {
    // A write or delete the jail refused silently (a best-effort cleanup) would happen here; the
    // links point only at the test's decoys, so that is all it could touch.
    const decoys = () => scan(outside);
    const before = decoys();
    const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: app, env: env(extra), encoding: 'utf8' });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };
    // the link planted again (the jailed run may have replaced it), and a fresh cache this process owns
    const link = join(app, '.kamal', 'hooks', 'pre-deploy');
    rmSync(link, { force: true });
    symlinkSync(join(outside, 'pre-deploy'), link);
    const freshLinked = join(root, 'cache-linked-unjailed');
    mkdirSync(freshLinked, { mode: 0o755 });
    symlinkSync(join(outside, 'tmp'), join(freshLinked, 'tmp'));
    const hook = await run(['hook', 'install']);
    expect([0, 2], hook.out).toContain(hook.code);
    const unhook = await run(['hook', 'uninstall']);
    expect([0, 2], unhook.out).toContain(unhook.code);
    const v = await run(['verify', '--version', 'v1'], { KAMAL_GATE_CACHE_DIR: freshLinked });
    expect(v.code, v.out).toBe(0);
    expect(diffScans(before, decoys())).toEqual([]);
  }, 60_000);
});
