/**
 * Fast start (issue 8): a command loads only the packages it uses. `--version` loads none, `--help`
 * only commander, a verify whose policy asks for no signature never loads @sigstore/*, and nothing
 * but a postgres:// ledger loads pg. Checked by tracing the modules the real CLI process resolves.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess as runCli } from '../helpers/cli.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const TRACE = pathToFileURL(resolve(import.meta.dirname, '..', 'helpers', 'module-trace.mjs')).href;
const HEAVY = ['commander', 'undici', 'zod', 'yaml', 'pg', '@sigstore', 'semver'];

let dir: string;
let reg: TestRegistry;
let img: PushedImage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kg-startup-'));
  reg = await startRegistry({ auth: 'none' });
  img = await new ImageBuilder(reg).pushImage('acme/app', 'v1', { seed: 'startup' });
});

afterAll(async () => {
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The packages (node_modules/<name>) the CLI process loaded for these arguments. */
async function packagesLoaded(args: string[], expectCode = 0): Promise<string[]> {
  const trace = join(dir, `trace-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(trace, '');
  const r = await runCli(args, { cwd: dir, env: { NODE_OPTIONS: `--import=${TRACE}`, KG_MODULE_TRACE: trace, XDG_CACHE_HOME: join(dir, 'cache') } });
  expect(r.code, r.stderr).toBe(expectCode);
  const urls = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  expect(urls.some((u) => u.endsWith('/dist/cli.js'))).toBe(true); // the trace works
  const names = urls.flatMap((u) => {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
    return m ? [m[1]!.startsWith('@sigstore/') ? '@sigstore' : m[1]!] : [];
  });
  return [...new Set(names)].filter((n) => HEAVY.includes(n)).sort();
}

describe('start-up loads only what the command uses', () => {
  it('--version loads no package at all', async () => {
    expect(await packagesLoaded(['--version'])).toEqual([]);
  });

  it('--help of the program and of each command group loads only commander', async () => {
    for (const args of [['--help'], ['verify', '--help'], ['drift', '--help'], ['ledger', 'show', '--help'], ['policy', 'check', '--help'], ['lint', '--help']]) {
      expect(await packagesLoaded(args), args.join(' ')).toEqual(['commander']);
    }
  });

  it('verify under a policy without signatures loads neither @sigstore/* nor pg', async () => {
    const loaded = await packagesLoaded(['verify', img.ref, '--ledger', join(dir, 'ledger.jsonl')]);
    expect(loaded).toContain('undici');
    expect(loaded).not.toContain('@sigstore');
    expect(loaded).not.toContain('pg');
  });

  it('verify under a policy that requires signatures loads the signature code (and fails the unsigned image)', async () => {
    const policy = join(dir, 'signed.yml');
    writeFileSync(policy, 'version: 1\nrules:\n  - name: signed\n    match:\n      roles: [app]\n    signatures:\n      mode: enforce\n      keys: [cosign.pub]\n      tlog: optional\n');
    writeFileSync(join(dir, 'cosign.pub'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    const loaded = await packagesLoaded(['verify', img.ref, '--no-ledger', '--policy', policy], 1);
    expect(loaded).toContain('@sigstore');
    expect(loaded).not.toContain('pg');
  });
});

/** The Node built-in modules a process of the package's `kamal-gate` command (the single-file build) loaded for these arguments. */
async function builtinsLoadedByBundle(args: string[]): Promise<string[]> {
  const list = join(dir, `builtins-${Math.random().toString(36).slice(2)}.txt`);
  const hook = join(dir, 'builtins-hook.mjs');
  writeFileSync(hook, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.KG_BUILTINS_LIST, process.moduleLoadList.join('\\n')));\n`);
  const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'kamal-gate.mjs');
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(hook).href, bin, ...args], {
      cwd: dir,
      env: { ...process.env, KG_BUILTINS_LIST: list, XDG_CACHE_HOME: join(dir, 'cache-bundle') },
      stdio: 'ignore',
    });
    child.on('error', fail);
    child.on('close', done);
  });
  expect(code).toBe(0);
  return readFileSync(list, 'utf8').split('\n');
}

describe('the single-file build starts without what it does not use', () => {
  it("a verify over HTTP loads neither node:http2 nor Node's own copy of undici (the bundle reaches built-ins through require)", async () => {
    const loaded = await builtinsLoadedByBundle(['verify', img.ref, '--no-ledger']);
    expect(loaded).toContain('NativeModule net'); // the list is real: the verify spoke HTTP
    expect(loaded).not.toContain('NativeModule http2');
    expect(loaded.filter((m) => m.includes('internal/deps/undici'))).toEqual([]);
  });
});

describe('the process ends when its output is out, and not before', () => {
  it('a large JSON document through a pipe that is read late arrives whole', async () => {
    const { openLedger } = await import('../../src/ledger/index.js');
    const ledgerPath = join(dir, 'big-ledger.jsonl');
    const ledger = await openLedger(ledgerPath);
    const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
    await ledger.append(
      Array.from({ length: 3000 }, (_, i) => ({ registry: 'ghcr.io', repository: 'acme/app', tag: `v${i}`, digest: digest(i), event: 'recorded' as const, source: 'record' as const })),
    );
    await ledger.close();
    const cli = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
    const out = await new Promise<string>((done, fail) => {
      const child = spawn(process.execPath, [cli, 'ledger', 'show', '--ledger', ledgerPath, '--format', 'json'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
      child.on('error', fail);
      // Read nothing for a while: the output (far over a pipe's 64 KiB) waits in the process.
      child.stdout.pause();
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      setTimeout(() => child.stdout.resume(), 500);
      child.on('close', (code) => (code === 0 ? done(Buffer.concat(chunks).toString()) : fail(new Error(`exit ${code}`))));
    });
    expect(out.length).toBeGreaterThan(256 * 1024);
    const doc = JSON.parse(out) as { tags: { ref: string }[] };
    expect(doc.tags.length).toBe(3000);
    expect(doc.tags.at(-1)?.ref).toBe('ghcr.io/acme/app:v2999');
  });
});

describe("the single-file build's shipped policies, compiled when it was built", () => {
  /** One command's stdout from a whole process of `entry`. */
  async function stdoutOf(entry: string, args: string[]): Promise<string> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [entry, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', fail);
      child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`${args.join(' ')} exited ${code}`))));
    });
  }

  it('are the policies the files say: policy explain gives what parsing them now gives, for every role', async () => {
    const root = resolve(import.meta.dirname, '..', '..');
    for (const policy of ['baseline', 'strict']) {
      for (const image of [['ghcr.io/acme/app:v1'], ['docker.io/library/postgres:16', '--role', 'accessory'], ['basecamp/kamal-proxy:v0.9', '--role', 'proxy']]) {
        const args = ['policy', 'explain', ...image, '--policy', policy, '--format', 'json'];
        // dist/cli.js parses policies/<name>.yml now; the bundle shows it by its built-in name.
        const parsed = (await stdoutOf(join(root, 'dist', 'cli.js'), args)).replaceAll(join(root, 'policies') + '/', 'built-in policies/');
        const bundled = await stdoutOf(join(root, 'bin', 'kamal-gate.mjs'), args);
        expect(bundled, `${policy} ${image.join(' ')}`).toBe(parsed);
      }
    }
  });
});

describe("the package's command keeps Node's compile cache where only this user can write", () => {
  const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'kamal-gate.mjs');
  async function helpWith(xdg: string): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: xdg };
    delete env['NODE_COMPILE_CACHE'];
    delete env['NODE_DISABLE_COMPILE_CACHE'];
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn(process.execPath, [bin, '--help'], { cwd: dir, env, stdio: 'ignore' });
      child.on('error', fail);
      child.on('close', done);
    });
    expect(code).toBe(0);
  }
  const files = (d: string): string[] =>
    existsSync(d)
      ? readdirSync(d, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => e.name)
      : [];

  it('in $XDG_CACHE_HOME/kamal-gate/node-compile-cache, made with mode 700', async () => {
    const xdg = join(dir, 'xdg-own');
    await helpWith(xdg);
    expect(files(join(xdg, 'kamal-gate', 'node-compile-cache')).length).toBeGreaterThan(0);
    expect(statSync(join(xdg, 'kamal-gate', 'node-compile-cache')).mode & 0o777).toBe(0o700);
  });

  it('nowhere when the folder is writable by others (who could plant code Node would run)', async () => {
    const xdg = join(dir, 'xdg-shared');
    mkdirSync(join(xdg, 'kamal-gate'), { recursive: true });
    chmodSync(join(xdg, 'kamal-gate'), 0o777);
    await helpWith(xdg);
    expect(files(join(xdg, 'kamal-gate'))).toEqual([]);
  });
});
