/**
 * PostgreSQL ledger specifics, against one real server started for this file: unreachable and
 * refused databases (exit 3, password never shown), schema migration, concurrent first opens, and
 * tampering with rows.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, LedgerUnavailableError, UsageError } from '../../src/errors.js';
import { PostgresLedger, SCHEMA_VERSION, openLedger, type Ledger, type NewEntry } from '../../src/ledger/index.js';
import { sql, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { buildLedgerModule, runChildren, type BuiltModule } from './children.js';

let server: PostgresServer;
let built: BuiltModule;
const opened: Ledger[] = [];

beforeAll(async () => {
  [server, built] = await Promise.all([startPostgres(), buildLedgerModule()]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), built?.remove()]);
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
});

async function open(url: string, options = {}): Promise<Ledger> {
  const ledger = await openLedger(url, options);
  opened.push(ledger);
  return ledger;
}

const entry = (n: number): NewEntry => ({
  registry: 'ghcr.io',
  repository: 'acme/app',
  tag: `v${n}`,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
  event: 'recorded',
  source: 'record',
});

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function unavailable(promise: Promise<unknown>): Promise<LedgerUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LedgerUnavailableError);
  expect((error as LedgerUnavailableError).exitCode).toBe(3);
  return error as LedgerUnavailableError;
}

describe('PostgreSQL ledger: unreachable', () => {
  it('a refused connection is exit 3 naming the host, password redacted', async () => {
    const port = await closedPort();
    const secret = 'refused-Secret-9f2c';
    const error = await unavailable(openLedger(`postgres://ledger:${secret}@127.0.0.1:${port}/ledger`));
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain(`postgres://ledger:***@127.0.0.1:${port}/ledger`);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).not.toContain(secret);
  });

  it('refused credentials are exit 3, the wrong password not shown', async () => {
    const secret = 'wrong-Pass/word?x';
    const url = `postgresql://${server.user}:${encodeURIComponent(secret)}@127.0.0.1:${server.port}/postgres`;
    const error = await unavailable(openLedger(url));
    expect(error.message).toContain(`127.0.0.1:${server.port}`);
    expect(error.message).toMatch(/password authentication failed/);
    expect(error.message).not.toContain(secret);
    expect(error.message).not.toContain(encodeURIComponent(secret));
  });

  it('an unknown host is exit 3 naming it', async () => {
    const error = await unavailable(openLedger('postgres://u:dns-Secret-1234@ledger-db.invalid:5432/x', { connectTimeoutMs: 3_000 }));
    expect(error.message).toContain('ledger-db.invalid:5432');
    expect(error.message).not.toContain('dns-Secret-1234');
  });

  it('a URL that does not parse is a usage error', async () => {
    await expect(openLedger('postgres://user:pw@[not-a-host/db')).rejects.toBeInstanceOf(UsageError);
  });

  it('the location shown has no password, also with a successful connection', async () => {
    const ledger = await open(await server.createDatabase());
    expect(ledger).toBeInstanceOf(PostgresLedger);
    expect(ledger.location).toMatch(new RegExp(`^postgres://${server.user}:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}/t_`));
    expect(ledger.location).not.toContain(server.password);
  });
});

describe('PostgreSQL ledger: schema', () => {
  it('migrates once: a second open finds the schema current and keeps the entries', async () => {
    const url = await server.createDatabase();
    const first = await open(url);
    await first.append([entry(1)]);
    await first.close();
    const second = await open(url);
    expect((await second.all()).map((e) => e.tag)).toEqual(['v1']);
    expect(await sql(url, 'SELECT version FROM kamal_gate_schema ORDER BY version')).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
    const indexes = await sql<{ indexdef: string }>(url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'kamal_gate_ledger'");
    expect(indexes.map((i) => i.indexdef).join('\n')).toContain('(registry, repository, tag, seq)');
  });

  it('several processes opening a new database at once all succeed, with one migration', async () => {
    const url = await server.createDatabase();
    const results = await runChildren(built.path, url, 6, 'open');
    expect(results.map((r) => r.stderr)).toEqual(Array(6).fill(''));
    expect(results.map((r) => r.code)).toEqual(Array(6).fill(0));
    expect(await sql(url, 'SELECT version FROM kamal_gate_schema ORDER BY version')).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
    const ledger = await open(url);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 6 });
  }, 60_000);

  it('refuses a schema newer than it knows', async () => {
    const url = await server.createDatabase();
    await (await open(url)).close();
    await sql(url, 'INSERT INTO kamal_gate_schema (version) VALUES ($1)', [SCHEMA_VERSION + 1]);
    const error = await openLedger(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as Error).message).toMatch(/newer than this kamal-gate knows.*upgrade kamal-gate/);
  });
});

describe('PostgreSQL ledger: tampering', () => {
  async function withEntries(n: number): Promise<string> {
    const url = await server.createDatabase();
    await (await open(url)).append(Array.from({ length: n }, (_, i) => entry(i + 1)));
    return url;
  }

  it('an edited digest is found by verify and makes readers refuse the ledger', async () => {
    const url = await withEntries(4);
    await sql(url, 'UPDATE kamal_gate_ledger SET digest = $1 WHERE seq = 2', [`sha256:${'e'.repeat(64)}`]);
    const ledger = await open(url);
    expect(await ledger.verify()).toEqual({
      ok: false,
      entries: 4,
      firstBroken: { seq: 2, reason: 'hash does not match the entry: the entry was edited' },
    });
    const error = await ledger.history('ghcr.io', 'acme/app', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).exitCode).toBe(2);
    expect((error as Error).message).toContain('seq 2');
    expect((error as Error).message).toContain('kamal-gate ledger verify');
    expect((error as Error).message).not.toContain(server.password);
    await expect(ledger.tags()).rejects.toBeInstanceOf(LedgerError);
  });

  it('a deleted row is found by verify', async () => {
    const url = await withEntries(4);
    await sql(url, 'DELETE FROM kamal_gate_ledger WHERE seq = 2');
    const ledger = await open(url);
    expect(await ledger.verify()).toEqual({ ok: false, entries: 3, firstBroken: { seq: 3, reason: 'seq 3 follows seq 1: entries are missing' } });
    await expect(ledger.all()).rejects.toBeInstanceOf(LedgerError);
  });

  it('an edited time is found', async () => {
    const url = await withEntries(2);
    await sql(url, "UPDATE kamal_gate_ledger SET time = time - interval '1 day' WHERE seq = 1");
    expect((await (await open(url)).verify()).firstBroken).toEqual({ seq: 1, reason: 'hash does not match the entry: the entry was edited' });
  });

  it('refuses to append onto a last row that does not verify, inserting nothing', async () => {
    const url = await withEntries(2);
    await sql(url, "UPDATE kamal_gate_ledger SET tag = 'evil' WHERE seq = 2");
    const ledger = await open(url);
    await expect(ledger.append([entry(3)])).rejects.toBeInstanceOf(LedgerError);
    expect(await sql(url, 'SELECT count(*)::int AS n FROM kamal_gate_ledger')).toEqual([{ n: 2 }]);
  });

  it('reads a ledger larger than one page (10,000 rows) whole, and finds an edit on a later page', async () => {
    const url = await server.createDatabase();
    const writer = await open(url);
    const n = 20_005;
    for (let i = 0; i < n; i += 5000) await writer.append(Array.from({ length: Math.min(5000, n - i) }, (_, k) => entry(i + k + 1)));
    const all = await (await open(url)).all();
    expect(all).toHaveLength(n);
    expect(all.every((e, i) => e.seq === i + 1)).toBe(true);
    expect(await (await open(url)).verify()).toEqual({ ok: true, entries: n });
    await sql(url, 'UPDATE kamal_gate_ledger SET tag = $1 WHERE seq = 15000', ['evil']);
    expect(await (await open(url)).verify()).toEqual({
      ok: false,
      entries: n,
      firstBroken: { seq: 15000, reason: 'hash does not match the entry: the entry was edited' },
    });
    const error = await (await open(url)).tags().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as Error).message).toContain('seq 15000');
  });

  it('sees entries other writers appended since its last read', async () => {
    const url = await withEntries(1);
    const reader = await open(url);
    expect(await reader.tags()).toHaveLength(1);
    await (await open(url)).append([entry(2), entry(3)]);
    expect((await reader.all()).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(await reader.history('ghcr.io', 'acme/app', 'v3')).toHaveLength(1);
  });
});
