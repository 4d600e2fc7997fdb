/**
 * `kamal-gate verify --hosts` over many Kamal hosts (N sshd on loopback over two Docker engines, the
 * test harness test/helpers/hosts.ts), beside what a team would otherwise write: one
 * `ssh -F cfg hostK docker image inspect REF` per host, one after the other, in the same run. SSH
 * connections are counted by an `ssh` wrapper first on PATH (it logs each invocation, then runs
 * the real client), so "round trips per host" is what the tool really opened, not what it says.
 *
 *   npx tsx bench/hosts.ts [--hosts 20] [--runs 3]
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHosts, tarLayer } from '../test/helpers/hosts.js';
import { ImageBuilder } from '../test/helpers/image-builder.js';
import { startRegistry } from '../test/helpers/registry.js';
import { arg, CLI, fail, median, ms, mustRun, run, table, targets, NODE } from './common.js';

async function main(): Promise<void> {
  const count = arg('hosts', 20);
  const runs = arg('runs', 3);
  const reg = await startRegistry({ auth: 'none' });
  const h = await startHosts({ count, engines: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-hosts-'));
  try {
    const img = await new ImageBuilder(reg).pushImage('bench/app', 'v1', { layers: [tarLayer({ 'etc/build-id': 'bench' })], created: '2026-01-01T00:00:00Z' });
    for (const engine of [...new Set(h.hosts.map((x) => x.engine))]) {
      const pulled = await h.docker(engine, ['pull', img.ref]);
      if (pulled.code !== 0) throw new Error(`docker pull on engine ${engine}: ${pulled.stderr}`);
    }
    // The ssh wrapper: one line per connection (one short write, so parallel connections never share a line).
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const log = join(dir, 'ssh.log');
    const realSsh = (await mustRun('which ssh', 'sh', ['-c', 'command -v ssh'])).stdout.trim();
    writeFileSync(join(bin, 'ssh'), `#!/bin/sh\necho ssh >> '${log}'\nexec '${realSsh}' "$@"\n`);
    chmodSync(join(bin, 'ssh'), 0o755);
    const app = join(dir, 'app');
    mkdirSync(join(app, 'config'), { recursive: true });
    writeFileSync(
      join(app, 'config/deploy.yml'),
      `service: bench\nimage: bench/app\nservers:\n  web:\n    hosts: [${h.hosts.map((x) => x.name).join(', ')}]\nregistry:\n  server: ${reg.host}\n  username: bench\n  password: unused\nbuilder:\n  arch: amd64\nssh:\n  config: ${h.sshConfig}\n`,
    );
    const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, DOCKER_CONFIG: join(dir, 'no-docker'), XDG_CACHE_HOME: join(dir, 'cache') };
    await mustRun('kamal-gate record', NODE, [CLI, 'record', '--version', 'v1'], { cwd: app, env });

    // The same verify without --hosts: what the registry and ledger part costs on its own.
    const plain: number[] = [];
    for (let i = 0; i < runs; i++) plain.push((await mustRun('kamal-gate verify', NODE, [CLI, 'verify', '--version', 'v1'], { cwd: app, env })).ms);

    const gate: { ms: number; connections: number }[] = [];
    for (let i = 0; i < runs; i++) {
      writeFileSync(log, '');
      const r = await run(NODE, [CLI, 'verify', '--version', 'v1', '--hosts'], { cwd: app, env });
      if (r.code !== 0) throw new Error(`kamal-gate verify --hosts exited ${r.code}; it should pass: ${(r.stderr || r.stdout).slice(0, 2000)}`);
      gate.push({ ms: r.ms, connections: readFileSync(log, 'utf8').split('\n').filter(Boolean).length });
    }

    const loop: { ms: number; connections: number }[] = [];
    for (let i = 0; i < runs; i++) {
      writeFileSync(log, '');
      const started = performance.now();
      for (const host of h.hosts) await mustRun(`ssh ${host.name}`, 'ssh', ['-F', h.sshConfig, host.name, 'docker', 'image', 'inspect', img.ref], { env });
      loop.push({ ms: performance.now() - started, connections: readFileSync(log, 'utf8').split('\n').filter(Boolean).length });
    }

    // The floor: N parallel `ssh hostK true`, the cost of the connections alone (no docker, no gate).
    const floor: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await Promise.all(h.hosts.map((x) => mustRun(`ssh ${x.name} true`, 'ssh', ['-F', h.sshConfig, x.name, 'true'], { env })));
      floor.push(performance.now() - started);
    }

    const g = { wall: median(gate.map((x) => x.ms)), perHost: median(gate.map((x) => x.connections)) / count };
    const p = median(plain);
    const l = { wall: median(loop.map((x) => x.ms)), perHost: median(loop.map((x) => x.connections)) / count };
    table(`${count} hosts (sshd on loopback over 2 Docker engines), one image each, median of ${runs}:`, [
      ['', 'wall', 'ssh connections/host', 'checks'],
      ['kamal-gate verify --hosts (whole process: registry + ledger + hosts)', ms(g.wall), g.perHost.toFixed(1), 'RepoDigests and Id against the gated digest'],
      ['kamal-gate verify without --hosts (registry + ledger only)', ms(p), '0.0', 'the registry answer only'],
      [`${count} parallel ssh hostK true (the connections alone)`, ms(median(floor)), '1.0', 'nothing'],
      [`${count} sequential ssh … docker image inspect`, ms(l.wall), l.perHost.toFixed(1), 'prints the JSON; nothing compared'],
    ]);
    targets([
      {
        what: `verify --hosts over ${count} hosts, wall`,
        value: ms(g.wall),
        peer: `${count} parallel ssh connections alone ${ms(median(floor))}; ${count} sequential ssh … docker image inspect ${ms(l.wall)}`,
        target: '< 2 s',
        ok: g.wall < 2000,
      },
      { what: 'SSH connections per host', value: g.perHost.toFixed(1), peer: 'the ssh loop: 1.0', target: '1', ok: g.perHost === 1 },
    ]);
    console.log(`  sequential ssh loop / verify --hosts wall time: ${(l.wall / g.wall).toFixed(2)}x; --hosts adds ${ms(g.wall - p)} to verify; one ssh connection here takes ${ms(l.wall / count)}`);
    console.log(
      `  ${cpus().length} CPUs, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} (every sshd, dockerd and ssh client of the run shares them)`,
    );
  } finally {
    await h.stop();
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(fail('hosts'));
