/**
 * A real PostgreSQL server for tests, started from the Debian `postgresql` package's binaries
 * (/usr/lib/postgresql/<version>/bin/{initdb,pg_ctl,postgres}; the highest version installed) in a
 * temp data directory, listening on 127.0.0.1 only on a free port, its unix socket in the temp dir.
 * Password authentication on loopback, so URLs carry a password (redaction is tested with it).
 *
 * PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the `postgres` system user
 * (created by the Debian package) through `runuser`, with the temp dir owned by that user.
 */
import { execFile as execFileCb } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFile = promisify(execFileCb);
const PG_ROOT = '/usr/lib/postgresql';

export interface PostgresServer {
  /** postgres://USER:PASSWORD@127.0.0.1:PORT/postgres */
  url: string;
  user: string;
  password: string;
  host: string;
  port: number;
  /** Creates a fresh empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Idempotent: stops the server (immediate shutdown) and removes its directory. */
  stop(): Promise<void>;
}

function findBinaries(): string {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, 'bin', 'initdb')) && existsSync(join(PG_ROOT, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(`PostgreSQL server binaries not found (${PG_ROOT}/<version>/bin/initdb and pg_ctl, from the Debian ` + '`postgresql` package). Run `npm test`, which installs them.');
  }
  return join(PG_ROOT, versions[0]!, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([execFile('id', ['-u', 'postgres']), execFile('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findBinaries();
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'kamal-gate-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const user = 'kamal_gate';
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const pwfile = join(dir, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const { uid, gid } = await postgresUser();
    await chown(dir, uid, gid);
    await chown(pwfile, uid, gid);
  }
  const run = async (cmd: string, args: string[]): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    await execFile(file, argv, { cwd: dir, timeout: 120_000 });
  };
  const serverLog = async (): Promise<string> => (await readFile(log, 'utf8').catch(() => '(no server log)')).slice(-4000);

  let started = false;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killOnExit);
    if (started) await run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  // If the test process ends without afterAll (a crash), do not leave a server behind.
  const killOnExit = (): void => {
    const pid = postmasterPid(data);
    try {
      if (pid > 0) process.kill(pid, 'SIGQUIT'); // SIGQUIT: immediate shutdown
    } catch {
      // already gone
    }
  };

  try {
    await run('initdb', ['-D', data, '-U', user, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--no-locale']);
    const port = await freePort();
    // fsync and synchronous_commit stay at their defaults (on): the ledger's durability is tested.
    const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=100`;
    await run('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-t', '60', '-o', opts]).catch(async (e: Error) => {
      throw new Error(`PostgreSQL did not start: ${e.message}\n--- server log ---\n${await serverLog()}`);
    });
    started = true;
    process.on('exit', killOnExit);
    const url = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`;
    await waitForConnections(url, 30_000, serverLog);
    let dbCounter = 0;
    return {
      url,
      user,
      password,
      host: '127.0.0.1',
      port,
      async createDatabase() {
        const name = `t_${process.pid}_${++dbCounter}_${randomBytes(3).toString('hex')}`;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://${user}:${password}@127.0.0.1:${port}/${name}`;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The postmaster's pid, read synchronously (for the exit handler); NaN when there is none. */
function postmasterPid(data: string): number {
  try {
    return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return Number.NaN;
  }
}

async function waitForConnections(url: string, timeoutMs: number, serverLog: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (e) {
      last = e;
      await client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`PostgreSQL did not accept connections within ${timeoutMs / 1000} s: ${String(last)}\n--- server log ---\n${await serverLog()}`);
}

/** One statement on a database of a test server, on a connection of its own: the rows it returns. */
export async function sql<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}
