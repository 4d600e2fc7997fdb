/**
 * Verifies one signature or attestation against one configured signer, through @sigstore/verify
 * (signature, certificate chain, SCT, transparency log, timestamps), then does what the library
 * does not: the Rekor entry names the signer, the identity matches, and the signed digest is the
 * image being deployed (binding.ts).
 */
import { verify as cryptoVerify } from 'node:crypto';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { PolicyError, VerificationError, Verifier, toSignedEntity, toTrustMaterial, type SignedEntity, type Signer } from '@sigstore/verify';
import { matchDigest, readSimpleSigning, readStatement, referenceRepository, type InTotoStatement } from './binding.js';
import { claimsMismatch, foundIdentity, libraryPolicy, type FoundIdentity } from './identity.js';
import type { SignerSpec } from './signers.js';
import { tlogSignerMismatch } from './tlog-signer.js';
import type { Candidate } from './types.js';

export type Failure = 'invalid' | 'untrusted_key' | 'untrusted_identity' | 'no_tlog' | 'digest_mismatch';

export type Outcome =
  | { ok: true; signer: SignerSpec; boundTo: string; statement?: InTotoStatement }
  | { ok: false; failure: Failure; reason: string; found?: FoundIdentity; signedDigest?: string };

export interface VerifyContext {
  root: TrustedRoot;
  /** `optional`: a signature without a transparency log entry counts (cosign --insecure-ignore-tlog). */
  tlog: 'required' | 'optional';
  /** The digests that are the image: the index the tag points to and the platform manifests hosts pull. */
  digests: string[];
  /** `registry/repository` names a simple-signing docker-reference may carry. */
  repositories: string[];
}

/** How close a failure came to passing: a candidate reports its best outcome over all signers. */
export const FAILURE_RANK: Record<Failure, number> = { digest_mismatch: 5, untrusted_identity: 4, no_tlog: 3, untrusted_key: 2, invalid: 1 };

const verifiers = new WeakMap<TrustedRoot, Map<string, Verifier>>();

function verifierFor(spec: SignerSpec, ctx: VerifyContext): Verifier {
  let byRoot = verifiers.get(ctx.root);
  if (!byRoot) verifiers.set(ctx.root, (byRoot = new Map()));
  const key = `${spec.id}|${ctx.tlog}`;
  let v = byRoot.get(key);
  if (!v) {
    const tlog = ctx.tlog === 'required' ? 1 : 0;
    if (spec.kind === 'key') {
      // cosign ignores the key hint (formats differ between writers): each configured key is tried as is.
      const material = toTrustMaterial(ctx.root, () => ({ publicKey: spec.key, validFor: () => true }));
      v = new Verifier(material, { tlogThreshold: tlog, timestampThreshold: tlog, ctlogThreshold: 0 });
    } else {
      // A certificate is only checked at a trusted time: a timestamp (SET or TSA) is always needed.
      v = new Verifier(toTrustMaterial(ctx.root), { tlogThreshold: tlog, timestampThreshold: 1, ctlogThreshold: 1 });
    }
    byRoot.set(key, v);
  }
  return v;
}

function classify(e: unknown, keyed: boolean): { failure: Failure; reason: string } {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof PolicyError) return { failure: 'untrusted_identity', reason: msg };
  if (!(e instanceof VerificationError)) return { failure: 'invalid', reason: msg };
  const reason = `${e.code}: ${msg}`;
  switch (e.code) {
    case 'TLOG_ERROR':
    case 'TIMESTAMP_ERROR':
      return /^expected \d+ (tlog entries|timestamps)/.test(msg) ? { failure: 'no_tlog', reason } : { failure: 'invalid', reason };
    case 'SIGNATURE_ERROR':
      // With a key, a signature that does not verify is another key's (or altered bytes: both fail the same way);
      // a certificate carries its own key, so there it can only be altered.
      return { failure: keyed ? 'untrusted_key' : 'invalid', reason };
    case 'PUBLIC_KEY_ERROR':
      return { failure: 'untrusted_key', reason };
    case 'CERTIFICATE_ERROR':
      return /SCT/i.test(msg) ? { failure: 'invalid', reason } : { failure: 'untrusted_identity', reason: `certificate not issued by a trusted CA (${reason})` };
    default:
      return { failure: 'invalid', reason };
  }
}

function signedDigests(c: Candidate, ctx: VerifyContext): { ok: true; digests: string[]; statement?: InTotoStatement } | { ok: false; failure: Failure; reason: string } {
  const content = c.bundle!.content;
  if (content.$case === 'messageSignature') {
    if (!c.payload) return { ok: false, failure: 'invalid', reason: 'a message signature without the signed payload' };
    const p = readSimpleSigning(c.payload);
    if (!p.ok) return { ok: false, failure: 'invalid', reason: p.reason };
    if (p.value.reference !== undefined) {
      const repo = referenceRepository(p.value.reference);
      if (!repo || !ctx.repositories.includes(repo)) {
        return { ok: false, failure: 'invalid', reason: `the payload names ${p.value.reference}, not ${ctx.repositories.join(' or ')}` };
      }
    }
    return { ok: true, digests: [p.value.digest] };
  }
  const env = content.dsseEnvelope;
  const s = readStatement(Buffer.from(env.payload), env.payloadType);
  if (!s.ok) return { ok: false, failure: 'invalid', reason: s.reason };
  return { ok: true, digests: s.value.subjectDigests, statement: s.value };
}

/**
 * A legacy message signature made with an Ed25519 key: cosign verifies it as pure Ed25519 over the
 * payload bytes (`cosign verify --key` loads an Ed25519 key as sigstore's ED25519Verifier), but
 * @sigstore/verify passes a digest algorithm to node:crypto, which refuses one for Ed25519, so
 * every such signature would fail. Only the signature check is replaced, and only for an Ed25519
 * key: the tlog entry is still checked against the same signature and digest, and any other key
 * type goes through the library unchanged. (Ed25519ph, which newer cosign uses when it uploads to
 * Rekor, is not available in node:crypto on Node 20: such a signature does not verify.)
 */
function pureEd25519(entity: SignedEntity, payload: Buffer): SignedEntity {
  const lib = entity.signature;
  return {
    ...entity,
    signature: {
      signature: lib.signature,
      compareSignature: (s) => lib.compareSignature(s),
      compareDigest: (d) => lib.compareDigest(d),
      compareSignedDigest: (d) => lib.compareSignedDigest(d),
      verifySignature: (key) => {
        if (key.asymmetricKeyType !== 'ed25519') return lib.verifySignature(key);
        try {
          return cryptoVerify(null, payload, key, lib.signature);
        } catch {
          return false;
        }
      },
    },
  };
}

export function verifyCandidate(c: Candidate, spec: SignerSpec, ctx: VerifyContext): Outcome {
  if (!c.bundle || c.malformed) return { ok: false, failure: 'invalid', reason: c.malformed ?? 'unsigned' };
  const material = c.bundle.verificationMaterial.content.$case;
  if (spec.kind === 'key' && material !== 'publicKey') return { ok: false, failure: 'untrusted_key', reason: `signed with a certificate (keyless), not with ${spec.label}` };
  if (spec.kind === 'keyless' && material === 'publicKey') return { ok: false, failure: 'untrusted_key', reason: 'signed with a key, not a Fulcio certificate' };
  const verifier = verifierFor(spec, ctx);
  let entity: SignedEntity;
  let signer: Signer;
  try {
    entity = toSignedEntity(c.bundle, c.payload);
    if (spec.kind === 'key' && spec.key.asymmetricKeyType === 'ed25519' && c.bundle.content.$case === 'messageSignature' && c.payload) entity = pureEd25519(entity, c.payload);
    signer = verifier.verify(entity);
  } catch (e) {
    return { ok: false, ...classify(e, spec.kind === 'key') };
  }
  const mismatch = tlogSignerMismatch(c.bundle.verificationMaterial.tlogEntries, signer.key);
  if (mismatch) return { ok: false, failure: 'invalid', reason: mismatch };
  let found: FoundIdentity | undefined;
  if (spec.kind === 'keyless') {
    found = foundIdentity(signer);
    try {
      verifier.verify(entity, libraryPolicy(spec.identity));
    } catch (e) {
      return { ok: false, failure: 'untrusted_identity', reason: e instanceof Error ? e.message : String(e), found };
    }
    const claims = claimsMismatch(spec.identity, found);
    if (claims) return { ok: false, failure: 'untrusted_identity', reason: claims, found };
  }
  const signed = signedDigests(c, ctx);
  if (!signed.ok) return { ok: false, failure: signed.failure, reason: signed.reason, ...(found ? { found } : {}) };
  const boundTo = matchDigest(signed.digests, ctx.digests);
  if (!boundTo) {
    return {
      ok: false,
      failure: 'digest_mismatch',
      reason: `signed ${signed.digests.join(', ') || 'no digest'}, deployed ${ctx.digests.join(' / ')}`,
      ...(signed.digests[0] ? { signedDigest: signed.digests[0] } : {}),
      ...(found ? { found } : {}),
    };
  }
  return { ok: true, signer: spec, boundTo, ...(signed.statement ? { statement: signed.statement } : {}) };
}
