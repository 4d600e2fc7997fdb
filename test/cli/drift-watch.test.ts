/**
 * `kamal-gate drift` as a service: rounds on an interval, Prometheus metrics scraped by the test, a
 * webhook fired at a local receiver on drift, SIGTERM finishing cleanly, and shards that split the
 * ledger between runners.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inShard, parseShard } from '../../src/drift/shard.js';
import { parseInterval } from '../../src/drift/watch.js';
import { CLI, runCli } from '../helpers/cli.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-registry.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';

let reg: TestRegistry;
let work: string;
let receiver: FakeServer;
const hooks: Array<{ text: string }> = [];

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  work = mkdtempSync(join(tmpdir(), 'kg-watch-'));
  receiver = await startFakeServer((req, res, body) => {
    if (req.method === 'POST') hooks.push(JSON.parse(body.toString()) as { text: string });
    res.writeHead(200).end('ok');
  });
});
afterAll(async () => {
  await Promise.all([reg?.stop(), receiver?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Each metric, summed over its label sets. */
async function scrape(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url)).text();
  const sums: Record<string, number> = {};
  for (const l of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
    const name = l.split(/[{ ]/)[0]!;
    sums[name] = (sums[name] ?? 0) + Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return sums;
}

describe('drift --watch', () => {
  it('runs rounds, serves metrics, fires the webhook on drift with the secret URL kept out of output, and exits 0 on SIGTERM', async () => {
    const b = new ImageBuilder(reg);
    const a = await b.pushImage('watch/app', 'v1', { seed: 'w1' });
    await b.pushImage('watch/app', 'v2', { seed: 'w2' });
    const ledger = join(work, 'watch.jsonl');
    expect((await runCli(['record', a.ref, `${reg.host}/watch/app:v2`, '--ledger', ledger], { cwd: work })).code).toBe(0);
    const port = await freePort();
    const secretHook = `${receiver.url}/services/T0001/B0002/s3cr3t-webhook-token`;
    const child = spawn(process.execPath, [CLI, 'drift', '--watch', '--interval', '1s', '--metrics', `127.0.0.1:${port}`, '--webhook', secretHook, '--ledger', ledger], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const metricsUrl = `http://127.0.0.1:${port}/metrics`;
      const first = await until('two rounds', async () => {
        try {
          const m = await scrape(metricsUrl);
          return (m['kamal_gate_drift_rounds_total'] ?? 0) >= 2 ? m : undefined;
        } catch {
          return undefined;
        }
      });
      expect(first['kamal_gate_drift_tags_checked_total']).toBeGreaterThanOrEqual(4);
      expect(first['kamal_gate_drift_found_total']).toBe(0);
      expect(hooks).toEqual([]);

      const evil = await b.pushImage('watch/app', 'v1', { seed: 'evil' });
      const hook = await until('the webhook', async () => hooks[0]);
      expect(hook.text).toContain(`${reg.host}/watch/app:v1`);
      expect(hook.text).toContain(evil.digest);
      const after = await until('drift in the metrics', async () => {
        const m = await scrape(metricsUrl);
        return (m['kamal_gate_drift_last_round_drift'] ?? 0) >= 1 ? m : undefined;
      });
      expect(after['kamal_gate_drift_found_total']).toBeGreaterThanOrEqual(1);
      // the same drift in the next rounds does not fire again
      const rounds = after['kamal_gate_drift_rounds_total']!;
      await until('another round', async () => ((await scrape(metricsUrl))['kamal_gate_drift_rounds_total']! > rounds ? true : undefined));
      expect(hooks).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/1 overwritten/);
    expect(out).not.toContain('s3cr3t-webhook-token');
  });

  it('refuses --interval without --watch, and bad values', async () => {
    expect((await runCli(['drift', '--interval', '1m', '--ledger', join(work, 'x.jsonl')])).code).toBe(2);
    expect(() => parseInterval('0s')).toThrow(/1s to 7d/);
    expect(() => parseInterval('15 minutes')).toThrow(/not a duration/);
    expect(parseInterval('15m')).toBe(900_000);
  });
});

describe('--shard I/N', () => {
  it('splits tags deterministically: every tag in exactly one shard', () => {
    const tags = Array.from({ length: 500 }, (_, i) => ({ registry: 'r', repository: `a${i % 7}`, tag: `t${i}` }));
    for (const n of [1, 2, 3, 8]) {
      const counts = tags.map((t) => Array.from({ length: n }, (_, k) => inShard(t, { index: k + 1, count: n })).filter(Boolean).length);
      expect(counts.every((c) => c === 1)).toBe(true);
    }
    const shares = [1, 2, 3, 4].map((k) => tags.filter((t) => inShard(t, { index: k, count: 4 })).length);
    expect(Math.min(...shares)).toBeGreaterThan(80); // roughly even
    expect(() => parseShard('0/4')).toThrow(/I\/N/);
    expect(() => parseShard('5/4')).toThrow(/I\/N/);
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
  });

  it('two runners with 1/2 and 2/2 check every ledger tag once between them', async () => {
    const b = new ImageBuilder(reg);
    const img = await b.pushImage('shard/app', 'seed', { seed: 'shard' });
    const refs = [];
    for (let i = 0; i < 20; i++) {
      await b.pushManifest('shard/app', `t${i}`, img.bytes, img.mediaType);
      refs.push(`${reg.host}/shard/app:t${i}`);
    }
    const ledger = join(work, 'shard.jsonl');
    expect((await runCli(['record', ...refs, '--ledger', ledger], { cwd: work })).code).toBe(0);
    const run = async (s: string) =>
      JSON.parse((await runCli(['drift', '--shard', s, '--ledger', ledger, '--format', 'json'], { cwd: work })).stdout) as { summary: { tags: number; unchanged: number } };
    const [one, two] = await Promise.all([run('1/2'), run('2/2')]);
    expect(one.summary.tags + two.summary.tags).toBe(20);
    expect(one.summary.tags).toBeGreaterThan(0);
    expect(two.summary.unchanged).toBe(two.summary.tags);
  });
});
