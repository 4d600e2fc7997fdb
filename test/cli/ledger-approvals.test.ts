/**
 * Issue 12 through the real CLI against the real registry (and PostgreSQL): approval is an explicit
 * act (a moved accessory is refused by record until --approve-move names its digest), base tags are
 * observations (an upstream rebuild is not OVERWRITTEN), and signed checkpoints catch a truncated
 * or rewritten ledger.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainBatch } from '../../src/ledger/chain.js';
import type { LedgerEntry, NewEntry } from '../../src/ledger/types.js';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app');
const POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
const AMD64 = { os: 'linux', architecture: 'amd64' };

let reg: TestRegistry;
let b: ImageBuilder;
let pgs: PostgresServer;
let work: string;
let keyFile: string;
let pubFile: string;
let otherPub: string;

beforeAll(async () => {
  [reg, pgs] = await Promise.all([startRegistry({ auth: 'htpasswd', users: { demo: 'demo-registry-password-42' } }), startPostgres()]);
  b = new ImageBuilder(reg);
  work = mkdtempSync(join(tmpdir(), 'kg-approvals-'));
  keyFile = join(work, 'checkpoint.key');
  pubFile = join(work, 'checkpoint.pub');
  otherPub = join(work, 'other.pub');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout', '-out', pubFile]);
  const other = join(work, 'other.key');
  execFileSync('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', other]);
  execFileSync('openssl', ['pkey', '-in', other, '-pubout', '-out', otherPub]);
});
afterAll(async () => {
  await Promise.all([reg?.stop(), pgs?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

interface App {
  dir: string;
  env: NodeJS.ProcessEnv;
  ledger: string;
  shop: PushedImage;
  pg: PushedImage;
  cache: PushedImage;
  ns: string;
}

let appCount = 0;
/** A copy of the demo Kamal app whose images live under their own namespace in the registry. */
async function newApp(ledger?: string): Promise<App> {
  const ns = `t${++appCount}`;
  const dir = mkdtempSync(join(work, 'app-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const yml = readFileSync(join(dir, 'config', 'deploy.yml'), 'utf8')
    .replace('image: acme/shop', `image: ${ns}/shop`)
    .replace('/library/postgres:16.4', `/${ns}/postgres:16.4`)
    .replace('image: library/valkey:8.0', `image: ${ns}/valkey:8.0`);
  writeFileSync(join(dir, 'config', 'deploy.yml'), yml);
  const shop = await b.pushImage(`${ns}/shop`, 'v1', { platforms: [AMD64, { os: 'linux', architecture: 'arm64', variant: 'v8' }], created: '2026-11-01T10:00:00Z' });
  const pgImg = await b.pushImage(`${ns}/postgres`, '16.4', { created: '2026-08-14T09:00:00Z' });
  const cache = await b.pushImage(`${ns}/valkey`, '8.0', { platforms: [AMD64, { os: 'linux', architecture: 'arm64', variant: 'v8' }] });
  await b.tagExisting(`${ns}/valkey`, cache.digest, '8.0-staging');
  writeFileSync(join(dir, 'config', 'deploy.staging.yml'), readFileSync(join(dir, 'config', 'deploy.staging.yml'), 'utf8').replace(/library\/valkey/g, `${ns}/valkey`));
  const env: NodeJS.ProcessEnv = { DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(dir, '.no-docker'), USER: 'ops-alice' };
  if (ledger) env['KAMAL_GATE_LEDGER_URL'] = ledger;
  return { dir, env, ledger: ledger ?? join(dir, '.kamal', 'image-ledger.jsonl'), shop, pg: pgImg, cache, ns };
}

const cli = (app: App, args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: app.dir, env: { ...app.env, ...env } });
const json = <T>(s: string): T => JSON.parse(s) as T;

describe.each(['file', 'postgres'] as const)('approval is an explicit act (%s ledger)', (backend) => {
  let app: App;
  beforeAll(async () => {
    app = await newApp(backend === 'postgres' ? await pgs.createDatabase() : undefined);
  });

  it('record approves the app and, on first use, the accessories, and says which', async () => {
    const r = await cli(app, ['record', '--version', 'v1']);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`approved: .*${app.ns}/shop:v1 \\(app, first use\\)`));
    expect(r.stdout).toMatch(new RegExp(`${app.ns}/postgres:16.4 \\(accessory, first use\\)`));
  });

  it('record after an attacker overwrote an accessory tag refuses it (exit 1) and approves nothing; drift stays red', async () => {
    const evil = await b.pushImage(`${app.ns}/postgres`, '16.4', { created: '2026-11-20T09:00:00Z', seed: 'evil' });
    const r = await cli(app, ['record', '--version', 'v1', '--format', 'json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const doc = json<{ recorded: Array<{ ref: string; change: string; role: string; approved?: string }>; entriesWritten: number }>(r.stdout);
    const row = doc.recorded.find((x) => x.ref.endsWith(`${app.ns}/postgres:16.4`))!;
    expect(row).toMatchObject({ change: 'refused', role: 'accessory', approved: app.pg.digest });
    expect(doc.entriesWritten).toBe(0);
    const text = await cli(app, ['record', '--version', 'v1']);
    expect(text.stdout).toContain(`kamal-gate record --approve-move ${reg.host}/${app.ns}/postgres:16.4@${evil.digest}`);
    const d = await cli(app, ['drift', '--format', 'json']);
    expect(d.code, d.stdout + d.stderr).toBe(1);
    expect(json<{ drift: Array<{ ref: string; kind: string }> }>(d.stdout).drift).toEqual([expect.objectContaining({ kind: 'overwritten', ref: `${reg.host}/${app.ns}/postgres:16.4` })]);
    const v = await cli(app, ['verify', '--version', 'v1', '--format', 'json']);
    expect(v.code, v.stdout + v.stderr).toBe(1);
    expect(v.stdout).toContain('tag.overwritten');
  });

  it('--approve-move with a digest the tag does not point to approves nothing; with the right one it is an `approved` event with the actor', async () => {
    const ref = `${reg.host}/${app.ns}/postgres:16.4`;
    const wrong = await cli(app, ['record', '--approve-move', `${ref}@${app.pg.digest}`]);
    expect(wrong.code, wrong.stdout + wrong.stderr).toBe(1);
    expect(wrong.stdout).toMatch(/the tag moved again, nothing approved/);
    const now = (await b.headManifest(`${app.ns}/postgres`, '16.4')).digest;
    const ok = await cli(app, ['record', '--approve-move', `${ref}@${now}`]);
    expect(ok.stderr).toBe('');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const show = await cli(app, ['ledger', 'show', ref, '--format', 'json']);
    const entries = json<{ entries: LedgerEntry[] }>(show.stdout).entries;
    expect(entries.at(-1)).toMatchObject({ event: 'approved', digest: now, source: 'record', actor: 'user:ops-alice' });
    expect((await cli(app, ['drift'])).code).toBe(0);
  });

  it('a destination accessory that moved is refused the same way', async () => {
    await b.pushImage(`${app.ns}/valkey`, '8.0-staging', { seed: 'evil-staging' });
    const first = await cli(app, ['record', '-d', 'staging', '--version', 'v1', '--format', 'json']);
    // 8.0-staging was never approved before this: the staging record is its first use…
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await b.pushImage(`${app.ns}/valkey`, '8.0-staging', { seed: 'evil-staging-2' });
    const r = await cli(app, ['record', '-d', 'staging', '--version', 'v1', '--format', 'json']);
    // …and a later overwrite is refused.
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(json<{ recorded: Array<{ ref: string; change: string }> }>(r.stdout).recorded.find((x) => x.ref.endsWith(':8.0-staging'))).toMatchObject({ change: 'refused' });
  });
});

describe('base tags are observations, not deploy tags', () => {
  it('an upstream rebuild of the base tag is information in drift, never OVERWRITTEN; legacy entries can be forgotten', async () => {
    const dir = mkdtempSync(join(work, 'base-'));
    const ledger = join(dir, 'ledger.jsonl');
    const ruby = await b.pushImage('lib/ruby', '3.3-slim', { created: '2026-10-01T00:00:00Z', seed: 'ruby-1' });
    await b.pushImage('acme/on-ruby', 'v1', {
      base: ruby,
      created: '2026-11-01T00:00:00Z',
      annotations: { 'org.opencontainers.image.base.name': `${reg.host}/lib/ruby:3.3-slim`, 'org.opencontainers.image.base.digest': ruby.digest },
    });
    const auth = ['--registry-username', 'demo', '--registry-password-stdin', '--registry-server', reg.host];
    const withPw = (args: string[]) => runCli([...args, '--ledger', ledger, ...auth], { cwd: dir, env: { DOCKER_CONFIG: join(dir, '.none') }, input: reg.password });
    const v = await withPw(['verify', `${reg.host}/acme/on-ruby:v1`, '--policy', join(POLICIES, 'baseline.yml'), '--format', 'json']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const lines = readFileSync(ledger, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LedgerEntry);
    expect(lines.find((e) => e.repository === 'lib/ruby')).toMatchObject({ role: 'base', digest: ruby.digest });
    // upstream rebuilds the base tag
    const ruby2 = await b.pushImage('lib/ruby', '3.3-slim', { created: '2026-11-25T00:00:00Z', seed: 'ruby-2' });
    const d = await withPw(['drift', '--format', 'json']);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    const doc = json<{ summary: { overwritten: number; baseMoved: number }; baseMoved: Array<{ ref: string; observed: string }> }>(d.stdout);
    expect(doc.summary.overwritten).toBe(0);
    expect(doc.baseMoved).toEqual([expect.objectContaining({ ref: `${reg.host}/lib/ruby:3.3-slim`, observed: ruby2.digest })]);
    // once observed, the move is not news; the next upstream rebuild is
    expect(json<{ baseMoved: unknown[] }>((await withPw(['drift', '--format', 'json'])).stdout).baseMoved).toEqual([]);
    await b.pushImage('lib/ruby', '3.3-slim', { created: '2026-11-30T00:00:00Z', seed: 'ruby-3' });
    const text = await withPw(['drift']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/info: base tag .*lib\/ruby:3.3-slim moved upstream/);
    // the app tag is still a deploy tag: overwriting it is still caught
    await b.pushImage('acme/on-ruby', 'v1', { seed: 'evil-app' });
    expect((await withPw(['drift'])).code).toBe(1);
  });

  it('a legacy ledger whose base entry looks like a deploy entry: drift flags it until `ledger forget` (recorded, with the actor)', async () => {
    const dir = mkdtempSync(join(work, 'legacy-'));
    const ledger = join(dir, 'ledger.jsonl');
    const node = await b.pushImage('lib/node', '22', { seed: 'node-1' });
    // what the previous version wrote for a base tag: an unmarked `recorded` entry from verify
    const [e] = chainBatch([{ registry: reg.host, repository: 'lib/node', tag: '22', digest: node.digest, event: 'recorded', source: 'verify' } satisfies NewEntry], null);
    writeFileSync(ledger, `${JSON.stringify(e)}\n`);
    await b.pushImage('lib/node', '22', { seed: 'node-2' });
    const env = { DOCKER_CONFIG: join(dir, '.none'), USER: 'ops-bob' };
    const drift = () => runCli(['drift', '--ledger', ledger, '--registry-username', 'demo', '--registry-password-stdin', '--registry-server', reg.host], { cwd: dir, env, input: reg.password });
    const d0 = await drift();
    expect(d0.code, d0.stdout + d0.stderr).toBe(1);
    const f = await runCli(['ledger', 'forget', `${reg.host}/lib/node:22`, '--ledger', ledger], { cwd: dir, env });
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(f.stdout).toMatch(/forgotten \(entry 3, by user:ops-bob\)/);
    const d = await drift();
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(d.stdout).toMatch(/1 forgotten/);
    // an unknown tag cannot be forgotten
    const none = await runCli(['ledger', 'forget', `${reg.host}/lib/nope:1`, '--ledger', ledger], { cwd: dir, env });
    expect(none.code, none.stdout + none.stderr).toBe(2);
  });
});

/** Rewrites entry `seq` with `change` and recomputes every hash after it, as an attacker with write access would. */
function rewriteAndRechain(entries: LedgerEntry[], seq: number, change: Partial<LedgerEntry>): LedgerEntry[] {
  const plain = entries.map(({ seq: _s, prev: _p, hash: _h, ...rest }, i): NewEntry => ({ ...rest, ...(i === seq - 1 ? change : {}) }) as NewEntry);
  return chainBatch(plain, null);
}

describe('signed checkpoints', () => {
  it('file ledger: a truncated or rewritten-and-rechained ledger is refused (exit 2, naming the seq) by ledger verify, verify and drift', async () => {
    const app = await newApp();
    const r = await cli(app, ['record', '--version', 'v1', '--checkpoint-key', keyFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Three tags and the approved config (config-approved).
    expect(r.stderr).toMatch(/checkpoint: ledger head seq 4 signed by key sha256:/);
    const ok = await cli(app, ['ledger', 'verify']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/checkpoint: seq 4 signed/);
    const original = readFileSync(app.ledger, 'utf8');
    const entries = original
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LedgerEntry);

    // 1. the last line deleted
    writeFileSync(app.ledger, original.split('\n').slice(0, 3).join('\n') + '\n');
    for (const args of [['ledger', 'verify'], ['verify', '--version', 'v1'], ['drift']]) {
      const res = await cli(app, args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stdout + res.stderr).toMatch(/checkpoint signed seq 4: entry 4 was removed/);
    }

    // 2. the postgres approval rewritten to an attacker's digest, every hash after it recomputed
    const evil = await b.pushImage(`${app.ns}/postgres`, '16.4', { seed: 'evil-rechain' });
    const pgSeq = entries.find((e) => e.repository === `${app.ns}/postgres`)!.seq;
    const forged = rewriteAndRechain(entries, pgSeq, { digest: evil.digest });
    writeFileSync(app.ledger, forged.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const lv = await cli(app, ['ledger', 'verify']);
    expect(lv.code, lv.stdout + lv.stderr).toBe(2);
    expect(lv.stdout).toMatch(/entry seq (1|2|3|4) is not the one the checkpoint (signed|names)|not the one the checkpoint names/);
    const v = await cli(app, ['verify', '--version', 'v1']);
    expect(v.code, v.stdout + v.stderr).toBe(2);
    // and the checkpoint file itself edited to match: its signature no longer verifies
    const cpPath = `${app.ledger}.checkpoint`;
    const cp = JSON.parse(readFileSync(cpPath, 'utf8')) as { hash: string; ledger: string };
    writeFileSync(cpPath, JSON.stringify({ ...cp, ledger: forged[0]!.hash, hash: forged.at(-1)!.hash }));
    const edited = await cli(app, ['ledger', 'verify']);
    expect(edited.code, edited.stdout + edited.stderr).toBe(2);
    expect(edited.stdout).toMatch(/signature does not verify/);
  });

  it('policy ledger.checkpoint: no checkpoint fails; an approval appended after the signed checkpoint approves nothing; another key fails', async () => {
    const app = await newApp();
    const policy = join(app.dir, 'policy.yml');
    writeFileSync(policy, `version: 1\ndefaults:\n  ledger:\n    checkpoint:\n      keys: [${pubFile}]\n`);
    expect((await cli(app, ['record', '--version', 'v1'])).code).toBe(0);
    const none = await cli(app, ['verify', '--version', 'v1', '--policy', policy, '--format', 'json']);
    expect(none.code, none.stdout + none.stderr).toBe(1);
    expect(none.stdout).toContain('ledger.checkpoint');
    expect((await cli(app, ['ledger', 'checkpoint', '--checkpoint-key', keyFile])).code).toBe(0);
    const signed = await cli(app, ['verify', '--version', 'v1', '--policy', policy]);
    expect(signed.code, signed.stdout + signed.stderr).toBe(0);
    // an attacker overwrites the accessory and appends an approval to the ledger without the key
    const evil = await b.pushImage(`${app.ns}/postgres`, '16.4', { seed: 'evil-append' });
    const lines = readFileSync(app.ledger, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LedgerEntry);
    const [forged] = chainBatch(
      [{ registry: reg.host, repository: `${app.ns}/postgres`, tag: '16.4', digest: evil.digest, event: 'approved', source: 'record', actor: 'user:mallory' }],
      lines.at(-1)!,
    );
    writeFileSync(app.ledger, readFileSync(app.ledger, 'utf8') + JSON.stringify(forged) + '\n');
    const after = await cli(app, ['verify', '--version', 'v1', '--policy', policy, '--format', 'json']);
    expect(after.code, after.stdout + after.stderr).toBe(1);
    expect(after.stdout).toContain('tag.overwritten');
    // without the policy's requirement the appended approval is taken (what a checkpoint alone cannot prove)
    expect((await cli(app, ['verify', '--version', 'v1'])).code).toBe(0);
    // a policy naming another key refuses this checkpoint
    writeFileSync(policy, `version: 1\ndefaults:\n  ledger:\n    checkpoint:\n      keys: [${otherPub}]\n`);
    const other = await cli(app, ['verify', '--version', 'v1', '--policy', policy, '--format', 'json']);
    expect(other.code, other.stdout + other.stderr).toBe(1);
    expect(other.stdout).toContain('ledger.checkpoint');
  });

  it('PostgreSQL: the newest row deleted, or rewritten by SQL with its hash recomputed, is refused (exit 2)', async () => {
    const url = await pgs.createDatabase();
    const app = await newApp(url);
    expect((await cli(app, ['record', '--version', 'v1', '--checkpoint-key', keyFile])).code).toBe(0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ document: string }>('SELECT document FROM kamal_gate_checkpoints');
      expect(rows).toHaveLength(1);
      expect((await cli(app, ['ledger', 'verify'])).code).toBe(0);
      // the newest row rewritten to another digest, its hash recomputed so the chain still holds
      const exported = json<{ entries: LedgerEntry[] }>((await cli(app, ['ledger', 'export'])).stdout).entries;
      const last = exported.at(-1)!;
      const rechained = rewriteAndRechain(exported, last.seq, { digest: `sha256:${'e'.repeat(64)}` }).at(-1)!;
      await client.query('UPDATE kamal_gate_ledger SET digest = $1, hash = $2 WHERE seq = $3', [rechained.digest, rechained.hash, last.seq]);
      const lv = await cli(app, ['ledger', 'verify']);
      expect(lv.code, lv.stdout + lv.stderr).toBe(2);
      expect(lv.stdout).toMatch(new RegExp(`entry seq ${last.seq} is not the one the checkpoint signed`));
      expect((await cli(app, ['verify', '--version', 'v1'])).code).toBe(2);
      await client.query('DELETE FROM kamal_gate_ledger WHERE seq = $1', [last.seq]);
      const cut = await cli(app, ['drift']);
      expect(cut.code, cut.stdout + cut.stderr).toBe(2);
      expect(cut.stdout + cut.stderr).toMatch(new RegExp(`checkpoint signed seq ${last.seq}`));
    } finally {
      await client.end();
    }
  });
});
