/**
 * The behaviour both ledger backends share, run against each: the file ledger in a fresh temp dir
 * and the PostgreSQL ledger in a fresh database of one real server started for this file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chainBatch } from '../../src/ledger/chain.js';
import { GENESIS_HASH, classify, entryHash, observationEntry, openLedger, tagState, type Ledger, type NewEntry } from '../../src/ledger/index.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { buildLedgerModule, runChildren, type BuiltModule } from './children.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

let pgServer: PostgresServer;
let built: BuiltModule;
const tmpDirs: string[] = [];
const opened: Ledger[] = [];

beforeAll(async () => {
  [pgServer, built] = await Promise.all([startPostgres(), buildLedgerModule()]);
});

afterAll(async () => {
  await Promise.all([pgServer?.stop(), built?.remove(), ...tmpDirs.map((dir) => rm(dir, { recursive: true, force: true }))]);
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
});

interface Backend {
  name: string;
  /** A location for a fresh, empty ledger. */
  fresh(): Promise<string>;
}

const backends: Backend[] = [
  {
    name: 'file',
    async fresh() {
      const dir = await mkdtemp(join(tmpdir(), 'kamal-gate-ledger-'));
      tmpDirs.push(dir);
      return join(dir, '.kamal', 'image-ledger.jsonl');
    },
  },
  { name: 'postgres', fresh: () => pgServer.createDatabase() },
];

async function open(location: string): Promise<Ledger> {
  const ledger = await openLedger(location);
  opened.push(ledger);
  return ledger;
}

const batch: NewEntry[] = [
  {
    registry: 'ghcr.io',
    repository: 'acme/app',
    tag: 'v1',
    digest: d('a'),
    platformDigests: { 'linux/amd64': d('1'), 'linux/arm64': d('2') },
    event: 'recorded',
    source: 'record',
    actor: 'ci#17',
    time: '2025-03-01T10:00:00Z',
  },
  { registry: 'docker.io', repository: 'library/redis', tag: '7.4', digest: d('b'), event: 'recorded', source: 'verify', time: '2025-03-01T10:00:01.5Z' },
  { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1', digest: d('c'), event: 'moved', source: 'drift', time: '2025-03-02T00:00:00.000Z' },
];

describe.each(backends)('$name ledger', (backend) => {
  it('is empty before the first append', async () => {
    const ledger = await open(await backend.fresh());
    expect(await ledger.all()).toEqual([]);
    expect(await ledger.tags()).toEqual([]);
    expect(await ledger.history('ghcr.io', 'acme/app', 'v1')).toEqual([]);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 0 });
  });

  it('appends a batch chained from the genesis hash and reads it back, also from a new instance', async () => {
    const location = await backend.fresh();
    const ledger = await open(location);
    const stored = await ledger.append(batch);

    expect(stored.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(stored[0]!.prev).toBe(GENESIS_HASH);
    expect(stored[1]!.prev).toBe(stored[0]!.hash);
    expect(stored[2]!.prev).toBe(stored[1]!.hash);
    for (const e of stored) expect(e.hash).toBe(entryHash(e));
    // Times are stored in toISOString() form, whatever form the caller gave.
    expect(stored.map((e) => e.time)).toEqual(['2025-03-01T10:00:00.000Z', '2025-03-01T10:00:01.500Z', '2025-03-02T00:00:00.000Z']);
    expect(stored[0]).toMatchObject({ actor: 'ci#17', platformDigests: { 'linux/amd64': d('1'), 'linux/arm64': d('2') } });
    expect(stored[1]).not.toHaveProperty('actor');
    expect(stored[1]).not.toHaveProperty('platformDigests');

    expect(await ledger.all()).toEqual(stored);
    const again = await open(location);
    expect(await again.all()).toEqual(stored);
    expect(await again.history('ghcr.io', 'acme/app', 'v1')).toEqual([stored[0], stored[2]]);
    expect(await again.history('ghcr.io', 'acme/app', 'v2')).toEqual([]);
    expect(await again.tags()).toEqual([
      { registry: 'ghcr.io', repository: 'acme/app', tag: 'v1' },
      { registry: 'docker.io', repository: 'library/redis', tag: '7.4' },
    ]);
  });

  it('stores exactly the chain the pure chaining computes, so both backends hold identical entries', async () => {
    const ledger = await open(await backend.fresh());
    const stored = await ledger.append(batch);
    expect(stored).toEqual(chainBatch(batch, null));
    expect(await ledger.all()).toEqual(chainBatch(batch, null));
  });

  it('continues the chain across appends and instances, and verifies', async () => {
    const location = await backend.fresh();
    const first = await open(location);
    const second = await open(location);
    await first.append(batch.slice(0, 2));
    const [third] = await second.append(batch.slice(2));
    expect(third).toMatchObject({ seq: 3 });
    const all = await first.all();
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(third!.prev).toBe(all[1]!.hash);
    expect(await first.verify()).toEqual({ ok: true, entries: 3 });
    expect(await first.append([])).toEqual([]);
    expect(await second.verify()).toEqual({ ok: true, entries: 3 });
  });

  it('refuses an invalid entry and writes nothing of its batch', async () => {
    const ledger = await open(await backend.fresh());
    const good = batch[1]!;
    await expect(ledger.append([good, { ...good, digest: null }])).rejects.toThrow(/digest is null but event is not "deleted"/);
    await expect(ledger.append([good, { ...good, event: 'deleted' }])).rejects.toThrow(/must have a null digest/);
    await expect(ledger.append([{ ...good, digest: 'latest' }])).rejects.toThrow(/digest must be a digest/);
    await expect(ledger.append([{ ...good, tag: '' }])).rejects.toThrow(/tag must be a non-empty string/);
    await expect(ledger.append([{ ...good, time: 'yesterday' }])).rejects.toThrow(/not a date/);
    expect(await ledger.all()).toEqual([]);
  });

  it('keeps a tag history that classify reads: recorded, overwritten, back, approved move, rolled back, deleted, restored', async () => {
    const ledger = await open(await backend.fresh());
    const ref = { registry: 'localhost:5000', repository: 'acme/app', tag: 'prod' };
    const observe = async (digest: string | null, source: 'drift' | 'record' = 'drift'): Promise<string> => {
      const history = await ledger.history(ref.registry, ref.repository, ref.tag);
      const c = classify(history, { digest });
      const entry = observationEntry(ref, { digest }, c, { source }, history);
      if (entry) await ledger.append([entry]);
      return c.kind;
    };
    expect(await observe(d('a'), 'record')).toBe('unrecorded');
    expect(await observe(d('a'))).toBe('same');
    expect(await observe(d('b'))).toBe('overwritten');
    expect(await observe(d('b'))).toBe('overwritten'); // seen again: still not approved
    expect(await observe(d('a'))).toBe('same');
    expect(await observe(d('b'), 'record')).toBe('overwritten'); // the pipeline approves b
    expect(await observe(d('a'))).toBe('rolled_back');
    expect(await observe(null)).toBe('deleted');
    expect(await observe(null)).toBe('deleted');
    expect(await observe(d('b'))).toBe('restored');

    const history = await ledger.history(ref.registry, ref.repository, ref.tag);
    expect(history.map((e) => `${e.event}/${e.source}`)).toEqual(['recorded/record', 'moved/drift', 'observed/drift', 'moved/record', 'moved/drift', 'deleted/drift', 'restored/drift']);
    const state = tagState(history);
    expect(state.current).toBe(d('b'));
    expect(state.approved).toBe(d('b'));
    expect(state.digests).toEqual([d('a'), d('b')]);
    expect(state.firstSeen.get(d('b'))).toBe(history[1]!.time);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 7 });
  });

  it('8 processes appending 200 entries each at once lose nothing and keep a valid chain', async () => {
    const location = await backend.fresh();
    const results = await runChildren(built.path, location, 8, 'append', 200);
    expect(results.map((r) => r.stderr)).toEqual(Array(8).fill(''));
    expect(results.map((r) => r.code)).toEqual(Array(8).fill(0));

    const ledger = await open(location);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 1600 });
    const all = await ledger.all();
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 1600 }, (_, i) => i + 1));
    for (let w = 0; w < 8; w++) {
      // Every entry of every worker is there, each once, in the order the worker appended them.
      const mine = all.filter((e) => e.repository === `w${w}`).map((e) => e.tag);
      expect(mine).toEqual(Array.from({ length: 200 }, (_, i) => `t${i}`));
    }
    expect(new Set(all.map((e) => e.hash)).size).toBe(1600);
  }, 120_000);
});

describe('both backends', () => {
  it('hold the same chain for the same entries: an export from one verifies as the other', async () => {
    const file = await open(await backends[0]!.fresh());
    const db = await open(await backends[1]!.fresh());
    await file.append(batch);
    await db.append(batch);
    const fromFile = await file.all();
    expect(await db.all()).toEqual(fromFile);
    // And a next entry chains identically after the same tip.
    const next: NewEntry = { ...batch[1]!, event: 'observed', time: '2025-04-01T00:00:00.000Z' };
    expect(await db.append([next])).toEqual(await file.append([next]));
  });
});
