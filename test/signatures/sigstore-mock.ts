/**
 * A local Sigstore for tests: @sigstore/mock's CA (Fulcio), CT log, Rekor and TSA served over HTTP
 * on 127.0.0.1, and the trusted_root.json that trusts exactly them (the pattern of sigstore-js's
 * unpublished mock-server `assembleTrustedRoot`). Bundles come from @sigstore/sign, never hand-written.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler } from '@sigstore/mock';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type Witness } from '@sigstore/sign';

export interface MockSigstore {
  url: string;
  /** A trusted_root.json (protobuf JSON) trusting this mock. */
  trustedRoot: Record<string, unknown>;
  /** A keyless DSSE bundle over an in-toto statement, as `cosign sign`/`attest` v3 write them. */
  signStatement(statement: object, claims: Record<string, unknown>, opts?: { tlog?: boolean; tsa?: boolean }): Promise<Record<string, unknown>>;
  /**
   * What `cosign sign --key` writes with its default Rekor upload: the signature of `payload` by
   * `key` (ECDSA/RSA with SHA-256; Ed25519 pure) logged in the mock Rekor as a hashedrekord entry, returned as
   * cosign's `dev.sigstore.cosign/bundle` annotation value (the SET and the entry).
   */
  logKeyedSignature(payload: Buffer, key: KeyObject): Promise<{ signature: string; annotation: string }>;
  close(): Promise<void>;
}

const b64 = (b: ArrayBufferView | Buffer) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

function fakeJwt(claims: Record<string, unknown>): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  // The mock Fulcio does not check the token's signature.
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600, email_verified: true, ...claims })}.sig`;
}

export async function startMockSigstore(): Promise<MockSigstore> {
  const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ctlog = await initializeCTLog(kp);
  const ca = await initializeCA(kp, ctlog);
  const tlog = await initializeTLog(url, kp);
  // The mock TSA writes genTime as a DER GeneralizedTime, which drops trailing zeros of the
  // fraction ("…05.12Z", "…05.1Z"), but @sigstore/core 4.0 parses only exactly three digits
  // (".123Z") or none: one stamp in ten (milliseconds ending in 0) failed with "invalid time". The
  // clock is set to the current whole second before each stamp, so genTime has no fraction. (A
  // whole second is never earlier than the signing certificate's notBefore, itself in seconds.)
  const tsaClock = new Date();
  const tsa = await initializeTSA(kp, tsaClock);
  const stamp = tsaHandler(tsa);
  const handlers = [fulcioHandler(ca, { strict: true, subjectClaim: 'email' }), rekorHandler(tlog), stamp];
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const h = handlers.find((x) => x.path === req.url?.split('?')[0]);
      if (!h) {
        res.writeHead(404).end();
        return;
      }
      if (h === stamp) tsaClock.setTime(Math.floor(Date.now() / 1000) * 1000);
      void h.fn(Buffer.concat(chunks).toString('utf8')).then((r) => {
        res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'application/json' });
        res.end(typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength));
      });
    });
  });
  const start = new Date(Date.now() - 3600_000).toISOString();
  const spki = kp.publicKey.export({ format: 'der', type: 'spki' });
  const log = (key: Buffer) => ({
    baseUrl: url,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: b64(key), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
    logId: { keyId: b64(createHash('sha256').update(key).digest()) },
  });
  const authority = (certs: ArrayBufferView[]) => ({
    subject: { organization: 'kamal-gate-test', commonName: 'mock' },
    uri: url,
    certChain: { certificates: certs.map((c) => ({ rawBytes: b64(c) })) },
    validFor: { start },
  });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [log(Buffer.from(tlog.publicKey))],
    ctlogs: [log(spki)],
    certificateAuthorities: [authority([ca.rootCertificate])],
    timestampAuthorities: [authority([tsa.intCertificate, tsa.rootCertificate])],
  };
  return {
    url,
    trustedRoot,
    async signStatement(statement, claims, opts = {}) {
      const signer = new FulcioSigner({ fulcioBaseURL: url, identityProvider: { getToken: async () => fakeJwt(claims) } });
      const witnesses: Witness[] = [];
      // The v1 mock Rekor logs the proposed entry verbatim: DSSE needs the intoto entry type (notes §4).
      if (opts.tlog !== false) witnesses.push(new RekorWitness({ rekorBaseURL: url, entryType: 'intoto' }));
      if (opts.tsa) witnesses.push(new TSAWitness({ tsaBaseURL: url }));
      const bundle: Bundle = await new DSSEBundleBuilder({ signer, witnesses }).create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' });
      return bundleToJSON(bundle) as Record<string, unknown>;
    },
    async logKeyedSignature(payload, key) {
      const publicKey = createPublicKey(key).export({ format: 'pem', type: 'spki' }).toString();
      const alg = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
      const signer = { sign: async (data: Buffer) => ({ signature: sign(alg, data, key), key: { $case: 'publicKey' as const, publicKey } }) };
      const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [new RekorWitness({ rekorBaseURL: url })] }).create({ data: payload });
      const e = bundle.verificationMaterial.tlogEntries[0]!;
      const annotation = {
        SignedEntryTimestamp: Buffer.from(e.inclusionPromise!.signedEntryTimestamp).toString('base64'),
        Payload: {
          body: Buffer.from(e.canonicalizedBody).toString('base64'),
          integratedTime: Number(e.integratedTime),
          logIndex: Number(e.logIndex),
          logID: Buffer.from(e.logId!.keyId).toString('hex'),
        },
      };
      const content = bundle.content as { messageSignature: { signature: Buffer } };
      return { signature: Buffer.from(content.messageSignature.signature).toString('base64'), annotation: JSON.stringify(annotation) };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
