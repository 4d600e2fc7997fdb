/** Candidates from what discovery reads: a legacy layer, a bundle blob, a BuildKit statement. */
import { bundleFromJSON } from '@sigstore/bundle';
import { ANNOTATION, PREDICATE } from './constants.js';
import { readStatement } from './binding.js';
import { convertAttestationLayer, convertSignatureLayer, type LegacyLayer } from './legacy.js';
import type { Candidate } from './types.js';

/** A `.sig` (format legacy-sig) or `.att` (legacy-att) layer. */
export function legacyCandidate(layer: LegacyLayer, format: 'legacy-sig' | 'legacy-att', source: string, attachedTo: string): Candidate {
  const kind = format === 'legacy-sig' ? 'signature' : 'attestation';
  const converted = format === 'legacy-sig' ? convertSignatureLayer(layer) : convertAttestationLayer(layer);
  const base: Candidate = { format, kind, source, attachedTo };
  const claimed = layer.annotations[ANNOTATION.predicateType];
  if (claimed) base.predicateType = claimed;
  if ('error' in converted) return { ...base, malformed: converted.error };
  if (converted.statement) {
    const s = readStatement(converted.statement);
    if (s.ok) base.predicateType = s.value.predicateType;
  }
  return { ...base, ...converted };
}

/**
 * A Sigstore bundle (any version the library accepts). A DSSE statement of predicate type
 * https://sigstore.dev/cosign/sign/v1 is what `cosign sign` v3 writes for a plain signature;
 * any other statement is an attestation.
 */
export function bundleCandidate(blob: Buffer, source: string, attachedTo: string): Candidate {
  const base: Candidate = { format: 'bundle', kind: 'signature', source, attachedTo };
  try {
    const bundle = bundleFromJSON(JSON.parse(blob.toString('utf8')));
    if (bundle.content.$case === 'messageSignature') {
      // The signed artifact of a message-signature referrer is not stored beside it.
      return { ...base, bundle, malformed: 'a message-signature bundle: the signed artifact is not in the registry' };
    }
    const env = bundle.content.dsseEnvelope;
    const statement = Buffer.from(env.payload);
    const s = readStatement(statement, env.payloadType);
    const predicateType = s.ok ? s.value.predicateType : undefined;
    return {
      ...base,
      kind: predicateType === PREDICATE.cosignSign ? 'signature' : 'attestation',
      bundle,
      statement,
      ...(predicateType ? { predicateType } : {}),
    };
  } catch (e) {
    return { ...base, malformed: `not a Sigstore bundle: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** An unsigned in-toto statement from a BuildKit attestation manifest inside the index. */
export function buildkitCandidate(statement: Buffer, source: string, attachedTo: string, predicateType?: string): Candidate {
  const s = readStatement(statement);
  return {
    format: 'buildkit',
    kind: 'attestation',
    source,
    attachedTo,
    statement,
    ...(s.ok ? { predicateType: s.value.predicateType } : predicateType ? { predicateType } : {}),
    ...(s.ok ? {} : { malformed: s.reason }),
  };
}
