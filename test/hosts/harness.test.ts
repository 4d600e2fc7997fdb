/**
 * The hosts test harness itself: 3 sshd hosts over 2 dockerd engines on loopback. ssh with the
 * generated ssh_config reaches each host's engine; an image pushed to the tests' docker-registry is
 * pulled on a host and its RepoDigests and Id are the registry's; stopHost makes ssh fail; stop()
 * removes everything.
 */
import { execFile as execFileCb } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellQuote } from '../../src/hosts/quote.js';
import { startHosts, tarLayer, type TestHost, type TestHosts } from '../helpers/hosts.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const execFile = promisify(execFileCb);
const BUSYBOX = '/bin/busybox';

let hosts: TestHosts;
let reg: TestRegistry;
let startMs = 0;

async function ssh(host: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFile('ssh', ['-F', hosts.sshConfig, host, command], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

beforeAll(async () => {
  const t0 = performance.now();
  [hosts, reg] = await Promise.all([startHosts({ count: 3, engines: 2 }), startRegistry()]);
  startMs = performance.now() - t0;
  console.log(`startHosts({ count: 3, engines: 2 }) with a registry: ${Math.round(startMs)} ms`);
});
afterAll(async () => {
  await reg?.stop();
  const t0 = performance.now();
  await hosts?.stop();
  console.log(`stop(): ${Math.round(performance.now() - t0)} ms`);
  if (hosts) expect(existsSync(dirname(hosts.sshConfig))).toBe(false);
});

describe('startHosts', () => {
  it('gives host1..host3 over engines 1, 2, 1 on distinct ports', () => {
    expect(hosts.hosts.map((h: TestHost) => [h.name, h.engine])).toEqual([
      ['host1', 1],
      ['host2', 2],
      ['host3', 1],
    ]);
    expect(new Set(hosts.hosts.map((h) => h.port)).size).toBe(3);
  });

  it('ssh with the ssh_config runs docker against the host’s engine (host key pinned, BatchMode)', async () => {
    const out = await Promise.all(hosts.hosts.map((h) => ssh(h.name, "docker version --format '{{.Server.Version}}'")));
    for (const r of out) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+/);
    }
    // host1 and host3 share engine 1; host2 has engine 2: each engine has its own data root.
    const ids = await Promise.all(hosts.hosts.map((h) => ssh(h.name, "docker info --format '{{.DockerRootDir}}'")));
    expect(ids[0]!.stdout).toBe(ids[2]!.stdout);
    expect(ids[0]!.stdout).not.toBe(ids[1]!.stdout);
    const direct = await hosts.docker(2, ['info', '--format', '{{.DockerRootDir}}']);
    expect(direct.stdout).toBe(ids[1]!.stdout);
  });

  it('a host pulls an image from the tests’ registry; image inspect shows its RepoDigests and config digest', async () => {
    const b = new ImageBuilder(reg);
    const img = await b.pushImage('app', 'v1', { format: 'docker', layers: [tarLayer({ hello: 'hello from kamal-gate\n' })], labels: { service: 'app' } });
    const pull = await ssh('host2', `docker pull ${img.ref}`);
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    const inspect = await ssh('host2', `docker image inspect ${img.ref}`);
    expect(inspect.code).toBe(0);
    const [info] = JSON.parse(inspect.stdout) as Array<{ Id: string; RepoDigests: string[] }>;
    expect(info!.RepoDigests).toEqual([img.pinned]);
    expect(info!.Id).toBe(img.manifests[0]!.configDigest);
    // Engine 1 (host1, host3) has not pulled it.
    expect((await ssh('host1', `docker image inspect ${img.ref}`)).code).not.toBe(0);
    expect((await hosts.docker(1, ['image', 'inspect', img.ref])).code).not.toBe(0);
  });

  it('an OCI index pulls too', async () => {
    const b = new ImageBuilder(reg);
    const img = await b.pushImage('app', 'v2', {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      layers: [tarLayer({ a: 'a\n' })],
    });
    expect((await ssh('host3', `docker pull ${img.ref}`)).code).toBe(0);
    const inspect = await hosts.docker(1, ['image', 'inspect', '--format', '{{json .RepoDigests}} {{.Id}}', img.ref]);
    expect(inspect.stdout.trim()).toBe(`${JSON.stringify([img.pinned])} ${img.manifests[0]!.configDigest}`);
  });

  it('a container runs on a host (--network none; busybox-static as its only binary), labelled as Kamal labels them', async () => {
    const b = new ImageBuilder(reg);
    const img = await b.pushImage('app', 'run', { format: 'docker', layers: [tarLayer({ 'bin/busybox': readFileSync(BUSYBOX) })] });
    const run = await ssh('host1', `docker run -d --network none --label service=app --label role=web --name app-web-1 ${img.ref} /bin/busybox sleep 600`);
    expect(run.stderr).toMatch(/^(Unable to find image[^\n]*\n)?[^]*$/);
    expect(run.code).toBe(0);
    const ps = await ssh('host3', "docker ps --filter label=service=app --format '{{.Names}} {{.Image}} {{.State}}'");
    expect(ps.stdout.trim()).toBe(`app-web-1 ${img.ref} running`);
    const [c] = JSON.parse((await hosts.docker(1, ['container', 'inspect', 'app-web-1'])).stdout) as Array<{ Image: string }>;
    expect(c!.Image).toBe(`sha256:${img.manifests[0]!.configDigest.slice('sha256:'.length)}`);
  });

  it('a value quoted by shellQuote reaches the remote shell as one word and never runs', async () => {
    const marker = join(dirname(hosts.sshConfig), 'marker');
    const hostile = [`$(touch ${marker})`, `\`touch ${marker}\``, `'; touch ${marker}; '`, `"; touch ${marker}; "`, `\\'; touch ${marker} #`, '$HOME *'];
    const r = await ssh('host1', `printf '%s\\0' ${hostile.map((v) => shellQuote(v, 'the test value')).join(' ')}`);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(hostile);
    expect(existsSync(marker)).toBe(false);
  });

  it('stopHost takes one host down: ssh to it fails, the others still answer', async () => {
    await hosts.stopHost('host3');
    const down = await ssh('host3', 'true');
    expect(down.code).toBe(255);
    expect(down.stderr).toMatch(/Connection refused/);
    expect((await ssh('host1', 'true')).code).toBe(0);
    await hosts.stopHost('host3'); // idempotent
    await expect(hosts.stopHost('host9')).rejects.toThrow(/no host host9/);
    await expect(hosts.docker(3, ['version'])).rejects.toThrow(/no engine 3/);
  });
});
