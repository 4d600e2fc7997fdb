/**
 * Runs the built CLI (dist/) as a user would: its exit code and output.
 *
 * `runCli` runs it in this test process through the CLI's in-process entry (`main(argv, io)` with
 * the test's cwd, env and stdin). Runs are one at a time per test process, and for the length of a
 * run `process.cwd()` and `process.env` are the run's own too, as they would be in a child: third-
 * party code (e.g. @sigstore/sign's CI identity provider) reads them, and a relative path the user
 * typed is read against that folder. `runCliProcess` runs a real child process: for what only a
 * process shows (start-up, signals, crashes, the installed bin).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const MAIN = pathToFileURL(resolve(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')).href;
const IO = pathToFileURL(resolve(import.meta.dirname, '..', '..', 'dist', 'cli', 'io.js')).href;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** A run still going after this long ends the wait with code -1: a hang fails the test instead of hanging it (a child is killed). */
  timeoutMs?: number;
}

/** The environment and folder a run gets: the test's own, minus what a developer's shell would leak in. */
function runContext(opts: CliOptions): { env: NodeJS.ProcessEnv; cwd: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  // A developer's own environment must not leak into what the tests see.
  for (const k of ['KAMAL_VERSION', 'VERSION', 'KAMAL_DESTINATION', 'FORCE_COLOR', 'NO_COLOR']) if (!(opts.env && k in opts.env)) delete env[k];
  // Each run gets an empty content cache unless the test chooses one: runs stay independent of
  // each other and of the developer's ~/.cache/kamal-gate.
  if (!(opts.env && ('KAMAL_GATE_CACHE_DIR' in opts.env || 'XDG_CACHE_HOME' in opts.env))) {
    env['KAMAL_GATE_CACHE_DIR'] = mkdtempSync(join(tmpdir(), 'kg-cache-'));
  } else if (!('KAMAL_GATE_CACHE_DIR' in opts.env)) delete env['KAMAL_GATE_CACHE_DIR'];
  // Without a cwd, a fresh folder: the CLI writes its ledger beside where it runs, never into the repo.
  const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), 'kg-cwd-'));
  return { env, cwd };
}

let queue: Promise<unknown> = Promise.resolve();

/** The CLI in this process (see the file comment). */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const run = queue.then(() => runInProcess(args, opts));
  queue = run.catch(() => undefined);
  return run;
}

async function runInProcess(args: string[], opts: CliOptions): Promise<CliResult> {
  const { env, cwd } = runContext(opts);
  const [{ main }, { stdinOf }] = await Promise.all([import(MAIN) as Promise<typeof import('../../src/cli/main.js')>, import(IO) as Promise<typeof import('../../src/cli/io.js')>]);
  let stdout = '';
  let stderr = '';
  const savedCwd = process.cwd();
  const savedEnv = process.env;
  process.chdir(cwd);
  process.env = env;
  try {
    const running = main(['node', CLI, ...args], {
      out: (s) => void (stdout += s),
      err: (s) => void (stderr += s),
      env,
      cwd,
      isTty: false,
      outIsTty: false,
      stdin: stdinOf(opts.input),
      onSignal: () => () => undefined,
    });
    let timer: NodeJS.Timeout | undefined;
    const code = await (opts.timeoutMs ? Promise.race([running, new Promise<number>((r) => (timer = setTimeout(() => r(-1), opts.timeoutMs)))]).finally(() => clearTimeout(timer)) : running);
    return { code, stdout, stderr };
  } finally {
    process.chdir(savedCwd);
    process.env = savedEnv;
  }
}

/** The CLI as a child process (`node dist/cli.js …`). */
export function runCliProcess(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const { env, cwd } = runContext(opts);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.timeoutMs ? { timeout: opts.timeoutMs, killSignal: 'SIGKILL' as const } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
