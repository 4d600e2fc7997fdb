/** Signatures and attestations (cosign / Sigstore): discovery, offline verification, findings. */
export { signatureChecks } from './check.js';
