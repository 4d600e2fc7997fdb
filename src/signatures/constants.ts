/**
 * Media types, annotation keys, predicate types and limits of cosign / Sigstore storage in a registry
 * (shared/notes/sigstore.md §1–2).
 */

export const MEDIA = {
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsse: 'application/vnd.dsse.envelope.v1+json',
  inToto: 'application/vnd.in-toto+json',
  /** Prefix of every Sigstore bundle media type (`…bundle.v0.3+json`, `…bundle+json;version=0.2`). */
  bundlePrefix: 'application/vnd.dev.sigstore.bundle',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

export const ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161: 'dev.sigstore.cosign/rfc3161timestamp',
  predicateType: 'predicateType',
  bundlePredicateType: 'dev.sigstore.bundle.predicateType',
  buildkitRefType: 'vnd.docker.reference.type',
  buildkitRefDigest: 'vnd.docker.reference.digest',
  intotoPredicateType: 'in-toto.io/predicate-type',
} as const;

export const PREDICATE = {
  /** What `cosign sign` v3 signs: a statement that stands for a plain image signature. */
  cosignSign: 'https://sigstore.dev/cosign/sign/v1',
  slsaV02: 'https://slsa.dev/provenance/v0.2',
  slsaV1: 'https://slsa.dev/provenance/v1',
} as const;

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

/** Fulcio certificate extensions for GitHub Actions claims (sigstore/fulcio docs/oid-info.md); raw UTF-8 values. */
export const FULCIO_OID = {
  githubWorkflowName: '1.3.6.1.4.1.57264.1.4',
  githubWorkflowRepository: '1.3.6.1.4.1.57264.1.5',
  githubWorkflowRef: '1.3.6.1.4.1.57264.1.6',
  githubWorkflowSha: '1.3.6.1.4.1.57264.1.3',
  // Generic CI extensions (sigstore-go certificate.Extensions); DER UTF8String values.
  buildSignerUri: '1.3.6.1.4.1.57264.1.9',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryOwnerUri: '1.3.6.1.4.1.57264.1.16',
} as const;

/** GitHub Actions as a Sigstore signer: its OIDC issuer, and the host its certificate URIs name. */
export const GITHUB = {
  issuer: 'https://token.actions.githubusercontent.com',
  url: 'https://github.com',
  /** The Runner Environment of a GitHub-hosted runner (`gh attestation verify --deny-self-hosted-runners`). */
  hostedRunner: 'github-hosted',
} as const;

/** Caps against hostile registries: how much discovery reads. */
export const LIMITS = {
  /** Signatures read from one `.sig`/`.att` manifest (cosign itself stops at 1000). */
  layersPerManifest: 100,
  /** Referrers read per digest. */
  referrers: 100,
  /** Candidates kept per image in all. */
  candidates: 256,
  /** A simple-signing payload. */
  payloadBytes: 256 * 1024,
  /** A bundle, DSSE envelope or in-toto statement (SBOMs can be large). */
  envelopeBytes: 16 * 1024 * 1024,
  /** Annotation values parsed as JSON (cosign bundle, timestamp). */
  annotationBytes: 64 * 1024,
} as const;
