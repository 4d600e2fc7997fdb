/**
 * Signed checkpoints of the digest ledger (issue 12): the data, the bytes that are signed, and the
 * strict reader. A checkpoint names a ledger (the hash of its entry seq 1), its tip (seq and hash)
 * and a time; the signature is over
 *   canonicalJson({hash, ledger, schema, seq, time})        (src/ledger/hash.ts, keys sorted)
 * so truncating the ledger, or rewriting an entry and recomputing every hash after it, no longer
 * matches a checkpoint signed earlier. Signing and verifying live in checkpoint-sign.ts.
 *
 * Stored form (formatSignedCheckpoint): one JSON object, the body fields plus `signature`, either
 *   {"kind":"key","algorithm":"ecdsa-p256-sha256","keyId":"sha256:<hex of SPKI DER>","publicKey":"<SPKI PEM>","value":"<base64>"}
 *   {"kind":"sigstore","bundle":{…Sigstore bundle JSON: a message signature over the payload…}}
 */
import type { KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { LedgerError } from '../errors.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './cosign-key.js';
import { canonicalJson } from './hash.js';

export const CHECKPOINT_SCHEMA = 'kamal-gate/checkpoint/v1';

export interface CheckpointBody {
  schema: typeof CHECKPOINT_SCHEMA;
  /** The ledger's identity: the hash of its entry seq 1. */
  ledger: string;
  /** The tip's seq (>= 1). */
  seq: number;
  /** The tip's hash. */
  hash: string;
  /** When the checkpoint was made: ISO 8601 in UTC (`toISOString()` form; the fraction is optional). */
  time: string;
}

type CheckpointSignature = { kind: 'key'; algorithm: SigningAlgorithm; keyId: string; publicKey: string; value: string } | { kind: 'sigstore'; bundle: Record<string, unknown> };

export interface SignedCheckpoint extends CheckpointBody {
  signature: CheckpointSignature;
}

export interface CheckpointSigner {
  /** Who signs, for messages: key id and where the key came from, or the keyless setup. Never key material. */
  readonly describe: string;
  sign(body: CheckpointBody): Promise<SignedCheckpoint>;
}

/** A keyless identity a Sigstore checkpoint's certificate must match. Plain values are exact; RegExps are anchored (whole value). */
export interface CheckpointIdentity {
  issuer?: string;
  issuerRegExp?: string;
  subject?: string;
  subjectRegExp?: string;
}

/**
 * What a checkpoint signature is verified against. With neither `keys` nor `identities`, a
 * signature is only checked for consistency (key: against its own embedded public key; sigstore:
 * against the trusted root, any identity) and the result says it is unanchored. As soon as either
 * is given, every signature must be anchored: a key signature needs `keys` to list its key, a
 * Sigstore signature needs `identities` to match its certificate.
 */
export interface CheckpointTrust {
  keys?: Array<{ source: string; key: KeyObject }>;
  identities?: CheckpointIdentity[];
  /** Path to a trusted_root.json; default the public-good root (src/signatures/trust.ts loadTrustedRoot). */
  trustedRoot?: string;
}

export type CheckpointVerification = { ok: true; signer: string /** false when nothing configured says who may sign (see CheckpointTrust). */; anchored: boolean } | { ok: false; reason: string };

/** Checkpoint files and rows larger than this are refused unread. */
const CHECKPOINT_MAX_BYTES = 256 * 1024;

const BODY_FIELDS = ['schema', 'ledger', 'seq', 'hash', 'time'] as const;
const HASH = /^sha256:[0-9a-f]{64}$/;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ALGORITHMS = new Set<string>(SIGNING_ALGORITHMS);

/** The bytes a checkpoint signature covers: canonical JSON of exactly the five body fields. */
export function checkpointPayload(body: CheckpointBody): Buffer {
  const { schema, ledger, seq, hash, time } = body;
  return Buffer.from(canonicalJson({ schema, ledger, seq, hash, time }), 'utf8');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(o: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  return extra.length ? `unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')}` : undefined;
}

/** Why `v` is not a checkpoint body (extra fields allowed: a SignedCheckpoint is a body too), if it is not. */
export function bodyProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a JSON object';
  if (v.schema !== CHECKPOINT_SCHEMA) return `schema is ${JSON.stringify(v.schema)}, expected "${CHECKPOINT_SCHEMA}"`;
  if (typeof v.ledger !== 'string' || !HASH.test(v.ledger)) return 'ledger must be an entry hash ("sha256:" and 64 hex digits)';
  if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq) || v.seq < 1) return 'seq must be a whole number >= 1';
  if (typeof v.hash !== 'string' || !HASH.test(v.hash)) return 'hash must be an entry hash ("sha256:" and 64 hex digits)';
  if (typeof v.time !== 'string' || !TIME.test(v.time) || Number.isNaN(Date.parse(v.time))) return 'time must be an ISO 8601 UTC time (2026-01-31T12:00:00.000Z)';
  if (v.seq === 1 && v.ledger !== v.hash) return 'at seq 1 the tip is the first entry, so hash must equal ledger';
  return undefined;
}

function signatureProblem(s: unknown): string | undefined {
  if (!isObject(s)) return 'signature must be an object';
  if (s.kind === 'key') {
    const extra = unknownKeys(s, ['kind', 'algorithm', 'keyId', 'publicKey', 'value']);
    if (extra) return `signature: ${extra}`;
    if (typeof s.algorithm !== 'string' || !ALGORITHMS.has(s.algorithm)) return `signature.algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}`;
    if (typeof s.keyId !== 'string' || !HASH.test(s.keyId)) return 'signature.keyId must be "sha256:" and 64 hex digits';
    if (typeof s.publicKey !== 'string' || s.publicKey.length > 16 * 1024 || !s.publicKey.includes('-----BEGIN PUBLIC KEY-----')) {
      return 'signature.publicKey must be a PEM public key ("-----BEGIN PUBLIC KEY-----")';
    }
    if (typeof s.value !== 'string' || !s.value || s.value.length > 4096 || !B64.test(s.value)) return 'signature.value must be base64';
    return undefined;
  }
  if (s.kind === 'sigstore') {
    const extra = unknownKeys(s, ['kind', 'bundle']);
    if (extra) return `signature: ${extra}`;
    if (!isObject(s.bundle)) return 'signature.bundle must be a Sigstore bundle (a JSON object)';
    try {
      const bundle = bundleFromJSON(s.bundle);
      if (bundle.content.$case !== 'messageSignature') return `signature.bundle must hold a message signature, not ${bundle.content.$case}`;
    } catch (e) {
      return `signature.bundle is not a valid Sigstore bundle (${e instanceof Error ? e.message : String(e)})`;
    }
    return undefined;
  }
  return `signature.kind must be "key" or "sigstore", not ${JSON.stringify(s.kind)}`;
}

/** Why `v` is not a signed checkpoint, if it is not: exactly the body fields and `signature`, each well formed. */
export function checkpointProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a JSON object';
  const extra = unknownKeys(v, [...BODY_FIELDS, 'signature']);
  if (extra) return extra;
  return bodyProblem(v) ?? signatureProblem(v.signature);
}

/** Reads a stored checkpoint; LedgerError naming `where` (a file path, a table row) on anything malformed. */
export function parseSignedCheckpoint(text: string, where: string): SignedCheckpoint {
  const fail = (why: string) => new LedgerError(`${where}: not a valid signed ledger checkpoint: ${why}; run \`kamal-gate ledger verify\` and restore the checkpoint from a trusted copy`, where);
  if (typeof text !== 'string') throw fail('no text');
  if (Buffer.byteLength(text, 'utf8') > CHECKPOINT_MAX_BYTES) throw fail(`larger than ${CHECKPOINT_MAX_BYTES / 1024} KiB`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw fail(`not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const problem = checkpointProblem(value);
  if (problem) throw fail(problem);
  return value as SignedCheckpoint;
}

/** The stored form: body fields in a fixed order, then the signature; one line of JSON and a newline. */
export function formatSignedCheckpoint(cp: SignedCheckpoint): string {
  const { schema, ledger, seq, hash, time, signature } = cp;
  return `${JSON.stringify({ schema, ledger, seq, hash, time, signature })}\n`;
}
