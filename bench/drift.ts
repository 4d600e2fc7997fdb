/**
 * Drift over many tags: `kamal-gate drift` against a local docker-registry, beside the shell loop a
 * team would otherwise write (`skopeo inspect --raw` once per tag), measured in the same run.
 *
 *   npx tsx bench/drift.ts [--tags 2000] [--skopeo-sample 200]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openLedger } from '../src/ledger/index.js';
import type { NewEntry } from '../src/ledger/types.js';
import { ImageBuilder } from '../test/helpers/image-builder.js';
import { startRegistry } from '../test/helpers/registry.js';

const CLI = resolve(import.meta.dirname, '..', 'dist', 'cli.js');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes a positive whole number`);
  return v;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr, ms: performance.now() - started }));
  });
}

async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    for (let i = next++; i < items.length; i = next++) await f(items[i]!);
  }));
}

async function main(): Promise<void> {
  const tagCount = arg('tags', 2000);
  const sample = Math.min(arg('skopeo-sample', 200), tagCount);
  const reg = await startRegistry({ auth: 'none' });
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-drift-'));
  try {
    const builder = new ImageBuilder(reg);
    const img = await builder.pushImage('bench/app', 'seed', { seed: 'bench', created: '2026-01-01T00:00:00Z', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }] });
    const tags = Array.from({ length: tagCount }, (_, i) => `t${i}`);
    // distribution 2.8 sometimes answers 500 to concurrent tag writes of one manifest: retry those
    await pool(tags, 4, async (t) => {
      for (let attempt = 0; ; attempt++) {
        try {
          await builder.pushManifest('bench/app', t, img.bytes, img.mediaType);
          return;
        } catch (e) {
          if (attempt >= 5) throw e;
        }
      }
    });
    const ledgerPath = join(dir, 'ledger.jsonl');
    const ledger = await openLedger(ledgerPath);
    const entries: NewEntry[] = tags.map((tag) => ({ registry: reg.host, repository: 'bench/app', tag, digest: img.digest, event: 'recorded', source: 'record' }));
    await ledger.append(entries);
    await ledger.close();

    // kamal-gate drift, a whole process as cron would run it
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const r = await run(process.execPath, [CLI, 'drift', '--ledger', ledgerPath, '--format', 'json', '--stats']);
      if (r.code !== 0) throw new Error(`kamal-gate drift failed (exit ${r.code}): ${r.stderr || r.stdout}`);
      const doc = JSON.parse(r.stdout) as { summary: { tags: number; unchanged: number }; stats: { requests: number; wallMs: number } };
      if (doc.summary.unchanged !== tagCount) throw new Error(`expected ${tagCount} unchanged tags, got ${JSON.stringify(doc.summary)}`);
      runs.push({ ms: r.ms, requests: doc.stats.requests });
    }
    const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));

    // the skopeo loop, one process per tag, on a sample of the same tags
    const sampled = tags.slice(0, sample);
    const started = performance.now();
    for (const t of sampled) {
      const r = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/bench/app:${t}`]);
      if (r.code !== 0) throw new Error(`skopeo inspect failed: ${r.stderr}`);
    }
    const skopeoMs = performance.now() - started;

    const kgRate = tagCount / (best.ms / 1000);
    const skRate = sample / (skopeoMs / 1000);
    const rows = [
      ['', 'tags', 'wall', 'tags/s', 'requests/tag'],
      ['kamal-gate drift', String(tagCount), `${(best.ms / 1000).toFixed(2)} s`, kgRate.toFixed(0), (best.requests / tagCount).toFixed(2)],
      ['skopeo inspect --raw loop', String(sample), `${(skopeoMs / 1000).toFixed(2)} s`, skRate.toFixed(1), '-'],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    console.log(`\nDrift over ${tagCount} tags on a loopback docker-registry (best of ${runs.length} kamal-gate runs, whole process):`);
    for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    console.log(`\nkamal-gate / skopeo throughput: ${(kgRate / skRate).toFixed(1)}x (target ≥ 10x); ${tagCount} tags in ${(best.ms / 1000).toFixed(2)} s (target < 5 s); ${(best.requests / tagCount).toFixed(2)} requests per unchanged tag (target 1)`);
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench/drift failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
