/**
 * PostgreSQL ledger crash safety, against a real server: the connection of an append is dropped in
 * the middle of its transaction (pg_terminate_backend from a second connection, or SIGKILL of the
 * backend process, which puts the whole server through crash recovery).
 *
 * What must hold: every committed entry is still there, none of the interrupted batch is (not even
 * the rows of its first INSERT), the chain verifies, the next append works, and the caller gets a
 * LedgerUnavailableError (exit 3, "could not verify": the ledger could not be written, so the run
 * fails closed; exit 2 is for a ledger that does not verify) saying nothing was written, without
 * the password.
 *
 * The append is held at a chosen point deterministically: by holding the writer's advisory lock
 * from a second connection, or by a test trigger that makes one INSERTed row wait on an advisory
 * lock the test holds. The test waits (polling pg_stat_activity) until the backend is blocked there.
 */
import { execFile as execFileCb } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerUnavailableError } from '../../src/errors.js';
import { openLedger, type Ledger, type NewEntry } from '../../src/ledger/index.js';
import { runCliProcess as runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const execFile = promisify(execFileCb);
const APPEND_LOCK = '4207715603871350002'; // src/ledger/postgres.ts
const TEST_LOCK = 777_001;

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

const entry = (n: number, repo = 'acme/app'): NewEntry => ({
  registry: 'ghcr.io',
  repository: repo,
  tag: `v${n}`,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
  event: 'recorded',
  source: 'record',
});

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined); // this client may be cut by a server restart
  await c.connect();
  return c;
}

/** Waits until a kamal-gate backend is blocked on a lock in a statement matching `query`; returns its pid. */
async function blockedBackend(admin: pg.Client, query: RegExp): Promise<number> {
  for (let i = 0; i < 2000; i++) {
    const { rows } = await admin.query<{ pid: number; query: string }>(
      `SELECT pid, query FROM pg_stat_activity WHERE application_name = 'kamal-gate' AND wait_event_type = 'Lock' AND state = 'active'`,
    );
    const hit = rows.find((r) => query.test(r.query));
    if (hit) return hit.pid;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no kamal-gate backend ever blocked in ${query}`);
}

/** The append's outcome, settled at once (so a rejection while the test is busy is not "unhandled"). */
function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function rejection(p: Promise<unknown>): Promise<LedgerUnavailableError> {
  const e = await p;
  expect(e).toBeInstanceOf(LedgerUnavailableError);
  const err = e as LedgerUnavailableError;
  expect(err.exitCode).toBe(3);
  expect(err.message).toContain(server.host);
  expect(err.message).not.toContain(server.password);
  expect(err.message).toContain('Nothing from this run was written');
  return err;
}

/** The rows as they are in the database (not through the ledger's cache). */
async function rows(admin: pg.Client): Promise<Array<{ seq: string; repository: string; hash: string }>> {
  return (await admin.query<{ seq: string; repository: string; hash: string }>('SELECT seq, repository, hash FROM kamal_gate_ledger ORDER BY seq')).rows;
}

/** A fresh database whose ledger holds `n` committed entries; a ledger handle and an admin connection. */
async function setUp(n: number): Promise<{ url: string; ledger: Ledger; admin: pg.Client; committed: Array<{ seq: string; repository: string; hash: string }> }> {
  const url = await server.createDatabase();
  const ledger = await openLedger(url);
  await ledger.append(Array.from({ length: n }, (_, i) => entry(i + 1)));
  const admin = await connect(url);
  return { url, ledger, admin, committed: await rows(admin) };
}

async function expectIntact(url: string, committed: Array<{ seq: string; hash: string }>): Promise<void> {
  const admin = await connect(url);
  try {
    expect(await rows(admin)).toEqual(committed.map((r) => expect.objectContaining({ seq: r.seq, hash: r.hash })));
  } finally {
    await admin.end();
  }
  const fresh = await openLedger(url);
  try {
    const report = await fresh.verify();
    expect(report).toEqual({ ok: true, entries: committed.length });
  } finally {
    await fresh.close();
  }
}

describe('PostgreSQL ledger: the connection dropped mid-transaction', () => {
  it('while the append waits for the writer lock: nothing committed lost, nothing half-done, next append works', async () => {
    const { url, ledger, admin, committed } = await setUp(5);
    const holder = await connect(url);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [APPEND_LOCK]);
      const pending = outcome(ledger.append([entry(100, 'acme/lost'), entry(101, 'acme/lost')]));
      const pid = await blockedBackend(admin, /pg_advisory_xact_lock/);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await rejection(pending);
      await holder.query('ROLLBACK');
      await expectIntact(url, committed);
      // The same ledger handle (its pool dropped the dead connection) appends, chained on entry 5.
      const [next] = await ledger.append([entry(6)]);
      expect(next).toMatchObject({ seq: 6, prev: committed[4]!.hash });
      expect((await ledger.verify()).ok).toBe(true);
    } finally {
      await holder.end();
      await admin.end();
      await ledger.close();
    }
  }, 60_000);

  it('after part of a 1,500-entry batch was inserted (inside its second INSERT): none of it commits', async () => {
    const { url, ledger, admin, committed } = await setUp(5);
    // Row seq 1010 (in the second INSERT chunk of 1,000) waits on a lock the test holds.
    await admin.query(`CREATE FUNCTION kg_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.seq = 1010 THEN PERFORM pg_advisory_xact_lock(${TEST_LOCK}); END IF; RETURN NEW; END $$`);
    await admin.query('CREATE TRIGGER kg_test_hold BEFORE INSERT ON kamal_gate_ledger FOR EACH ROW EXECUTE FUNCTION kg_test_hold()');
    const holder = await connect(url);
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [TEST_LOCK]);
      const pending = outcome(ledger.append(Array.from({ length: 1500 }, (_, i) => entry(1000 + i, 'acme/half'))));
      const pid = await blockedBackend(admin, /^INSERT INTO kamal_gate_ledger/);
      // The first 1,000 rows are inserted in the open transaction, invisible to everyone else.
      const { rows: locks } = await admin.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_locks WHERE pid = $1 AND locktype = 'transactionid'`, [pid]);
      expect(Number(locks[0]!.n)).toBeGreaterThan(0);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await rejection(pending);
      await holder.query('SELECT pg_advisory_unlock($1)', [TEST_LOCK]);
      await admin.query('DROP TRIGGER kg_test_hold ON kamal_gate_ledger');
      await expectIntact(url, committed);
      const [next] = await ledger.append([entry(6)]);
      expect(next).toMatchObject({ seq: 6, prev: committed[4]!.hash });
    } finally {
      await holder.end();
      await admin.end();
      await ledger.close();
    }
  }, 60_000);

  it('the backend process killed with SIGKILL mid-INSERT (the server restarts): committed entries survive crash recovery', async () => {
    const { url, ledger, admin, committed } = await setUp(7);
    await admin.query(`CREATE FUNCTION kg_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.seq = 9 THEN PERFORM pg_advisory_xact_lock(${TEST_LOCK}); END IF; RETURN NEW; END $$`);
    await admin.query('CREATE TRIGGER kg_test_hold BEFORE INSERT ON kamal_gate_ledger FOR EACH ROW EXECUTE FUNCTION kg_test_hold()');
    const holder = await connect(url);
    await holder.query('SELECT pg_advisory_lock($1)', [TEST_LOCK]);
    const pending = outcome(ledger.append([entry(8), entry(9), entry(10)]));
    const pid = await blockedBackend(admin, /^INSERT INTO kamal_gate_ledger/);
    await execFile('kill', ['-KILL', String(pid)]);
    await rejection(pending);
    await Promise.all([holder.end().catch(() => undefined), admin.end().catch(() => undefined)]);
    // The postmaster restarts every backend and replays the WAL; wait until it accepts connections.
    let fixer: pg.Client | undefined;
    for (let i = 0; i < 600 && !fixer; i++) {
      fixer = await connect(url).catch(() => undefined);
      if (!fixer) await new Promise((r) => setTimeout(r, 50));
    }
    if (!fixer) throw new Error('the server did not come back after crash recovery');
    await fixer.query('DROP TRIGGER kg_test_hold ON kamal_gate_ledger');
    await fixer.end();
    await expectIntact(url, committed);
    const [next] = await ledger.append([entry(8)]);
    expect(next).toMatchObject({ seq: 8, prev: committed[6]!.hash });
    await ledger.close();
  }, 60_000);

  it('through the CLI: `kamal-gate record` whose connection is terminated mid-append exits 3 with a clear message, no stack trace', async () => {
    const reg: TestRegistry = await startRegistry({ auth: 'none' });
    const { url, ledger, admin, committed } = await setUp(3);
    await ledger.close();
    const holder = await connect(url);
    try {
      await new ImageBuilder(reg).pushImage('crash/pg', 'v1', { seed: 'pg' });
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [APPEND_LOCK]);
      const run = runCli(['record', `${reg.host}/crash/pg:v1`, '--ledger', url]);
      const pid = await blockedBackend(admin, /pg_advisory_xact_lock/);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const res = await run;
      expect(res.code, res.stdout + res.stderr).toBe(3);
      expect(res.stderr).toContain('Nothing from this run was written');
      expect(res.stderr).toContain(server.host);
      expect(res.stderr + res.stdout).not.toContain(server.password);
      expect(res.stderr).not.toMatch(/internal error|Uncaught|at \S+:\d+:\d+/);
      await holder.query('ROLLBACK');
      await expectIntact(url, committed);
    } finally {
      await holder.end();
      await admin.end();
      await reg.stop();
    }
  }, 60_000);
});
