/**
 * The digest ledger, file backend and PostgreSQL (issue 20's ledger rows):
 * - a load of 100,000 entries with a signed checkpoint near the end, verified as every command
 *   verifies it on opening the ledger, beside the plain full load (every hash and link checked, no
 *   checkpoint) of the same ledger in the same run;
 * - `kamal-gate ledger verify` of 1,000,000 entries (time and peak RSS), beside `sha256sum` of the
 *   same file (reading and hashing its bytes once, the floor for checking every byte of it).
 * Each load runs in a fresh process (bench/ledger-probe.mjs); peak RSS is that process's.
 * The checkpoints of the 100,000-entry ledgers are signed by the real CLI (`kamal-gate ledger
 * checkpoint --checkpoint-key`); the 1,000,000-entry one by the library the CLI uses.
 *
 *   npx tsx bench/ledger.ts [--entries 100000] [--big 1000000] [--runs 3]
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHECKPOINT_SCHEMA, formatSignedCheckpoint, loadCheckpointSigner } from '../src/ledger/checkpoint-sign.js';
import { openLedger } from '../src/ledger/index.js';
import type { Ledger, LedgerEntry, NewEntry } from '../src/ledger/types.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { CLI, NODE, arg, bytes, fail, median, ms, mustRun, table, targets } from './common.js';

const PROBE = resolve(import.meta.dirname, 'ledger-probe.mjs');
const FILE_LOAD_TARGET_MS = 150;
const PG_LOAD_TARGET_MS = 400;
const VERIFY_TARGET_MS = 5000;
const VERIFY_RSS_TARGET = 300 * 1000 * 1000;
const LOAD_RSS_TARGET = 200 * 1024 * 1024;
/** Entries appended after the checkpoint: the load checks these against the signed head. */
const AFTER_CHECKPOINT = 100;
/** Entries per append while building: one write (file) or one transaction (PostgreSQL) each. */
const BATCH = 20_000;

/** Entries `from`..`to`-1 of a plausible ledger: 200 repositories, tags recorded then re-verified, some overwritten, some deleted. */
function entries(from: number, to: number, total: number): NewEntry[] {
  const out: NewEntry[] = [];
  const tagsPerRepo = Math.max(1, Math.floor(total / 4 / 200));
  const random = randomBytes(96 * (to - from));
  const digest = (i: number, k: number) => `sha256:${random.toString('hex', 96 * (i - from) + 32 * k, 96 * (i - from) + 32 * (k + 1))}`;
  for (let i = from; i < to; i++) {
    const repository = `acme/service-${i % 200}`;
    const tag = `v${Math.floor(i / 200) % tagsPerRepo}`;
    const r = i % 50;
    const e: NewEntry =
      r === 49
        ? { registry: 'ghcr.io', repository, tag, digest: null, event: 'deleted', source: 'drift' }
        : { registry: 'ghcr.io', repository, tag, digest: digest(i, 0), event: r === 7 ? 'moved' : r % 3 === 0 ? 'observed' : 'recorded', source: r % 3 === 0 ? 'verify' : 'record' };
    if (i % 4 === 0) e.platformDigests = { 'linux/amd64': digest(i, 1), 'linux/arm64': digest(i, 2) };
    if (i % 5 === 0) e.actor = `github:acme/service-${i % 200}/actions/runs/${1000 + i}`;
    out.push(e);
  }
  return out;
}

/** Appends entries `from`..`to`-1 in batches; returns the first and last entry as stored. */
async function fill(ledger: Ledger, from: number, to: number, total: number): Promise<{ first?: LedgerEntry; last?: LedgerEntry }> {
  let first: LedgerEntry | undefined;
  let last: LedgerEntry | undefined;
  for (let i = from; i < to; i += BATCH) {
    const stored = await ledger.append(entries(i, Math.min(to, i + BATCH), total));
    first ??= stored[0];
    last = stored.at(-1);
  }
  return { first, last };
}

/** A ledger of `n` entries whose checkpoint, signed with the real CLI, covers all but the last AFTER_CHECKPOINT. */
async function buildWithCliCheckpoint(location: string, n: number, keyFile: string): Promise<void> {
  const ledger = await openLedger(location);
  await fill(ledger, 0, n - AFTER_CHECKPOINT, n);
  await ledger.close();
  await mustRun('kamal-gate ledger checkpoint', NODE, [CLI, 'ledger', 'checkpoint', '--ledger', location, '--checkpoint-key', keyFile]);
  const again = await openLedger(location);
  await fill(again, n - AFTER_CHECKPOINT, n, n);
  await again.close();
}

/** The same with the library the CLI uses to sign (loadCheckpointSigner, formatSignedCheckpoint), without loading the ledger to sign it. */
async function buildWithLibraryCheckpoint(location: string, n: number, keyFile: string): Promise<void> {
  const ledger = await openLedger(location);
  const { first, last } = await fill(ledger, 0, n - AFTER_CHECKPOINT, n);
  const signer = await loadCheckpointSigner({ keyFile, env: {} });
  const cp = await signer.sign({ schema: CHECKPOINT_SCHEMA, ledger: first!.hash, seq: last!.seq, hash: last!.hash, time: new Date().toISOString() });
  await ledger.writeCheckpoint(formatSignedCheckpoint(cp), cp.seq);
  await fill(ledger, n - AFTER_CHECKPOINT, n, n);
  await ledger.close();
}

interface Probe {
  loadMs: number;
  lookupUs: number;
  lookups: number;
  tags: number;
  entries: number;
  signedSeq: number;
  peakRssBytes: number;
}

async function probe(location: string, tagsFile: string, mode: 'full' | 'checkpoint', runs: number, expected: number): Promise<Probe> {
  const results: Probe[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await mustRun('bench/ledger-probe.mjs', NODE, [PROBE, location, tagsFile, mode]);
    const p = JSON.parse(r.stdout) as Probe;
    if (p.entries !== expected) throw new Error(`expected ${expected} entries in the ledger at ${location}: ${r.stdout}`);
    if (mode === 'checkpoint' && p.signedSeq !== expected - AFTER_CHECKPOINT) throw new Error(`expected a checkpoint at seq ${expected - AFTER_CHECKPOINT}: ${r.stdout}`);
    results.push(p);
  }
  return {
    ...results[0]!,
    loadMs: median(results.map((p) => p.loadMs)),
    lookupUs: median(results.map((p) => p.lookupUs)),
    peakRssBytes: Math.max(...results.map((p) => p.peakRssBytes)),
  };
}

/** `cmd` under /usr/bin/time: wall time (ms) and the peak RSS (bytes) of the process. */
async function timed(what: string, cmd: string, args: string[]): Promise<{ ms: number; rss: number; stdout: string }> {
  const r = await mustRun(what, '/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args]);
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`${what}: no /usr/bin/time line in ${r.stderr.slice(-500)}`);
  return { ms: r.ms, rss: Number(m[2]) * 1024, stdout: r.stdout };
}

async function main(): Promise<void> {
  const n = arg('entries', 100_000);
  const big = arg('big', 1_000_000);
  const runs = arg('runs', 3);
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-ledger-'));
  const pg = await startPostgres();
  try {
    const keyFile = join(dir, 'checkpoint.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const tagsFile = join(dir, 'lookups.json');
    const sample = entries(0, n, n);
    const lookups = [...new Map(sample.map((e) => [`${e.repository}:${e.tag}`, [e.registry, e.repository, e.tag]])).values()].slice(0, 10_000);
    writeFileSync(tagsFile, JSON.stringify(lookups));

    const file = join(dir, 'image-ledger.jsonl');
    await buildWithCliCheckpoint(file, n, keyFile);
    const url = await pg.createDatabase();
    await buildWithCliCheckpoint(url, n, keyFile);

    const rows = [['backend', 'entries', 'tags', 'full load', 'load + checkpoint', 'lookup', 'peak RSS']];
    const checks: Parameters<typeof targets>[0] = [];
    for (const [name, location, target] of [
      ['file', file, FILE_LOAD_TARGET_MS],
      ['PostgreSQL', url, PG_LOAD_TARGET_MS],
    ] as const) {
      const full = await probe(location, tagsFile, 'full', runs, n);
      const cp = await probe(location, tagsFile, 'checkpoint', runs, n);
      const rss = Math.max(full.peakRssBytes, cp.peakRssBytes);
      rows.push([name, String(cp.entries), String(cp.tags), ms(full.loadMs), ms(cp.loadMs), `${cp.lookupUs.toFixed(1)} µs`, bytes(rss)]);
      checks.push({
        what: `${name} ledger, ${n} entries, load with a verified checkpoint`,
        value: ms(cp.loadMs),
        peer: `full check of the same ledger ${ms(full.loadMs)}, ${(cp.loadMs / full.loadMs).toFixed(2)}×`,
        target: `< ${ms(target)}`,
        ok: cp.loadMs < target,
      });
      checks.push({ what: `${name} ledger, ${n} entries, load: peak RSS`, value: bytes(rss), target: '< 200 MB', ok: rss < LOAD_RSS_TARGET });
    }
    table(
      `Ledger of ${n} entries, a signed checkpoint at seq ${n - AFTER_CHECKPOINT}: full load (read + check every hash and link), load + checkpoint (what a command does on opening it: the load, the checkpoint against it, its signature), one tag lookup, peak RSS (median of ${runs} fresh processes):`,
      rows,
    );

    const bigFile = join(dir, 'big-ledger.jsonl');
    const built = performance.now();
    await buildWithLibraryCheckpoint(bigFile, big, keyFile);
    const buildMs = performance.now() - built;
    const size = statSync(bigFile).size;
    const verifies: { ms: number; rss: number }[] = [];
    const sums: number[] = [];
    for (let i = 0; i < runs; i++) {
      const v = await timed('kamal-gate ledger verify', NODE, [CLI, 'ledger', 'verify', '--ledger', bigFile]);
      if (!v.stdout.includes(`${big} entries, hash chain intact`) || !v.stdout.includes(`checkpoint: seq ${big - AFTER_CHECKPOINT}`)) throw new Error(`ledger verify: ${v.stdout}`);
      verifies.push(v);
      sums.push((await timed('sha256sum', 'sha256sum', [bigFile])).ms);
    }
    const vMs = median(verifies.map((v) => v.ms));
    const vRss = Math.max(...verifies.map((v) => v.rss));
    const sumMs = median(sums);
    table(`kamal-gate ledger verify of ${big} entries (${bytes(size)}; built in ${ms(buildMs)}), median of ${runs} runs:`, [
      ['command', 'time', 'peak RSS'],
      ['kamal-gate ledger verify', ms(vMs), bytes(vRss)],
      ['sha256sum of the same file', ms(sumMs), '-'],
    ]);
    checks.push({
      what: `ledger verify, ${big} entries: time`,
      value: ms(vMs),
      peer: `sha256sum of the same file ${ms(sumMs)}, ${(vMs / sumMs).toFixed(1)}×`,
      target: `< ${ms(VERIFY_TARGET_MS)}`,
      ok: vMs < VERIFY_TARGET_MS,
    });
    checks.push({ what: `ledger verify, ${big} entries: peak RSS`, value: bytes(vRss), peer: '-', target: '< 300 MB', ok: vRss < VERIFY_RSS_TARGET });
    targets(checks);
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(fail('ledger'));
