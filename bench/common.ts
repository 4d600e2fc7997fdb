/** What the benchmarks share: running a process, timing, and printing a table with targets. */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * What users run: the package's `kamal-gate` command (bin/kamal-gate.mjs, which runs the single-file
 * build with Node's compile cache), on Node 22, the oldest Node the package supports (.ci/runtimes,
 * installed by scripts/bench.sh). The benchmarks themselves run under tsx on the machine's Node.
 */
export const CLI = resolve(ROOT, 'bin', 'kamal-gate.mjs');
export const NODE = resolve(ROOT, '.ci', 'runtimes', 'node_modules', 'node22', 'bin', 'node');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Runs `cmd` and fails the benchmark with its output when it does not exit `expect`. */
export async function mustRun(what: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; expect?: number } = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== (opts.expect ?? 0)) throw new Error(`${what} exited ${r.code}: ${(r.stderr || r.stdout).slice(0, 2000)}`);
  return r;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes a positive whole number`);
  return v;
}

export async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let i = next++; i < items.length; i = next++) await f(items[i]!);
    }),
  );
}

/** A figure held against a target: `PASS`/`MISS` printed beside it. */
export function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

export function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`;
}

export function bytes(x: number): string {
  if (x >= 1024 * 1024) return `${(x / 1024 / 1024).toFixed(1)} MiB`;
  if (x >= 1024) return `${(x / 1024).toFixed(1)} KiB`;
  return `${x.toFixed(0)} B`;
}

/** Prints a table: the first row is the header; the first column is left-aligned, the rest right-aligned. */
export function table(title: string, rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  console.log(`\n${title}`);
  rows.forEach((r, i) => {
    console.log(
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    );
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

export interface Target {
  /** The figure, e.g. "verify of one image over node -e 0". */
  what: string;
  /** This tool's figure, formatted. */
  value: string;
  /** The peer measured in the same run (skopeo, node -e 0, a full check), formatted; '-' when the figure has none. */
  peer?: string;
  target: string;
  ok: boolean;
}

/**
 * Lines "figure: value (peer …) (target …) PASS|MISS", printed under a table. When scripts/bench.sh
 * runs the benchmarks it sets KAMAL_GATE_BENCH_SUMMARY to a file; each line is appended there too
 * (one JSON object per line), and bench.sh prints them all as one table at the end.
 */
export function targets(lines: Target[]): void {
  for (const l of lines) console.log(`  ${l.what}: ${l.value}${l.peer ? ` (peer ${l.peer})` : ''} (target ${l.target}) ${verdict(l.ok)}`);
  const summary = process.env['KAMAL_GATE_BENCH_SUMMARY'];
  if (summary) appendFileSync(summary, lines.map((l) => `${JSON.stringify({ bench: BENCH_NAME, ...l })}\n`).join(''));
}

const BENCH_NAME = basename(process.argv[1] ?? 'bench', '.ts');

export function fail(name: string) {
  return (e: unknown): never => {
    console.error(`bench/${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  };
}
