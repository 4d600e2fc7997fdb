/**
 * `drift --hosts` through the real CLI, against real hosts (sshd + dockerd on loopback, the harness
 * in test/helpers/hosts.ts) and the real registry: a container Kamal labels for the service, started
 * from the image the ledger approves for its tag, passes; one started from another image under the
 * same tag (re-pointed locally with `docker tag`) is `host.unapproved_image` naming the host and the
 * container, exit 1. Without a Kamal config `--hosts` is a usage error.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startHosts, tarLayer, type TestHosts } from '../helpers/hosts.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let reg: TestRegistry;
let h: TestHosts;
let work: string;
let app: string;
let approved: PushedImage;
let other: PushedImage;

interface HostsJson {
  exitCode: number;
  hosts: {
    summary: { hosts: number; containers: number; unapproved: number; failed: number };
    hosts: Array<{ host: string; containers: Array<{ name: string; approvedImage: boolean; pulled?: string }> }>;
    findings: Array<{ rule: string; host: string; container: string; pulled?: string; approved?: string; message: string }>;
  };
}

const run = (args: string[], cwd = app) => runCli(args, { cwd, env: { DOCKER_CONFIG: join(work, 'no-docker') }, timeoutMs: 60_000 });

async function docker(engine: number, args: string[]): Promise<string> {
  const r = await h.docker(engine, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on engine ${engine}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Starts a container the way Kamal labels an app container, from `ref` as the engine has it now. */
async function boot(engine: number, name: string, ref: string): Promise<void> {
  await docker(engine, ['run', '-d', '--network', 'none', '--name', name, '--label', 'service=shop', '--label', 'role=web', ref, '/bin/busybox', 'sleep', '600']);
}

beforeAll(async () => {
  reg = await startRegistry();
  h = await startHosts({ count: 2, engines: 2 });
  work = mkdtempSync(join(tmpdir(), 'kg-drift-hosts-'));
  mkdirSync(join(work, 'no-docker'));
  const busybox = readFileSync('/bin/busybox');
  const builder = new ImageBuilder(reg);
  const image = (id: string) => ({ layers: [tarLayer({ 'bin/busybox': busybox }), tarLayer({ 'etc/build-id': id })], created: '2026-01-01T00:00:00Z' });
  approved = await builder.pushImage('acme/shop', 'v1', image('approved'));
  other = await builder.pushImage('acme/shop', 'other', image('other'));
  app = join(work, 'app');
  mkdirSync(join(app, 'config'), { recursive: true });
  writeFileSync(
    join(app, 'config/deploy.yml'),
    `service: shop
image: acme/shop
servers:
  web:
    hosts: [host1, host2]
registry:
  server: ${reg.host}
  username: demo
  password: unused
builder:
  arch: amd64
ssh:
  config: ${h.sshConfig}
`,
  );
  const rec = await run(['record', '--version', 'v1']);
  expect(rec.code, rec.stderr).toBe(0);
  // Both hosts pulled v1, as Kamal's pull does, and boot it.
  for (const host of h.hosts) {
    await docker(host.engine, ['pull', approved.ref]);
    await boot(host.engine, `shop-web-v1-${host.name}`, approved.ref);
  }
}, 180_000);

afterAll(async () => {
  await h?.stop();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('drift --hosts', () => {
  it('passes when every container of the service runs the approved digest of its tag', async () => {
    const r = await run(['drift', '--hosts', '--format', 'json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const doc = JSON.parse(r.stdout) as HostsJson;
    expect(doc.hosts.summary).toEqual({ hosts: 2, containers: 2, unapproved: 0, failed: 0 });
    for (const x of doc.hosts.hosts) expect(x.containers.map((c) => [c.approvedImage, c.pulled])).toEqual([[true, approved.digest]]);
    const text = await run(['drift', '--hosts']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('HOST');
    expect(text.stdout).toMatch(/2 hosts checked: 2 containers of the service, 0 running an unapproved image/);
  });

  it('finds a container started from another image under the approved tag: host.unapproved_image, exit 1', async () => {
    const target = h.hosts[1]!;
    // The tag re-pointed on the host (another image pulled and tagged as v1), and a container booted from it.
    await docker(target.engine, ['pull', other.ref]);
    await docker(target.engine, ['tag', other.ref, approved.ref]);
    await boot(target.engine, 'shop-web-evil', approved.ref);
    const r = await run(['drift', '--hosts', '--format', 'json']);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as HostsJson;
    expect(doc.exitCode).toBe(1);
    expect(doc.hosts.findings).toHaveLength(1);
    const f = doc.hosts.findings[0]!;
    expect(f).toMatchObject({ rule: 'host.unapproved_image', host: target.name, container: 'shop-web-evil', pulled: other.digest, approved: approved.digest });
    expect(f.message).toContain(`host ${target.name}: container shop-web-evil`);
    const text = await run(['drift', '--hosts', '--quiet']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`host.unapproved_image: host ${target.name}: container shop-web-evil runs ${reg.host}/acme/shop:v1 at ${other.digest}; the ledger approved ${approved.digest}`);
    expect(text.stdout).not.toContain('shop-web-v1-');
  });

  it('a host that cannot be reached is exit 3, named', async () => {
    await h.stopHost('host1');
    const r = await run(['drift', '--hosts']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/error: host host1 could not be checked: host1: could not connect over SSH/);
  });

  it('without a Kamal config --hosts is a usage error', async () => {
    const empty = mkdtempSync(join(work, 'empty-'));
    writeFileSync(join(empty, 'ledger.jsonl'), '');
    const r = await run(['drift', '--hosts', '--ledger', join(empty, 'ledger.jsonl')], empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('drift --hosts reads the hosts and their ssh settings from the Kamal config');
  });
});
