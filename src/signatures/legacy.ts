/**
 * Legacy cosign storage (`sha256-<hex>.sig` / `.att` layers) converted in memory into Sigstore
 * bundles v0.1 that @sigstore/verify accepts (shared/notes/sigstore.md §1, §3 "Legacy .sig → bundle").
 * The conversion copies what the layer carries and adds nothing: a tlog entry only from cosign's
 * bundle annotation (with its SET), a timestamp only from the RFC 3161 annotation.
 */
import { createHash } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { ANNOTATION, LIMITS, MEDIA } from './constants.js';
import { pemCertificates } from './pem.js';

const V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';

/** A legacy layer: its media type, annotations and blob. */
export interface LegacyLayer {
  mediaType: string;
  annotations: Record<string, string>;
  blob: Buffer;
}

export type Converted = { bundle: Bundle; payload?: Buffer; statement?: Buffer; envelope?: Buffer } | { error: string };

function jsonAnnotation(value: string | undefined, what: string): Record<string, unknown> | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > LIMITS.annotationBytes) throw new Error(`${what} annotation is over ${LIMITS.annotationBytes} bytes`);
  const doc = JSON.parse(value) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${what} annotation is not a JSON object`);
  return doc as Record<string, unknown>;
}

/** cosign's `dev.sigstore.cosign/bundle` → a serialized tlog entry with its SET (inclusion promise). */
function tlogEntry(annotation: string | undefined): Record<string, unknown>[] {
  const rb = jsonAnnotation(annotation, 'cosign bundle');
  if (!rb) return [];
  const p = rb.Payload as { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown } | undefined;
  if (!p || typeof p.body !== 'string' || typeof rb.SignedEntryTimestamp !== 'string' || typeof p.logID !== 'string') {
    throw new Error('cosign bundle annotation lacks Payload.body, Payload.logID or SignedEntryTimestamp');
  }
  const body = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as { kind?: unknown; apiVersion?: unknown };
  return [
    {
      logIndex: String(p.logIndex),
      logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
      kindVersion: { kind: String(body.kind), version: String(body.apiVersion) },
      integratedTime: String(p.integratedTime),
      inclusionPromise: { signedEntryTimestamp: rb.SignedEntryTimestamp },
      canonicalizedBody: p.body,
    },
  ];
}

function keyMaterial(ann: Record<string, string>): Record<string, unknown> {
  const cert = ann[ANNOTATION.certificate];
  if (!cert) return { publicKey: { hint: '' } };
  const [leaf] = pemCertificates(cert);
  if (!leaf) throw new Error('certificate annotation holds no PEM certificate');
  // Only the leaf: @sigstore/verify builds the chain from the trusted root alone, never from the signature.
  return { x509CertificateChain: { certificates: [{ rawBytes: leaf.toString('base64') }] } };
}

/** A `.sig` layer (simple-signing payload) as a v0.1 message-signature bundle over the payload bytes. */
export function convertSignatureLayer(layer: LegacyLayer): Converted {
  try {
    if (layer.mediaType !== MEDIA.simpleSigning) return { error: `layer type ${layer.mediaType} is not a cosign simple-signing payload` };
    const sig = layer.annotations[ANNOTATION.signature];
    if (!sig) return { error: `layer has no ${ANNOTATION.signature} annotation` };
    const tsa = jsonAnnotation(layer.annotations[ANNOTATION.rfc3161], 'rfc3161 timestamp');
    const signed = tsa?.SignedRFC3161Timestamp;
    const bundle = bundleFromJSON({
      mediaType: V01,
      verificationMaterial: {
        ...keyMaterial(layer.annotations),
        tlogEntries: tlogEntry(layer.annotations[ANNOTATION.bundle]),
        timestampVerificationData: { rfc3161Timestamps: typeof signed === 'string' ? [{ signedTimestamp: signed }] : [] },
      },
      messageSignature: {
        // The digest of the bytes fetched, never of a re-serialization (notes §1).
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(layer.blob).digest('base64') },
        signature: sig,
      },
    });
    return { bundle, payload: layer.blob };
  } catch (e) {
    return { error: `cannot read the legacy signature: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * A `.att` layer (a DSSE envelope) as a v0.1 DSSE bundle. Its RFC 3161 timestamp is left out on
 * purpose: cosign stamps the envelope payload, @sigstore/verify checks a stamp over the DSSE
 * signature, so it could never verify; the SET stands in (notes §1 "RFC3161").
 */
export function convertAttestationLayer(layer: LegacyLayer): Converted {
  try {
    if (layer.mediaType !== MEDIA.dsse) return { error: `layer type ${layer.mediaType} is not a DSSE envelope` };
    const env = JSON.parse(layer.blob.toString('utf8')) as { payload?: unknown; payloadType?: unknown; signatures?: unknown };
    if (typeof env.payload !== 'string' || typeof env.payloadType !== 'string' || !Array.isArray(env.signatures)) {
      return { error: 'the DSSE envelope lacks payload, payloadType or signatures' };
    }
    const bundle = bundleFromJSON({
      mediaType: V01,
      verificationMaterial: {
        ...keyMaterial(layer.annotations),
        tlogEntries: tlogEntry(layer.annotations[ANNOTATION.bundle]),
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      dsseEnvelope: env,
    });
    return { bundle, statement: Buffer.from(env.payload, 'base64'), envelope: layer.blob };
  } catch (e) {
    return { error: `cannot read the legacy attestation: ${e instanceof Error ? e.message : String(e)}` };
  }
}
