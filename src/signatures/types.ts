/** The data discovery hands to verification. */
import type { Bundle } from '@sigstore/bundle';

/** Where a signature or attestation was found: the three storage formats of the notes (§0.2). */
export type Format = 'legacy-sig' | 'legacy-att' | 'bundle' | 'buildkit';

/**
 * A place discovery looks in for one digest: its legacy `.sig` or `.att` tag, its referrers (the API,
 * else the fallback tag), or the BuildKit attestation manifests of the index. `manifest` is what a
 * legacy tag pointed to when it was read (for a conditional re-check on the next run).
 */
export interface Place {
  kind: 'sig' | 'att' | 'referrers' | 'buildkit';
  /** The digest the place belongs to (the index or a platform manifest). */
  at: string;
  manifest?: string;
}

/** One signature, attestation or unsigned BuildKit attestation found for an image. */
export interface Candidate {
  format: Format;
  kind: 'signature' | 'attestation';
  /** Where it was read, for messages: `registry/repo:sha256-….sig[#layer]`, `…@sha256:… (referrer)`. */
  source: string;
  /** The digest it is attached to (the index or a platform manifest). */
  attachedTo: string;
  /** The Sigstore bundle to verify (native, or converted from a legacy layer); absent for unsigned BuildKit attestations. */
  bundle?: Bundle;
  /** For a message signature: the signed bytes (the simple-signing payload). */
  payload?: Buffer;
  /** For an attestation: the in-toto statement bytes (the DSSE payload, or the BuildKit blob). */
  statement?: Buffer;
  /** For a legacy `.att` layer: the DSSE envelope bytes as stored (an intoto 0.0.1 Rekor entry hashes them). */
  envelope?: Buffer;
  /** What the storage claimed, before anything was verified. */
  predicateType?: string;
  /** Set when the entry could not be read as a signature at all. */
  malformed?: string;
  /** Where discovery found it. */
  place?: Place;
}

export interface Discovery {
  candidates: Candidate[];
  /** The formats found (not yet verified). */
  formats: Format[];
  /** Places looked at, for `signature.missing`. */
  searched: string[];
  /** Registry requests discovery spent. */
  requests: number;
  /** The places looked in. */
  places: Place[];
  /** Set when a cap was hit. */
  truncated?: string;
  /** Referrers read that carry no signature, with why (the first 20 of `ignoredCount`): for `signature.missing`. */
  ignored?: string[];
  ignoredCount?: number;
}
