/**
 * Drift over many tags: `kamal-gate drift` against a local docker-registry, beside the shell loop a
 * team would otherwise write (`skopeo inspect --raw` once per tag), measured in the same run.
 *
 *   npx tsx bench/drift.ts [--tags 2000] [--skopeo-sample 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from '../src/ledger/index.js';
import type { NewEntry } from '../src/ledger/types.js';
import { ImageBuilder } from '../test/helpers/image-builder.js';
import { startRegistry } from '../test/helpers/registry.js';
import { arg, CLI, fail, ms, pool, run, table, targets, NODE } from './common.js';

async function main(): Promise<void> {
  const tagCount = arg('tags', 2000);
  const sample = Math.min(arg('skopeo-sample', 200), tagCount);
  const reg = await startRegistry({ auth: 'none' });
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-drift-'));
  try {
    const builder = new ImageBuilder(reg);
    const img = await builder.pushImage('bench/app', 'seed', {
      seed: 'bench',
      created: '2026-01-01T00:00:00Z',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
    });
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
      const r = await run(NODE, [CLI, 'drift', '--ledger', ledgerPath, '--format', 'json', '--stats']);
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
    const perTag = best.requests / tagCount;
    table(`Drift over ${tagCount} tags on a loopback docker-registry (best of ${runs.length} kamal-gate runs, whole process; skopeo on ${sample} of the same tags):`, [
      ['', 'tags', 'wall', 'tags/s', 'requests/tag'],
      ['kamal-gate drift', String(tagCount), ms(best.ms), kgRate.toFixed(0), perTag.toFixed(2)],
      ['skopeo inspect --raw loop', String(sample), ms(skopeoMs), skRate.toFixed(1), '-'],
    ]);
    targets([
      { what: 'kamal-gate / skopeo throughput', value: `${(kgRate / skRate).toFixed(1)}x`, target: '≥ 10x', ok: kgRate / skRate >= 10 },
      { what: `${tagCount} tags`, value: ms(best.ms), target: '< 5 s', ok: best.ms < 5000 },
      { what: 'requests per unchanged tag', value: perTag.toFixed(2), target: '1', ok: perTag <= 1 },
    ]);
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(fail('drift'));
