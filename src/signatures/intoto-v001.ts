/**
 * Rekor entries of kind `intoto` version 0.0.1: what GitHub's SLSA container generator (and
 * `cosign attest` before cosign 2.0) logged for attestations made in 2022–2023. @sigstore/verify
 * 4.x checks only intoto 0.0.2, so verify.ts hands these entries to this module and lets the library
 * do everything else (DSSE signature, certificate chain, SCT, timestamps, other entries).
 *
 * The rules are the ones cosign applies to this entry kind (`pkg/cosign/verify.go` `VerifyBundle`:
 * `comparePublicKey`, `bundleHash`, then the SET), over what rekor's `intoto/v0.0.1` type keeps in a
 * committed entry: `spec.content.hash` (sha256 of the envelope bytes as uploaded),
 * `spec.content.payloadHash` (sha256 of the decoded DSSE payload) and `spec.publicKey` (base64 of
 * one PEM block: the signing certificate or public key). The entry holds no signature: the envelope
 * hash is what ties the logged entry to the signatures the library verified.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { Bundle, Envelope, TransparencyLogEntry } from '@sigstore/bundle';
import { crypto as coreCrypto, json } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
import { printable } from '../printable.js';
import { pemBlocks } from './pem.js';

const INTOTO_V001 = { kind: 'intoto', version: '0.0.1' } as const;

/** The signer the entry must name: the leaf certificate when the signature came with one, else the key. */
type IntotoV001Signer = { certificate: Buffer } | { key: KeyObject };

/** What the entry is checked against. */
export interface IntotoV001Subject {
  /** The DSSE envelope bytes exactly as stored (the `.att` layer blob). */
  envelopeBytes: Buffer | undefined;
  /** The envelope the library verifies (the bundle's `dsseEnvelope`). */
  envelope: Envelope;
  signer: IntotoV001Signer;
}

export function isIntotoV001(entry: TransparencyLogEntry): boolean {
  return entry.kindVersion.kind === INTOTO_V001.kind && entry.kindVersion.version === INTOTO_V001.version;
}

const sha256hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function field(v: unknown, ...path: string[]): unknown {
  for (const k of path) v = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** `{algorithm: "sha256", value: <hex>}` equals `want`, as cosign compares it (exact lower-case hex); else why not. */
function hashProblem(h: unknown, want: string, what: string): string | undefined {
  const algorithm = field(h, 'algorithm');
  const value = field(h, 'value');
  if (typeof algorithm !== 'string' || typeof value !== 'string') return `it records no ${what} hash`;
  if (algorithm !== 'sha256') return `its ${what} hash uses ${printable(JSON.stringify(algorithm), 20)}, not sha256`;
  if (value !== want) return `it records the ${what} hash sha256:${printable(value, 64)}, but this attestation's ${what} hashes to sha256:${want}`;
  return undefined;
}

/** The raw envelope is the one the library verifies: same payload, type and signatures; exactly one signature. */
function envelopeProblem(bytes: Buffer, env: Envelope): string | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'the stored DSSE envelope is not JSON';
  }
  const payload = field(raw, 'payload');
  const sigs = field(raw, 'signatures');
  if (typeof payload !== 'string' || field(raw, 'payloadType') !== env.payloadType || !Array.isArray(sigs)) return 'the stored DSSE envelope is not the one whose signature was verified';
  if (sigs.length !== 1 || env.signatures.length !== 1) return `the DSSE envelope carries ${sigs.length} signatures; an intoto 0.0.1 entry is checked for exactly one`;
  const sig = field(sigs[0], 'sig');
  if (!Buffer.from(payload, 'base64').equals(env.payload) || typeof sig !== 'string' || !Buffer.from(sig, 'base64').equals(env.signatures[0]!.sig)) {
    return 'the stored DSSE envelope is not the one whose signature was verified';
  }
  return undefined;
}

/** `spec.publicKey` is one PEM block, nothing else, whose DER is the signer's certificate or key (cosign `comparePublicKey`). */
function publicKeyProblem(b64: unknown, signer: IntotoV001Signer): string | undefined {
  if (typeof b64 !== 'string' || !b64) return 'it names no public key or certificate';
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const blocks = pemBlocks(text);
  const rest = text.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, '').trim();
  if (blocks.length !== 1 || rest) return 'its public key is not a single PEM block';
  const want = 'certificate' in signer ? signer.certificate : signer.key.export({ format: 'der', type: 'spki' });
  if (!blocks[0]!.der.equals(want)) return `it was logged for another ${'certificate' in signer ? 'certificate' : 'key'} than the one that signed`;
  return undefined;
}

/** The canonicalized body against the envelope and signer; undefined when cosign would accept it. */
export function intotoV001BodyProblem(body: Buffer, subject: IntotoV001Subject): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return 'its body is not JSON';
  }
  if (field(doc, 'kind') !== INTOTO_V001.kind || field(doc, 'apiVersion') !== INTOTO_V001.version) return 'its body is not an intoto 0.0.1 entry';
  if (!subject.envelopeBytes) return 'it hashes the envelope bytes as uploaded, and only a legacy .att layer keeps those (a bundle does not)';
  const spec = field(doc, 'spec');
  return (
    publicKeyProblem(field(spec, 'publicKey'), subject.signer) ??
    hashProblem(field(spec, 'content', 'hash'), sha256hex(subject.envelopeBytes), 'envelope') ??
    hashProblem(field(spec, 'content', 'payloadHash'), sha256hex(subject.envelope.payload), 'payload') ??
    envelopeProblem(subject.envelopeBytes, subject.envelope)
  );
}

/**
 * The signed entry timestamp, as for any Rekor v1 entry: a trusted log picked by the entry's log id,
 * valid at its integrated time, signed the canonical JSON of {body, integratedTime, logIndex, logID}.
 */
function setProblem(entry: TransparencyLogEntry, tlogs: TrustMaterial['tlogs']): string | undefined {
  const set = entry.inclusionPromise?.signedEntryTimestamp;
  if (!set?.length) return 'it has no signed entry timestamp (an inclusion proof alone is not checked for this kind)';
  const at = new Date(Number(entry.integratedTime) * 1000);
  const data = Buffer.from(
    json.canonicalize({
      body: Buffer.from(entry.canonicalizedBody).toString('base64'),
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId.keyId).toString('hex'),
    }),
    'utf8',
  );
  const logs = tlogs.filter((t) => t.logID.equals(entry.logId.keyId) && t.validFor.start <= at && at <= t.validFor.end);
  if (!logs.length) return 'it comes from a transparency log the trusted root does not list (or not at its integrated time)';
  if (!logs.some((t) => coreCrypto.verify(data, t.publicKey, Buffer.from(set)))) return 'its signed entry timestamp does not verify';
  return undefined;
}

/** How many distinct intoto 0.0.1 entries there are (the library counts distinct log id + body toward its threshold). */
export function intotoV001Count(entries: TransparencyLogEntry[]): number {
  return new Set(entries.filter(isIntotoV001).map((e) => `${Buffer.from(e.logId.keyId).toString('hex')}|${Buffer.from(e.canonicalizedBody).toString('base64')}`)).size;
}

/** Undefined when every intoto 0.0.1 entry of `entries` passes; otherwise a sentence saying why not. */
function intotoV001Problem(entries: TransparencyLogEntry[], subject: IntotoV001Subject, tlogs: TrustMaterial['tlogs']): string | undefined {
  for (const e of entries.filter(isIntotoV001)) {
    const problem = setProblem(e, tlogs) ?? intotoV001BodyProblem(Buffer.from(e.canonicalizedBody), subject);
    if (problem) return `the transparency log entry (intoto 0.0.1, log index ${printable(String(e.logIndex), 20)}) is refused: ${problem}`;
  }
  return undefined;
}

/** Rekor entry kinds and versions the library checks (hashedrekord, dsse, intoto 0.0.2) or this module does (intoto 0.0.1). */
const CHECKED = new Set(['hashedrekord 0.0.1', 'hashedrekord 0.0.2', 'dsse 0.0.1', 'dsse 0.0.2', 'intoto 0.0.2', 'intoto 0.0.1']);

/** A sentence for an entry of a kind nobody here can match against a signature (e.g. the `rekord` of old cosign), else undefined. */
export function unsupportedTlogKind(entries: TransparencyLogEntry[]): string | undefined {
  for (const e of entries) {
    const kv = `${e.kindVersion.kind} ${e.kindVersion.version}`;
    if (!CHECKED.has(kv)) {
      return `its transparency log (Rekor) entry is of kind "${printable(kv, 60)}", which kamal-gate cannot match against a signature (it checks hashedrekord, dsse and intoto entries): sign or attest the image again with a current cosign`;
    }
  }
  return undefined;
}

/**
 * The intoto 0.0.1 entries of a DSSE bundle against its envelope and signer: `envelopeBytes` the
 * stored envelope (Candidate.envelope), `key` the key that verified (the library's signer).
 */
export function intotoV001BundleProblem(bundle: Bundle, envelopeBytes: Buffer | undefined, key: KeyObject, tlogs: TrustMaterial['tlogs']): string | undefined {
  if (bundle.content.$case !== 'dsseEnvelope') return 'its transparency log entry is an intoto entry, which records a DSSE envelope, but the signature is not one';
  const m = bundle.verificationMaterial.content;
  const leaf = m.$case === 'x509CertificateChain' ? m.x509CertificateChain.certificates[0]?.rawBytes : m.$case === 'certificate' ? m.certificate.rawBytes : undefined;
  const signer: IntotoV001Signer = leaf ? { certificate: Buffer.from(leaf) } : { key };
  return intotoV001Problem(bundle.verificationMaterial.tlogEntries, { envelopeBytes, envelope: bundle.content.dsseEnvelope, signer }, tlogs);
}
