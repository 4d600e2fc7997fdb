/**
 * Secrets never leak: with registry passwords (htpasswd and token auth), bearer tokens and a drift
 * webhook URL configured, every command in every format runs through the real CLI, on success and
 * on failure, and no standard output, standard error, ledger file, exported file, job summary or
 * webhook message contains a secret value, its base64 `user:password` form or a token issued.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startFakeServer } from '../helpers/fake-registry.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.js';

const PASSWORD = 'Htpasswd-Secret-4711-registry';
const TOKEN_PASSWORD = 'Token-Server-Secret-0815-pass';
const WRONG_PASSWORD = 'Wrong-Secret-Guess-9999-pass';
const HOOK_PATH_SECRET = 'T000HOOK/B000HOOK/PathSecret1234567890';
const HOOK_QUERY_SECRET = 'QuerySecret0987654321abcdef';

let reg: TestRegistry;
let treg: TestRegistry;
let app: string;
let work: string;
let receiver: Server;
let hookUrl: string;
let deadHookUrl: string;
const hookBodies: string[] = [];
/** Everything the CLI printed or wrote, by where it came from. */
const outputs: Array<{ what: string; text: string }> = [];

function git(cwd: string, ...args: string[]) {
  execFileSync('git', args, { cwd, stdio: 'ignore' });
}

/** Runs the CLI and keeps what it printed for the final sweep; returns the result for its own checks. */
async function run(what: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<CliResult> {
  const r = await runCli(args, { cwd: opts.cwd ?? app, env: { DOCKER_CONFIG: join(work, 'no-docker'), ...opts.env }, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  outputs.push({ what: `${what}: stdout`, text: r.stdout }, { what: `${what}: stderr`, text: r.stderr });
  return r;
}

/** Every secret and the forms it travels in. */
function secretForms(): string[] {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const tokens = treg.tokenServer!.log.map((e) => e.token).filter((t): t is string => Boolean(t));
  expect(tokens.length).toBeGreaterThan(0); // the token registry was really used
  const forms = [
    PASSWORD,
    TOKEN_PASSWORD,
    WRONG_PASSWORD,
    b64(`demo:${PASSWORD}`),
    b64(`tok:${TOKEN_PASSWORD}`),
    b64(`demo:${WRONG_PASSWORD}`),
    b64(`tok:${WRONG_PASSWORD}`),
    b64(PASSWORD),
    b64(TOKEN_PASSWORD),
    HOOK_PATH_SECRET,
    HOOK_QUERY_SECRET,
    encodeURIComponent(HOOK_PATH_SECRET),
    ...tokens,
    // The signature part alone is enough to be a leak of the token.
    ...tokens.map((t) => t.split('.')[2]!),
  ];
  return forms;
}

/** Files under `dir` (ledgers, exports, summaries), recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === '.git') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-secrets-'));
  mkdirSync(join(work, 'no-docker'));
  [reg, treg] = await Promise.all([startRegistry({ auth: 'htpasswd', users: { demo: PASSWORD } }), startRegistry({ auth: 'token', users: { tok: TOKEN_PASSWORD } })]);
  const b = new ImageBuilder(reg);
  const tb = new ImageBuilder(treg);
  await b.pushImage('acme/shop', 'v1');
  await tb.pushImage('acme/cache', '7');

  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hookBodies.push(body);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as { port: number }).port;
  hookUrl = `http://127.0.0.1:${port}/services/${HOOK_PATH_SECRET}?token=${HOOK_QUERY_SECRET}`;
  deadHookUrl = `http://127.0.0.1:${await freePort()}/services/${HOOK_PATH_SECRET}?token=${HOOK_QUERY_SECRET}`;

  app = join(work, 'app');
  mkdirSync(join(app, 'config'), { recursive: true });
  mkdirSync(join(app, '.kamal'));
  writeFileSync(
    join(app, 'config', 'deploy.yml'),
    `service: shop
image: acme/shop
servers:
  - 10.0.0.1
registry:
  server: ${reg.host}
  username: demo
  password:
    - KAMAL_REGISTRY_PASSWORD
builder:
  arch: amd64
accessories:
  cache:
    image: ${treg.host}/acme/cache:7
    host: 10.0.0.2
    registry:
      username: tok
      password:
        - CACHE_REGISTRY_PASSWORD
`,
  );
  // A literal registry password in a tracked secrets file (lint flags it), the other from the environment.
  writeFileSync(join(app, '.kamal', 'secrets'), `KAMAL_REGISTRY_PASSWORD=${PASSWORD}\nCACHE_REGISTRY_PASSWORD=$CACHE_REGISTRY_PASSWORD\n`);
  git(app, 'init', '-q');
  git(app, 'add', 'config', '.kamal/secrets');
}, 120_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), treg?.stop(), new Promise((r) => receiver?.close(r))]);
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({ CACHE_REGISTRY_PASSWORD: TOKEN_PASSWORD });

describe('secrets never leak', () => {
  it('through every command and format, on success and failure', async () => {
    const summary = join(work, 'step-summary.md');
    const appRef = `${reg.host}/acme/shop:v1`;
    const cacheRef = `${treg.host}/acme/cache:7`;

    // verify in every format, with --stats; the first run records the tags in the ledger.
    for (const format of ['text', 'json', 'sarif', 'github', 'junit']) {
      const r = await run(`verify --format ${format}`, ['verify', '--version', 'v1', '--format', format, '--stats'], { env: { ...env(), GITHUB_STEP_SUMMARY: summary } });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(readFileSync(summary, 'utf8')).toContain('kamal-gate verify');

    expect((await run('record', ['record', '--version', 'v1'], { env: env() })).code).toBe(0);
    expect((await run('record json', ['record', '--version', 'v1', '--format', 'json'], { env: env() })).code).toBe(0);
    // The password from the command line (stdin) and explicit refs.
    expect((await run('verify stdin', ['verify', appRef, '--registry-username', 'demo', '--registry-password-stdin', '--no-ledger', '--format', 'json'], { input: `${PASSWORD}\n` })).code).toBe(0);
    expect((await run('inspect', ['inspect', appRef, '--registry-username', 'demo', '--registry-password-stdin', '--format', 'json'], { input: PASSWORD })).code).toBe(0);
    expect((await run('inspect token', ['inspect', cacheRef, '--registry-username', 'tok', '--registry-password-stdin', '--stats'], { input: TOKEN_PASSWORD })).code).toBe(0);
    expect((await run('targets', ['targets', '--version', 'v1'], { env: env() })).code).toBe(0);
    expect((await run('targets json', ['targets', '--version', 'v1', '--format', 'json'], { env: env() })).code).toBe(0);
    expect((await run('policy explain', ['policy', 'explain', appRef])).code).toBe(0);
    expect((await run('policy explain json', ['policy', 'explain', cacheRef, '--format', 'json'])).code).toBe(0);
    for (const format of ['text', 'json', 'sarif', 'github']) {
      const r = await run(`lint --format ${format}`, ['lint', '--format', format], { env: env() });
      expect(r.code).toBe(1); // config.secrets_tracked is critical: it fails at the default --fail-on high
      expect(r.stdout).toContain('config.secrets_tracked');
    }

    // Drift: the app tag is overwritten, drift finds it and posts to the webhook.
    await new ImageBuilder(reg).pushImage('acme/shop', 'v1');
    const drift = await run('drift webhook', ['drift', '--webhook', hookUrl], { env: env() });
    expect(drift.code).toBe(1);
    expect(hookBodies.length).toBe(1);
    expect(hookBodies[0]).toContain('acme/shop:v1');
    outputs.push({ what: 'webhook message', text: hookBodies.join('\n') });
    expect((await run('drift json', ['drift', '--format', 'json', '--webhook', hookUrl], { env: env() })).code).toBe(1);
    const dead = await run('drift dead webhook', ['drift', '--webhook', deadHookUrl], { env: env() });
    expect(dead.code).toBe(1);
    expect(dead.stderr).toMatch(/the drift webhook failed/);
    const badHook = await run('drift bad webhook', ['drift', '--webhook', `ftp://127.0.0.1/${HOOK_PATH_SECRET}?token=${HOOK_QUERY_SECRET}`], { env: env() });
    expect(badHook.code).toBe(2);

    // The ledger, shown and exported.
    expect((await run('ledger show', ['ledger', 'show'])).code).toBe(0);
    expect((await run('ledger show ref', ['ledger', 'show', appRef, '--format', 'json'])).code).toBe(0);
    expect((await run('ledger verify', ['ledger', 'verify'])).code).toBe(0);
    expect((await run('ledger export', ['ledger', 'export'])).code).toBe(0);
    expect((await run('ledger export -o', ['ledger', 'export', '-o', join(work, 'export.json')])).code).toBe(0);
    expect(existsSync(join(work, 'export.json'))).toBe(true);

    // Failure paths. A wrong password, from the command line and from the environment (token auth).
    const wrong = await run('verify wrong password', ['verify', appRef, '--registry-username', 'demo', '--registry-password-stdin', '--no-ledger'], { input: WRONG_PASSWORD });
    expect(wrong.code).toBe(3);
    expect(wrong.stdout + wrong.stderr).toMatch(/refused the credentials|credentials/);
    const wrongToken = await run('verify wrong token password', ['verify', '--version', 'v1', '--format', 'json', '--no-ledger'], { env: { CACHE_REGISTRY_PASSWORD: WRONG_PASSWORD } });
    expect(wrongToken.code).toBe(3);
    const wrongInspect = await run('inspect wrong password', ['inspect', cacheRef, '--registry-username', 'tok', '--registry-password-stdin', '--format', 'json'], { input: WRONG_PASSWORD });
    expect(wrongInspect.code).toBe(3);

    // A registry (or a proxy in front of it) that echoes the credentials in its error messages, which
    // kamal-gate reports: only redaction keeps them out.
    const echo = await startFakeServer((req, res) => {
      const authz = req.headers.authorization;
      if (!authz) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="echo"', 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"log in"}]}');
        return;
      }
      const decoded = Buffer.from(authz.replace(/^Basic /, ''), 'base64').toString();
      const message = `backend refused ${authz} (${decoded}) password=${encodeURIComponent(decoded.split(':')[1] ?? '')}`;
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message }] }));
    });
    try {
      for (const format of ['text', 'json', 'sarif', 'github', 'junit']) {
        const r = await run(
          `verify echoing registry ${format}`,
          ['verify', `${echo.host}/acme/shop:v1`, '--registry-username', 'demo', '--registry-password-stdin', '--no-ledger', '--format', format],
          { input: PASSWORD },
        );
        expect(r.code).toBe(3);
        expect(r.stdout + r.stderr).toContain('backend refused');
      }
      const r = await run('inspect echoing registry', ['inspect', `${echo.host}/acme/shop:v1`, '--registry-username', 'demo', '--registry-password-stdin'], { input: PASSWORD });
      expect(r.code).toBe(3);
      expect(r.stdout + r.stderr).toContain('backend refused');
      expect(echo.requests.some((q) => q.headers.authorization === `Basic ${Buffer.from(`demo:${PASSWORD}`).toString('base64')}`)).toBe(true);
    } finally {
      await echo.stop();
    }

    // A config that does not load: the password line itself is broken.
    const broken = join(work, 'broken');
    mkdirSync(join(broken, 'config'), { recursive: true });
    writeFileSync(join(broken, 'config', 'deploy.yml'), `service: shop\nimage: acme/shop\nregistry:\n  server: ${reg.host}\n  username: demo\n  password: "${PASSWORD}\n  other: [\n`);
    for (const cmd of [['verify', '--version', 'v1'], ['lint'], ['targets', '--version', 'v1'], ['verify', '--version', 'v1', '--format', 'sarif']]) {
      const r = await run(`bad config ${cmd.join(' ')}`, cmd, { cwd: broken });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/config\/deploy\.yml:\d+/);
    }
    const erb = join(work, 'erb');
    mkdirSync(join(erb, 'config'), { recursive: true });
    writeFileSync(join(erb, 'config', 'deploy.yml'), `service: shop\nimage: acme/shop\nregistry:\n  server: ${reg.host}\n  username: demo\n  password: <%= "${PASSWORD}".squeeze %>\n`);
    const erbRun = await run('unsupported ERB', ['verify', '--version', 'v1'], { cwd: erb });
    expect(erbRun.code).toBe(2);

    // A registry that is down: every image of the token registry fails to resolve.
    await treg.stop();
    const down = await run('verify registry down', ['verify', '--version', 'v1', '--format', 'json', '--timeout', '5'], { env: env() });
    expect(down.code).toBe(3);
    const driftDown = await run('drift registry down', ['drift', '--webhook', hookUrl, '--format', 'json', '--timeout', '5'], { env: env() });
    expect([1, 3]).toContain(driftDown.code);
    outputs.push({ what: 'webhook messages', text: hookBodies.join('\n') });

    // Every file written: ledgers, the export, the job summary.
    for (const file of [...filesUnder(app), ...filesUnder(work).filter((f) => !f.startsWith(app))]) {
      if (file.endsWith(join('.kamal', 'secrets')) || file.endsWith(join('config', 'deploy.yml'))) continue; // the inputs themselves
      outputs.push({ what: `file ${file}`, text: readFileSync(file, 'utf8') });
    }
    expect(outputs.some((o) => o.what.includes('image-ledger.jsonl'))).toBe(true);

    const forms = secretForms();
    const leaks = outputs.flatMap((o) => forms.filter((s) => o.text.includes(s)).map((s) => `${o.what} contains ${s.slice(0, 12)}…`));
    expect(leaks).toEqual([]);
  }, 300_000);
});
