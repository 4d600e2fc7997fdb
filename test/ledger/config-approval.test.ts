/**
 * Approved Kamal configs in the ledger (`config-approved` entries, src/ledger/config-approval.ts) in
 * both backends: the hash covers the document, a tampered document breaks the chain, the latest
 * approval per service and destination is the approved one, the entries are no tags, and an old
 * PostgreSQL ledger (schema 2) migrates with its chain intact.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvedConfig, configApprovalEntry, entryHash, openLedger, type Ledger, type NewEntry } from '../../src/ledger/index.js';
import { MIGRATIONS } from '../../src/ledger/postgres-schema.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

const TAG: NewEntry = { registry: 'ghcr.io', repository: 'acme/shop', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, event: 'recorded', source: 'record' };
const doc = (cmd: string) => ({ service: 'shop', servers: { web: { cmd, hosts: ['10.0.0.1'] } }, ssh: { port: 22, user: 'root' } });
const fp = (c: string) => `sha256:${c.repeat(64)}`;

async function exercise(ledger: Ledger): Promise<void> {
  expect(await approvedConfig(ledger, 'shop', undefined)).toBeUndefined();
  await ledger.append([TAG, configApprovalEntry({ service: 'shop', destination: undefined, version: 'v1', fingerprint: fp('1'), document: doc('bin/rails s'), actor: 'ci' })]);
  await ledger.append([configApprovalEntry({ service: 'shop', destination: 'staging', version: 'v1', fingerprint: fp('2'), document: doc('bin/staging') })]);
  await ledger.append([configApprovalEntry({ service: 'shop', destination: undefined, version: 'v2', fingerprint: fp('3'), document: doc('bin/rails server') })]);
  expect(await approvedConfig(ledger, 'shop', undefined)).toEqual({ fingerprint: fp('3'), document: doc('bin/rails server'), version: 'v2', seq: 4 });
  expect((await approvedConfig(ledger, 'shop', undefined, 'v1'))?.document).toEqual(doc('bin/rails s'));
  expect((await approvedConfig(ledger, 'shop', 'staging'))?.fingerprint).toBe(fp('2'));
  expect(await approvedConfig(ledger, 'other', undefined)).toBeUndefined();
  // Not tags: drift and the tag readers never see them.
  expect(await ledger.tags()).toEqual([{ registry: 'ghcr.io', repository: 'acme/shop', tag: 'v1' }]);
  const all = await ledger.all();
  expect(all).toHaveLength(4);
  for (const e of all) expect(entryHash(e)).toBe(e.hash);
  expect((await ledger.verify()).ok).toBe(true);
}

describe('config approvals in the file ledger', () => {
  it('are chained, hashed with their document, and the latest per destination is approved', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kg-config-')), 'ledger.jsonl');
    const ledger = await openLedger(file);
    try {
      await exercise(ledger);
    } finally {
      await ledger.close();
    }
    // Editing the approved document breaks the chain at that entry.
    writeFileSync(file, readFileSync(file, 'utf8').replace('bin/rails s"', 'sh -c evil"'));
    const tampered = await openLedger(file);
    try {
      const report = await tampered.verify();
      expect(report.ok).toBe(false);
      expect(report.firstBroken).toMatchObject({ seq: 2, reason: expect.stringContaining('hash does not match') });
    } finally {
      await tampered.close();
    }
  });

  it('refuses a config on another event and a config-approved entry without one', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kg-config-')), 'ledger.jsonl');
    const ledger = await openLedger(file);
    try {
      await expect(ledger.append([{ ...TAG, config: { version: 'v1', document: {} } }])).rejects.toThrow(/config is only for event "config-approved"/);
      await expect(ledger.append([{ ...TAG, event: 'config-approved' }])).rejects.toThrow(/config must be/);
    } finally {
      await ledger.close();
    }
  });
});

describe('config approvals in the PostgreSQL ledger', () => {
  it('round-trip with the same hashes', async () => {
    const ledger = await openLedger(await server.createDatabase());
    try {
      await exercise(ledger);
    } finally {
      await ledger.close();
    }
  });

  it('migrate a schema-2 ledger whose entries still verify', async () => {
    const url = await server.createDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // The ledger as kamal-gate before config approvals left it: migrations 1 and 2 and one entry.
      await client.query('CREATE TABLE kamal_gate_schema (version integer PRIMARY KEY)');
      for (const [i, statements] of MIGRATIONS.slice(0, 2).entries()) {
        for (const statement of statements) await client.query(statement);
        await client.query('INSERT INTO kamal_gate_schema (version) VALUES ($1)', [i + 1]);
      }
      const time = '2026-01-01T00:00:00.000Z';
      const prev = `sha256:${'0'.repeat(64)}`;
      const entry = { seq: 1, time, registry: TAG.registry, repository: TAG.repository, tag: TAG.tag, digest: TAG.digest, event: 'recorded', source: 'record', prev } as const;
      await client.query('INSERT INTO kamal_gate_ledger (seq, time, registry, repository, tag, digest, event, source, prev, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)', [
        1,
        time,
        entry.registry,
        entry.repository,
        entry.tag,
        entry.digest,
        entry.event,
        entry.source,
        prev,
        entryHash(entry),
      ]);
    } finally {
      await client.end();
    }
    const ledger = await openLedger(url);
    try {
      expect((await ledger.verify()).ok).toBe(true);
      await ledger.append([configApprovalEntry({ service: 'shop', destination: undefined, version: 'v1', fingerprint: fp('1'), document: doc('bin/rails s') })]);
      expect((await approvedConfig(ledger, 'shop', undefined))?.seq).toBe(2);
      expect((await ledger.verify()).ok).toBe(true);
    } finally {
      await ledger.close();
    }
  });
});
