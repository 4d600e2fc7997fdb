/**
 * Progress for long runs shows on a terminal only: run under a real pseudo-terminal (`script`),
 * verify and drift print it on stderr; piped, or with --quiet, they print plain lines only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let reg: TestRegistry;
let work: string;
let refs: string[];

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  work = mkdtempSync(join(tmpdir(), 'kg-progress-'));
  const b = new ImageBuilder(reg);
  refs = [];
  for (const name of ['a', 'b', 'c']) refs.push((await b.pushImage(`progress/${name}`, 'v1', { seed: name })).ref);
});
afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs the CLI on a pseudo-terminal (util-linux `script`) and returns what the terminal showed. */
function onTerminal(args: string[]): { code: number | null; screen: string } {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-q', '-e', '-c', quoted, '/dev/null'], { cwd: work, encoding: 'utf8', env: { ...process.env, TERM: 'dumb' } });
  return { code: r.status, screen: r.stdout };
}

describe('progress', () => {
  it('verify shows how many images are resolved, on a terminal only', async () => {
    const tty = onTerminal(['verify', ...refs, '--no-ledger']);
    expect(tty.code).toBe(0);
    expect(tty.screen).toContain('resolving 3/3 images');
    const quiet = onTerminal(['verify', ...refs, '--no-ledger', '--quiet']);
    expect(quiet.screen).not.toContain('resolving');
    const piped = await runCli(['verify', ...refs, '--no-ledger'], { cwd: work });
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toContain('resolving');
  });

  it('drift shows how many tags are checked, on a terminal only', async () => {
    const ledger = join(work, 'ledger.jsonl');
    expect((await runCli(['record', ...refs, '--ledger', ledger], { cwd: work })).code).toBe(0);
    const tty = onTerminal(['drift', '--ledger', ledger]);
    expect(tty.code).toBe(0);
    expect(tty.screen).toContain('checking 3/3 tags');
    expect(onTerminal(['drift', '--ledger', ledger, '--quiet']).screen).not.toContain('checking');
    const piped = await runCli(['drift', '--ledger', ledger], { cwd: work });
    expect(piped.stderr).not.toContain('checking');
    expect(piped.stdout).toMatch(/3 tags checked/);
  });
});
