/**
 * Drift over many tags: `kamal-gate drift` (a whole process, as cron runs it) over 20,000 tags in 10
 * repositories on two loopback docker-registries, one open and one behind token auth, beside the shell
 * loop a team would otherwise write (`skopeo inspect --raw` once per tag), measured in the same run on
 * a sample of the same tags across both registries.
 *
 * Three of the tags drifted (one overwritten, one deleted, one rolled back): every run must report
 * exactly those three and nothing else, so the figure is also a proof that the answer is right.
 * Requests to the registries and requests to the token service are counted apart (the token
 * server's own counter).
 *
 *   npx tsx bench/drift.ts [--tags 20000] [--repos 10] [--runs 3] [--skopeo-sample 200]
 *                          [--concurrency N] [--sweep 8,16,32,64] [--latency MS] [--cli PATH] [--before PATH]
 *
 * `--sweep` runs drift once per `--concurrency` value first and prints a table (to tune the default).
 * `--latency MS` puts a proxy in front of each registry that holds every answer back MS ms (a round
 * trip to a registry elsewhere; loopback has none), for kamal-gate and skopeo alike. `--cli` runs
 * another build of kamal-gate (e.g. one of an earlier commit) in place of bin/kamal-gate.mjs; `--before`
 * runs another build as well, alternating with this one, and prints its row beside (no target).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from '../src/ledger/index.js';
import type { NewEntry } from '../src/ledger/types.js';
import { ImageBuilder, type PushedImage } from '../test/helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { arg, CLI, fail, median, ms, NODE, pool, run, table, targets } from './common.js';

const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

interface Repo {
  reg: TestRegistry;
  builder: ImageBuilder;
  name: string;
  img: PushedImage;
  tags: string[];
}

interface Expected {
  ref: string;
  kind: 'overwritten' | 'deleted' | 'rolled_back';
}

interface DriftDoc {
  summary: { tags: number; unchanged: number; overwritten: number; rolledBack: number; deleted: number; errors: number };
  drift: Array<{ ref: string; kind: string }>;
  errors: Array<{ ref: string; message: string }>;
  stats: { requests: number; wallMs: number };
}

/** `--sweep 8,16,32`: a list of whole numbers, or none. */
function listArg(name: string): number[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return [];
  const xs = (process.argv[i + 1] ?? '').split(',').map(Number);
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`--${name} takes whole numbers separated by commas`);
  return xs;
}

/** `--NAME PATH`, or `fallback`. */
function pathArg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

/**
 * A TCP proxy to `upstream` (`host:port`) that delays everything the upstream sends by `delayMs`
 * (in order): each request/answer pays one round trip of `delayMs`.
 */
interface Proxy {
  host: string;
  /** TCP connections accepted so far (keep-alive shows as few). */
  accepted: number;
  close(): Promise<void>;
}

async function delayProxy(upstream: string, delayMs: number): Promise<Proxy> {
  const colon = upstream.lastIndexOf(':');
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    proxy.accepted++;
    const up = connect(Number(upstream.slice(colon + 1)), upstream.slice(0, colon));
    sockets.add(client).add(up);
    const kill = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.pipe(up);
    up.on('data', (d: Buffer) => setTimeout(() => client.writable && client.write(d), delayMs));
    up.on('end', () => setTimeout(() => client.end(), delayMs));
    client.on('error', kill).on('close', kill);
    up.on('error', kill);
  });
  const proxy: Proxy = {
    host: '',
    accepted: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** distribution 2.8 sometimes answers 500 to concurrent tag writes of one manifest: retried. */
async function retried<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      if (attempt >= 8) throw e;
      await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
    }
  }
}

async function main(): Promise<void> {
  const tagCount = arg('tags', 20_000);
  const repoCount = arg('repos', 10);
  const runs = arg('runs', 3);
  const sample = Math.min(arg('skopeo-sample', 200), tagCount);
  const concurrencyArg = process.argv.includes('--concurrency') ? arg('concurrency', 32) : undefined;
  const sweep = listArg('sweep');
  const latency = process.argv.includes('--latency') ? arg('latency', 1) : 0;
  const cli = pathArg('cli', CLI)!;
  const before = pathArg('before');
  if (repoCount < 2 || tagCount < repoCount * 50) throw new Error('--repos must be at least 2 and --tags at least 50 per repository');

  const open = await startRegistry({ auth: 'none' });
  const tokened = await startRegistry({ auth: 'token' });
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-drift-'));
  const proxies = latency ? await Promise.all([open, tokened].map((r) => delayProxy(r.host, latency))) : [];
  /** The host kamal-gate and skopeo reach a registry at (through the delaying proxy with --latency). */
  const seen = (reg: TestRegistry) => (latency ? proxies[reg === open ? 0 : 1]!.host : reg.host);
  try {
    // Credentials for the token registry: a Docker config, read by kamal-gate (DOCKER_CONFIG) and skopeo (--authfile).
    const dockerDir = join(dir, 'docker');
    mkdirSync(dockerDir);
    const authFile = join(dockerDir, 'config.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [seen(tokened)]: { auth: Buffer.from(`${tokened.username}:${tokened.password}`).toString('base64') } } }));
    const env = { ...process.env, DOCKER_CONFIG: dockerDir, KAMAL_GATE_CACHE_DIR: join(dir, 'cache'), NO_COLOR: '1' };

    // One image per repository, then every tag a manifest PUT of it (in parallel, per registry).
    const pushStarted = performance.now();
    const registries = [open, tokened];
    const builders = new Map(registries.map((r) => [r, new ImageBuilder(r)]));
    const perRepo = Math.floor(tagCount / repoCount);
    const repos: Repo[] = await Promise.all(
      Array.from({ length: repoCount }, async (_, i) => {
        const reg = registries[i < repoCount / 2 ? 0 : 1]!;
        const builder = builders.get(reg)!;
        const name = `bench/app${i}`;
        const img = await builder.pushImage(name, 'seed', { seed: `bench-${i}`, created: '2026-01-01T00:00:00Z', platforms: PLATFORMS });
        return { reg, builder, name, img, tags: Array.from({ length: perRepo }, (_, t) => `t${t}`) };
      }),
    );
    await Promise.all(
      registries.map((reg) => {
        const puts = repos.filter((r) => r.reg === reg).flatMap((r) => r.tags.map((tag) => ({ r, tag })));
        return pool(puts, 8, ({ r, tag }) => retried(() => r.builder.pushManifest(r.name, tag, r.img.bytes, r.img.mediaType)).then(() => undefined));
      }),
    );

    // The ledger approves every tag at its repository's image; then three tags drift.
    const entries: NewEntry[] = repos.flatMap((r) =>
      r.tags.map((tag) => ({ registry: seen(r.reg), repository: r.name, tag, digest: r.img.digest, event: 'recorded' as const, source: 'record' as const })),
    );
    const expected: Expected[] = [];
    // overwritten: the open registry's first repository, a tag pushed over with another image
    const moved = repos[0]!;
    await moved.builder.pushImage(moved.name, 't17', { seed: 'moved', created: '2026-02-01T00:00:00Z', platforms: PLATFORMS });
    expected.push({ ref: `${seen(moved.reg)}/${moved.name}:t17`, kind: 'overwritten' });
    // deleted: a tag of the token registry with an image of its own, approved, then deleted by digest
    const gone = repos[repoCount - 1]!;
    const own = await gone.builder.pushImage(gone.name, 't23', { seed: 'deleted', created: '2026-02-01T00:00:00Z', platforms: PLATFORMS });
    const goneEntry = entries.find((e) => e.registry === seen(gone.reg) && e.repository === gone.name && e.tag === 't23')!;
    goneEntry.digest = own.digest;
    await gone.builder.deleteManifest(gone.name, own.digest);
    expected.push({ ref: `${seen(gone.reg)}/${gone.name}:t23`, kind: 'deleted' });
    // rolled back: a token-registry tag approved at a newer build, pointing back at the earlier approved one
    const back = repos[repoCount - 2]!;
    const newer = await back.builder.pushImage(back.name, 'newer-build', { seed: 'newer', created: '2026-02-01T00:00:00Z', platforms: PLATFORMS });
    entries.push({ registry: seen(back.reg), repository: back.name, tag: 't42', digest: newer.digest, event: 'approved', source: 'record' });
    expected.push({ ref: `${seen(back.reg)}/${back.name}:t42`, kind: 'rolled_back' });

    const ledgerDir = join(dir, 'ledger');
    mkdirSync(ledgerDir);
    const ledger = await openLedger(join(ledgerDir, 'ledger.jsonl'));
    for (let i = 0; i < entries.length; i += 5_000) await ledger.append(entries.slice(i, i + 5_000));
    await ledger.close();
    const setupMs = performance.now() - pushStarted;
    console.log(`set up ${tagCount} tags in ${repoCount} repositories on 2 registries (one with token auth) in ${ms(setupMs)}`);

    /** One whole `kamal-gate drift` process over a fresh copy of the ledger (drift appends what it finds). */
    let runNo = 0;
    const drift = async (concurrency?: number, build = cli) => {
      const copy = join(dir, `run-${runNo++}`);
      cpSync(ledgerDir, copy, { recursive: true });
      tokened.tokenServer!.reset();
      for (const p of proxies) p.accepted = 0;
      const extra = concurrency !== undefined ? ['--concurrency', String(concurrency)] : [];
      const r = await run(NODE, [build, 'drift', '--ledger', join(copy, 'ledger.jsonl'), '--format', 'json', '--stats', ...extra], { env });
      rmSync(copy, { recursive: true, force: true });
      if (r.code !== 1) throw new Error(`kamal-gate drift exited ${r.code}, expected 1 (drift found): ${(r.stderr || r.stdout).slice(0, 2000)}`);
      const doc = JSON.parse(r.stdout) as DriftDoc;
      const got = doc.drift.map((d) => `${d.kind} ${d.ref}`).sort();
      const want = expected.map((d) => `${d.kind} ${d.ref}`).sort();
      if (JSON.stringify(got) !== JSON.stringify(want) || doc.summary.errors || doc.summary.unchanged !== tagCount - 3 || doc.summary.tags !== tagCount) {
        throw new Error(`drift reported the wrong answer: ${JSON.stringify({ got, want, summary: doc.summary, errors: doc.errors.slice(0, 3) })}`);
      }
      const tokens = tokened.tokenServer!.requests;
      return { ms: r.ms, requests: doc.stats.requests - tokens, tokens, connections: proxies.map((p) => p.accepted).join('+') };
    };

    if (sweep.length) {
      const rows = [['--concurrency', 'wall', 'tags/s', ...(latency ? ['TCP connections (open+token registry)'] : [])]];
      for (const c of sweep) {
        const r = await drift(c);
        rows.push([String(c), ms(r.ms), (tagCount / (r.ms / 1000)).toFixed(0), ...(latency ? [r.connections] : [])]);
      }
      table(`Sweep over --concurrency (${tagCount} tags, one run each):`, rows);
    }

    const results = [];
    const beforeResults = [];
    for (let i = 0; i < runs; i++) {
      if (before) beforeResults.push(await drift(undefined, before));
      results.push(await drift(concurrencyArg));
    }
    const wall = median(results.map((r) => r.ms));
    const beforeWall = median(beforeResults.map((r) => r.ms));
    const worst = results.reduce((a, b) => (b.requests + b.tokens > a.requests + a.tokens ? b : a));

    // the skopeo loop, one process per tag, on a sample of the same tags, half from each registry
    const sampled = registries.flatMap((reg, k) => {
      const mine = repos.filter((r) => r.reg === reg).flatMap((r) => r.tags.filter((t) => t !== 't17' && t !== 't23' && t !== 't42').map((t) => `${seen(reg)}/${r.name}:${t}`));
      const n = k === 0 ? Math.floor(sample / 2) : sample - Math.floor(sample / 2);
      const step = Math.max(1, Math.floor(mine.length / n));
      return Array.from({ length: n }, (_, j) => mine[(j * step) % mine.length]!);
    });
    const started = performance.now();
    for (const ref of sampled) {
      const r = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--authfile', authFile, `docker://${ref}`], { env });
      if (r.code !== 0) throw new Error(`skopeo inspect ${ref} failed: ${r.stderr}`);
    }
    const skopeoMs = performance.now() - started;

    const kgRate = tagCount / (wall / 1000);
    const skRate = sampled.length / (skopeoMs / 1000);
    const perTag = worst.requests / tagCount;
    // The token registry's first request is answered 401 (the challenge that names the token service).
    const handshakes = 1;
    table(
      `Drift over ${tagCount} tags in ${repoCount} repositories on 2 loopback docker-registries${latency ? ` behind ${latency} ms of round trip` : ''}, one with token auth (median of ${runs} kamal-gate runs, whole process; skopeo on ${sampled.length} of the same tags):`,
      [
        ['', 'tags', 'wall', 'tags/s', 'registry requests/tag', 'token requests'],
        ...(before
          ? [
              [
                'kamal-gate drift, --before build',
                String(tagCount),
                ms(beforeWall),
                (tagCount / (beforeWall / 1000)).toFixed(0),
                (Math.max(...beforeResults.map((r) => r.requests)) / tagCount).toFixed(4),
                String(Math.max(...beforeResults.map((r) => r.tokens))),
              ],
            ]
          : []),
        ['kamal-gate drift', String(tagCount), ms(wall), kgRate.toFixed(0), perTag.toFixed(4), String(worst.tokens)],
        ['skopeo inspect --raw loop', String(sampled.length), ms(skopeoMs), skRate.toFixed(1), '-', '-'],
      ],
    );
    targets([
      {
        what: `drift throughput, ${tagCount} tags / ${repoCount} repos / 2 registries (1 token)`,
        value: `${kgRate.toFixed(0)} tags/s = ${(kgRate / skRate).toFixed(1)}x skopeo`,
        peer: `skopeo ${skRate.toFixed(1)} tags/s`,
        target: '≥ 10x',
        ok: kgRate / skRate >= 10,
      },
      { what: `drift of ${tagCount} tags, whole process`, value: ms(wall), peer: `skopeo loop ≈ ${ms((tagCount / skRate) * 1000)} extrapolated`, target: '< 30 s', ok: wall < 30_000 },
      {
        what: 'registry requests per unchanged tag',
        value: `${perTag.toFixed(4)} (${worst.requests} for ${tagCount} tags; ${worst.tokens} token request${worst.tokens === 1 ? '' : 's'} apart)`,
        target: `1 (+ ${handshakes} 401 challenge), 1 token per registry and scope set`,
        ok: worst.requests <= tagCount + handshakes && worst.tokens <= 1,
      },
    ]);
  } finally {
    await Promise.all([open.stop(), tokened.stop(), ...proxies.map((p) => p.close())]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(fail('drift'));
