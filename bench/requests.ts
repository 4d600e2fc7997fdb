/**
 * Registry requests per image, cold and warm cache, for the demo app and for an app with four
 * accessories and kamal-proxy under policies/strict.yml: `kamal-gate verify --format json --stats`
 * through the real CLI against a local docker-registry (token auth, so token requests count too).
 *
 *   npx tsx bench/requests.ts [--auth token|htpasswd]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoScenario, statsOf, strictScenario, type Scenario } from '../test/helpers/cache-scenarios.js';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { CLI, NODE } from './common.js';

/** Asynchronous: the token server runs in this process and must keep answering. */
function cli(args: string[], s: Scenario, extra: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, ...s.env, ...extra };
  for (const k of ['KAMAL_VERSION', 'VERSION', 'KAMAL_DESTINATION', 'KAMAL_GATE_CACHE_DIR']) if (!(k in extra)) delete env[k];
  return new Promise((done, fail) => {
    const child = spawn(NODE, [CLI, ...args], { cwd: s.app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

async function measure(name: string, make: (reg: TestRegistry) => Promise<Scenario>, auth: 'token' | 'htpasswd'): Promise<void> {
  const reg = await startRegistry({ auth, users: { demo: `demo-${Math.random().toString(36).slice(2)}` } });
  const cache = mkdtempSync(join(tmpdir(), 'kg-bench-cache-'));
  let s: Scenario | undefined;
  try {
    s = await make(reg);
    const env = { XDG_CACHE_HOME: cache };
    const rec = await cli(['record', '--version', 'v1', '--no-cache'], s, env);
    if (rec.code !== 0) throw new Error(`record failed (${rec.code}): ${rec.stderr}${rec.stdout}`);
    const rows: string[] = [];
    for (const [label, flags] of [
      ['cold', []],
      ['warm', []],
      ['warm', []],
      ['--no-cache', ['--no-cache']],
    ] as const) {
      reg.tokenServer?.reset();
      const r = await cli(['verify', '--version', 'v1', '--format', 'json', '--stats', ...flags], s, env);
      if (r.code !== 0 && r.code !== 1) throw new Error(`verify failed (${r.code}): ${r.stderr}`);
      const st = statsOf(r.stdout, reg.host);
      const tokens = reg.tokenServer ? `, ${reg.tokenServer.requests} of them token requests` : '';
      rows.push(`  ${label.padEnd(11)} exit ${r.code}: ${st.requests} requests (${(st.requests / s.images).toFixed(1)} per image${tokens}), ${st.cacheHits} cache hits, ${st.bytes} bytes`);
    }
    console.log(`${name} (${s.images} images, ${auth} auth):\n${rows.join('\n')}`);
  } finally {
    s?.cleanup();
    rmSync(cache, { recursive: true, force: true });
    await reg.stop();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--auth');
  const auth = (i >= 0 ? process.argv[i + 1] : 'token') as 'token' | 'htpasswd';
  await measure('demo app', demoScenario, auth);
  await measure('strict app (1 app + 4 accessories + proxy)', strictScenario, auth);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
