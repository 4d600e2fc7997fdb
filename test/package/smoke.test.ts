/**
 * End-to-end smoke test of the installed tarball (test/helpers/packed.ts, installed once) on every
 * Node line the README names: the machine's node (20 here), 22 and 24 (.ci/runtimes). With each, the
 * installed cli.js runs against a real registry: `--version`, `verify --key` of an image signed with
 * a cosign key, `record` into a ledger, `drift` that finds nothing, then `drift` after the tag was
 * pushed over, which must fail.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { missingRuntime, nodeRuntimes, packedInstall, REPO, run, type PackedInstall } from '../helpers/packed.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

let pkg: PackedInstall;
let reg: TestRegistry;
let b: ImageBuilder;
let work: string;
let pub: string;
const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-smoke-'));
  [pkg, reg] = await Promise.all([packedInstall(), startRegistry()]);
  b = new ImageBuilder(reg);
  pub = join(work, 'cosign.pub');
  writeFileSync(pub, key.publicKey.export({ format: 'pem', type: 'spki' }));
}, 600_000);

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(nodeRuntimes())('the installed package on node $name', (node) => {
  const cli = (args: string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env, KAMAL_GATE_CACHE_DIR: join(work, `cache-${node.name}`), DOCKER_CONFIG: join(work, 'no-docker') };
    for (const k of ['KAMAL_VERSION', 'VERSION', 'KAMAL_GATE_LEDGER_URL', 'NODE_OPTIONS']) delete env[k];
    return run(node.path, [pkg.cli, ...args], { cwd: work, env });
  };

  it('verifies a signed image, records it, and finds drift only once the tag is pushed over', { timeout: 180_000 }, async () => {
    const missing = missingRuntime(node);
    if (missing) throw new Error(missing);
    const v = await run(node.path, ['--version']);
    if (node.major !== undefined) expect(v.stdout).toMatch(new RegExp(`^v${node.major}\\.`));
    console.log(`node ${node.name}: ${v.stdout.trim()}`);
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });

    const repo = `smoke/node${node.name}`;
    const img = await b.pushImage(repo, 'v1', { platforms: [AMD64] });
    const payload = simpleSigning(`${reg.host}/${repo}`, img.digest);
    await pushLegacy(b, repo, img.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, key.privateKey) } }]);

    const verified = await cli(['verify', img.ref, '--key', pub, '--insecure-ignore-tlog', '--no-ledger', '--format', 'json']);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    const report = JSON.parse(verified.stdout) as { images: Array<{ status: string; findings?: Array<{ rule: string; fails?: boolean }> }> };
    expect(report.images[0]).toMatchObject({ status: 'pinned' });
    expect(report.images[0]!.findings?.map((f) => f.rule)).toContain('signature.verified');
    // The wrong key fails: the signature check really ran.
    const other = join(work, `other-${node.name}.pub`);
    writeFileSync(other, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }));
    expect((await cli(['verify', img.ref, '--key', other, '--insecure-ignore-tlog', '--no-ledger'])).code).toBe(1);

    const ledger = join(work, `ledger-${node.name}.jsonl`);
    const recorded = await cli(['record', img.ref, '--ledger', ledger]);
    expect(recorded.stderr).toBe('');
    expect(recorded.code).toBe(0);
    const quiet = await cli(['drift', '--ledger', ledger, '--format', 'json']);
    expect(quiet.code).toBe(0);

    await b.pushImage(repo, 'v1', { platforms: [AMD64], created: '2026-01-02T03:04:05Z' });
    const drifted = await cli(['drift', '--ledger', ledger, '--format', 'json']);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain(`${repo}`);
  });
});
