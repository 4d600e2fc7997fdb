/**
 * The PostgreSQL ledger: `postgres://` or `postgresql://` URL (e.g. `--ledger` or
 * `KAMAL_GATE_LEDGER_URL`), for many CI runners sharing one ledger.
 *
 * The tool creates and migrates its schema (`kamal_gate_schema`, `kamal_gate_ledger`) under a
 * session advisory lock, so concurrent first runs do not race. An append is one transaction that
 * takes a transaction advisory lock, reads the last entry, and inserts the batch chained after it:
 * concurrent writers queue on the lock and the chain stays linear. Entries carry the same hash chain
 * as the file ledger (hash.ts).
 *
 * An unreachable database, refused credentials or any other database failure is a
 * LedgerUnavailableError (exit 3) naming the host, the password never shown.
 */
import type pg from 'pg';
import { LedgerError, LedgerUnavailableError, UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { ChainReader, EntryIndex, assertNewEntry, chainBatch, checkStored, type ChainTip } from './chain.js';
import { MIGRATIONS, READ_COLUMNS, SCHEMA_VERSION, insertStatement, rowToEntry, type Row } from './postgres-schema.js';
import type { ChainReport, Ledger, LedgerEntry, LedgerOptions, NewEntry, TagHistory, TagRef, VerifyOptions } from './types.js';

export { SCHEMA_VERSION } from './postgres-schema.js';

// Fixed advisory lock keys (arbitrary 63-bit constants owned by kamal-gate). Advisory locks are per
// database, so ledgers in different databases do not contend.
const MIGRATE_LOCK = '4207715603871350001';
const APPEND_LOCK = '4207715603871350002';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
/** Rows per INSERT: 14 parameters each, well under PostgreSQL's 65,535 bind parameters. */
const INSERT_CHUNK = 1_000;
/** Rows read per query while loading: bounds the memory a load needs beside the entries themselves. */
const PAGE_ROWS = 10_000;

/** The URL as shown in messages: no password, no query string (which may hold one). */
function describePostgresUrl(url: string): { location: string; host: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('the ledger URL is not a valid postgres:// URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
  }
  const host = u.host || u.searchParams.get('host') || 'localhost';
  const user = u.username ? `${u.username}${u.password ? ':***' : ''}@` : '';
  return { location: `${u.protocol}//${user}${u.host}${u.pathname}`, host };
}

/** Registers every secret the URL carries, so no message or log can show it. */
function registerUrlSecrets(url: string): void {
  const u = new URL(url);
  if (u.password) {
    registerSecret(u.password);
    try {
      registerSecret(decodeURIComponent(u.password));
    } catch {
      // not percent-encoded validly: the raw form is registered
    }
  }
  for (const key of ['password', 'sslpassword']) registerSecret(u.searchParams.get(key));
}

export class PostgresLedger implements Ledger {
  readonly location: string;
  private readonly host: string;
  private readonly pool: pg.Pool;
  private readonly lockTimeoutMs: number;
  private index = new EntryIndex();
  private closed = false;

  private constructor(Pool: typeof pg.Pool, url: string, options: LedgerOptions) {
    const { location, host } = describePostgresUrl(url);
    registerUrlSecrets(url);
    this.location = location;
    this.host = host;
    this.lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.pool = new Pool({
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      max: 4,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      application_name: 'kamal-gate',
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
  }

  /** Connects and brings the schema up to date. Throws LedgerUnavailableError when unreachable. */
  static async open(url: string, options: LedgerOptions = {}): Promise<PostgresLedger> {
    // pg loads only when a PostgreSQL ledger is opened, so the file ledger and the CLI start fast.
    const {
      default: { Pool },
    } = await import('pg');
    const ledger = new PostgresLedger(Pool, url, options);
    try {
      await ledger.migrate();
    } catch (e) {
      await ledger.close();
      throw e;
    }
    return ledger;
  }

  /**
   * A client checked out of the pool. While it is out, a connection that drops (the server
   * restarted, the backend was terminated, the network failed) makes the client emit 'error' besides
   * failing the query in flight; the pool listens only to idle clients, and an 'error' nobody listens
   * to is an uncaught exception that would kill the process with a stack trace. The query's own
   * failure is what gets reported. `done(broken)` returns it, and a broken one is discarded.
   */
  private async client(): Promise<{ client: pg.PoolClient; done: (broken?: boolean) => void }> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.unavailable(e, true);
    }
    const ignore = (): void => undefined;
    client.on('error', ignore);
    return {
      client,
      done: (broken = false) => {
        client.removeListener('error', ignore);
        client.release(broken || undefined);
      },
    };
  }

  private async migrate(): Promise<void> {
    const { client, done } = await this.client();
    let broken = false;
    try {
      await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${this.lockTimeoutMs}ms`]);
      await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATE_LOCK]);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS kamal_gate_schema (version int PRIMARY KEY)');
        const { rows } = await client.query<{ v: number }>('SELECT coalesce(max(version), 0)::int AS v FROM kamal_gate_schema');
        const current = rows[0]?.v ?? 0;
        if (current > SCHEMA_VERSION) {
          throw new LedgerError(`the ledger database ${this.location} has schema version ${current}, newer than this kamal-gate knows (${SCHEMA_VERSION}): upgrade kamal-gate`, this.location);
        }
        for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
          await client.query('BEGIN');
          try {
            for (const sql of MIGRATIONS[version - 1]!) await client.query(sql);
            await client.query('INSERT INTO kamal_gate_schema (version) VALUES ($1)', [version]);
            await client.query('COMMIT');
          } catch (e) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw e;
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATE_LOCK]).catch(() => undefined);
      }
      await client.query('RESET lock_timeout');
    } catch (e) {
      broken = true;
      throw this.mapError(e);
    } finally {
      done(broken);
    }
  }

  async append(batch: NewEntry[]): Promise<LedgerEntry[]> {
    if (batch.length === 0) return [];
    batch.forEach(assertNewEntry);
    const { client, done } = await this.client();
    let committing = false;
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${this.lockTimeoutMs}ms`]);
      // Every writer queues here until the one before it commits: the chain stays linear.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [APPEND_LOCK]);
      const { rows } = await client.query<Row>(`SELECT ${READ_COLUMNS} FROM kamal_gate_ledger ORDER BY seq DESC LIMIT 1`);
      let tip: ChainTip | null = null;
      if (rows[0]) {
        const checked = checkStored(rowToEntry(rows[0]));
        if (checked.reason !== undefined) throw this.untrusted(Number(rows[0].seq), checked.reason);
        tip = { seq: checked.entry.seq, hash: checked.entry.hash };
      }
      const entries = chainBatch(batch, tip);
      for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
        await this.insert(client, entries.slice(i, i + INSERT_CHUNK));
      }
      committing = true;
      await client.query('COMMIT');
      return entries;
    } catch (e) {
      broken = await client.query('ROLLBACK').then(
        () => false,
        () => true,
      );
      if (e instanceof LedgerError || e instanceof LedgerUnavailableError || e instanceof TypeError) throw e;
      // Before COMMIT was sent, a failure (the connection dropped, the server restarted, the lock
      // timed out) rolls the whole batch back. During COMMIT nobody can tell whether it landed.
      throw this.unavailable(
        e,
        false,
        committing
          ? 'The connection failed while committing: this batch may or may not have been written; the entries before it are unchanged. Run `kamal-gate ledger verify`, then run again.'
          : 'Nothing from this run was written (the transaction was rolled back); the entries already in the ledger are unchanged. Run again once the database is reachable.',
      );
    } finally {
      done(broken);
    }
  }

  private async insert(client: pg.PoolClient, entries: LedgerEntry[]): Promise<void> {
    const { sql, values } = insertStatement(entries);
    await client.query(sql, values);
  }

  /**
   * Brings the in-memory index up to date: reads only the entries after the last one checked and
   * checks each against the chain. (Rows edited before that point are found by `verify()` and by the
   * next process, which reads everything.)
   */
  private async refresh(): Promise<EntryIndex> {
    const reader = new ChainReader(this.index);
    for await (const row of this.rowsAfter(this.index.tip?.seq ?? 0)) {
      if (reader.read(rowToEntry(row))) continue;
      this.index = new EntryIndex(); // read everything again next time
      throw this.untrusted(reader.firstBroken!.seq, reader.firstBroken!.reason);
    }
    return this.index;
  }

  /**
   * The entries after seq `after`, in order, read PAGE_ROWS at a time. The next page is asked for as
   * soon as a full page arrives, so the server reads it while this process checks the one before
   * (each page is its own query, as before: nothing about what is read changes, only when).
   */
  private async *rowsAfter(after: number): AsyncGenerator<Row> {
    const page = (from: number): Promise<Row[]> =>
      this.pool.query<Row>(`SELECT ${READ_COLUMNS} FROM kamal_gate_ledger WHERE seq > $1 ORDER BY seq LIMIT ${PAGE_ROWS}`, [from]).then(
        (r) => r.rows,
        (e: unknown) => {
          throw this.mapError(e);
        },
      );
    let next = page(after);
    for (;;) {
      const rows = await next;
      const full = rows.length === PAGE_ROWS;
      if (full) {
        next = page(Number(rows[rows.length - 1]!.seq));
        next.catch(() => undefined); // awaited on the next turn; a reader that stops before it leaves no unhandled rejection
      }
      yield* rows;
      if (!full) return;
    }
  }

  async all(): Promise<LedgerEntry[]> {
    return [...(await this.refresh()).entries];
  }

  async history(registry: string, repository: string, tag: string): Promise<LedgerEntry[]> {
    return (await this.refresh()).history(registry, repository, tag);
  }

  async tags(): Promise<TagRef[]> {
    return (await this.refresh()).tags();
  }

  async histories(): Promise<TagHistory[]> {
    return (await this.refresh()).histories();
  }

  async verify(options: VerifyOptions = {}): Promise<ChainReport> {
    const reader = new ChainReader(undefined, options.hashAt); // checks only: every row is counted, checking stops at the first broken one
    for await (const row of this.rowsAfter(0)) {
      if (reader.broken) reader.skip();
      else reader.read(rowToEntry(row));
    }
    const b = reader.firstBroken;
    const report: ChainReport = b ? { ok: false, entries: reader.count, firstBroken: { seq: b.seq, reason: b.reason } } : { ok: true, entries: reader.count };
    if (options.hashAt !== undefined) {
      if (reader.first !== undefined) report.firstHash = reader.first;
      if (reader.hashAt?.hash !== undefined) report.hashAt = reader.hashAt.hash;
    }
    return report;
  }

  async readCheckpoint(): Promise<string | undefined> {
    try {
      const { rows } = await this.pool.query<{ document: string }>('SELECT document FROM kamal_gate_checkpoints ORDER BY id DESC LIMIT 1');
      return rows[0]?.document;
    } catch (e) {
      throw this.mapError(e);
    }
  }

  async writeCheckpoint(document: string, seq: number): Promise<void> {
    try {
      await this.pool.query('INSERT INTO kamal_gate_checkpoints (seq, document) VALUES ($1, $2)', [seq, document]);
    } catch (e) {
      throw this.unavailable(e, false, 'The checkpoint was not stored; the ledger entries are unchanged. Run `kamal-gate ledger checkpoint` again.');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private untrusted(seq: number, reason: string): LedgerError {
    return new LedgerError(
      `${this.location}: ledger entry seq ${seq}: ${reason}. The ledger cannot be trusted: ` + 'run `kamal-gate ledger verify` and restore the kamal_gate_ledger table from a backup.',
      this.location,
    );
  }

  private mapError(e: unknown): Error {
    if (e instanceof LedgerError || e instanceof LedgerUnavailableError || e instanceof TypeError) return e;
    return this.unavailable(e, false);
  }

  private unavailable(e: unknown, connecting: boolean, state?: string): LedgerUnavailableError {
    const what = connecting ? `cannot connect to the PostgreSQL ledger on ${this.host} (${this.location})` : `the PostgreSQL ledger on ${this.host} (${this.location}) failed`;
    return new LedgerUnavailableError(`${what}: ${describeError(e)}. ${state ?? 'Check the URL, that the server is running and reachable, and the credentials.'}`, this.location, { cause: e });
  }
}

/** A readable reason; connection failures to several addresses come as an AggregateError with no message. */
function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (e.message) return e.message;
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) return String(code);
  if (e instanceof AggregateError && e.errors[0] instanceof Error) return describeError(e.errors[0]);
  return e.name;
}

export function openPostgresLedger(url: string, options?: LedgerOptions): Promise<PostgresLedger> {
  return PostgresLedger.open(url, options);
}
