/**
 * The signature memo (src/signatures/memo.ts) through the built CLI against a real docker-registry
 * 2.8: a warm run (the same cache directory) re-checks only where the signature was found last
 * time, and still fails exactly as a cold run does when that signature was withdrawn (the `.sig`
 * tag deleted or re-pointed, the referrer dropped from the fallback index), passes when the
 * signature moved, and is not reused under another policy. A corrupt or hostile note never makes
 * a check pass.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EffectiveRequirements } from '../../src/policy/types.js';
import { ContentCache } from '../../src/registry/cache.js';
import { RegistryClient } from '../../src/registry/client.js';
import { parseReference } from '../../src/registry/reference.js';
import { signatureChecks } from '../../src/signatures/index.js';
import { resolvedImage } from '../../src/verify.js';
import { cosignSignStatement, pushBundleReferrer, pushLegacy, signPayload, simpleSigning } from '../helpers/cosign-format.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { signatureRules, verifyReport, type VerifyReport } from '../helpers/verify-report.js';
import { startMockSigstore, type MockSigstore } from './sigstore-mock.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64' };
const ISSUER = 'https://fake.oidcissuer.com';
const me = { email: 'release@acme.test', iss: ISSUER };
const CLI_TIMEOUT = 120_000;

let reg: TestRegistry;
let sigstore: MockSigstore;
let b: ImageBuilder;
let work: string;
let root: string;
const keys: Record<'a' | 'b', { priv: KeyObject; pub: string }> = {} as never;

function policy(name: string, yaml: string): string {
  const p = join(work, name);
  writeFileSync(p, yaml);
  return p;
}

const keyPolicy = (k: 'a' | 'b') => policy(`key-${k}.yml`, `version: 1\ndefaults:\n  signatures:\n    keys: [${keys[k].pub}]\n    tlog: optional\n`);

/** One verify run with this cache directory (a fresh one for a cold run). */
async function run(
  ref: string,
  policyFile: string,
  cache = mkdtempSync(join(work, 'cold-')),
  extra: string[] = [],
): Promise<{ code: number; rules: string[]; requests: number; report: VerifyReport }> {
  const r = await verifyReport([ref, '--policy', policyFile, '--no-ledger', '--trusted-root', root, '--stats', ...extra], { cwd: work, env: { KAMAL_GATE_CACHE_DIR: cache } });
  const requests = Object.values(r.report.stats ?? {}).reduce((n, s) => n + s.requests, 0);
  return { code: r.code, rules: signatureRules(r.report), requests, report: r.report };
}

/** The run with `cache` (warm) and a cold one agree: exit code and signature findings. */
async function warmLikeCold(ref: string, policyFile: string, cache: string, extra: string[] = []): Promise<{ code: number; rules: string[]; requests: number }> {
  const warm = await run(ref, policyFile, cache, extra);
  const cold = await run(ref, policyFile, undefined, extra);
  expect({ code: warm.code, rules: warm.rules }).toEqual({ code: cold.code, rules: cold.rules });
  return warm;
}

async function signLegacy(img: PushedImage, key: KeyObject): Promise<void> {
  const payload = simpleSigning(`${reg.host}/${img.repo}`, img.digest);
  await pushLegacy(b, img.repo, img.digest, [{ payload, annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, key) } }]);
}

const sigTag = (img: PushedImage) => `${img.digest.replace(':', '-')}.sig`;

async function deleteSig(img: PushedImage): Promise<void> {
  const m = await b.getManifest(img.repo, sigTag(img));
  await b.deleteManifest(img.repo, m.computedDigest);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-sig-memo-'));
  [reg, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
  b = new ImageBuilder(reg);
  root = join(work, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(sigstore.trustedRoot));
  for (const k of ['a', 'b'] as const) {
    const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pub = join(work, `${k}.pub`);
    writeFileSync(pub, kp.publicKey.export({ format: 'pem', type: 'spki' }));
    keys[k] = { priv: kp.privateKey, pub };
  }
});

afterAll(async () => {
  await Promise.all([reg?.stop(), sigstore?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('warm runs re-check where the signature was found', { timeout: CLI_TIMEOUT }, () => {
  it('a deleted .sig tag fails warm as it fails cold; the warm pass before it asked fewer requests', async () => {
    const img = await b.pushImage('memo/deleted', 'v1', { platforms: [AMD64, ARM64] });
    await signLegacy(img, keys.a.priv);
    const p = keyPolicy('a');
    const cache = mkdtempSync(join(work, 'warm-'));
    const cold = await run(img.ref, p, cache);
    expect(cold).toMatchObject({ code: 0, rules: ['signature.verified:ok'] });
    const warm = await run(img.ref, p, cache);
    expect(warm).toMatchObject({ code: 0, rules: ['signature.verified:ok'] });
    // The memo was used: the .sig tag (conditionally), not the other places.
    expect(warm.requests).toBeLessThan(cold.requests);
    expect(readdirSync(join(cache, 'memo'))).toHaveLength(1);

    await deleteSig(img);
    const gone = await warmLikeCold(img.ref, p, cache);
    expect(gone).toMatchObject({ code: 1, rules: ['signature.missing:fail'] });
    // And again, from the memo the failing run left.
    expect(await warmLikeCold(img.ref, p, cache)).toMatchObject({ code: 1, rules: ['signature.missing:fail'] });
  });

  it('a .sig tag re-pointed to another signer fails warm as cold (signature.untrusted_key)', async () => {
    const img = await b.pushImage('memo/repointed', 'v1', { platforms: [AMD64] });
    await signLegacy(img, keys.a.priv);
    const p = keyPolicy('a');
    const cache = mkdtempSync(join(work, 'warm-'));
    expect(await run(img.ref, p, cache)).toMatchObject({ code: 0 });
    await signLegacy(img, keys.b.priv); // the same tag, now another key's signature
    expect(await warmLikeCold(img.ref, p, cache)).toMatchObject({ code: 1, rules: ['signature.untrusted_key:fail'] });
  });

  it('a signature that moved from .sig to a referrer passes warm; a withdrawn referrer (dropped from the fallback index) fails warm as cold', async () => {
    const img = await b.pushImage('memo/moved', 'v1', { platforms: [AMD64] });
    await signLegacy(img, keys.a.priv);
    // Either signer satisfies the policy: key a, or the keyless identity.
    const p = policy(
      'key-or-keyless.yml',
      `version: 1\ndefaults:\n  signatures:\n    keys: [${keys.a.pub}]\n    keyless:\n      - identity: ${me.email}\n        issuer: ${ISSUER}\n    tlog: optional\n`,
    );
    const cache = mkdtempSync(join(work, 'warm-'));
    expect(await run(img.ref, p, cache)).toMatchObject({ code: 0, rules: ['signature.verified:ok'] });

    await deleteSig(img);
    const subject = { digest: img.digest, size: img.size, mediaType: img.mediaType };
    await pushBundleReferrer(b, img.repo, subject, await sigstore.signStatement(cosignSignStatement(img.digest), me));
    expect(await warmLikeCold(img.ref, p, cache)).toMatchObject({ code: 0, rules: ['signature.verified:ok'] });
    expect(await run(img.ref, p, cache)).toMatchObject({ code: 0, rules: ['signature.verified:ok'] });

    // Withdrawn: the fallback tag now lists no referrer; the referrer manifest is still in the registry (and the cache).
    await b.pushManifest(img.repo, img.digest.replace(':', '-'), { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
    expect(await warmLikeCold(img.ref, p, cache)).toMatchObject({ code: 1, rules: ['signature.missing:fail'] });
  });

  it('another policy (another key) does not reuse the memo: it fails warm as cold', async () => {
    const img = await b.pushImage('memo/policy', 'v1', { platforms: [AMD64] });
    await signLegacy(img, keys.a.priv);
    const cache = mkdtempSync(join(work, 'warm-'));
    expect(await run(img.ref, keyPolicy('a'), cache)).toMatchObject({ code: 0 });
    expect(await warmLikeCold(img.ref, keyPolicy('b'), cache)).toMatchObject({ code: 1, rules: ['signature.untrusted_key:fail'] });
    expect(readdirSync(join(cache, 'memo'))).toHaveLength(2);
    // A key file edited in place is another policy too: keys count by their content (a.pub now
    // holds b's key, the policy of the second run, whose note it shares), also within one process.
    writeFileSync(keys.a.pub, createPublicKey(keys.b.priv).export({ format: 'pem', type: 'spki' }));
    try {
      expect(await warmLikeCold(img.ref, keyPolicy('a'), cache)).toMatchObject({ code: 1, rules: ['signature.untrusted_key:fail'] });
      expect(readdirSync(join(cache, 'memo'))).toHaveLength(2);
    } finally {
      writeFileSync(keys.a.pub, createPublicKey(keys.a.priv).export({ format: 'pem', type: 'spki' }));
    }
  });

  it('a corrupt or hostile note never makes a check pass', async () => {
    const signed = await b.pushImage('memo/hostile', 'signed', { platforms: [AMD64] });
    await signLegacy(signed, keys.a.priv);
    const unsigned = await b.pushImage('memo/hostile', 'unsigned', { platforms: [AMD64] });
    const sigManifest = (await b.getManifest(signed.repo, sigTag(signed))).computedDigest;
    const p = keyPolicy('a');
    const cache = mkdtempSync(join(work, 'warm-'));
    // Both verdicts are in the cache (the signed image's signature manifest and layer among its content).
    expect(await run(signed.ref, p, cache)).toMatchObject({ code: 0 });
    expect(await run(unsigned.ref, p, cache)).toMatchObject({ code: 1, rules: ['signature.missing:fail'] });
    const notes = readdirSync(join(cache, 'memo'));
    expect(notes).toHaveLength(2);
    const hostile = [
      'not json',
      JSON.stringify({ v: 1, places: [{ kind: 'sig', at: signed.digest, manifest: sigManifest }] }), // another image's place
      JSON.stringify({ v: 1, places: [{ kind: 'sig', at: unsigned.digest, manifest: sigManifest }] }), // a signature manifest this tag never pointed to
      JSON.stringify({
        v: 1,
        places: [
          { kind: 'referrers', at: unsigned.digest },
          { kind: 'buildkit', at: unsigned.digest },
        ],
        tags: 0,
      }),
      JSON.stringify({ v: 2, places: 'everywhere' }),
    ];
    for (const note of hostile) {
      for (const n of notes) writeFileSync(join(cache, 'memo', n), note);
      expect(await run(unsigned.ref, p, cache), note).toMatchObject({ code: 1, rules: ['signature.missing:fail'] });
      for (const n of notes) writeFileSync(join(cache, 'memo', n), note);
      expect(await run(signed.ref, p, cache), note).toMatchObject({ code: 0, rules: ['signature.verified:ok'] });
    }
  });

  it('a tag list that lags behind (no .sig in it) never fails an enforced signature: every place is looked up again', async () => {
    const img = await b.pushImage('memo/lagging', 'v1', { platforms: [AMD64] });
    const dir = mkdtempSync(join(work, 'lag-'));
    const req = (mode: 'enforce' | 'warn'): EffectiveRequirements => ({
      ref: '',
      repository: '',
      role: 'app',
      rules: [],
      groups: {
        ledger: { value: { mode: 'off', trust: 'tofu' }, origin: { rule: 'test' } },
        signatures: { value: { mode, count: 1, keys: [{ path: keys.a.pub, resolved: keys.a.pub }], keyless: [], tlog: 'optional' }, origin: { rule: 'test' } },
      },
    });
    const check = async (mode: 'enforce' | 'warn') => {
      const client = new RegistryClient({ cache: new ContentCache(dir) });
      // A registry whose tag list has not caught up with the signature just pushed.
      client.listTags = async () => [];
      try {
        const r = await client.resolve(parseReference(img.ref), [AMD64]);
        const res = await signatureChecks(client, resolvedImage({ ref: img.ref, role: 'app', name: 'web', platforms: [AMD64] }, r), req(mode), { trustedRoot: root, cacheDir: dir });
        return res.findings.map((f) => f.rule);
      } finally {
        await client.close();
      }
    };
    expect(await check('enforce')).toEqual(['signature.missing']); // unsigned: a memo with no place
    await signLegacy(img, keys.a.priv);
    expect(await check('enforce')).toEqual(['signature.verified']);
    expect(await check('enforce')).toEqual(['signature.verified']); // from the memo
  });
});
