/** Runs the built CLI (dist/cli.js) as a user would: a child process, its exit code and output. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `timeoutMs`: the child is killed (SIGKILL) after that long, and the result has code -1: a hang fails the test instead of hanging it. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
    // A developer's own environment must not leak into what the tests see.
    for (const k of ['KAMAL_VERSION', 'VERSION', 'KAMAL_DESTINATION']) if (!(opts.env && k in opts.env)) delete env[k];
    // Each run gets an empty content cache unless the test chooses one: runs stay independent of
    // each other and of the developer's ~/.cache/kamal-gate.
    if (!(opts.env && ('KAMAL_GATE_CACHE_DIR' in opts.env || 'XDG_CACHE_HOME' in opts.env))) {
      env['KAMAL_GATE_CACHE_DIR'] = mkdtempSync(join(tmpdir(), 'kg-cache-'));
    } else if (!('KAMAL_GATE_CACHE_DIR' in opts.env)) delete env['KAMAL_GATE_CACHE_DIR'];
    // Without a cwd, a fresh folder: the CLI writes its ledger beside where it runs, never into the repo.
    const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), 'kg-cwd-'));
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
