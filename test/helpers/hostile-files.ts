/** What the hostile local-file tests share: a Kamal config, a CLI run that cannot hang, the refusal oracle. */
import { expect } from 'vitest';
import { runCliProcess, type CliResult } from './cli.js';

/** A run still going after this long is killed: its result has code -1 and the test fails. */
export const RUN_TIMEOUT_MS = 20_000;

/** A Kamal config whose registry password is a secret, so that `targets` reads `.kamal/secrets`. */
export const CONFIG = `service: app
image: acme/app
servers:
  web:
    hosts: [1.1.1.1]
registry:
  server: ghcr.io
  username: deployer
  password:
    - KAMAL_REGISTRY_PASSWORD
builder:
  arch: amd64
`;

export function run(args: string[], cwd: string, input?: string): Promise<CliResult> {
  // A real process: hostile input is about what the process does (its stack, memory, a hang killed).
  return runCliProcess(args, { cwd, timeoutMs: RUN_TIMEOUT_MS, ...(input !== undefined ? { input } : {}) });
}

/** Exit 2, the file named, what is wrong said, no stack trace (errors go to stderr; `ledger verify` reports on stdout). */
export function expectRefused(r: CliResult, file: string, ...said: Array<string | RegExp>): void {
  const out = r.stderr + r.stdout;
  expect(r.code, `exit code (-1: killed after ${RUN_TIMEOUT_MS} ms); output: ${out.slice(0, 500)}`).toBe(2);
  expect(out).toContain(file);
  for (const s of said) expect(out).toMatch(s);
  expect(out).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(out).not.toMatch(/FATAL ERROR|heap out of memory|RangeError|TypeError/);
}
