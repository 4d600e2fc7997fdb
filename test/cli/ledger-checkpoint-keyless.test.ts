/**
 * Keyless ledger checkpoints through the real CLI: `record --checkpoint-keyless` signs the head
 * through a Sigstore (the local mock: Fulcio and Rekor on loopback, bundles made by @sigstore/sign)
 * with an OIDC token, the way a GitHub Actions job does; `ledger verify` and `verify` check it
 * offline against that Sigstore's trusted root, and a policy names the identity that may sign.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ImageBuilder } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startMockSigstore, type MockSigstore } from '../signatures/sigstore-mock.js';

const ME = 'release@acme.test';
const ISSUER = 'https://token.actions.example.test';

let reg: TestRegistry;
let sigstore: MockSigstore;
let work: string;
let root: string;

/** An OIDC token as the CI provider issues it (the mock Fulcio does not check its signature). */
function token(claims: Record<string, unknown>): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600, email_verified: true, ...claims })}.sig`;
}

beforeAll(async () => {
  [reg, sigstore] = await Promise.all([startRegistry({ auth: 'none' }), startMockSigstore()]);
  work = mkdtempSync(join(tmpdir(), 'kg-keyless-'));
  root = join(work, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(sigstore.trustedRoot));
});
afterAll(async () => {
  await Promise.all([reg?.stop(), sigstore?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('keyless checkpoints', () => {
  it('record signs the head keyless; ledger verify and a policy naming the identity accept it; a truncated ledger is refused', async () => {
    const b = new ImageBuilder(reg);
    await b.pushImage('acme/keyless', 'v1', { seed: 'k1' });
    await b.pushImage('acme/keyless', 'v2', { seed: 'k2' });
    const ledger = join(work, 'ledger.jsonl');
    const refs = [`${reg.host}/acme/keyless:v1`, `${reg.host}/acme/keyless:v2`];
    const env = { SIGSTORE_ID_TOKEN: token({ email: ME, iss: ISSUER }), KAMAL_GATE_FULCIO_URL: sigstore.url, KAMAL_GATE_REKOR_URL: sigstore.url, KAMAL_GATE_TRUSTED_ROOT: root };
    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli([...args, '--ledger', ledger], { cwd: work, env: { ...env, ...extra } });

    const rec = await cli(['record', ...refs, '--checkpoint-keyless']);
    expect(rec.code, rec.stdout + rec.stderr).toBe(0);
    expect(rec.stderr).toMatch(/checkpoint: ledger head seq 2 signed by keyless/);
    expect(rec.stderr + rec.stdout).not.toContain(env.SIGSTORE_ID_TOKEN);
    const cp = JSON.parse(readFileSync(`${ledger}.checkpoint`, 'utf8')) as { seq: number; signature: { kind: string } };
    expect(cp).toMatchObject({ seq: 2, signature: { kind: 'sigstore' } });

    const lv = await cli(['ledger', 'verify']);
    expect(lv.code, lv.stdout + lv.stderr).toBe(0);
    expect(lv.stdout).toMatch(new RegExp(`checkpoint: seq 2 signed .* by keyless ${ME}`));
    // without the mock's trusted root the public-good root does not vouch for it: refused, never a pass
    const foreign = await runCli(['ledger', 'verify', '--ledger', ledger], { cwd: work });
    expect(foreign.code).toBe(2);

    const policy = join(work, 'policy.yml');
    writeFileSync(policy, `version: 1\ndefaults:\n  ledger:\n    checkpoint:\n      keyless:\n        - identity: ${ME}\n          issuer: ${ISSUER}\n`);
    const ok = await cli(['verify', refs[0]!, '--policy', policy, '--format', 'json']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    writeFileSync(policy, `version: 1\ndefaults:\n  ledger:\n    checkpoint:\n      keyless:\n        - identity: someone-else@acme.test\n          issuer: ${ISSUER}\n`);
    const other = await cli(['verify', refs[0]!, '--policy', policy, '--format', 'json']);
    expect(other.code).toBe(1);
    expect(other.stdout).toContain('ledger.checkpoint');

    writeFileSync(ledger, readFileSync(ledger, 'utf8').split('\n')[0] + '\n');
    const cut = await cli(['ledger', 'verify']);
    expect(cut.code).toBe(2);
    expect(cut.stdout).toMatch(/checkpoint signed seq 2: entry 2 was removed/);
  });

  it('without a token, --checkpoint-keyless is exit 2 before anything is written, saying how to get one', async () => {
    const ledger = join(work, 'none.jsonl');
    const r = await runCli(['record', `${reg.host}/acme/keyless:v1`, '--checkpoint-keyless', '--ledger', ledger], {
      cwd: work,
      env: { KAMAL_GATE_FULCIO_URL: sigstore.url, KAMAL_GATE_REKOR_URL: sigstore.url },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/id-token: write/);
    expect(() => readFileSync(ledger)).toThrow();
  });
});
