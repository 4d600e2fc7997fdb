/**
 * The digest ledger at 100,000 entries, file backend and PostgreSQL: how long a process takes to
 * load it (every entry's hash and link checked), how long one tag lookup takes after that, and the
 * process's peak memory. Each measurement runs in a fresh process (bench/ledger-probe.mjs).
 *
 *   npx tsx bench/ledger.ts [--entries 100000] [--runs 3]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openLedger } from '../src/ledger/index.js';
import type { NewEntry } from '../src/ledger/types.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { arg, bytes, fail, median, ms, mustRun, table, targets, NODE } from './common.js';

const PROBE = resolve(import.meta.dirname, 'ledger-probe.mjs');
const LOAD_TARGET_MS = 1000;
const RSS_TARGET = 200 * 1024 * 1024;

/** A plausible ledger: 200 repositories, tags recorded then re-verified, some overwritten, some deleted. */
function entries(n: number): NewEntry[] {
  const out: NewEntry[] = [];
  const tagsPerRepo = Math.max(1, Math.floor(n / 4 / 200));
  for (let i = 0; out.length < n; i++) {
    const repository = `acme/service-${i % 200}`;
    const tag = `v${Math.floor(i / 200) % tagsPerRepo}`;
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    const r = i % 50;
    const e: NewEntry =
      r === 49
        ? { registry: 'ghcr.io', repository, tag, digest: null, event: 'deleted', source: 'drift' }
        : { registry: 'ghcr.io', repository, tag, digest, event: r === 7 ? 'moved' : r % 3 === 0 ? 'observed' : 'recorded', source: r % 3 === 0 ? 'verify' : 'record' };
    if (i % 4 === 0) e.platformDigests = { 'linux/amd64': `sha256:${randomBytes(32).toString('hex')}`, 'linux/arm64': `sha256:${randomBytes(32).toString('hex')}` };
    if (i % 5 === 0) e.actor = `github:acme/service-${i % 200}/actions/runs/${1000 + i}`;
    out.push(e);
  }
  return out;
}

interface Probe {
  loadMs: number;
  lookupUs: number;
  lookups: number;
  tags: number;
  entries: number;
  peakRssBytes: number;
}

async function probe(location: string, tagsFile: string, runs: number, expected: number): Promise<Probe> {
  const results: Probe[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await mustRun('bench/ledger-probe.mjs', NODE, [PROBE, location, tagsFile]);
    const p = JSON.parse(r.stdout) as Probe;
    if (p.entries !== expected) throw new Error(`expected ${expected} entries in the ledger at ${location}: ${r.stdout}`);
    results.push(p);
  }
  return {
    ...results[0]!,
    loadMs: median(results.map((p) => p.loadMs)),
    lookupUs: median(results.map((p) => p.lookupUs)),
    peakRssBytes: Math.max(...results.map((p) => p.peakRssBytes)),
  };
}

async function main(): Promise<void> {
  const n = arg('entries', 100_000);
  const runs = arg('runs', 3);
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-ledger-'));
  const pg = await startPostgres();
  try {
    const batch = entries(n);
    const tagsFile = join(dir, 'lookups.json');
    const lookups = [...new Map(batch.map((e) => [`${e.repository}:${e.tag}`, [e.registry, e.repository, e.tag]])).values()].slice(0, 10_000);
    writeFileSync(tagsFile, JSON.stringify(lookups));

    const file = join(dir, 'image-ledger.jsonl');
    const fl = await openLedger(file);
    await fl.append(batch);
    await fl.close();

    const url = await pg.createDatabase();
    const pl = await openLedger(url);
    // one INSERT per batch: PostgreSQL takes at most 65,535 parameters, 12 per entry
    for (let i = 0; i < batch.length; i += 5000) await pl.append(batch.slice(i, i + 5000));
    await pl.close();

    const rows = [['backend', 'entries', 'tags', 'load', 'lookup', 'peak RSS', 'load < 1 s', 'RSS < 200 MB']];
    const checks: { what: string; value: string; target: string; ok: boolean }[] = [];
    for (const [name, location] of [
      ['file', file],
      ['PostgreSQL', url],
    ] as const) {
      const p = await probe(location, tagsFile, runs, n);
      const loadOk = p.loadMs < LOAD_TARGET_MS;
      const rssOk = p.peakRssBytes < RSS_TARGET;
      rows.push([name, String(p.entries), String(p.tags), ms(p.loadMs), `${p.lookupUs.toFixed(1)} µs`, bytes(p.peakRssBytes), loadOk ? 'PASS' : 'MISS', rssOk ? 'PASS' : 'MISS']);
      checks.push({ what: `${name}: load ${n} entries`, value: ms(p.loadMs), target: '< 1 s', ok: loadOk });
      checks.push({ what: `${name}: peak RSS`, value: bytes(p.peakRssBytes), target: '< 200 MB', ok: rssOk });
    }
    table(
      `Ledger of ${n} entries: load (read + check every hash and link), one tag lookup after it, peak RSS of the whole process (median of ${runs} fresh processes; lookup averaged over ${lookups.length} tags):`,
      rows,
    );
    targets(checks);
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(fail('ledger'));
