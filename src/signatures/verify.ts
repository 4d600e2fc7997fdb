/**
 * Verifies one signature or attestation against one configured signer, through @sigstore/verify
 * (signature, certificate chain, SCT, transparency log, timestamps), then does what the library
 * does not: the Rekor entry names the signer, the identity matches, and the signed digest is the
 * image being deployed (binding.ts).
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type SignedEntity, type Signer } from '@sigstore/verify';
import { matchDigest, readSimpleSigning, readStatement, referenceMismatch, type InTotoStatement } from './binding.js';
import { claimsMismatch, foundIdentity, libraryPolicy, type FoundIdentity } from './identity.js';
import { intotoV001BundleProblem, intotoV001Count, isIntotoV001, unsupportedTlogKind } from './intoto-v001.js';
import { explainVerifyError, type Failure } from './library-errors.js';
import type { SignerSpec } from './signers.js';
import { tlogSignerMismatch } from './tlog-signer.js';
import type { Candidate } from './types.js';

export type { Failure } from './library-errors.js';

export type Outcome =
  | { ok: true; signer: SignerSpec; boundTo: string; statement?: InTotoStatement }
  | {
      ok: false;
      failure: Failure;
      reason: string;
      found?: FoundIdentity;
      signedDigest?: string;
      /** The docker-reference a simple-signing payload names (reference_mismatch). */
      signedReference?: string;
      /** The verification library's own code and message, for evidence. */
      detail?: string;
    };

export interface VerifyContext {
  root: TrustedRoot;
  /** `optional`: a signature without a transparency log entry counts (cosign --insecure-ignore-tlog). */
  tlog: 'required' | 'optional';
  /** The digests that are the image: the index the tag points to and the platform manifests hosts pull. */
  digests: string[];
  /** The image's own `registry/repository`: what a simple-signing docker-reference names under `reference: match`. */
  repositories: string[];
  /** signatures.reference: absent or `ignore` (cosign), only the signed digest binds; `match`: the docker-reference must name `repositories` or `allowedReferences`. */
  reference?: 'ignore' | 'match';
  /** Repository globs a docker-reference may also name under `match` (a mirror, where the image was signed before a copy). */
  allowedReferences?: string[];
}

/** How close a failure came to passing: a candidate reports its best outcome over all signers. */
export const FAILURE_RANK: Record<Failure, number> = { reference_mismatch: 6, digest_mismatch: 5, untrusted_identity: 4, no_tlog: 3, untrusted_key: 2, invalid: 1 };

const verifiers = new WeakMap<TrustedRoot, Map<string, Verifier>>();

/** `own`: tlog entries intoto-v001.ts checks instead of the library; they count toward the tlog threshold there. */
function verifierFor(spec: SignerSpec, ctx: VerifyContext, own = 0): Verifier {
  let byRoot = verifiers.get(ctx.root);
  if (!byRoot) verifiers.set(ctx.root, (byRoot = new Map()));
  // A key by its content, not its path: a key file replaced between two runs of one process is another signer.
  const signer =
    spec.kind === 'key'
      ? createHash('sha256')
          .update(spec.key.export({ type: 'spki', format: 'der' }))
          .digest('hex')
      : spec.id;
  const key = `${signer}|${ctx.tlog}|${own}`;
  let v = byRoot.get(key);
  if (!v) {
    const tlog = ctx.tlog === 'required' ? 1 : 0;
    if (spec.kind === 'key') {
      // cosign ignores the key hint (formats differ between writers): each configured key is tried as is.
      const material = toTrustMaterial(ctx.root, () => ({ publicKey: spec.key, validFor: () => true }));
      v = new Verifier(material, { tlogThreshold: Math.max(0, tlog - own), timestampThreshold: tlog, ctlogThreshold: 0 });
    } else {
      // A certificate is only checked at a trusted time: a timestamp (SET or TSA) is always needed.
      v = new Verifier(toTrustMaterial(ctx.root), { tlogThreshold: Math.max(0, tlog - own), timestampThreshold: 1, ctlogThreshold: 1 });
    }
    byRoot.set(key, v);
  }
  return v;
}

/** What a signature signs: digests, and for a simple-signing payload the docker-reference it names (`simple`). */
function signedDigests(c: Candidate): { ok: true; digests: string[]; statement?: InTotoStatement; simple?: { reference?: string } } | { ok: false; failure: Failure; reason: string } {
  const content = c.bundle!.content;
  if (content.$case === 'messageSignature') {
    if (!c.payload) return { ok: false, failure: 'invalid', reason: 'a message signature without the signed payload' };
    const p = readSimpleSigning(c.payload);
    if (!p.ok) return { ok: false, failure: 'invalid', reason: p.reason };
    return { ok: true, digests: [p.value.digest], simple: p.value.reference !== undefined ? { reference: p.value.reference } : {} };
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
  const unsupported = unsupportedTlogKind(c.bundle.verificationMaterial.tlogEntries);
  if (unsupported) return { ok: false, failure: 'invalid', reason: unsupported };
  const own = intotoV001Count(c.bundle.verificationMaterial.tlogEntries);
  const verifier = verifierFor(spec, ctx, own);
  let entity: SignedEntity;
  let signer: Signer;
  try {
    entity = toSignedEntity(c.bundle, c.payload);
    // @sigstore/verify 4.x cannot check an intoto 0.0.1 body: intoto-v001.ts checks those entries (SET included) below.
    // Their integrated time stays among the entity's timestamps, which is why that check is not optional.
    if (own) entity = { ...entity, tlogEntries: entity.tlogEntries.filter((e) => !isIntotoV001(e)) };
    if (spec.kind === 'key' && spec.key.asymmetricKeyType === 'ed25519' && c.bundle.content.$case === 'messageSignature' && c.payload) entity = pureEd25519(entity, c.payload);
    signer = verifier.verify(entity);
  } catch (e) {
    return { ok: false, ...explainVerifyError(e, { keyed: spec.kind === 'key', tlog: ctx.tlog, label: spec.label }) };
  }
  const intoto = own ? intotoV001BundleProblem(c.bundle, c.envelope, signer.key, toTrustMaterial(ctx.root).tlogs) : undefined;
  if (intoto) return { ok: false, failure: 'invalid', reason: intoto };
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
  const signed = signedDigests(c);
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
  // The digest binds (as in cosign); the docker-reference only when the policy asks (signatures.reference: match).
  if (signed.simple && ctx.reference === 'match') {
    const reason = referenceMismatch(signed.simple.reference, ctx.repositories, ctx.allowedReferences ?? []);
    if (reason)
      return { ok: false, failure: 'reference_mismatch', reason, ...(signed.simple.reference !== undefined ? { signedReference: signed.simple.reference } : {}), ...(found ? { found } : {}) };
  }
  return { ok: true, signer: spec, boundTo, ...(signed.statement ? { statement: signed.statement } : {}) };
}
