/**
 * The digest ledger through the real CLI, against the real registry: record, verify and drift catch
 * an overwritten, rolled-back or deleted tag, with both digests; a tampered ledger is refused.
 * The same story runs on the file ledger and on PostgreSQL.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let reg: TestRegistry;
let builder: ImageBuilder;
let pg: PostgresServer;
let work: string;

beforeAll(async () => {
  [reg, pg] = await Promise.all([startRegistry({ auth: 'none' }), startPostgres()]);
  builder = new ImageBuilder(reg);
  work = mkdtempSync(join(tmpdir(), 'kg-ledger-cli-'));
});
afterAll(async () => {
  await Promise.all([reg?.stop(), pg?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

interface VerifyJson {
  exitCode: number;
  images: Array<{ ref: string; status: string; digest?: string; findings?: Array<{ rule: string; severity: string; message: string; fails: boolean; evidence: Record<string, unknown> }> }>;
}
interface DriftJson {
  summary: { tags: number; unchanged: number; overwritten: number; rolledBack: number; deleted: number; errors: number };
  drift: Array<{ ref: string; kind: string; observed: string | null; approved: string }>;
  entriesWritten: number;
}

describe.each(['file', 'postgres'] as const)('the ledger story on the %s backend', (backend) => {
  let ledger: string;
  let repo: string;
  const ref = (tag: string) => `${reg.host}/${repo}:${tag}`;
  const cli = (args: string[]) => runCli([...args, '--ledger', ledger], { cwd: work });
  const verify = async (r: string, extra: string[] = []) => {
    const res = await cli(['verify', r, '--format', 'json', ...extra]);
    return { ...res, json: JSON.parse(res.stdout) as VerifyJson };
  };
  const drift = async () => {
    const res = await cli(['drift', '--format', 'json']);
    return { ...res, json: JSON.parse(res.stdout) as DriftJson };
  };

  beforeAll(async () => {
    ledger = backend === 'file' ? join(work, `ledger-${Date.now()}.jsonl`) : await pg.createDatabase();
    repo = `acme/${backend}`;
  });

  it('records after the push, then verify and drift pass', async () => {
    const a = await builder.pushImage(repo, 'v1', { seed: 'a', created: '2026-01-01T00:00:00Z' });
    await builder.pushImage(repo, 'v2', { seed: 'v2', created: '2026-01-02T00:00:00Z' });
    const rec = await cli(['record', ref('v1'), ref('v2')]);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/acme\/\w+:v1\s+app\s+sha256:\w+\s+approved/);
    expect(rec.stdout).toContain('2 ledger entries written');
    const v = await verify(ref('v1'));
    expect(v.code).toBe(0);
    expect(v.json.images[0]).toMatchObject({ status: 'pinned', digest: a.digest });
    // the baseline policy only warns (the test images name no base); nothing fails
    expect(v.json.images[0]!.findings?.filter((f) => f.fails) ?? []).toEqual([]);
    const d = await drift();
    expect(d.code).toBe(0);
    expect(d.json.summary).toMatchObject({ tags: 2, unchanged: 2, overwritten: 0 });
    expect(d.json.entriesWritten).toBe(0);
  });

  it('catches an overwrite in verify and drift, naming both digests, and keeps catching it', async () => {
    const before = JSON.parse((await cli(['ledger', 'show', ref('v1'), '--format', 'json'])).stdout).entries[0].digest as string;
    const evil = await builder.pushImage(repo, 'v1', { seed: 'evil', created: '2026-01-03T00:00:00Z' });
    for (let round = 0; round < 2; round++) {
      const v = await verify(ref('v1'));
      expect(v.code).toBe(1);
      const f = v.json.images[0]!.findings![0]!; // worst first
      expect(f).toMatchObject({ rule: 'tag.overwritten', severity: 'critical', fails: true });
      expect(f.message).toContain(evil.digest);
      expect(f.message).toContain(before);
      expect(f.message).toMatch(/first seen \d{4}-/);
      const d = await drift();
      expect(d.code).toBe(1);
      expect(d.json.drift).toEqual([{ ref: ref('v1'), kind: 'overwritten', observed: evil.digest, approved: before, approvedFirstSeen: expect.any(String), observedFirstSeen: expect.any(String) }]);
    }
    // the evidence is in the ledger, once, and did not become the approved digest
    const show = await cli(['ledger', 'show', ref('v1')]);
    expect(show.stdout).toMatch(/moved\s+verify\s+sha256/);
    expect(show.stdout).toContain(`approved: ${before}`);
    expect(show.stdout.match(/moved/g)).toHaveLength(1);
  });

  it('record refuses the moved tag; --approve-move naming the new digest approves it; going back to the old one is a rollback', async () => {
    const now = JSON.parse((await cli(['ledger', 'show', ref('v1'), '--format', 'json'])).stdout).entries as Array<{ digest: string }>;
    const original = now[0]!.digest;
    const refused = await cli(['record', ref('v1')]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/refused/);
    const moved = now.at(-1)!.digest;
    const rec = await cli(['record', '--approve-move', `${ref('v1')}@${moved}`]);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/approved move/);
    expect((await verify(ref('v1'))).code).toBe(0);
    await builder.tagExisting(repo, original, 'v1');
    const v = await verify(ref('v1'));
    expect(v.code).toBe(1);
    expect(v.json.images[0]!.findings![0]).toMatchObject({ rule: 'tag.rolled_back', severity: 'critical' });
    const d = await drift();
    expect(d.json.drift.map((x) => [x.kind, x.observed])).toEqual([['rolled_back', original]]);
  });

  it('catches a deleted tag', async () => {
    const v2 = JSON.parse((await cli(['ledger', 'show', ref('v2'), '--format', 'json'])).stdout).entries[0].digest as string;
    await builder.deleteManifest(repo, v2);
    const v = await verify(ref('v2'));
    expect(v.code).toBe(1);
    expect(v.json.images[0]).toMatchObject({ status: 'missing' });
    expect(v.json.images[0]!.findings![0]).toMatchObject({ rule: 'tag.deleted' });
    expect(v.json.images[0]!.findings![0]!.message).toContain(v2.slice(0, 19));
    const d = await drift();
    expect(d.code).toBe(1);
    expect(d.json.summary).toMatchObject({ deleted: 1, rolledBack: 1 });
  });

  it('--require-recorded fails a tag never recorded, and records nothing', async () => {
    await builder.pushImage(repo, 'fresh', { seed: 'fresh' });
    const v = await verify(ref('fresh'), ['--require-recorded']);
    expect(v.code).toBe(1);
    expect(v.json.images[0]!.findings!.find((f) => f.fails)).toMatchObject({ rule: 'tag.unrecorded', severity: 'high' });
    const again = await verify(ref('fresh'), ['--require-recorded']);
    expect(again.code).toBe(1);
    // trust on first use (the default) records it
    expect((await verify(ref('fresh'))).code).toBe(0);
    expect((await verify(ref('fresh'), ['--require-recorded'])).code).toBe(0);
  });

  it('ledger verify passes, and export writes every entry', async () => {
    const lv = await cli(['ledger', 'verify']);
    expect(lv.code).toBe(0);
    expect(lv.stdout).toMatch(/\d+ entries, hash chain intact/);
    const ex = JSON.parse((await cli(['ledger', 'export'])).stdout) as { entries: Array<{ seq: number; hash: string }> };
    expect(ex.entries.length).toBeGreaterThanOrEqual(6);
    expect(ex.entries.map((e) => e.seq)).toEqual(ex.entries.map((_, i) => i + 1));
  });
});

describe('a tampered file ledger', () => {
  it('is caught by ledger verify naming the line, and verify and drift refuse to trust it', async () => {
    const repo = 'acme/tamper';
    await builder.pushImage(repo, 'v1', { seed: 't1' });
    await builder.pushImage(repo, 'v2', { seed: 't2' });
    const ledger = join(work, 'tamper.jsonl');
    const cli = (args: string[]) => runCli([...args, '--ledger', ledger], { cwd: work });
    expect((await cli(['record', `${reg.host}/${repo}:v1`, `${reg.host}/${repo}:v2`])).code).toBe(0);
    // an attacker "approves" their digest by editing the first line
    const lines = readFileSync(ledger, 'utf8').split('\n');
    const entry = JSON.parse(lines[0]!) as { digest: string };
    lines[0] = JSON.stringify({ ...entry, digest: `sha256:${'e'.repeat(64)}` });
    writeFileSync(ledger, lines.join('\n'));
    const lv = await cli(['ledger', 'verify']);
    expect(lv.code).toBe(2);
    expect(lv.stdout).toMatch(/tamper\.jsonl:1: the ledger does not verify at entry 1/);
    const v = await cli(['verify', `${reg.host}/${repo}:v1`]);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/tamper\.jsonl.*line 1|tamper\.jsonl:1/);
    expect(v.stderr).not.toMatch(/\n\s+at /);
    const d = await cli(['drift']);
    expect(d.code).toBe(2);
    // and nothing was rewritten
    expect(readFileSync(ledger, 'utf8')).toBe(lines.join('\n'));
  });
});

describe('an unreachable database', () => {
  it('is exit 3, not a pass, and the password never shows', async () => {
    const url = 'postgres://gate:sup3r-secret-pw@127.0.0.1:1/ledger';
    for (const args of [['verify', `${reg.host}/acme/file:v1`], ['drift'], ['ledger', 'verify']]) {
      const r = await runCli([...args, '--ledger', url], { cwd: work });
      expect(r.code).toBe(3);
      expect(r.stdout + r.stderr).toMatch(/127\.0\.0\.1:1/);
      expect(r.stdout + r.stderr).not.toContain('sup3r-secret-pw');
    }
    const viaEnv = await runCli(['drift'], { cwd: work, env: { KAMAL_GATE_LEDGER_URL: url } });
    expect(viaEnv.code).toBe(3);
    expect(viaEnv.stdout + viaEnv.stderr).not.toContain('sup3r-secret-pw');
  });
});
