/**
 * Signed ledger checkpoints (issue 12): keys made by `openssl genpkey`, signatures checked by
 * openssl in both directions, cosign-format encrypted keys, and keyless signing against the local
 * mock Sigstore with a local GitHub Actions token endpoint.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, LedgerUnavailableError, UsageError } from '../../src/errors.js';
import {
  CHECKPOINT_SCHEMA,
  checkpointPayload,
  formatSignedCheckpoint,
  loadCheckpointSigner,
  parseSignedCheckpoint,
  verifyCheckpointSignature,
  type CheckpointBody,
  type CheckpointIdentity,
  type SignedCheckpoint,
} from '../../src/ledger/checkpoint-sign.js';
import { COSIGN_LABEL, encryptCosignKey } from '../helpers/cosign-keys.js';
import { startMockSigstore, type MockSigstore } from '../signatures/sigstore-mock.js';

const h = (c: string) => `sha256:${c.repeat(64)}`;
const BODY: CheckpointBody = { schema: CHECKPOINT_SCHEMA, ledger: h('a'), seq: 42, hash: h('b'), time: '2026-03-01T12:00:00.000Z' };
const TAMPERS: Array<[string, Partial<CheckpointBody>]> = [
  ['seq', { seq: 41 }],
  ['hash', { hash: h('c') }],
  ['ledger', { ledger: h('d') }],
  ['time', { time: '2026-03-01T12:00:00.001Z' }],
];
const PASSPHRASE = 'correct horse battery staple';

let dir: string;
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const keyPath = (name: string) => join(dir, name);
const publicOf = (name: string): KeyObject => createPublicKey(readFileSync(keyPath(`${name}.pub`)));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-checkpoint-'));
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath('p256.pem'));
  openssl('genpkey', '-algorithm', 'ED25519', '-out', keyPath('ed25519.pem'));
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyPath('rsa.pem'));
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath('other.pem'));
  openssl('genpkey', '-algorithm', 'ED448', '-out', keyPath('ed448.pem'));
  for (const k of ['p256', 'ed25519', 'rsa', 'other']) openssl('pkey', '-in', keyPath(`${k}.pem`), '-pubout', '-out', keyPath(`${k}.pub`));
  openssl('ec', '-in', keyPath('p256.pem'), '-out', keyPath('p256-sec1.pem'));
  writeFileSync(keyPath('payload'), checkpointPayload(BODY));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function signWithFile(name: string, env: NodeJS.ProcessEnv = {}): Promise<SignedCheckpoint> {
  return (await loadCheckpointSigner({ keyFile: keyPath(name), env })).sign(BODY);
}

describe('the signed payload', () => {
  it('is the canonical JSON of exactly the five body fields', () => {
    const withExtra = { ...BODY, signature: { kind: 'key' } } as unknown as CheckpointBody;
    const want = `{"hash":"${h('b')}","ledger":"${h('a')}","schema":"kamal-gate/checkpoint/v1","seq":42,"time":"2026-03-01T12:00:00.000Z"}`;
    expect(checkpointPayload(BODY).toString()).toBe(want);
    expect(checkpointPayload(withExtra).toString()).toBe(want);
  });
});

describe.each([
  ['p256', 'ecdsa-p256-sha256'],
  ['ed25519', 'ed25519'],
  ['rsa', 'rsa-pkcs1v15-sha256'],
])('%s key from openssl genpkey', (name, algorithm) => {
  const trust = () => ({ keys: [{ source: `${name}.pub`, key: publicOf(name) }] });

  it('signs a checkpoint that verifies against the trusted key, and survives the stored form', async () => {
    const cp = await signWithFile(`${name}.pem`);
    expect(cp.signature).toMatchObject({ kind: 'key', algorithm });
    const stored = parseSignedCheckpoint(formatSignedCheckpoint(cp), 'checkpoint.json');
    const r = await verifyCheckpointSignature(stored, trust());
    expect(r).toEqual({ ok: true, anchored: true, signer: expect.stringContaining(`${name}.pub`) });
    // Without trust only consistency is shown, and the result says so.
    const bare = await verifyCheckpointSignature(stored);
    expect(bare.ok && bare.anchored).toBe(false);
    expect(bare.ok && bare.signer).toMatch(/unanchored/);
  });

  it('makes signatures openssl verifies, and verifies signatures openssl makes', async () => {
    const cp = await signWithFile(`${name}.pem`);
    if (cp.signature.kind !== 'key') throw new Error('expected a key signature');
    const sigFile = keyPath(`${name}.sig`);
    writeFileSync(sigFile, Buffer.from(cp.signature.value, 'base64'));
    const pub = keyPath(`${name}.pub`);
    const payload = keyPath('payload');
    const check =
      name === 'ed25519' ? ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', payload, '-sigfile', sigFile] : ['dgst', '-sha256', '-verify', pub, '-signature', sigFile, payload];
    expect(openssl(...check).toString()).toMatch(/Verified OK|Signature Verified Successfully/);

    const theirs = name === 'ed25519' ? openssl('pkeyutl', '-sign', '-inkey', keyPath(`${name}.pem`), '-rawin', '-in', payload) : openssl('dgst', '-sha256', '-sign', keyPath(`${name}.pem`), payload);
    const forged = { ...cp, signature: { ...cp.signature, value: theirs.toString('base64') } };
    expect((await verifyCheckpointSignature(forged, trust())).ok).toBe(true);
    const garbage = { ...cp, signature: { ...cp.signature, value: Buffer.alloc(theirs.length, 1).toString('base64') } };
    expect(await verifyCheckpointSignature(garbage, trust())).toEqual({ ok: false, reason: expect.stringMatching(/does not verify/) });
  });

  it.each(TAMPERS)('fails when %s is changed after signing, with or without trust', async (_field, change) => {
    const cp = await signWithFile(`${name}.pem`);
    const tampered = { ...cp, ...change };
    for (const t of [trust(), undefined]) {
      const r = await verifyCheckpointSignature(tampered, t);
      expect(r).toEqual({ ok: false, reason: expect.stringMatching(/altered after it was signed/) });
    }
  });

  it('fails against another trusted key, and for a re-signed checkpoint carrying the attacker key', async () => {
    const cp = await signWithFile(`${name}.pem`);
    const r = await verifyCheckpointSignature(cp, { keys: [{ source: 'other.pub', key: publicOf('other') }] });
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/not a trusted checkpoint key .*other\.pub/) });
    // An attacker who rewrites the ledger signs a new checkpoint with their own key: consistent, but not trusted.
    const resigned = await (await loadCheckpointSigner({ keyFile: keyPath('other.pem'), env: {} })).sign({ ...BODY, seq: 7 });
    expect((await verifyCheckpointSignature(resigned)).ok).toBe(true);
    expect((await verifyCheckpointSignature(resigned, trust())).ok).toBe(false);
    // Only keyless identities trusted: a key signature is not anchored by them.
    expect((await verifyCheckpointSignature(cp, { identities: [{ subject: 'x@y', issuer: 'https://i' }] })).ok).toBe(false);
  });
});

describe('key signature consistency', () => {
  it('rejects a keyId that is not the embedded key, an algorithm that is not the key, a swapped public key', async () => {
    const cp = await signWithFile('p256.pem');
    if (cp.signature.kind !== 'key') throw new Error('expected a key signature');
    const other = readFileSync(keyPath('other.pub'), 'utf8');
    const cases: SignedCheckpoint[] = [
      { ...cp, signature: { ...cp.signature, keyId: h('e') } },
      { ...cp, signature: { ...cp.signature, algorithm: 'ecdsa-p384-sha384' } },
      { ...cp, signature: { ...cp.signature, publicKey: other } },
    ];
    for (const c of cases) expect((await verifyCheckpointSignature(c)).ok).toBe(false);
  });

  it('never throws on garbage', async () => {
    const cp = await signWithFile('p256.pem');
    const bad: unknown[] = [null, 7, {}, { ...cp, signature: null }, { ...cp, extra: 1 }, { ...cp, signature: { kind: 'sigstore', bundle: { mediaType: 'x' } } }];
    for (const b of bad) {
      const r = await verifyCheckpointSignature(b as SignedCheckpoint);
      expect(r).toEqual({ ok: false, reason: expect.stringMatching(/malformed checkpoint/) });
    }
  });
});

describe('key sources', () => {
  it('reads KAMAL_GATE_CHECKPOINT_KEY as the PEM itself, as a one-line secret with \\n, or as a path', async () => {
    const pem = readFileSync(keyPath('ed25519.pem'), 'utf8');
    const trust = { keys: [{ source: 'ed25519.pub', key: publicOf('ed25519') }] };
    for (const value of [pem, pem.replace(/\n/g, '\\n'), keyPath('ed25519.pem')]) {
      const signer = await loadCheckpointSigner({ env: { KAMAL_GATE_CHECKPOINT_KEY: value } });
      expect(signer.describe).toMatch(/KAMAL_GATE_CHECKPOINT_KEY/);
      expect(signer.describe).not.toContain('PRIVATE');
      expect((await verifyCheckpointSignature(await signer.sign(BODY), trust)).ok).toBe(true);
    }
    // --checkpoint-key comes first.
    const first = await loadCheckpointSigner({ keyFile: keyPath('rsa.pem'), env: { KAMAL_GATE_CHECKPOINT_KEY: pem } });
    expect(first.describe).toMatch(/--checkpoint-key .*rsa\.pem/);
  });

  it('accepts an unencrypted SEC1 "EC PRIVATE KEY"', async () => {
    expect(readFileSync(keyPath('p256-sec1.pem'), 'utf8')).toContain('BEGIN EC PRIVATE KEY');
    const cp = await signWithFile('p256-sec1.pem');
    expect(await verifyCheckpointSignature(cp, { keys: [{ source: 'p256.pub', key: publicOf('p256') }] })).toMatchObject({ ok: true });
  });

  it('refuses a public key, an unsupported key type, a missing file and no key at all, as UsageError', async () => {
    const attempts: Array<[() => Promise<unknown>, RegExp]> = [
      [() => loadCheckpointSigner({ keyFile: keyPath('p256.pub'), env: {} }), /public key .*not a private key/],
      [() => loadCheckpointSigner({ keyFile: keyPath('ed448.pem'), env: {} }), /unsupported key type ed448/],
      [() => loadCheckpointSigner({ keyFile: keyPath('absent.pem'), env: {} }), /no such file/],
      [() => loadCheckpointSigner({ keyFile: keyPath('payload'), env: {} }), /no PEM private key/],
      [() => loadCheckpointSigner({ env: {} }), /no checkpoint signing key.*KAMAL_GATE_CHECKPOINT_KEY/],
    ];
    for (const [load, message] of attempts) {
      const e = await load().then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).exitCode).toBe(2);
      expect((e as Error).message).toMatch(message);
    }
  });

  it('refuses to sign a malformed body', async () => {
    const signer = await loadCheckpointSigner({ keyFile: keyPath('p256.pem'), env: {} });
    await expect(signer.sign({ ...BODY, seq: 0 })).rejects.toThrow(LedgerError);
    await expect(signer.sign({ ...BODY, seq: 1 })).rejects.toThrow(/hash must equal ledger/);
  });
});

describe('cosign encrypted private keys', () => {
  const generated = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const trust = { keys: [{ source: 'cosign.pub', key: generated.publicKey }] };

  it.each([
    ['ENCRYPTED SIGSTORE PRIVATE KEY', undefined],
    ['ENCRYPTED COSIGN PRIVATE KEY', COSIGN_LABEL],
  ])('signs with a %s and COSIGN_PASSWORD', async (label, writeLabel) => {
    const file = keyPath(`cosign-${writeLabel ?? 'sigstore'}.key`);
    writeFileSync(file, encryptCosignKey(generated.privateKey, PASSPHRASE, writeLabel));
    expect(readFileSync(file, 'utf8')).toContain(`BEGIN ${label}`);
    const cp = await (await loadCheckpointSigner({ keyFile: file, env: { COSIGN_PASSWORD: PASSPHRASE } })).sign(BODY);
    expect(await verifyCheckpointSignature(cp, trust)).toMatchObject({ ok: true, anchored: true });
    expect((await verifyCheckpointSignature({ ...cp, seq: 43 }, trust)).ok).toBe(false);
  });

  it('an Ed25519 key in cosign format works too', async () => {
    const ed = generateKeyPairSync('ed25519');
    const pem = encryptCosignKey(ed.privateKey, '');
    const cp = await (await loadCheckpointSigner({ env: { KAMAL_GATE_CHECKPOINT_KEY: pem, COSIGN_PASSWORD: '' } })).sign(BODY);
    expect(await verifyCheckpointSignature(cp, { keys: [{ source: 'ed', key: ed.publicKey }] })).toMatchObject({ ok: true });
  });

  it('a wrong or missing passphrase is a UsageError that shows neither the passphrase nor the key', async () => {
    const file = keyPath('cosign-wrong.key');
    const pem = encryptCosignKey(generated.privateKey, PASSPHRASE);
    writeFileSync(file, pem);
    const wrong = 'not the passphrase at all';
    const der = generated.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    for (const [env, message] of [
      [{ COSIGN_PASSWORD: wrong }, /wrong passphrase in COSIGN_PASSWORD/],
      [{}, /set COSIGN_PASSWORD/],
    ] as const) {
      for (const load of [() => loadCheckpointSigner({ keyFile: file, env }), () => loadCheckpointSigner({ env: { ...env, KAMAL_GATE_CHECKPOINT_KEY: pem } })]) {
        const e = await load().then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(e).toBeInstanceOf(UsageError);
        const shown = `${String(e)} ${(e as Error).stack ?? ''} ${JSON.stringify(e)} ${String((e as Error).cause ?? '')}`;
        expect((e as Error).message).toMatch(message);
        for (const secret of [wrong, PASSPHRASE, der.slice(0, 40), pem.split('\n')[1]!]) expect(shown).not.toContain(secret);
      }
    }
  });

  it('a damaged envelope is a clear error', async () => {
    const body = Buffer.from(JSON.stringify({ kdf: { name: 'scrypt', params: { N: 1 << 30, r: 8, p: 1 }, salt: 'AA==' }, cipher: { name: 'nacl/secretbox', nonce: 'AA==' }, ciphertext: 'AA==' }));
    const pem = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${body.toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
    await expect(loadCheckpointSigner({ env: { KAMAL_GATE_CHECKPOINT_KEY: pem, COSIGN_PASSWORD: 'x' } })).rejects.toThrow(/scrypt parameters .* out of range/);
  });
});

describe('parseSignedCheckpoint', () => {
  it('reads what formatSignedCheckpoint writes', async () => {
    const cp = await signWithFile('p256.pem');
    expect(parseSignedCheckpoint(formatSignedCheckpoint(cp), 'x')).toEqual(cp);
  });

  it('names where on anything malformed, and caps the size', async () => {
    const cp = await signWithFile('p256.pem');
    const sig = cp.signature as Extract<SignedCheckpoint['signature'], { kind: 'key' }>;
    const bad: Array<[string, string]> = [
      ['{', 'not JSON'],
      ['[]', 'not a JSON object'],
      [JSON.stringify({ ...cp, schema: 'kamal-gate/checkpoint/v2' }), 'schema'],
      [JSON.stringify({ ...cp, seq: 1.5 }), 'seq'],
      [JSON.stringify({ ...cp, seq: '42' }), 'seq'],
      [JSON.stringify({ ...cp, hash: 'sha256:abc' }), 'hash'],
      [JSON.stringify({ ...cp, ledger: h('A') }), 'ledger'],
      [JSON.stringify({ ...cp, time: 'yesterday' }), 'time'],
      [JSON.stringify({ ...cp, time: '2026-02-30T25:00:00Z' }), 'time'],
      [JSON.stringify({ ...cp, note: 'hi' }), 'unknown field "note"'],
      [JSON.stringify({ ...cp, signature: { ...sig, extra: 1 } }), 'unknown field "extra"'],
      [JSON.stringify({ ...cp, signature: { ...sig, algorithm: 'md5' } }), 'algorithm'],
      [JSON.stringify({ ...cp, signature: { ...sig, value: 'not base64!' } }), 'value'],
      [JSON.stringify({ ...cp, signature: { ...sig, publicKey: readFileSync(keyPath('p256.pem'), 'utf8') } }), 'publicKey'],
      [JSON.stringify({ ...cp, signature: { kind: 'gpg' } }), 'kind'],
      [JSON.stringify({ ...cp, signature: { kind: 'sigstore', bundle: { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' } } }), 'not a valid Sigstore bundle'],
      [JSON.stringify({ ...cp, pad: 'x'.repeat(300 * 1024) }), 'larger than 256 KiB'],
    ];
    for (const [text, why] of bad) {
      const e = (() => {
        try {
          parseSignedCheckpoint(text, '.kamal/ledger.checkpoint.json');
        } catch (x) {
          return x;
        }
        return undefined;
      })();
      expect(e, why).toBeInstanceOf(LedgerError);
      expect((e as Error).message).toContain('.kamal/ledger.checkpoint.json: not a valid signed ledger checkpoint');
      expect((e as Error).message).toContain(why);
    }
  });
});

describe('keyless checkpoints (@sigstore/sign against the mock Sigstore)', () => {
  let sigstore: MockSigstore;
  let tokenServer: Server;
  let tokenUrl: string;
  let rootPath: string;
  const requests: Array<{ auth?: string; audience: string | null }> = [];
  const ISSUER = 'https://token.actions.githubusercontent.com';
  const ME = 'release@acme.test';
  const BEARER = 'gha-request-token-0123456789';
  let tokenStatus = 200;

  const jwt = (claims: Record<string, unknown>) => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    // The mock Fulcio does not check the signature (test/signatures/sigstore-mock.ts fakeJwt).
    return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600, email_verified: true, ...claims })}.sig`;
  };
  const env = () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: `${tokenUrl}/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: BEARER });
  const keyless = (e: NodeJS.ProcessEnv = env()) => loadCheckpointSigner({ env: e, keyless: true, fulcioUrl: sigstore.url, rekorUrl: sigstore.url });
  const trust = (identities: CheckpointIdentity[] = [{ subject: ME, issuer: ISSUER }]) => ({ trustedRoot: rootPath, identities });

  beforeAll(async () => {
    sigstore = await startMockSigstore();
    rootPath = join(dir, 'trusted_root.json');
    writeFileSync(rootPath, JSON.stringify(sigstore.trustedRoot));
    tokenServer = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      requests.push({ auth: req.headers.authorization, audience: u.searchParams.get('audience') });
      if (req.headers.authorization !== `Bearer ${BEARER}` || tokenStatus !== 200) {
        res.writeHead(tokenStatus === 200 ? 401 : tokenStatus).end('{"message":"no"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: jwt({ email: ME, iss: ISSUER }) }));
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', () => r()));
    tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await sigstore?.close();
    await new Promise<void>((r) => tokenServer?.close(() => r()));
  });

  it('signs with a GitHub Actions token; verifies with a matching identity, fails with another or a changed payload', async () => {
    const signer = await keyless();
    expect(signer.describe).toMatch(/keyless .*GitHub Actions/);
    const cp = parseSignedCheckpoint(formatSignedCheckpoint(await signer.sign(BODY)), 'cp.json');
    expect(requests.at(-1)).toEqual({ auth: `Bearer ${BEARER}`, audience: 'sigstore' });
    const bundle = cp.signature.kind === 'sigstore' ? cp.signature.bundle : {};
    expect((bundle.verificationMaterial as { tlogEntries: unknown[] }).tlogEntries).toHaveLength(1);

    expect(await verifyCheckpointSignature(cp, trust())).toEqual({ ok: true, anchored: true, signer: `keyless ${ME} from ${ISSUER}` });
    expect(await verifyCheckpointSignature(cp, trust([{ subjectRegExp: 'release@acme\\.test', issuerRegExp: 'https://token\\..*' }]))).toMatchObject({ ok: true });
    expect(await verifyCheckpointSignature(cp, { trustedRoot: rootPath })).toMatchObject({ ok: true, anchored: false, signer: expect.stringMatching(/unanchored/) });

    for (const other of [{ subject: 'mallory@acme.test', issuer: ISSUER }, { subject: ME, issuer: 'https://accounts.google.com' }, { subjectRegExp: 'release' }]) {
      expect(await verifyCheckpointSignature(cp, trust([other]))).toEqual({ ok: false, reason: expect.stringMatching(/not a trusted checkpoint identity/) });
    }
    for (const [, change] of TAMPERS) {
      expect(await verifyCheckpointSignature({ ...cp, ...change }, trust())).toEqual({ ok: false, reason: expect.stringMatching(/altered after it was signed/) });
    }
    // A bundle whose digest was rewritten to the new payload: the signature itself no longer verifies.
    const changed = { ...BODY, seq: 43 };
    const forged = structuredClone(bundle) as { messageSignature: { messageDigest: { digest: string } } };
    forged.messageSignature.messageDigest.digest = createHash('sha256').update(checkpointPayload(changed)).digest('base64');
    const r = await verifyCheckpointSignature({ ...cp, ...changed, signature: { kind: 'sigstore', bundle: forged as unknown as Record<string, unknown> } }, trust());
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/does not verify/) });
    // Keys only: a keyless signature is not anchored by them. The public-good root does not trust the mock CA.
    expect((await verifyCheckpointSignature(cp, { keys: [{ source: 'p256.pub', key: publicOf('p256') }], trustedRoot: rootPath })).ok).toBe(false);
    expect(await verifyCheckpointSignature(cp, { identities: [{ subject: ME, issuer: ISSUER }] })).toEqual({ ok: false, reason: expect.stringMatching(/not issued by a CA of the trusted root/) });
  });

  it('signs with SIGSTORE_ID_TOKEN', async () => {
    const cp = await (await keyless({ SIGSTORE_ID_TOKEN: jwt({ email: 'ops@acme.test', iss: ISSUER }) })).sign(BODY);
    expect(await verifyCheckpointSignature(cp, trust([{ subject: 'ops@acme.test', issuer: ISSUER }]))).toMatchObject({ ok: true, anchored: true });
  });

  it('without a token says how to get one; a refused token request says which permission; tokens never show', async () => {
    await expect(keyless({})).rejects.toThrow(/id-token: write/);
    await expect(keyless({ SIGSTORE_ID_TOKEN: 'not-a-jwt' })).rejects.toThrow(UsageError);
    tokenStatus = 403;
    try {
      const e = await (await keyless()).sign(BODY).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(/HTTP 403.*id-token: write/);
      expect((e as Error).message).not.toContain(BEARER);
    } finally {
      tokenStatus = 200;
    }
    await expect(loadCheckpointSigner({ env: env(), keyless: true, fulcioUrl: 'http://fulcio.example.com' })).rejects.toThrow(/https/);
  });

  it('a Rekor that refuses is an error naming Rekor; an unreachable token endpoint is exit 3', async () => {
    const s = await loadCheckpointSigner({ env: env(), keyless: true, fulcioUrl: sigstore.url, rekorUrl: `${sigstore.url}/nowhere` });
    await expect(s.sign(BODY)).rejects.toThrow(/Rekor .*refused/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const u = await loadCheckpointSigner({
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/t`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: BEARER },
      keyless: true,
      fulcioUrl: sigstore.url,
      rekorUrl: sigstore.url,
    });
    await expect(u.sign(BODY)).rejects.toThrow(LedgerUnavailableError);
  });
});

// The private key objects parse back as what openssl wrote (guards the fixture itself).
it('openssl fixtures are the key types under test', () => {
  expect(createPrivateKey(readFileSync(keyPath('p256.pem'))).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  expect(createPrivateKey(readFileSync(keyPath('rsa.pem'))).asymmetricKeyType).toBe('rsa');
});
