/**
 * The single-file builds, each copied alone into an empty folder of the temp dir with no
 * node_modules anywhere above it, run as a user would against a real registry: the standalone
 * executable (`npm run build:binary`: a Node single executable application, no Node needed) and
 * dist/kamal-gate.mjs (the bundle the package's command runs) on this node. `--version`, `targets`
 * of a Kamal app, `policy check --policy strict` (the shipped policies, embedded), `verify` of a
 * pushed image (exit 0, its digest), `verify --key` of a signed one (the Sigstore code, bundled) and
 * `record` into a PostgreSQL ledger (pg's pure-JavaScript client; its optional native binding is left out),
 * and the git merge driver for the ledger (it must run the build itself, not a dist/cli.js beside it).
 * Both builds are made here, fresh from the sources, by the project's own scripts (after `npm run build`).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { REPO, run } from '../helpers/packed.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

let reg: TestRegistry;
let pg: PostgresServer;
let img: PushedImage;
let signed: PushedImage;
let work: string;
const builds: Record<'binary' | 'bundle', string> = { binary: '', bundle: '' };

/** Every folder from `dir` up to / holds no node_modules: nothing could be loaded from one. */
function noNodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist', 'trusted_root.json'))) throw new Error('dist/ is not built: run `npm run build` first');
  work = mkdtempSync(join(tmpdir(), 'kg-binary-'));
  const started = Date.now();
  // The two builds, fresh; the registry starts meanwhile.
  const building = (async () => {
    execFileSync(process.execPath, [join(REPO, 'scripts', 'bundle.mjs')], { cwd: REPO, stdio: 'pipe' });
    execFileSync(process.execPath, [join(REPO, 'scripts', 'build-binary.mjs')], { cwd: REPO, stdio: 'pipe' });
  })();
  [reg, pg] = await Promise.all([startRegistry(), startPostgres()]);
  await building;
  const b = new ImageBuilder(reg);
  img = await b.pushImage('binary/app', 'v1', { platforms: [AMD64] });
  signed = await b.pushImage('binary/signed', 'v1', { platforms: [AMD64] });
  const payload = simpleSigning(`${reg.host}/binary/signed`, signed.digest);
  await pushLegacy(b, 'binary/signed', signed.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, key.privateKey) } }]);
  for (const [name, file] of [
    ['binary', 'kamal-gate-linux-x64'],
    ['bundle', 'kamal-gate.mjs'],
  ] as const) {
    const dir = join(work, name);
    mkdirSync(dir);
    builds[name] = join(dir, file);
    copyFileSync(join(REPO, 'dist', file), builds[name]);
  }
  const mib = (f: string) => `${(statSync(f).size / 1024 / 1024).toFixed(1)} MiB`;
  console.log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s: binary ${mib(builds.binary)}, bundle ${mib(builds.bundle)}`);
}, 300_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), pg?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(['binary', 'bundle'] as const)('the %s, alone in a folder', (name) => {
  /** Runs the build as a user would: the binary itself, the bundle with this node. */
  const cli = (args: string[], cwd = dirname(builds[name])) => {
    const env: NodeJS.ProcessEnv = { ...process.env, KAMAL_GATE_CACHE_DIR: join(work, `cache-${name}`), DOCKER_CONFIG: join(work, 'no-docker') };
    for (const k of ['KAMAL_VERSION', 'VERSION', 'KAMAL_DESTINATION', 'KAMAL_GATE_LEDGER_URL', 'NODE_OPTIONS', 'NODE_PATH']) delete env[k];
    return name === 'binary' ? run(builds[name], args, { cwd, env }) : run(process.execPath, [builds[name], ...args], { cwd, env });
  };

  it('has no node_modules in reach and nothing beside it', () => {
    expect(noNodeModulesAbove(dirname(builds[name]))).toEqual([]);
    expect(existsSync(join(dirname(builds[name]), 'package.json'))).toBe(false);
  });

  it('answers --version and --help', async () => {
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('verify');
  });

  it('lists the targets of a Kamal app', async () => {
    const app = join(dirname(builds[name]), 'app');
    mkdirSync(join(app, 'config'), { recursive: true });
    writeFileSync(
      join(app, 'config', 'deploy.yml'),
      `service: app\nimage: binary/app\nservers:\n  - 192.0.2.10\nregistry:\n  server: ${reg.host}\n  username: someone\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\nproxy:\n  run:\n    registry: ${reg.host}\n    repository: binary/proxy\n    version: v1\n`,
    );
    const r = await cli(['targets', '--version', 'v1', '--format', 'json'], app);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${reg.host}/binary/app:v1`);
  });

  it('carries the shipped policies', async () => {
    const r = await cli(['policy', 'check', '--policy', 'strict']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Policy built-in policies/strict.yml is valid.');
  });

  it('verifies an image at the real registry: exit 0 and its digest', async () => {
    const r = await cli(['verify', img.ref, '--no-ledger', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { images: Array<{ status: string; digest: string }> };
    expect(report.images).toEqual([expect.objectContaining({ status: 'pinned', digest: img.digest })]);
  });

  it('verifies a cosign signature, and refuses it with the wrong key', async () => {
    const pub = join(work, `${name}-cosign.pub`);
    writeFileSync(pub, key.publicKey.export({ format: 'pem', type: 'spki' }));
    const r = await cli(['verify', signed.ref, '--key', pub, '--insecure-ignore-tlog', '--no-ledger', '--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { images: Array<{ digest: string; findings?: Array<{ rule: string }> }> };
    expect(report.images[0]?.digest).toBe(signed.digest);
    expect(report.images[0]?.findings?.map((f) => f.rule)).toContain('signature.verified');
    const other = join(work, `${name}-other.pub`);
    writeFileSync(other, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }));
    expect((await cli(['verify', signed.ref, '--key', other, '--insecure-ignore-tlog', '--no-ledger'])).code).toBe(1);
  });

  it('records into a PostgreSQL ledger and reads it back', async () => {
    const ledger = await pg.createDatabase();
    const r = await cli(['record', img.ref, '--ledger', ledger]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const shown = await cli(['ledger', 'show', img.ref, '--ledger', ledger, '--format', 'json']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(img.digest);
  });

  it('installs a git merge driver for the ledger that runs itself', async () => {
    const repo = join(dirname(builds[name]), 'clone');
    mkdirSync(repo);
    execFileSync('git', ['init', '-q'], { cwd: repo });
    expect((await cli(['ledger', 'merge-driver', 'install'], repo)).code).toBe(0);
    const driver = execFileSync('git', ['config', 'merge.kamal-gate-ledger.driver'], { cwd: repo, encoding: 'utf8' }).trim();
    const self = name === 'binary' ? `'${builds[name]}'` : `'${process.execPath}' '${builds[name]}'`;
    expect(driver).toBe(`${self} ledger merge-file %O %A %B %P`);
  });
});
