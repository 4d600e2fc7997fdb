/** Signatures and attestations (cosign / Sigstore): discovery, offline verification, findings. */
export { signatureChecks, deployedDigests, type SignatureCheckOptions, type SignatureCheckResult } from './check.js';
export { discover, type DiscoverInput } from './discover.js';
export { evaluate, type Evaluation, type Tried } from './evaluate.js';
export { signatureFindings, attestationFindings, type AttestationResult } from './findings.js';
export { signerSpecs, loadPublicKey, type SignerSpec } from './signers.js';
export { verifyCandidate, type Outcome, type Failure, type VerifyContext } from './verify.js';
export { loadTrustedRoot, refreshTrustedRoot, defaultCacheDir, seededPublicGoodRoot, type TrustOptions, type LoadedRoot } from './trust.js';
export type { Candidate, Discovery, Format } from './types.js';
