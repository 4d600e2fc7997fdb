/**
 * Deploy hosts for tests, as root on loopback only: N OpenSSH servers (Debian openssh-server, each
 * its own host key, config and random port on 127.0.0.1) over one or more Docker engines (Debian
 * docker.io: `dockerd` with its own data root, exec root, unix socket and pidfile, vfs storage, no
 * iptables, no bridge; containers need `--network none`). Each sshd session gets DOCKER_HOST (its
 * engine) and DOCKER_CONFIG (its own) through sshd_config SetEnv, so `ssh hostK docker …` talks to
 * that host's engine the way Kamal's commands do on a real host.
 *
 * The client side is one generated ed25519 key, a known_hosts pinning every host key as
 * `[127.0.0.1]:PORT`, and an ssh_config with `Host host1` … entries (BatchMode, StrictHostKeyChecking
 * yes). A Kamal config reaches the hosts with `ssh: { config: <sshConfig> }` and hosts host1..hostN.
 *
 *   const h = await startHosts({ count: 3, engines: 2 });   // host1, host3 on engine 1; host2 on engine 2
 *   try { await h.docker(h.hosts[0]!.engine, ['pull', ref]); } finally { await h.stop(); }
 *
 * Everything lives under one short temp dir (/tmp/kgh-XXXXXX: unix socket paths must stay under 108
 * bytes), removed by stop(). Engines dockerd pulls from 127.0.0.0/8 registries over plain HTTP.
 */
import { execFile as execFileCb, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './registry.js';

const execFile = promisify(execFileCb);
const LOG_CAP = 64 * 1024;
const SSHD = '/usr/sbin/sshd';

export interface TestHost {
  /** host1..hostN: the `Host` name in sshConfig */
  name: string;
  /** sshd's port on 127.0.0.1 */
  port: number;
  /** the engine this host's sessions talk to: 1..engines */
  engine: number;
}

export interface TestHosts {
  hosts: TestHost[];
  /** an ssh_config: `Host hostK` → HostName 127.0.0.1, Port, User root, IdentityFile, UserKnownHostsFile (host keys pinned), StrictHostKeyChecking yes, BatchMode yes */
  sshConfig: string;
  /** the client's private key (ed25519, no passphrase), authorized on every host */
  clientKey: string;
  /** known_hosts with every host key pinned as `[127.0.0.1]:PORT` */
  knownHosts: string;
  /** runs the docker CLI against engine N (1-based: the `engine` of a TestHost); never throws on exit status */
  docker(engine: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** takes one host down (its sshd stops: ssh to it is refused); the engine keeps running. Idempotent. */
  stopHost(name: string): Promise<void>;
  /** stops every sshd and engine and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Children still running in this process, killed when it exits or vitest ends the worker with SIGTERM. */
const live = new Set<ChildProcess>();
const killLive = (): void => {
  for (const c of live) c.kill('SIGKILL');
};
const onSigterm = (): void => {
  killLive();
  process.off('SIGTERM', onSigterm);
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
};
function track(child: ChildProcess): void {
  if (live.size === 0) {
    process.on('exit', killLive);
    process.on('SIGTERM', onSigterm);
  }
  live.add(child);
  child.once('exit', () => {
    if (!live.delete(child) || live.size > 0) return;
    process.off('exit', killLive);
    process.off('SIGTERM', onSigterm);
  });
}

interface Proc {
  child: ChildProcess;
  logs: () => string;
  exited: Promise<void>;
}

function launch(file: string, args: string[]): Proc {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let out = '';
  const append = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > LOG_CAP) out = out.slice(-LOG_CAP);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (e) => {
      append(Buffer.from(`spawn failed: ${e.message}\n`));
      resolve();
    });
  });
  return { child, logs: () => out, exited };
}

const gone = (c: ChildProcess): boolean => c.pid === undefined || c.exitCode !== null || c.signalCode !== null;

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
async function kill(p: Proc, graceMs: number): Promise<void> {
  if (gone(p.child)) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, p: Proc, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone(p.child)) throw new Error(`${what} exited while starting:\n${p.logs().slice(-4000)}`);
    if (await probe()) return;
    await sleep(30);
  }
  throw new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${p.logs().slice(-4000)}`);
}

/** GET /_ping on a unix socket answers 200. */
function pingDocker(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** 127.0.0.1:port accepts a connection and sends an SSH banner. */
function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('data', (d: Buffer) => done(d.toString('latin1').startsWith('SSH-')));
    s.once('error', () => done(false));
  });
}

async function keygen(path: string, comment: string): Promise<string> {
  await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

interface Engine {
  proc: Proc;
  socket: string;
}

async function startEngine(dir: string, n: number): Promise<Engine> {
  const root = join(dir, `engine${n}`);
  await mkdir(root, { recursive: true });
  const socket = join(root, 'docker.sock');
  const config = join(root, 'daemon.json');
  await writeFile(config, '{}\n');
  const args = [
    '--config-file',
    config, // not /etc/docker/daemon.json
    '--data-root',
    join(root, 'data'),
    '--exec-root',
    join(dir, `x${n}`), // short: containerd's sockets live under it
    '-H',
    `unix://${socket}`,
    '--group',
    'root',
    '--pidfile',
    join(root, 'docker.pid'),
    '--storage-driver',
    'vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--bridge=none',
    '--shutdown-timeout',
    '2',
    '--log-level',
    'warn',
  ];
  const proc = launch('/usr/sbin/dockerd', args);
  try {
    await until(`dockerd (engine ${n})`, proc, 60_000, () => pingDocker(socket));
  } catch (e) {
    await kill(proc, 5000);
    throw e;
  }
  return { proc, socket };
}

interface Sshd {
  host: TestHost;
  proc: Proc;
  hostKeyLine: string;
}

async function startSshd(dir: string, name: string, engine: number, engineSocket: string, authorizedKeys: string): Promise<Sshd> {
  const root = join(dir, name);
  await mkdir(join(root, 'docker'), { recursive: true });
  const hostKey = join(root, 'ssh_host_ed25519_key');
  const hostPub = await keygen(hostKey, `kamal-gate-test-${name}`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const cfg = join(root, 'sshd_config');
    await writeFile(
      cfg,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${join(root, 'sshd.pid')}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        `AuthorizedKeysFile ${authorizedKeys}`,
        'UsePAM no',
        'StrictModes no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'X11Forwarding no',
        'AllowTcpForwarding yes',
        'MaxSessions 100',
        'MaxStartups 100:30:200',
        `SetEnv DOCKER_HOST=unix://${engineSocket} DOCKER_CONFIG=${join(root, 'docker')}`,
        '',
      ].join('\n'),
    );
    const proc = launch(SSHD, ['-D', '-e', '-f', cfg]);
    try {
      await until(`sshd ${name}`, proc, 15_000, () => sshBanner(port));
      return { host: { name, port, engine }, proc, hostKeyLine: `[127.0.0.1]:${port} ${hostPub.split(' ').slice(0, 2).join(' ')}` };
    } catch (e) {
      lastError = e;
      await kill(proc, 2000);
      if (!/Address already in use/.test(proc.logs())) break; // only a port race is worth another try
    }
  }
  throw lastError;
}

/** The docker CLI's environment for an engine: its socket, the harness's own client config. */
function dockerEnv(socket: string, dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'docker-cli') };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  return env;
}

/** Mount points under `dir` (netns files dockerd may leave), deepest first. */
function mountsUnder(dir: string): string[] {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
      .filter((m) => m.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

export async function startHosts(opts: { count: number; engines?: number }): Promise<TestHosts> {
  const engineCount = opts.engines ?? 1;
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error(`startHosts: count must be a positive integer, got ${opts.count}`);
  if (!Number.isInteger(engineCount) || engineCount < 1) throw new Error(`startHosts: engines must be a positive integer, got ${engineCount}`);
  // sshd's privilege separation directory (the Debian package creates it at boot, not at install).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp('/tmp/kgh-');
  const engines: Engine[] = [];
  const sshds = new Map<string, Sshd>();
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...sshds.values()].map((s) => kill(s.proc, 2000)));
    // Containers first (SIGKILL through `docker rm -f`): dockerd's own shutdown waits on each one.
    await Promise.all(
      engines.map(async (e) => {
        if (gone(e.proc.child)) return;
        const env = dockerEnv(e.socket, dir);
        const ids = await execFile('/usr/bin/docker', ['ps', '-aq'], { env, timeout: 20_000 }).then(
          (r) => r.stdout.split('\n').filter(Boolean),
          () => [],
        );
        if (ids.length > 0) await execFile('/usr/bin/docker', ['rm', '-f', ...ids], { env, timeout: 20_000 }).catch(() => undefined);
        await kill(e.proc, 20_000);
      }),
    );
    for (const m of mountsUnder(dir)) await execFile('umount', ['-l', m]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    const clientKey = join(dir, 'client_key');
    const authorizedKeys = join(dir, 'authorized_keys');
    const enginesStarted = Promise.all(Array.from({ length: engineCount }, (_, i) => startEngine(dir, i + 1).then((e) => void (engines[i] = e))));
    await writeFile(authorizedKeys, `${await keygen(clientKey, 'kamal-gate-test-client')}\n`, { mode: 0o600 });
    // The sshds need only the socket path, not a running engine: start both at once.
    const names = Array.from({ length: opts.count }, (_, i) => `host${i + 1}`);
    const started = await Promise.allSettled([
      enginesStarted,
      ...names.map(async (name, i) => {
        const engine = (i % engineCount) + 1;
        const s = await startSshd(dir, name, engine, join(dir, `engine${engine}`, 'docker.sock'), authorizedKeys);
        sshds.set(name, s);
      }),
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    const hosts = names.map((n) => sshds.get(n)!.host);
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${names.map((n) => sshds.get(n)!.hostKeyLine).join('\n')}\n`);
    const sshConfig = join(dir, 'ssh_config');
    await writeFile(
      sshConfig,
      hosts
        .map((h) =>
          [
            `Host ${h.name}`,
            '  HostName 127.0.0.1',
            `  Port ${h.port}`,
            '  User root',
            `  IdentityFile ${clientKey}`,
            '  IdentitiesOnly yes',
            `  UserKnownHostsFile ${knownHosts}`,
            '  GlobalKnownHostsFile /dev/null',
            '  StrictHostKeyChecking yes',
            '  BatchMode yes',
            '  LogLevel ERROR',
            '',
          ].join('\n'),
        )
        .join('\n'),
    );
    await mkdir(join(dir, 'docker-cli'));

    return {
      hosts,
      sshConfig,
      clientKey,
      knownHosts,
      async docker(engine, args) {
        const e = engines[engine - 1];
        if (!e) throw new Error(`docker(): no engine ${engine}; engines are 1..${engines.length}`);
        try {
          const { stdout, stderr } = await execFile('/usr/bin/docker', args, { env: dockerEnv(e.socket, dir), maxBuffer: 64 << 20, timeout: 120_000 });
          return { code: 0, stdout, stderr };
        } catch (err) {
          const x = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
          return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr || x.message };
        }
      },
      async stopHost(name) {
        const s = sshds.get(name);
        if (!s) throw new Error(`stopHost(): no host ${name}; hosts are ${names.join(', ')}`);
        await kill(s.proc, 2000);
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** One tar entry (a regular file, mode 0755) padded to 512-byte blocks. */
function tarEntry(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000755\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.fill(' ', 148, 156);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad]);
}

/**
 * The uncompressed bytes of a real tar layer holding `files` (path → content), for ImageSpec.layers:
 * the test image builder's default layers are random bytes, which a registry stores but dockerd
 * cannot extract on pull.
 */
export function tarLayer(files: Record<string, string | Buffer>): Buffer {
  const entries = Object.entries(files).map(([name, content]) => tarEntry(name, Buffer.isBuffer(content) ? content : Buffer.from(content)));
  return Buffer.concat([...entries, Buffer.alloc(1024)]);
}
