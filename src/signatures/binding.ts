/**
 * Binding a verified signature to the image being deployed: @sigstore/verify proves who signed
 * which bytes, never that those bytes name this image. That is done here, on the exact bytes
 * that were verified (never a re-serialization).
 */
import { globMatch } from '../policy/glob.js';
import { parseReference, repositoryName } from '../registry/reference.js';
import { MEDIA, SIMPLE_SIGNING_TYPE } from './constants.js';

export interface InTotoStatement {
  type: string;
  predicateType: string;
  /** `sha256:<hex>` / `sha512:<hex>` of every subject digest in those algorithms. */
  subjectDigests: string[];
  predicate: unknown;
}

export type Bound<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A simple-signing payload: what it signs (digest) and names (docker-reference). */
export function readSimpleSigning(payload: Buffer): Bound<{ digest: string; reference?: string }> {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the payload is not JSON' };
  }
  const critical = (doc as { critical?: unknown } | null)?.critical as { type?: unknown; image?: { 'docker-manifest-digest'?: unknown }; identity?: { 'docker-reference'?: unknown } } | undefined;
  if (!critical || critical.type !== SIMPLE_SIGNING_TYPE) return { ok: false, reason: `the payload is not a "${SIMPLE_SIGNING_TYPE}"` };
  const digest = critical.image?.['docker-manifest-digest'];
  if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) return { ok: false, reason: 'the payload names no sha256 docker-manifest-digest' };
  const reference = critical.identity?.['docker-reference'];
  return { ok: true, value: { digest, ...(typeof reference === 'string' ? { reference } : {}) } };
}

/** An in-toto statement from a DSSE payload (payloadType must be in-toto). */
export function readStatement(payload: Buffer, payloadType: string = MEDIA.inToto): Bound<InTotoStatement> {
  if (payloadType !== MEDIA.inToto) return { ok: false, reason: `the DSSE payload type is ${payloadType}, not ${MEDIA.inToto}` };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'the statement is not JSON' };
  }
  const type = doc?._type;
  if (typeof type !== 'string' || !type.startsWith('https://in-toto.io/Statement/')) return { ok: false, reason: 'not an in-toto statement' };
  if (typeof doc.predicateType !== 'string') return { ok: false, reason: 'the statement has no predicateType' };
  const subjects = Array.isArray(doc.subject) ? doc.subject : [];
  const subjectDigests: string[] = [];
  for (const s of subjects) {
    const d = (s as { digest?: Record<string, unknown> } | null)?.digest;
    if (typeof d?.sha256 === 'string' && /^[a-f0-9]{64}$/.test(d.sha256)) subjectDigests.push(`sha256:${d.sha256}`);
    if (typeof d?.sha512 === 'string' && /^[a-f0-9]{128}$/.test(d.sha512)) subjectDigests.push(`sha512:${d.sha512}`);
  }
  return { ok: true, value: { type, predicateType: doc.predicateType, subjectDigests, predicate: doc.predicate } };
}

/** `registry/repository` of a docker-reference (tag and digest dropped), or undefined when it does not parse. */
export function referenceRepository(reference: string): string | undefined {
  try {
    return repositoryName(parseReference(reference));
  } catch {
    return undefined;
  }
}

/**
 * Under `signatures.reference: match`: why a simple-signing payload's docker-reference does not name
 * this image, or undefined when it names one of `own` (the image's registry/repository) or matches an
 * `allowed` repository glob. Tag and digest of the reference are ignored (skopeo writes the tag).
 * cosign itself never checks the reference: the signed digest binds (pkg/cosign/verifiers.go).
 */
export function referenceMismatch(reference: string | undefined, own: readonly string[], allowed: readonly string[]): string | undefined {
  const image = own.join(' or ');
  if (reference === undefined) return `the signed payload names no docker-reference, and signatures.reference: match requires it to name ${image}`;
  const repo = referenceRepository(reference);
  if (!repo) return `the signed payload's docker-reference "${reference}" is not an image reference; signatures.reference: match requires it to name ${image}`;
  if (own.includes(repo) || allowed.some((g) => globMatch('repository', g, repo))) return undefined;
  return allowed.length
    ? `the signature's docker-reference names ${repo}, which is neither this image's repository ${image} nor in signatures.allowedReferences (${allowed.join(', ')})`
    : `the signature's docker-reference names ${repo}, not this image's repository ${image} (signatures.allowedReferences lists no other)`;
}

/** Which deployed digest the signed ones match: the index the tag points to or a platform manifest a host pulls. */
export function matchDigest(signed: string[], deployed: string[]): string | undefined {
  return signed.find((d) => deployed.includes(d));
}
