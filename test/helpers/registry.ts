/**
 * Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1 on a random port, in one of three
 * auth modes: none, htpasswd (bcrypt file) or token (with the token server beside it).
 * Every registry gets its own temp directory (config, storage, credentials), removed by stop().
 *
 *   const reg = await startRegistry({ auth: 'htpasswd' });
 *   try { … } finally { await reg.stop(); }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { startTokenServer, type AclRule, type TokenServer } from './token-server.js';

export type AuthMode = 'none' | 'htpasswd' | 'token';

export interface RegistryOptions {
  auth?: AuthMode;
  /** username → password. Default (auth modes): { tester: <random> }. The first user is `username`/`password`. */
  users?: Record<string, string>;
  /** storage.delete.enabled (DELETE of manifests by digest); default true */
  deleteEnabled?: boolean;
  /** token mode: token lifetime in seconds (default 300) */
  tokenTtlSeconds?: number;
  /** token mode: anonymous token requests get pull on every repository (default false: 401) */
  anonymousPull?: boolean;
  /** token mode: restrict users to repositories/actions (a user not listed gets pull, push, delete everywhere) */
  acl?: Record<string, AclRule[]>;
  /** how long to wait for GET /v2/ to answer, default 15000 ms */
  startTimeoutMs?: number;
}

export interface TestRegistry {
  /** '127.0.0.1:PORT' (what goes in an image reference) */
  host: string;
  /** 'http://127.0.0.1:PORT' */
  url: string;
  auth: AuthMode;
  /** '' when auth is 'none' */
  username: string;
  /** '' when auth is 'none' */
  password: string;
  users: Record<string, string>;
  /** token mode only: the token server (realm, request counter, requested scopes, mint) */
  tokenServer?: TokenServer;
  /** the registry's temp directory (config.yml, data/, htpasswd, token cert) */
  dir: string;
  /** what the registry printed so far (stdout and stderr, last 64 KiB); log level is 'error' */
  logs(): string;
  /** Kills the registry (and the token server), removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const REGISTRY_SERVICE = 'test-registry';
const TOKEN_ISSUER = 'kamal-gate-test';
const LOG_CAP = 64 * 1024;
const INSTANCE_HEADER = 'X-Kamal-Gate-Test-Instance';

/**
 * Registries still running in this process. A safety net for a test that forgot stop(): they are
 * killed when this process exits, or when vitest ends its worker with SIGTERM (which skips 'exit').
 */
const live = new Map<ChildProcess, string>();
const killLive = () => {
  for (const [c, dir] of live) {
    c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
};
const onSigterm = () => {
  killLive();
  process.off('SIGTERM', onSigterm);
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
};
function trackChild(child: ChildProcess, dir: string): void {
  if (live.size === 0) {
    process.on('exit', killLive);
    process.on('SIGTERM', onSigterm);
  }
  live.set(child, dir);
  const forget = () => {
    if (!live.delete(child) || live.size > 0) return;
    process.off('exit', killLive);
    process.off('SIGTERM', onSigterm);
  };
  child.once('exit', forget);
  child.once('error', forget);
}

/** A port that was free a moment ago on 127.0.0.1 (the registry must bind it itself; callers retry on a race). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a child: SIGTERM, then SIGKILL if it has not exited after 5 s. Resolves once it has exited. */
async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

interface Launch {
  child: ChildProcess;
  logs: () => string;
  exited: Promise<number | null>;
}

function launch(configPath: string, dir: string): Launch {
  const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child, dir);
  let out = '';
  const append = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > LOG_CAP) out = out.slice(-LOG_CAP);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      append(Buffer.from(`spawn failed: ${err.message}\n`));
      resolve(-1);
    });
  });
  return { child, logs: () => out, exited };
}

/** Polls GET /v2/ until our registry (its instance header) answers one of `ok`, the process exits, or the deadline passes. */
async function waitUntilServing(url: string, ok: number[], instance: string, l: Launch, deadline: number): Promise<'up' | 'exited' | 'timeout'> {
  let exited = false;
  void l.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) return 'exited';
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (ok.includes(res.status) && res.headers.get(INSTANCE_HEADER) === instance) return 'up';
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return exited ? 'exited' : 'timeout';
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const users = auth === 'none' ? {} : (opts.users ?? { tester: randomBytes(12).toString('hex') });
  const [username, password] = Object.entries(users)[0] ?? ['', ''];
  if (auth !== 'none' && username === '') throw new Error('startRegistry: users must name at least one user');

  const dir = await mkdtemp(join(tmpdir(), 'kamal-gate-registry-'));
  let tokenServer: TokenServer | undefined;
  try {
    const authConfig: Record<string, unknown> = {};
    if (auth === 'htpasswd') {
      // bcryptjs writes $2b$; distribution 2.8 (golang.org/x/crypto/bcrypt) accepts $2a$, $2b$ and $2y$. Cost 4 keeps it fast.
      const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}`);
      const htpasswdPath = join(dir, 'htpasswd');
      await writeFile(htpasswdPath, lines.join('\n') + '\n', { mode: 0o600 });
      authConfig.htpasswd = { realm: REGISTRY_SERVICE, path: htpasswdPath };
    } else if (auth === 'token') {
      tokenServer = await startTokenServer({
        users,
        acl: opts.acl,
        anonymousPull: opts.anonymousPull,
        ttlSeconds: opts.tokenTtlSeconds,
        service: REGISTRY_SERVICE,
        issuer: TOKEN_ISSUER,
        dir,
      });
      authConfig.token = {
        realm: tokenServer.realm,
        service: REGISTRY_SERVICE,
        issuer: TOKEN_ISSUER,
        rootcertbundle: tokenServer.certPath,
      };
    }

    const ready = auth === 'none' ? [200] : [401];
    const startDeadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
    const configPath = join(dir, 'config.yml');
    let lastLogs = '';
    const instance = randomBytes(8).toString('hex');
    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await freePort();
      const config = {
        version: '0.1',
        log: { level: 'error', accesslog: { disabled: true } },
        storage: {
          filesystem: { rootdirectory: join(dir, 'data') },
          delete: { enabled: opts.deleteEnabled ?? true },
        },
        // the instance header tells our registry apart from whatever else might answer on a reused port
        http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex'), headers: { [INSTANCE_HEADER]: [instance] } },
        ...(auth === 'none' ? {} : { auth: authConfig }),
      };
      await writeFile(configPath, stringify(config));
      const url = `http://127.0.0.1:${port}`;
      const l = launch(configPath, dir);
      const outcome = await waitUntilServing(url, ready, instance, l, startDeadline);
      if (outcome === 'up') {
        let stopping: Promise<void> | undefined;
        return {
          host: `127.0.0.1:${port}`,
          url,
          auth,
          username,
          password,
          users,
          tokenServer,
          dir,
          logs: l.logs,
          stop: () => {
            stopping ??= (async () => {
              await killChild(l.child);
              await tokenServer?.stop();
              await rm(dir, { recursive: true, force: true });
            })();
            return stopping;
          },
        };
      }
      await killChild(l.child);
      lastLogs = l.logs();
      const portTaken = /address already in use|bind:/i.test(lastLogs);
      if (outcome === 'timeout' || !portTaken) {
        throw new Error(
          `docker-registry did not come up on ${url} (${outcome === 'timeout' ? 'no answer to GET /v2/ before the deadline' : 'it exited'}). ` + `Its output:\n${lastLogs || '(nothing)'}`,
        );
      }
    }
    throw new Error(`docker-registry could not bind a free port after 5 attempts. Its output:\n${lastLogs}`);
  } catch (err) {
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The file in the registry's own storage that holds a blob (distribution's filesystem layout), so a
 * test can tamper with what the registry serves. Throws when the blob is not stored.
 */
export function blobFile(reg: TestRegistry, digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  const path = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
  if (!existsSync(path)) throw new Error(`blob ${digest} is not in the registry storage at ${path}`);
  return path;
}
