/**
 * Real child processes appending to one ledger at once. The children are plain Node (.mjs) and
 * import the ledger compiled from src/ by `buildLedgerModule` into .tmp/ (inside the project, so
 * `pg` resolves from its node_modules) — compiled from the current sources each run, so the test
 * never exercises a stale dist/.
 */
import { spawn, execFile as execFileCb } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/ledger/append-child.mjs');

export interface BuiltModule {
  /** Absolute path of the compiled src/ledger/index.js. */
  path: string;
  remove(): Promise<void>;
}

export async function buildLedgerModule(): Promise<BuiltModule> {
  await mkdir(join(ROOT, '.tmp'), { recursive: true });
  const dir = await mkdtemp(join(ROOT, '.tmp', 'ledger-build-'));
  const config = {
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { outDir: join(dir, 'out'), rootDir: join(ROOT, 'src'), declaration: false, noEmit: false },
    files: [join(ROOT, 'src/ledger/index.ts')],
    include: [],
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(config));
  try {
    await execFile(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: ROOT });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    throw new Error(`compiling src/ledger for the child processes failed:\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
  return { path: join(dir, 'out/ledger/index.js'), remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface ChildResult {
  code: number | null;
  stderr: string;
}

/**
 * Starts `n` children, waits until each is ready, then releases them all at once.
 * mode `append`: each opens the ledger, then on the signal appends `count` entries, one per call,
 *   tag `t<i>` in repository `w<worker>`.
 * mode `open`: on the signal each opens the ledger (a concurrent first open) and appends one entry.
 */
export async function runChildren(modulePath: string, location: string, n: number, mode: 'append' | 'open', count = 1): Promise<ChildResult[]> {
  const children = Array.from({ length: n }, (_, worker) =>
    spawn(process.execPath, [CHILD, modulePath, location, mode, String(worker), String(count)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const results = children.map(
    (child) =>
      new Promise<ChildResult>((done) => {
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => done({ code, stderr }));
      }),
  );
  const ready = children.map(
    (child) =>
      new Promise<void>((ok, fail) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready\n')) ok();
        });
        child.on('close', (code) => fail(new Error(`child exited (${code}) before it was ready`)));
      }),
  );
  try {
    await Promise.all(ready);
  } catch (e) {
    children.forEach((c) => c.kill());
    const res = await Promise.all(results);
    throw new Error(`${(e as Error).message}: ${res.map((r) => r.stderr).join('\n')}`);
  }
  for (const child of children) child.stdin.end('go\n');
  return Promise.all(results);
}
