/**
 * `kamal-gate verify` of a Kamal app (1 app image + 4 accessories + kamal-proxy, bench/app.ts) under
 * policies/strict.yml, as whole processes: with a cold cache (a fresh, empty content cache each
 * run) and a warm one (the same content cache again, images unchanged). Requests and bytes come
 * from the tool's own --stats; "per image" divides by the images the deploy pulls. Issue 20's
 * target: warm, ≤ 1.5 requests per image, beside the cold run's figure measured in the same run
 * (a warm run still asks every tag a pass rests on: the image tags, the base image's tag, and the
 * signature where it was found, src/signatures/memo.ts).
 *
 *   npx tsx bench/verify.ts [--runs 3]
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { benchApp, verifyOnce, type VerifyRun } from './app.js';
import { arg, bytes, fail, median, ms, table, targets } from './common.js';

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const app = await benchApp();
  try {
    const images = app.refs.length;
    const check = (r: VerifyRun) => {
      if (r.exitCode !== 0) throw new Error(`kamal-gate verify exited ${r.exitCode} on the bench app; it should pass`);
      return r;
    };
    const cold: VerifyRun[] = [];
    for (let i = 0; i < runs; i++) cold.push(check(await verifyOnce(app, mkdtempSync(join(app.dir, 'cache-cold-')))));
    const warmHome = mkdtempSync(join(app.dir, 'cache-warm-'));
    check(await verifyOnce(app, warmHome)); // fills the cache
    const warm: VerifyRun[] = [];
    for (let i = 0; i < runs; i++) warm.push(check(await verifyOnce(app, warmHome)));

    const row = (name: string, rs: VerifyRun[]) => {
      const requests = median(rs.map((r) => r.requests)) / images;
      const b = median(rs.map((r) => r.bytes)) / images;
      return { name, wall: median(rs.map((r) => r.ms)), requests, bytes: b };
    };
    const c = row('cold cache', cold);
    const w = row('warm cache, images unchanged', warm);
    table(`kamal-gate verify of a Kamal app (${images} images: 1 app + 4 accessories + kamal-proxy) under policies/strict.yml, loopback docker-registry, whole process, median of ${runs}:`, [
      ['', 'wall', 'requests/image', 'bytes/image', 'target', 'verdict'],
      [c.name, ms(c.wall), c.requests.toFixed(1), bytes(c.bytes), '≤ 6 requests/image', c.requests <= 6 ? 'PASS' : 'MISS'],
      [w.name, ms(w.wall), w.requests.toFixed(1), bytes(w.bytes), '≤ 1.5 requests/image', w.requests <= 1.5 ? 'PASS' : 'MISS'],
    ]);
    targets([
      { what: 'warm run, nothing changed: requests per image', value: w.requests.toFixed(2), peer: `cold ${c.requests.toFixed(2)}`, target: '≤ 1.5', ok: w.requests <= 1.5 },
      { what: 'cold: requests per image (resolve + signature + base image)', value: c.requests.toFixed(2), target: '≤ 6', ok: c.requests <= 6 },
    ]);
    console.log(`  warm / cold wall time: ${(w.wall / c.wall).toFixed(2)}x; requests counted include the app's Kamal \`latest\` alias lookup`);
  } finally {
    await app.stop();
  }
}

main().catch(fail('verify'));
