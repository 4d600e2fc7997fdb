/**
 * Loading a ledger that has a signed checkpoint (issue 20), file and PostgreSQL: an entry edited
 * before the checkpoint or after it is refused on load, with or without its hashes recomputed; a
 * checkpoint whose signature does not verify is refused, never a shortcut; `ledger verify`
 * (verifyWithHead, which the command runs) still checks every entry, keeping none in memory.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { loadCheckpointSigner } from '../../src/ledger/checkpoint-sign.js';
import { checkHead, signHead, verifyWithHead } from '../../src/ledger/head.js';
import { entryHash, openLedger, type Ledger, type LedgerEntry, type NewEntry } from '../../src/ledger/index.js';
import { sql, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const SIGNED = 20;
const TOTAL = 30;
const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const entry = (n: number): NewEntry => ({ registry: 'ghcr.io', repository: 'acme/app', tag: `v${n % 7}`, digest: d(n), event: 'recorded', source: 'record' });
const batch = (from: number, to: number): NewEntry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));

let dir: string;
let keyFile: string;
let server: PostgresServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kg-checkpoint-load-'));
  keyFile = join(dir, 'checkpoint.pem');
  await writeFile(keyFile, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A ledger of TOTAL entries with a checkpoint signed at seq SIGNED. */
async function build(location: string): Promise<void> {
  const ledger = await openLedger(location);
  try {
    await ledger.append(batch(1, SIGNED));
    await signHead(ledger, await loadCheckpointSigner({ keyFile, env: {} }));
    await ledger.append(batch(SIGNED + 1, TOTAL));
  } finally {
    await ledger.close();
  }
}

/** What every command does on opening a ledger (cli/ledger-options.ts openLedgerFor): load, then the checkpoint against it. */
async function load(location: string): Promise<{ entries: number; signed?: number }> {
  const ledger = await openLedger(location);
  try {
    const head = await checkHead(ledger);
    return { entries: (await ledger.all()).length, ...(head.checkpoint ? { signed: head.checkpoint.seq } : {}) };
  } finally {
    await ledger.close();
  }
}

async function refused(location: string, pattern: RegExp): Promise<void> {
  const error = await load(location).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as Error).message).toMatch(pattern);
}

async function verify(location: string): Promise<Awaited<ReturnType<typeof verifyWithHead>>> {
  const ledger = await openLedger(location);
  try {
    return await verifyWithHead(ledger);
  } finally {
    await ledger.close();
  }
}

/** Storage for one backend: edit entry `seq` (its hash kept, or it and every hash after it recomputed), damage the checkpoint. */
interface Backend {
  name: string;
  fresh(): Promise<string>;
  edit(location: string, seq: number, rechain: boolean): Promise<void>;
  breakSignature(location: string): Promise<void>;
}

const EDITED = `sha256:${'e'.repeat(64)}`;

/** Entries as stored, with entry `seq` given another digest; with `rechain`, its hash and every later prev and hash recomputed (an attacker covering the edit). */
function edited(entries: LedgerEntry[], seq: number, rechain: boolean): LedgerEntry[] {
  const out = entries.map((e) => ({ ...e }));
  out[seq - 1]!.digest = EDITED;
  if (!rechain) return out;
  for (let i = seq - 1; i < out.length; i++) {
    if (i > 0) out[i]!.prev = out[i - 1]!.hash;
    out[i]!.hash = entryHash(out[i]!);
  }
  return out;
}

function flipSignature(document: string): string {
  const cp = JSON.parse(document) as { signature: { value: string } };
  const v = cp.signature.value;
  cp.signature.value = (v[0] === 'A' ? 'B' : 'A') + v.slice(1);
  return `${JSON.stringify(cp)}\n`;
}

const file: Backend = {
  name: 'file',
  fresh: async () => join(await mkdtemp(join(dir, 'file-')), 'image-ledger.jsonl'),
  async edit(path, seq, rechain) {
    const entries = (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LedgerEntry);
    await writeFile(
      path,
      edited(entries, seq, rechain)
        .map((e) => `${JSON.stringify(e)}\n`)
        .join(''),
    );
  },
  async breakSignature(path) {
    await writeFile(`${path}.checkpoint`, flipSignature(await readFile(`${path}.checkpoint`, 'utf8')));
  },
};

const postgres: Backend = {
  name: 'PostgreSQL',
  fresh: () => server.createDatabase(),
  async edit(url, seq, rechain) {
    const ledger: Ledger = await openLedger(url);
    const entries = await ledger.all();
    await ledger.close();
    for (const e of edited(entries, seq, rechain).slice(seq - 1, rechain ? undefined : seq)) {
      await sql(url, 'UPDATE kamal_gate_ledger SET digest = $1, prev = $2, hash = $3 WHERE seq = $4', [e.digest, e.prev, e.hash, e.seq]);
    }
  },
  async breakSignature(url) {
    const [row] = await sql<{ id: string; document: string }>(url, 'SELECT id, document FROM kamal_gate_checkpoints ORDER BY id DESC LIMIT 1');
    await sql(url, 'UPDATE kamal_gate_checkpoints SET document = $1 WHERE id = $2', [flipSignature(row!.document), row!.id]);
  },
};

describe.each([file, postgres])('$name ledger with a signed checkpoint', (backend) => {
  it('loads, the checkpoint verified, and ledger verify reports every entry and the entries after the checkpoint', async () => {
    const location = await backend.fresh();
    await build(location);
    expect(await load(location)).toEqual({ entries: TOTAL, signed: SIGNED });
    const v = await verify(location);
    expect(v.report).toMatchObject({ ok: true, entries: TOTAL });
    expect(v.problem).toBeUndefined();
    expect(v.head).toMatchObject({ entries: TOTAL, unsigned: TOTAL - SIGNED, checkpoint: { seq: SIGNED } });
  });

  it('an entry edited before the checkpoint (hash kept) is refused on load and found by ledger verify', async () => {
    const location = await backend.fresh();
    await build(location);
    await backend.edit(location, 5, false);
    await refused(location, /seq 5.*the entry was edited|entry seq 5/);
    const v = await verify(location);
    expect(v.report).toMatchObject({ ok: false, entries: TOTAL, firstBroken: { seq: 5, reason: 'hash does not match the entry: the entry was edited' } });
  });

  it('an entry edited before the checkpoint with every later hash recomputed is refused: the signed head no longer matches', async () => {
    const location = await backend.fresh();
    await build(location);
    await backend.edit(location, 5, true);
    await refused(location, new RegExp(`entry seq ${SIGNED} is not the one the checkpoint signed.*rewritten`));
    const v = await verify(location);
    expect(v.report.ok).toBe(true); // the chain itself is consistent again: only the checkpoint shows the rewrite
    expect(v.problem).toMatch(new RegExp(`entry seq ${SIGNED} is not the one the checkpoint signed`));
  });

  it('an entry edited after the checkpoint is refused on load and found by ledger verify', async () => {
    const location = await backend.fresh();
    await build(location);
    await backend.edit(location, SIGNED + 5, false);
    await refused(location, new RegExp(`seq ${SIGNED + 5}`));
    expect((await verify(location)).report).toMatchObject({ ok: false, firstBroken: { seq: SIGNED + 5 } });
  });

  it('a checkpoint whose signature does not verify gives no shortcut: the load is refused', async () => {
    const location = await backend.fresh();
    await build(location);
    await backend.breakSignature(location);
    await refused(location, /signature does not verify/);
    const v = await verify(location);
    expect(v.report.ok).toBe(true);
    expect(v.problem).toMatch(/signature does not verify/);
  });

  it('a checkpoint with a bad signature over an edited entry is still refused for the edit', async () => {
    const location = await backend.fresh();
    await build(location);
    await backend.edit(location, 5, false);
    await backend.breakSignature(location);
    await refused(location, /seq 5/);
    expect((await verify(location)).report).toMatchObject({ ok: false, firstBroken: { seq: 5 } });
  });
});

describe('file ledger: verify keeps no entries', () => {
  it('reads afresh, and a later read on the same ledger still loads every entry', async () => {
    const path = await file.fresh();
    await build(path);
    const ledger = await openLedger(path);
    try {
      expect(await ledger.verify({ hashAt: SIGNED })).toMatchObject({ ok: true, entries: TOTAL, firstHash: expect.stringMatching(/^sha256:/), hashAt: expect.stringMatching(/^sha256:/) });
      const all = await ledger.all();
      expect(all).toHaveLength(TOTAL);
      expect((await ledger.verify({ hashAt: SIGNED })).hashAt).toBe(all[SIGNED - 1]!.hash);
      expect(await ledger.verify()).toEqual({ ok: true, entries: TOTAL });
    } finally {
      await ledger.close();
    }
  });
});
