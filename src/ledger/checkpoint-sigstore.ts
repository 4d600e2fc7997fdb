/**
 * Keyless (Sigstore) checkpoint signatures: signing with a Fulcio certificate for the CI's OIDC
 * identity, logged in Rekor (a message-signature bundle over the checkpoint payload, as
 * `cosign sign-blob --bundle` makes), and verifying such a bundle offline against a trusted root.
 *
 * The OIDC token comes from SIGSTORE_ID_TOKEN, else from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL
 * and ACTIONS_ID_TOKEN_REQUEST_TOKEN, audience "sigstore"; the job needs `permissions: id-token:
 * write`). Fulcio and Rekor default to the public-good instances; KAMAL_GATE_FULCIO_URL and
 * KAMAL_GATE_REKOR_URL, or the options, point at a private deployment. Tokens are registered as
 * secrets, so no message shows them.
 */
import { createHash } from 'node:crypto';
import { bundleFromJSON, bundleToJSON, type Bundle } from '@sigstore/bundle';
import { HashAlgorithm, type TrustedRoot } from '@sigstore/protobuf-specs';
import { VerificationError, Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { request } from 'undici';
import { KamalGateError, LedgerUnavailableError, UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { anchored, exactly, foundIdentity, type FoundIdentity } from '../signatures/identity.js';
import { tlogSignerMismatch } from '../signatures/tlog-signer.js';
import { loadTrustedRoot } from '../signatures/trust.js';
import { checkpointPayload, type CheckpointBody, type CheckpointIdentity, type CheckpointSigner, type CheckpointTrust, type CheckpointVerification } from './checkpoint-format.js';

const DEFAULT_FULCIO_URL = 'https://fulcio.sigstore.dev';
const DEFAULT_REKOR_URL = 'https://rekor.sigstore.dev';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const TIMEOUT_MS = 30_000;
const TOKEN_MAX_BYTES = 64 * 1024;

export interface KeylessOptions {
  env: NodeJS.ProcessEnv;
  fulcioUrl?: string;
  rekorUrl?: string;
}

/** A base URL tokens may be sent to: https, or plain http on loopback only (tests, local mocks). */
function serviceUrl(value: string, what: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`the ${what} URL is not a URL`);
  }
  if (u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname))) return value.replace(/\/+$/, '');
  throw new UsageError(`the ${what} URL must use https:// (plain http only on loopback): an identity token would travel in the clear`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Refuses a token Fulcio cannot use, before it is sent anywhere; never quotes the token. */
function checkToken(token: string, from: string): void {
  const parts = token.split('.');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    claims = undefined;
  }
  if (parts.length !== 3 || !isObject(claims)) throw new UsageError(`${from} does not hold an OIDC identity token (a JWT)`);
  if (typeof claims.email === 'string' && !claims.email_verified) throw new UsageError(`${from}: the token's email is not verified by its issuer, so Fulcio will not certify it`);
  if (typeof claims.email !== 'string' && typeof claims.sub !== 'string') throw new UsageError(`${from}: the token names no subject (no "sub" or "email" claim)`);
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) {
    throw new UsageError(`${from}: the identity token expired at ${new Date(claims.exp * 1000).toISOString()}; get a fresh one`);
  }
}

async function readCapped(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > max) throw new LedgerUnavailableError(`the GitHub Actions token endpoint answered more than ${max / 1024} KiB`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** GitHub Actions' OIDC token for audience "sigstore". */
async function githubActionsToken(endpoint: string, bearer: string): Promise<string> {
  const u = new URL(endpoint);
  u.searchParams.set('audience', 'sigstore');
  const from = 'the GitHub Actions OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)';
  let status: number;
  let text: string;
  try {
    const res = await request(u, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' }, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    status = res.statusCode;
    text = await readCapped(res.body, TOKEN_MAX_BYTES);
  } catch (e) {
    if (e instanceof KamalGateError) throw e;
    const code = (e as { code?: unknown }).code;
    throw new LedgerUnavailableError(`could not get an OIDC token from ${from}: ${typeof code === 'string' ? code : e instanceof Error ? e.message : String(e)}`);
  }
  if (status >= 400 && status < 500) {
    throw new UsageError(`${from} refused the request (HTTP ${status}): give the job \`permissions: id-token: write\`, or set SIGSTORE_ID_TOKEN`);
  }
  if (status !== 200) throw new LedgerUnavailableError(`${from} answered HTTP ${status}; try again later`);
  let value: unknown;
  try {
    value = (JSON.parse(text) as { value?: unknown }).value;
  } catch {
    value = undefined;
  }
  if (typeof value !== 'string' || !value) throw new LedgerUnavailableError(`${from} answered without a token ("value")`);
  registerSecret(value);
  checkToken(value, 'the GitHub Actions OIDC token');
  return value;
}

type TokenSource = { describe: string; get(): Promise<string> };

function tokenSource(env: NodeJS.ProcessEnv): TokenSource {
  const direct = env.SIGSTORE_ID_TOKEN?.trim();
  if (direct) {
    registerSecret(direct);
    checkToken(direct, 'SIGSTORE_ID_TOKEN');
    return { describe: 'OIDC token from SIGSTORE_ID_TOKEN', get: async () => direct };
  }
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (url && bearer) {
    registerSecret(bearer);
    serviceUrl(url, 'ACTIONS_ID_TOKEN_REQUEST_URL');
    return { describe: 'OIDC token from GitHub Actions', get: () => githubActionsToken(url, bearer) };
  }
  throw new UsageError(
    'keyless checkpoint signing needs an OIDC identity token: in GitHub Actions give the job `permissions: id-token: write` ' +
      '(kamal-gate then asks for a token with audience "sigstore"); elsewhere set SIGSTORE_ID_TOKEN to a token your CI issues for audience "sigstore" ' +
      '(or sign with a key: --checkpoint-key FILE or KAMAL_GATE_CHECKPOINT_KEY)',
  );
}

/** What went wrong inside @sigstore/sign, as our error: 4xx is a usage problem (exit 2), anything else unavailability (exit 3). */
function signingError(e: unknown, fulcio: string, rekor: string): KamalGateError {
  if (e instanceof KamalGateError) return e;
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof KamalGateError) return cause;
  const code = String((e as { code?: unknown }).code ?? '');
  if (code.startsWith('IDENTITY_TOKEN')) return new UsageError('keyless checkpoint signing: the OIDC identity token could not be used');
  const service = code.startsWith('CA_') ? `Fulcio (${fulcio})` : code.startsWith('TLOG_') ? `Rekor (${rekor})` : 'Sigstore';
  const status = (cause as { statusCode?: unknown } | undefined)?.statusCode;
  const detail = cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e);
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new UsageError(`could not sign the ledger checkpoint keyless: ${service} refused the request (${detail})`);
  }
  return new LedgerUnavailableError(`could not sign the ledger checkpoint keyless: ${service} did not answer usefully (${detail}); try again later`);
}

/** A signer that certifies an ephemeral key with Fulcio and logs each signature in Rekor. Throws UsageError when no token source is configured. */
export function keylessSigner(opts: KeylessOptions): CheckpointSigner {
  const fulcio = serviceUrl(opts.fulcioUrl ?? opts.env.KAMAL_GATE_FULCIO_URL ?? DEFAULT_FULCIO_URL, 'Fulcio');
  const rekor = serviceUrl(opts.rekorUrl ?? opts.env.KAMAL_GATE_REKOR_URL ?? DEFAULT_REKOR_URL, 'Rekor');
  const tokens = tokenSource(opts.env);
  return {
    describe: `keyless (Sigstore: ${tokens.describe}, Fulcio ${fulcio}, Rekor ${rekor})`,
    async sign(body: CheckpointBody) {
      const payload = checkpointPayload(body);
      const { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness } = await import('@sigstore/sign');
      const retry = { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5000 };
      let bundle: Bundle;
      try {
        const signer = new FulcioSigner({ fulcioBaseURL: fulcio, identityProvider: { getToken: () => tokens.get() }, timeout: TIMEOUT_MS, retry });
        const witness = new RekorWitness({ rekorBaseURL: rekor, timeout: TIMEOUT_MS, retry, fetchOnConflict: true });
        bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [witness] }).create({ data: payload });
      } catch (e) {
        throw signingError(e, fulcio, rekor);
      }
      const { schema, ledger, seq, hash, time } = body;
      return { schema, ledger, seq, hash, time, signature: { kind: 'sigstore', bundle: bundleToJSON(bundle) as Record<string, unknown> } };
    },
  };
}

const verifiers = new WeakMap<TrustedRoot, Verifier>();

/** Keyless: the certificate is only valid at a trusted time, so a timestamp (the Rekor SET) is always needed, as in src/signatures/verify.ts. */
function verifierFor(root: TrustedRoot): Verifier {
  let v = verifiers.get(root);
  if (!v) verifiers.set(root, (v = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, timestampThreshold: 1, ctlogThreshold: 1 })));
  return v;
}

function describeFound(f: FoundIdentity): string {
  return `${f.identity ?? '(no identity)'} from ${f.issuer ?? '(no issuer)'}`;
}

function describeWanted(id: CheckpointIdentity): string {
  const who = id.subject ?? (id.subjectRegExp !== undefined ? `/${id.subjectRegExp}/` : '(any identity)');
  const iss = id.issuer ?? (id.issuerRegExp !== undefined ? `/${id.issuerRegExp}/` : '(any issuer)');
  return `${who} from ${iss}`;
}

/** Undefined when `found` is `id`; otherwise why not. Throws on an invalid pattern (the caller reports it). */
function identityMismatch(id: CheckpointIdentity, found: FoundIdentity): string | undefined {
  if (id.subject === undefined && id.subjectRegExp === undefined && id.issuer === undefined && id.issuerRegExp === undefined) {
    return 'a trusted identity names no subject and no issuer, which would trust anyone';
  }
  const san = found.identity ?? '';
  const iss = found.issuer ?? '';
  if (id.subject !== undefined && !exactly(id.subject).test(san)) return 'subject differs';
  if (id.subjectRegExp !== undefined && !anchored(id.subjectRegExp).test(san)) return 'subject does not match';
  if (id.issuer !== undefined && id.issuer !== iss) return 'issuer differs';
  if (id.issuerRegExp !== undefined && !anchored(id.issuerRegExp).test(iss)) return 'issuer does not match';
  return undefined;
}

/** Verifies a Sigstore checkpoint signature offline. Never throws. */
export async function verifySigstoreCheckpoint(body: CheckpointBody, bundleJson: Record<string, unknown>, trust: CheckpointTrust | undefined): Promise<CheckpointVerification> {
  const fail = (reason: string): CheckpointVerification => ({ ok: false, reason });
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(bundleJson);
  } catch (e) {
    return fail(`the signature is not a valid Sigstore bundle (${e instanceof Error ? e.message : String(e)})`);
  }
  if (bundle.content.$case !== 'messageSignature') return fail(`the Sigstore bundle holds a ${bundle.content.$case}, not a message signature over the checkpoint`);
  const material = bundle.verificationMaterial.content.$case;
  if (material !== 'x509CertificateChain' && material !== 'certificate') {
    return fail('the Sigstore bundle carries no Fulcio certificate: a checkpoint signed with a key must use signature kind "key"');
  }
  const payload = checkpointPayload(body);
  const digest = bundle.content.messageSignature.messageDigest;
  const want = createHash('sha256').update(payload).digest();
  if (!digest || digest.algorithm !== HashAlgorithm.SHA2_256 || !Buffer.from(digest.digest).equals(want)) {
    return fail('the Sigstore bundle signs another payload: the checkpoint (ledger, seq, hash or time) was altered after it was signed');
  }
  if (trust?.keys !== undefined && trust.identities === undefined) {
    return fail('the checkpoint is signed keyless (Sigstore), but only checkpoint keys are trusted: add the signing identity to the trusted identities');
  }
  let root: TrustedRoot;
  let rootSource: string;
  try {
    ({ root, source: rootSource } = await loadTrustedRoot(trust?.trustedRoot ? { trustedRoot: trust.trustedRoot } : {}));
  } catch (e) {
    return fail(`cannot load the Sigstore trusted root: ${e instanceof Error ? e.message : String(e)}`);
  }
  let found: FoundIdentity;
  try {
    const signer = verifierFor(root).verify(toSignedEntity(bundle, payload));
    const mismatch = tlogSignerMismatch(bundle.verificationMaterial.tlogEntries, signer.key);
    if (mismatch) return fail(mismatch);
    found = foundIdentity(signer);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof VerificationError && e.code === 'CERTIFICATE_ERROR' && !/SCT/i.test(msg)) {
      return fail(`the signing certificate was not issued by a CA of the trusted root ${rootSource} (${e.code}: ${msg}); for a private Sigstore deployment give its trusted_root.json`);
    }
    if (e instanceof VerificationError) return fail(`the Sigstore signature does not verify (${e.code}: ${msg})`);
    return fail(`the Sigstore signature does not verify (${msg})`);
  }
  if (trust?.identities === undefined) {
    return { ok: true, anchored: false, signer: `keyless ${describeFound(found)} (unanchored: no trusted identity configured, so any Sigstore identity is accepted)` };
  }
  const misses: string[] = [];
  for (const id of trust.identities) {
    let why: string | undefined;
    try {
      why = identityMismatch(id, found);
    } catch (e) {
      return fail(`a trusted identity (${describeWanted(id)}) has an invalid pattern: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!why) return { ok: true, anchored: true, signer: `keyless ${describeFound(found)}` };
    misses.push(`${describeWanted(id)}: ${why}`);
  }
  return fail(`signed by ${describeFound(found)}, which is not a trusted checkpoint identity (${misses.join('; ') || 'none is configured'})`);
}
