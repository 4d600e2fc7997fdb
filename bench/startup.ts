/**
 * Start-up: `kamal-gate --version`, `--help`, and a verify with next to nothing to do (one small
 * image on a loopback registry, the built-in baseline policy, no ledger), beside `node -e 0` — whole
 * processes, alternated run by run so machine load hits each the same, median of N.
 *
 *   npx tsx bench/startup.ts [--runs 11]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageBuilder } from '../test/helpers/image-builder.js';
import { startRegistry } from '../test/helpers/registry.js';
import { arg, CLI, fail, median, ms, mustRun, table, targets, NODE } from './common.js';

const signed = (d: number) => `${d < 0 ? '-' : '+'}${ms(Math.abs(d))}`;

async function main(): Promise<void> {
  const runs = arg('runs', 11);
  const reg = await startRegistry({ auth: 'none' });
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-startup-'));
  try {
    const img = await new ImageBuilder(reg).pushImage('bench/tiny', 'v1', { seed: 'tiny' });
    const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), DOCKER_CONFIG: join(dir, '.docker') };
    const cases: { name: string; args: string[] }[] = [
      { name: 'node -e 0', args: ['-e', '0'] },
      { name: 'kamal-gate --version', args: [CLI, '--version'] },
      { name: 'kamal-gate --help', args: [CLI, '--help'] },
      { name: 'kamal-gate verify --help', args: [CLI, 'verify', '--help'] },
      { name: 'kamal-gate verify IMAGE --no-ledger (1 image, baseline policy)', args: [CLI, 'verify', img.ref, '--no-ledger'] },
    ];
    const times = cases.map(() => [] as number[]);
    await mustRun('warm-up', NODE, cases[4]!.args, { cwd: dir, env });
    for (let i = 0; i < runs; i++) {
      for (const [k, c] of cases.entries()) times[k]!.push((await mustRun(c.name, NODE, c.args, { cwd: dir, env })).ms);
    }
    const med = times.map(median);
    const node = med[0]!;
    table(`Start-up, whole processes (median of ${runs}; kamal-gate is the package's command, the single-file build, on the same Node as node -e 0):`, [
      ['', 'wall', 'over node -e 0'],
      ...cases.map((c, k) => [c.name, ms(med[k]!), k === 0 ? '-' : signed(med[k]! - node)]),
    ]);
    targets([
      { what: 'kamal-gate --version over node -e 0', value: signed(med[1]! - node), peer: `node -e 0 ${ms(node)}`, target: '≤ +100 ms', ok: med[1]! - node <= 100 },
      { what: 'verify of one image over node -e 0', value: signed(med[4]! - node), peer: `node -e 0 ${ms(node)}`, target: '≤ +150 ms', ok: med[4]! - node <= 150 },
    ]);
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(fail('startup'));
