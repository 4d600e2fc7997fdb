/**
 * `kamal-gate verify --hosts` against a registry that does not answer the hosts as it answers the
 * gate, through the real CLI, real hosts (sshd + dockerd on loopback, test/helpers/hosts.ts) and the
 * tests' real docker-registry: a tag pushed over between the hosts' pull and the gate fails naming
 * each host and both digests; a registry that answers by User-Agent (an in-process proxy in front of
 * the real registry serving another manifest to dockerd's `docker/…` clients) passes the registry
 * checks alone but fails with `--hosts`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startHosts, tarLayer, type TestHosts } from '../helpers/hosts.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let hosts: TestHosts;
let reg: TestRegistry;
let work: string;
let n = 0;

/** A Kamal app for `image` on `registry` whose hosts are host1 and host2 (one per engine). */
function newApp(registry: string, image: string): string {
  const dir = join(work, `app-${++n}`);
  mkdirSync(join(dir, 'config'), { recursive: true });
  writeFileSync(
    join(dir, 'config', 'deploy.yml'),
    `service: app\nimage: ${image}\nregistry:\n  server: ${registry}\n  username: u\n  password: p\nbuilder:\n  arch: amd64\n` +
      `ssh:\n  config: ${hosts.sshConfig}\nservers:\n  web:\n    - host1\n  job:\n    - host2\n`,
  );
  return dir;
}

const verify = (dir: string, extra: string[] = []) => runCli(['verify', '--version', 'v1', ...extra], { cwd: dir, env: { HOME: work }, timeoutMs: 90_000 });

async function pullEverywhere(ref: string): Promise<void> {
  for (const h of hosts.hosts) {
    const r = await hosts.docker(h.engine, ['pull', ref]);
    expect(r.code, r.stderr).toBe(0);
  }
}

interface LyingRegistry {
  host: string;
  /** every request's User-Agent (undefined: none), in order */
  agents: Array<string | undefined>;
  /** manifest requests answered with the other tag */
  lies: number;
  stop(): Promise<void>;
}

/**
 * A proxy on 127.0.0.1 in front of `reg` that answers by User-Agent: a request from dockerd
 * (`docker/…`) for the manifest of `repo:tag` is sent on for `repo:evil`; everything else, and every
 * other client, gets the registry's honest answer. Blobs go by digest and pass through unchanged.
 */
async function lyingRegistry(reg: TestRegistry, repo: string, tag: string, evil: string): Promise<LyingRegistry> {
  const upstream = new URL(reg.url);
  const state = { agents: [] as Array<string | undefined>, lies: 0 };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const agent = req.headers['user-agent'];
    state.agents.push(agent);
    let path = req.url ?? '/';
    if (agent?.startsWith('docker/') && path === `/v2/${repo}/manifests/${tag}`) {
      path = `/v2/${repo}/manifests/${evil}`;
      state.lies++;
    }
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: { ...req.headers, host: upstream.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    get agents() {
      return state.agents;
    },
    get lies() {
      return state.lies;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  [hosts, reg] = await Promise.all([startHosts({ count: 2, engines: 2 }), startRegistry()]);
  work = mkdtempSync(join(tmpdir(), 'kg-verify-hosts-registry-'));
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await hosts?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('verify --hosts against a registry that answers the hosts differently', () => {
  it('the registry tag moved between the hosts pull and the gate: fails naming each host and both digests', async () => {
    const b = new ImageBuilder(reg);
    const pulled = await b.pushImage('moved', 'v1', { format: 'docker', layers: [tarLayer({ app: 'what the hosts pulled\n' })], labels: { service: 'app' } });
    await pullEverywhere(pulled.ref);
    // The tag is pushed over after the hosts' pull: the gate sees the new image.
    const gated = await b.pushImage('moved', 'v1', { format: 'docker', layers: [tarLayer({ app: 'pushed over\n', extra: 'more\n' })], labels: { service: 'app' } });
    expect(gated.manifests[0]!.configDigest).not.toBe(pulled.manifests[0]!.configDigest);
    const dir = newApp(reg.host, 'moved');
    const r = await verify(dir, ['--hosts']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    for (const host of ['host1', 'host2']) {
      const line = r.stdout.split('\n').find((l) => l.includes(`host.image_mismatch: host ${host} holds another image under ${reg.host}/moved:v1`));
      expect(line, r.stdout).toBeDefined();
      expect(line).toContain(`the gate verified ${gated.manifests[0]!.digest}`);
      expect(line).toContain(`Id ${pulled.manifests[0]!.configDigest}`);
      expect(line).toContain(`RepoDigests ${pulled.manifests[0]!.digest}`);
    }
  });

  it('a registry that answers by User-Agent: the gate alone passes, --hosts fails', async () => {
    const b = new ImageBuilder(reg);
    const signed = await b.pushImage('app', 'v1', { format: 'docker', layers: [tarLayer({ app: 'the approved app\n' })], labels: { service: 'app' } });
    const evil = await b.pushImage('app', 'evil', { format: 'docker', layers: [tarLayer({ app: 'something else\n', backdoor: 'yes\n' })], labels: { service: 'app' } });
    const proxy = await lyingRegistry(reg, 'app', 'v1', 'evil');
    try {
      const ref = `${proxy.host}/app:v1`;
      await pullEverywhere(ref);
      // dockerd 20.10 sends e.g. `docker/20.10.24+dfsg1 go/go1.19.8 git-commit/… kernel/… os/linux arch/amd64 UpstreamClient(Docker-Client/20.10.24+dfsg1 \(linux\))`.
      const dockerAgents = proxy.agents.filter((a) => a?.startsWith('docker/'));
      expect(dockerAgents.length, JSON.stringify(proxy.agents)).toBe(proxy.agents.length);
      expect(dockerAgents[0]).toMatch(/^docker\/\d+\.\d+\.\d+\S* go\/go/);
      expect(proxy.lies).toBeGreaterThan(0);
      // The hosts hold the other image: the lie works.
      const held = await hosts.docker(1, ['image', 'inspect', '--format', '{{.Id}} {{json .RepoDigests}}', ref]);
      expect(held.stdout).toContain(evil.manifests[0]!.configDigest);
      expect(held.stdout).toContain(`${proxy.host}/app@${evil.manifests[0]!.digest}`);

      const dir = newApp(proxy.host, 'app');
      const seen = proxy.agents.length;
      const alone = await verify(dir);
      expect(alone.code, alone.stdout + alone.stderr).toBe(0);
      // The gate is not a docker client: it got the honest answer.
      expect(proxy.agents.length).toBeGreaterThan(seen);
      expect(proxy.agents.slice(seen).filter((a) => a?.startsWith('docker/'))).toEqual([]);
      expect(alone.stdout).toContain(signed.manifests[0]!.digest);

      const r = await verify(dir, ['--hosts']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      for (const host of ['host1', 'host2']) {
        const line = r.stdout.split('\n').find((l) => l.includes(`host.image_mismatch: host ${host} holds another image under ${ref}`));
        expect(line, r.stdout).toBeDefined();
        expect(line).toContain(`the gate verified ${signed.manifests[0]!.digest}`);
        expect(line).toContain(`Id ${evil.manifests[0]!.configDigest}`);
        expect(line).toContain(`RepoDigests ${evil.manifests[0]!.digest}`);
      }
    } finally {
      await proxy.stop();
    }
  });
});
