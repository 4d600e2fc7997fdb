/**
 * Resolving the images of a Kamal app the way a shell script would (`skopeo inspect`, one process
 * per image) beside one `kamal-gate verify` of the same app, which also checks the signature, the
 * base image, the ledger and the policy (bench/app.ts). Same registry, same run.
 *
 *   npx tsx bench/skopeo-resolve.ts [--runs 5]
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { benchApp, verifyOnce } from './app.js';
import { arg, fail, median, ms, mustRun, table, targets } from './common.js';

async function main(): Promise<void> {
  const runs = arg('runs', 5);
  const app = await benchApp();
  try {
    const images = app.tagged.length;
    const skopeoLoop = async (): Promise<number> => {
      const started = performance.now();
      for (const ref of app.tagged) {
        const r = await mustRun('skopeo inspect', 'skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);
        if (!(JSON.parse(r.stdout) as { Digest?: string }).Digest) throw new Error(`skopeo inspect ${ref} printed no digest`);
      }
      return performance.now() - started;
    };
    const warmHome = mkdtempSync(join(app.dir, 'cache-warm-'));
    await verifyOnce(app, warmHome);
    await skopeoLoop();
    // Alternated run by run, so the machine's load falls on each the same.
    const loops: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      loops.push(await skopeoLoop());
      cold.push((await verifyOnce(app, mkdtempSync(join(app.dir, 'cache-cold-')))).ms);
      warm.push((await verifyOnce(app, warmHome)).ms);
    }
    const sk = median(loops);
    const kc = median(cold);
    const kw = median(warm);
    table(`Resolving the ${images} images of a Kamal app: a skopeo inspect loop (one process per image) beside one kamal-gate verify under policies/strict.yml (median of ${runs}):`, [
      ['', 'processes', 'wall', 'per image', 'skopeo loop wall / this'],
      ['skopeo inspect loop (resolve only)', String(images), ms(sk), ms(sk / images), '1.0x'],
      ['kamal-gate verify, cold cache (resolve + signature + base + ledger)', '1', ms(kc), ms(kc / images), `${(sk / kc).toFixed(1)}x`],
      ['kamal-gate verify, warm cache', '1', ms(kw), ms(kw / images), `${(sk / kw).toFixed(1)}x`],
    ]);
    targets([
      {
        what: `verify of the strict ${images}-image app, cold cache, as fast as resolving alone with skopeo`,
        value: `${(sk / kc).toFixed(2)}x skopeo's speed (${ms(kc)})`,
        peer: `skopeo inspect loop ${ms(sk)}`,
        target: '≥ 1.0x',
        ok: sk / kc >= 1,
      },
    ]);
  } finally {
    await app.stop();
  }
}

main().catch(fail('skopeo-resolve'));
