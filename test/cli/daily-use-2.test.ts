/**
 * Daily use, through the built CLI (dist/; `npm run build` first) against a real docker-registry:
 * cosign habits (`-o json`, `--key env://NAME`, KMS keys named as unsupported), `--policy strict`,
 * the starter's `$schema`, `policy explain` taking the role from the Kamal config, the Pinned list,
 * drift metrics with labels, `trust refresh` failures and `trust show`, and colour on a terminal.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, runCliProcess } from '../helpers/cli.js';
import { pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

let reg: TestRegistry;
let b: ImageBuilder;
let work: string;
let pubPem: string;
let priv: KeyObject;
let signed: PushedImage;
let unsigned: PushedImage;

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  b = new ImageBuilder(reg);
  work = mkdtempSync(join(tmpdir(), 'kg-daily2-'));
  const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  priv = kp.privateKey;
  pubPem = kp.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  signed = await b.pushImage('daily/app', 'signed', { platforms: [AMD64] });
  const payload = simpleSigning(`${reg.host}/${signed.repo}`, signed.digest);
  await pushLegacy(b, signed.repo, signed.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, priv) } }]);
  unsigned = await b.pushImage('daily/app', 'unsigned', { platforms: [AMD64] });
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function dir(name: string): string {
  const d = join(work, name);
  mkdirSync(d, { recursive: true });
  return d;
}

const ESC = '\x1b[';

describe('cosign habits', { timeout: 120_000 }, () => {
  it('-o json is --format json on every command with --format; ledger export keeps -o FILE', async () => {
    const v = await runCli(['verify', signed.ref, '--no-ledger', '-o', 'json']);
    expect(v.code).toBe(0);
    expect((JSON.parse(v.stdout) as { images: Array<{ digest: string }> }).images[0]!.digest).toBe(signed.digest);
    const p = await runCli(['policy', 'check', '-o', 'json']);
    expect(JSON.parse(p.stdout)).toMatchObject({ schema: expect.stringMatching(/^kamal-gate\/policy-check/) });
    const help = await runCli(['help', 'inspect']);
    expect(help.stdout).toContain('-o, --format <format>');

    const cwd = dir('export');
    const ledger = join(cwd, 'ledger.jsonl');
    expect((await runCli(['record', signed.ref, '--ledger', ledger, '-o', 'json'], { cwd })).code).toBe(0);
    const exported = await runCli(['ledger', 'export', '--ledger', ledger, '-o', 'backup.json'], { cwd });
    expect(exported.code).toBe(0);
    expect(readFileSync(join(cwd, 'backup.json'), 'utf8')).toContain(signed.digest);
  });

  it('--key env://NAME reads the PEM public key from the environment', async () => {
    const env = { COSIGN_PUBLIC_KEY: pubPem };
    const ok = await runCli(['verify', signed.ref, '--no-ledger', '--key', 'env://COSIGN_PUBLIC_KEY', '--insecure-ignore-tlog', '-o', 'json'], { env });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const finding = (JSON.parse(ok.stdout) as { images: Array<{ findings: Array<{ rule: string; message: string }> }> }).images[0]!.findings.find((f) => f.rule === 'signature.verified');
    expect(finding?.message).toContain('env://COSIGN_PUBLIC_KEY');

    const bad = await runCli(['verify', unsigned.ref, '--no-ledger', '--key', 'env://COSIGN_PUBLIC_KEY', '--insecure-ignore-tlog'], { env });
    expect(bad.code).toBe(1);

    const missing = await runCli(['verify', signed.ref, '--no-ledger', '--key', 'env://NOT_SET_ANYWHERE']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--key env://NOT_SET_ANYWHERE: the environment variable NOT_SET_ANYWHERE is not set');
  });

  it('names KMS, Vault and Kubernetes keys as not supported instead of "no such file"', async () => {
    for (const ref of ['awskms://alias/release', 'gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k', 'hashivault://release', 'azurekms://vault.vault.azure.net/key', 'k8s://ns/secret']) {
      const r = await runCli(['verify', signed.ref, '--no-ledger', '--key', ref]);
      const scheme = ref.slice(0, ref.indexOf(':'));
      expect(r.code, ref).toBe(2);
      expect(r.stderr, ref).toContain(`${scheme}:// keys are not supported; only a public key file (PEM) and env://NAME are`);
      expect(r.stderr, ref).not.toContain('no such file');
    }
  });
});

describe('policies by name, and the starter schema', { timeout: 60_000 }, () => {
  it('--policy strict / baseline name the shipped policies, even beside a file of that name; a path still names a file', async () => {
    const cwd = dir('by-name');
    writeFileSync(join(cwd, 'strict'), 'version: 1\n');
    const strict = await runCli(['policy', 'check', '--policy', 'strict'], { cwd });
    expect(strict.code).toBe(0);
    expect(strict.stdout).toMatch(/^Policy \S*policies\/strict\.yml is valid\./);
    const baseline = await runCli(['policy', 'check', '--policy', 'baseline'], { cwd });
    expect(baseline.stdout).toMatch(/^Policy \S*policies\/baseline\.yml is valid\./);
    const path = await runCli(['policy', 'check', '--policy', './strict'], { cwd });
    expect(path.stdout).toMatch(/^Policy strict is valid\./);
    const help = await runCli(['help', 'verify']);
    expect(help.stdout).toContain('strict / baseline for a shipped policy');
  });

  it('policy init writes the schema its $schema line names, beside the policy', async () => {
    const cwd = dir('init');
    expect((await runCli(['policy', 'init', '--path', 'config/gate.yml'], { cwd })).code).toBe(0);
    const policy = readFileSync(join(cwd, 'config/gate.yml'), 'utf8');
    const ref = /\$schema=(\S+)/.exec(policy.split('\n')[0]!)?.[1];
    expect(ref).toBe('gate-policy.schema.json');
    const schema = readFileSync(join(cwd, 'config', ref!), 'utf8');
    expect(schema).toBe((await runCli(['policy', 'schema'])).stdout);
  });
});

describe('policy explain and the verify report', { timeout: 120_000 }, () => {
  function app(): string {
    const cwd = dir(`app-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(cwd, 'config'));
    writeFileSync(
      join(cwd, 'config/deploy.yml'),
      `service: shop\nimage: daily/app\nservers:\n  web:\n    - 192.0.2.10\nregistry:\n  server: ${reg.host}\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\naccessories:\n  db:\n    image: ${reg.host}/library/postgres:16\n    host: 192.0.2.12\n`,
    );
    return cwd;
  }

  it('takes the role from the Kamal config; --role overrides it', async () => {
    const cwd = app();
    const fromConfig = await runCli(['policy', 'explain', `${reg.host}/library/postgres:16`, '--policy', 'strict', '--version', 'v1'], { cwd });
    expect(fromConfig.code).toBe(0);
    expect(fromConfig.stdout).toMatch(/\(role accessory, from the Kamal config, config\/deploy\.yml:\d+\)/);
    expect(fromConfig.stdout).toMatch(/applies\s+accessories-pinned/);
    const overridden = await runCli(['policy', 'explain', `${reg.host}/library/postgres:16`, '--policy', 'strict', '--version', 'v1', '--role', 'app'], { cwd });
    expect(overridden.stdout).toContain('(role app)');
    expect(overridden.stdout).toMatch(/skipped\s+accessories-pinned/);
    const elsewhere = await runCli(['policy', 'explain', 'redis:7', '--policy', 'strict']);
    expect(elsewhere.stdout).toContain('(role app)');
  });

  it('words tags so a warn mode and a failing moved tag do not contradict each other', async () => {
    const r = await runCli(['policy', 'explain', 'ghcr.io/acme/app:v1']);
    const tags = r.stdout.split('\n').find((l) => l.trimStart().startsWith('tags'))!;
    expect(tags).toMatch(/^\s*tags\s+warn\s+a moved tag fails \(immutable: true, whatever the mode\); forbidden tags latest only warn \(mode warn\)/);
  });

  it('lists under Pinned only the images that passed', async () => {
    const r = await runCli(['verify', signed.ref, unsigned.ref, '--no-ledger', '--key', 'env://K', '--insecure-ignore-tlog'], { env: { K: pubPem } });
    expect(r.code).toBe(1);
    const pinned = r.stdout.slice(r.stdout.indexOf('Pinned:'));
    expect(pinned.split('\n\n')[0]).toContain(signed.pinned);
    expect(pinned.split('\n\n')[0]).not.toContain(unsigned.digest);
    expect(r.stdout).toContain('signature.missing');
  });
});

describe('drift --watch metrics', { timeout: 120_000 }, () => {
  it('labels by registry and repository, says the build, gauges the last round errors of a dead registry, answers /', async () => {
    const cwd = dir('metrics');
    const ledger = join(cwd, 'ledger.jsonl');
    const dead = await startRegistry({ auth: 'none' });
    const gone = await new ImageBuilder(dead).pushImage('gone/app', 'v1', { platforms: [AMD64] });
    expect((await runCli(['record', signed.ref, gone.ref, '--ledger', ledger], { cwd })).code).toBe(0);
    await dead.stop();
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'drift', '--watch', '--interval', '1h', '--metrics', `127.0.0.1:${port}`, '--ledger', ledger, '--timeout', '2'], { cwd, stdio: 'ignore' });
    try {
      let text = '';
      for (let i = 0; i < 300 && !/kamal_gate_drift_rounds_total 1/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
      }
      expect(text).toContain(`kamal_gate_build_info{version="${VERSION}"} 1`);
      expect(text).toContain(`kamal_gate_drift_tags_checked_total{registry="${reg.host}",repository="daily/app"} 1`);
      expect(text).toContain(`kamal_gate_drift_last_round_errors{registry="${dead.host}",repository="gone/app"} 1`);
      expect(text).toContain(`kamal_gate_drift_last_round_errors{registry="${reg.host}",repository="daily/app"} 0`);
      expect(text).toContain(`kamal_gate_drift_registry_errors_total{registry="${dead.host}",repository="gone/app"} 1`);
      expect(text).toMatch(/# TYPE kamal_gate_drift_last_round_errors gauge/);
      const root = await fetch(`http://127.0.0.1:${port}/`);
      expect(root.status).toBe(200);
      expect(await root.text()).toContain('/metrics');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('trust', { timeout: 60_000 }, () => {
  let server: Server;
  afterAll(() => server?.close());

  it('refresh names the TUF URL and the cause of a failure', async () => {
    server = createServer((_req, res) => res.writeHead(503).end('down for maintenance'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cache = dir('trust-cache');
    // A TUF root for the mirror, so the client gets as far as asking it (the public-good seed root).
    const seeds = JSON.parse(readFileSync(join(import.meta.dirname, '../../node_modules/@sigstore/tuf/seeds.json'), 'utf8')) as Record<string, { 'root.json': string }>;
    const tufDir = join(cache, 'tuf', encodeURIComponent(mirror.replace('http://', '')));
    mkdirSync(join(tufDir, 'targets'), { recursive: true });
    writeFileSync(join(tufDir, 'root.json'), Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']!['root.json'], 'base64'));
    const r = await runCli(['trust', 'refresh', '--cache-dir', cache, '--mirror', mirror]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`could not refresh the Sigstore trusted root from the TUF repository ${mirror}: `);
    expect(r.stderr).toContain('(HTTP 503)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('show prints the root in use and its age: shipped, cached by refresh, or given', async () => {
    const empty = dir('trust-empty');
    const shipped = await runCli(['trust', 'show', '--cache-dir', empty]);
    expect(shipped.code).toBe(0);
    expect(shipped.stdout).toMatch(/^trusted root: .*trusted_root\.json\n {2}shipped with kamal-gate/);
    expect(shipped.stdout).toMatch(/newest key valid from \d{4}-\d\d-\d\d, \d+ days? ago/);

    const cache = dir('trust-cached');
    chmodSync(cache, 0o700);
    const rootText = readFileSync(join(import.meta.dirname, '../../dist/trusted_root.json'), 'utf8');
    writeFileSync(join(cache, 'trusted_root.json'), rootText, { mode: 0o600 });
    const cached = await runCli(['trust', 'show', '--cache-dir', cache]);
    expect(cached.stdout).toContain(`trusted root: ${join(cache, 'trusted_root.json')}\n  fetched by \`kamal-gate trust refresh\`\n  file written ${new Date().toISOString().slice(0, 10)}, today`);

    const given = await runCli(['trust', 'show', '--trusted-root', join(cache, 'trusted_root.json')]);
    expect(given.stdout).toContain('given with --trusted-root');
  });
});

describe('colour', { timeout: 60_000 }, () => {
  const DEPLOY = `service: shop\nimage: acme/shop\nservers:\n  web:\n    hosts: [10.0.0.1]\n    options:\n      privileged: true\nregistry:\n  server: 127.0.0.1:1\n  username: acme\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\n`;
  const hasScript = spawnSync('script', ['--version']).status === 0;

  it('colours findings by severity on a terminal; none when piped or with NO_COLOR', async () => {
    const cwd = dir('colour');
    mkdirSync(join(cwd, 'config'));
    writeFileSync(join(cwd, 'config/deploy.yml'), DEPLOY);
    const piped = await runCliProcess(['lint'], { cwd });
    expect(piped.stdout).toMatch(/(FAIL|WARN) (critical|high) config\.privileged/);
    expect(piped.stdout).not.toContain(ESC);
    expect(hasScript, 'util-linux script(1), for a terminal').toBe(true);
    // script(1) gives the CLI a real terminal for stdout.
    const { NO_COLOR: _no, FORCE_COLOR: _force, ...clean } = process.env;
    const tty = (env: NodeJS.ProcessEnv) =>
      spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} lint`, '/dev/null'], { cwd, env: { ...clean, TERM: 'xterm', ...env }, encoding: 'utf8' }).stdout;
    expect(tty({})).toMatch(/\x1b\[(1;31|31)m(FAIL|WARN) (critical|high)\x1b\[0m config\.privileged/);
    expect(tty({ NO_COLOR: '1' })).not.toContain(ESC);
    // verify's text report too
    const verify = spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} verify ${unsigned.ref} --no-ledger --key env://K --insecure-ignore-tlog`, '/dev/null'], {
      cwd,
      env: { ...clean, TERM: 'xterm', K: pubPem },
      encoding: 'utf8',
    }).stdout;
    expect(verify).toMatch(/\x1b\[[0-9;]+mFAIL \w+\x1b\[0m signature\.missing/);
    expect(tty({ TERM: 'dumb' })).not.toContain(ESC);
  });
});

describe('README', () => {
  it('opens with what kamal-gate is, then Install, then the demo and test commands', () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    const paragraphs = readme.split('\n\n');
    expect(paragraphs[0]).toBe('# kamal-gate');
    expect(paragraphs[1]).toMatch(/^kamal-gate stops a bad container image before \[Kamal\]/);
    const headings = [...readme.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(headings[0]).toBe('Install');
    const install = readme.indexOf('\n## Install\n');
    const demo = readme.indexOf('npm run demo');
    const test = readme.indexOf('npm test ');
    expect(install).toBeGreaterThan(0);
    expect(demo).toBeGreaterThan(install);
    expect(test).toBeGreaterThan(demo);
    // … in the section right after Install
    expect(readme.indexOf('\n## ', install + 1)).toBeLessThan(demo);
    expect(readme.indexOf('\n## ', readme.indexOf('\n## ', install + 1) + 1)).toBeGreaterThan(test);
  });
});
