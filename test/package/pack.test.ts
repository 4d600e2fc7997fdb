/**
 * The package as a user installs it (test/helpers/packed.ts): `npm pack` of a fresh copy of the tree
 * (no dist/: prepack builds it), `npm install` of the tarball into an empty prefix, then the
 * installed `kamal-gate` bin (`--version`, a `verify` against a real registry) and the library entry
 * (`import('kamal-gate')` from the prefix, in a child Node process, and a TypeScript program and
 * the README's example type-checked against the installed declarations). Sizes and times go to the test's output.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { packedInstall, REPO, run, type PackedInstall } from '../helpers/packed.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

let pkg: PackedInstall;
let reg: TestRegistry;
let img: PushedImage;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-pack-'));
  [pkg, reg] = await Promise.all([packedInstall(), startRegistry()]);
  img = await new ImageBuilder(reg).pushImage('packed/app', 'v1', { platforms: [AMD64] });
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;
  console.log(
    `packed: tarball ${mb(pkg.size)}, unpacked ${mb(pkg.unpackedSize)}, ${pkg.files.length} files; npm pack (with build) ${Math.round(pkg.packMs)} ms, npm install ${Math.round(pkg.installMs)} ms`,
  );
}, 600_000);

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The environment of a user's shell: nothing of the test's cache or a developer's Kamal version. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KAMAL_GATE_CACHE_DIR: join(work, 'cache'), DOCKER_CONFIG: join(work, 'no-docker') };
  for (const k of ['KAMAL_VERSION', 'VERSION', 'KAMAL_DESTINATION', 'KAMAL_GATE_LEDGER_URL', 'NODE_OPTIONS']) delete env[k];
  return env;
}

describe('the packed tarball', { timeout: 120_000 }, () => {
  it('holds the built CLI, the library entry with its types, and the policies; nothing from the sources or tests', () => {
    expect(pkg.files).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'dist/api.js', 'dist/trusted_root.json', 'policies/baseline.yml', 'policies/strict.yml']),
    );
    expect(pkg.files.filter((f) => /^(src|test|fixtures|bench|scripts|\.ci)\//.test(f))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(pkg.prefix, 'node_modules', 'kamal-gate', 'package.json'), 'utf8')) as { exports: unknown; scripts?: Record<string, string> };
    expect(manifest.exports).toEqual({ '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' });
  });

  it('installs a kamal-gate command that answers --version', async () => {
    const r = await run(pkg.bin, ['--version'], { cwd: work, env: userEnv() });
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it('verifies an image at a real registry with the installed command', async () => {
    const r = await run(pkg.bin, ['verify', img.ref, '--no-ledger', '--format', 'json'], { cwd: work, env: userEnv() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { images: Array<{ status: string; digest: string }> };
    expect(report.images).toEqual([expect.objectContaining({ status: 'pinned', digest: img.digest })]);
  });

  it('imports the library entry from the installed package: readDeployPlan, verifyImages, openLedger', async () => {
    const app = join(work, 'app');
    mkdirSync(join(app, 'config'), { recursive: true });
    writeFileSync(
      join(app, 'config', 'deploy.yml'),
      `service: app\nimage: packed/app\nservers:\n  - 192.0.2.10\nregistry:\n  server: ${reg.host}\n  username: someone\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\n`,
    );
    const ledger = join(work, 'library-ledger.jsonl');
    const program = `
      import { readDeployPlan, verifyImages, openLedger, VERIFY_SCHEMA, isKamalGateError } from 'kamal-gate';
      const plan = await readDeployPlan({ cwd: ${JSON.stringify(app)}, version: 'v1', env: { KAMAL_REGISTRY_PASSWORD: 'not-used' } });
      const report = await verifyImages({ refs: [${JSON.stringify(img.ref)}], ledger: ${JSON.stringify(ledger)} });
      const l = await openLedger(${JSON.stringify(ledger)}, { mustExist: true });
      const tags = await l.tags();
      await l.close();
      let refused;
      try { await verifyImages({ refs: ['NOT A REF'] }); } catch (e) { refused = isKamalGateError(e) ? { exitCode: e.exitCode, kind: e.kind } : String(e); }
      console.log(JSON.stringify({ targets: plan.targets.map((t) => t.ref), schema: report.schema === VERIFY_SCHEMA, exitCode: report.exitCode, images: report.images.map((i) => [i.status, i.digest]), tags, refused }));
    `;
    const r = await run(process.execPath, ['--input-type=module', '-e', program], { cwd: pkg.prefix, env: userEnv() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toEqual({
      targets: expect.arrayContaining([`${reg.host}/packed/app:v1`]),
      schema: true,
      exitCode: 0,
      images: [['pinned', img.digest]],
      tags: [{ registry: reg.host, repository: 'packed/app', tag: 'v1' }],
      refused: { exitCode: 2, kind: expect.any(String) },
    });
  });

  it("type-checks a TypeScript program and the README's example against the installed declarations", async () => {
    const dir = join(pkg.prefix, 'typed');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const example = /## Using it from a program\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain("from 'kamal-gate'");
    writeFileSync(join(dir, 'readme.ts'), `${example}\nexport {};\n`);
    writeFileSync(
      join(dir, 'use.ts'),
      `import { verifyImages, type VerifyReport, type VerifyImagesOptions } from 'kamal-gate';
const opts: VerifyImagesOptions = { refs: ['ghcr.io/acme/app:1'], ledger: false };
const report: VerifyReport = await verifyImages(opts);
const code: number = report.exitCode;
// @ts-expect-error: the report's images are typed
const wrong: string = report.images;
export { code, wrong };
`,
    );
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        join(REPO, 'node_modules', '@types'),
        'use.ts',
        'readme.ts',
      ],
      { cwd: dir },
    );
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
