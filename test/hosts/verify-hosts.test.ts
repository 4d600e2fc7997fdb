/**
 * `kamal-gate verify --hosts` through the real CLI against real hosts (sshd + dockerd on loopback,
 * test/helpers/hosts.ts) that pull from the tests' real registry: every host holding the gated image
 * passes; a tag re-pointed on one host's engine fails naming the host and both digests; an image a
 * host does not have is host.image_missing; a host that is down is exit 3 naming it; a hostile
 * ssh.user or image name never runs on a shell (a marker file stays absent).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startHosts, tarLayer, type TestHosts } from '../helpers/hosts.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let hosts: TestHosts;
let reg: TestRegistry;
let app: PushedImage;
let other: PushedImage;
let db: PushedImage;
let work: string;
let n = 0;

/** A Kamal app whose deploy.yml has `body` after the registry and ssh settings. */
function newApp(body: string, ssh = `ssh:\n  config: ${hosts.sshConfig}\n`): string {
  const dir = join(work, `app-${++n}`);
  mkdirSync(join(dir, 'config'), { recursive: true });
  const head = `service: app\nimage: app\nregistry:\n  server: ${reg.host}\n  username: u\n  password: p\nbuilder:\n  arch: amd64\n`;
  writeFileSync(join(dir, 'config', 'deploy.yml'), head + ssh + body);
  return dir;
}

const verify = (dir: string, extra: string[] = []) => runCli(['verify', '--hosts', '--version', 'v1', ...extra], { cwd: dir, env: { HOME: work }, timeoutMs: 90_000 });

beforeAll(async () => {
  [hosts, reg] = await Promise.all([startHosts({ count: 3, engines: 2 }), startRegistry()]);
  work = mkdtempSync(join(tmpdir(), 'kg-verify-hosts-'));
  const b = new ImageBuilder(reg);
  app = await b.pushImage('app', 'v1', { format: 'docker', layers: [tarLayer({ app: 'the gated app\n' })], labels: { service: 'app' } });
  other = await b.pushImage('other', 'v1', { format: 'docker', layers: [tarLayer({ app: 'another image\n' })], labels: { service: 'app' } });
  db = await b.pushImage('db', '16', { format: 'docker', layers: [tarLayer({ db: 'db\n' })] });
  for (const engine of [1, 2]) {
    for (const ref of [app.ref, other.ref]) {
      const r = await hosts.docker(engine, ['pull', ref]);
      expect(r.code, r.stderr).toBe(0);
    }
  }
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await hosts?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('verify --hosts', () => {
  it('passes when every host holds the gated image; the report names each host', async () => {
    const dir = newApp('servers:\n  web:\n    - host1\n  job:\n    - host2\n');
    const r = await verify(dir, ['--stats']);
    expect(r.stderr).toMatch(/host1 +1 +1 +\d+ ms +ok/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/HOSTS\n/);
    expect(r.stdout).toMatch(/host1 +.*app:v1 +ok/);
    expect(r.stdout).toMatch(/host2 +.*app:v1 +ok/);
    const json = await verify(dir, ['--format', 'json']);
    const report = JSON.parse(json.stdout) as { schema: string; images: Array<{ ref: string; hosts?: Array<{ host: string; status: string; id: string }> }> };
    expect(report.schema).toBe('kamal-gate/verify/v2');
    expect(report.images[0]!.hosts).toEqual([
      { host: 'host1', status: 'pass', id: app.manifests[0]!.configDigest, repoDigests: [app.manifests[0]!.digest] },
      { host: 'host2', status: 'pass', id: app.manifests[0]!.configDigest, repoDigests: [app.manifests[0]!.digest] },
    ]);
  });

  it('fails a host where the tag was re-pointed locally, naming it and both digests', async () => {
    const tag = await hosts.docker(2, ['tag', other.ref, app.ref]);
    expect(tag.code).toBe(0);
    try {
      const dir = newApp('servers:\n  web:\n    - host1\n    - host2\n');
      const r = await verify(dir);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/FAIL critical host\.image_mismatch: host host2 holds another image under /);
      expect(r.stdout).toContain(app.manifests[0]!.digest);
      expect(r.stdout).toContain(other.manifests[0]!.configDigest);
      expect(r.stdout).not.toMatch(/host host1 holds/);
      const sarif = JSON.parse((await verify(dir, ['--format', 'sarif'])).stdout) as { runs: Array<{ results: Array<{ ruleId: string; message: { text: string } }> }> };
      expect(sarif.runs[0]!.results.find((x) => x.ruleId === 'host.image_mismatch')?.message.text).toMatch(/host host2/);
      expect((await verify(dir, ['--format', 'github'])).stdout).toMatch(/::error .*host\.image_mismatch.*host host2/);
      // Inside the hook, only the hosts Kamal passes: host1 alone passes.
      const hook = await runCli(['verify', '--hosts', '--version', 'v1'], { cwd: dir, env: { HOME: work, KAMAL_HOSTS: 'host1', KAMAL_COMMAND: 'deploy' } });
      expect(hook.code, hook.stdout).toBe(0);
    } finally {
      expect((await hosts.docker(2, ['pull', app.ref])).code).toBe(0);
    }
  });

  it('an image a host does not have is host.image_missing', async () => {
    const dir = newApp(`servers:\n  web:\n    - host1\naccessories:\n  db:\n    image: ${db.ref}\n    host: host2\n`);
    const r = await verify(dir);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/FAIL critical host\.image_missing: host host2 has no image 127\.0\.0\.1:\d+\/db:16/);
  });

  it('a hostile ssh.user or image name never runs on a shell', async () => {
    const marker = join(work, 'pwned');
    const user = newApp('servers:\n  web:\n    - host1\n', `ssh:\n  config: ${hosts.sshConfig}\n  user: "root$(touch ${marker})"\n`);
    const r = await verify(user);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/ssh\.user .* is not a user name/);
    const image = newApp(`servers:\n  web:\n    - host1\naccessories:\n  db:\n    image: "x';touch ${marker};'"\n    host: host1\n`);
    const i = await verify(image);
    expect(i.code).not.toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it('kamal rollback: the hosts must hold the digest the ledger approved for the version rolled back to', async () => {
    const b = new ImageBuilder(reg);
    const approved = await b.pushImage('roll', 'v1', { format: 'docker', layers: [tarLayer({ app: 'approved v1\n' })] });
    const dir = newApp('servers:\n  web:\n    - host1\n');
    writeFileSync(
      join(dir, 'config', 'deploy.yml'),
      `service: app\nimage: roll\nregistry:\n  server: ${reg.host}\n  username: u\n  password: p\nbuilder:\n  arch: amd64\nssh:\n  config: ${hosts.sshConfig}\nservers:\n  web:\n    - host1\n`,
    );
    expect((await runCli(['record', '--version', 'v1'], { cwd: dir, env: { HOME: work } })).code).toBe(0);
    expect((await hosts.docker(1, ['pull', approved.ref])).code).toBe(0);
    // The tag moves at the registry after the hosts pulled the approved image.
    const moved = await b.pushImage('roll', 'v1', { format: 'docker', layers: [tarLayer({ app: 'moved v1\n' })] });
    const env = (command: string) => ({ HOME: work, KAMAL_COMMAND: command, KAMAL_VERSION: 'v1', KAMAL_HOSTS: 'host1' });
    const rollback = await runCli(['verify', '--hosts'], { cwd: dir, env: env('rollback') });
    expect(rollback.stdout).toMatch(/tag\.overwritten/);
    expect(rollback.stdout).not.toMatch(/host\.image_mismatch/);
    expect(rollback.stdout).toMatch(/host1 +\S+roll:v1 +ok/);
    const deploy = await runCli(['verify', '--hosts'], { cwd: dir, env: env('deploy') });
    expect(deploy.stdout).toMatch(/FAIL critical host\.image_mismatch: host host1 holds another image under \S+roll:v1: the gate verified sha256:/);
    expect(deploy.stdout).toContain(moved.manifests[0]!.digest);
  });

  it('a host that is down: exit 3 naming it', async () => {
    await hosts.stopHost('host3');
    const dir = newApp('servers:\n  web:\n    - host1\n    - host3\n');
    const r = await verify(dir);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/host3: could not connect over SSH as root: .*Connection refused/);
    expect(r.stdout).toMatch(/host3 +.*ERROR/);
  });
});
