/**
 * Writes signatures into a test registry the way cosign does: legacy `sha256-<hex>.sig` manifests
 * (one simple-signing layer per signature, annotations as in cosign pkg/oci/static) and Sigstore
 * bundles as OCI referrers with the `sha256-<hex>` fallback index tag (what ggcr writes when the
 * registry has no referrers API).
 */
import { sign, type KeyObject } from 'node:crypto';
import { sha256, type ImageBuilder } from './image-builder.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** The payload cosign writes (Go field order, no white space). */
export function simpleSigning(repository: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({ critical: { identity: { 'docker-reference': repository }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }),
  );
}

export function signPayload(payload: Buffer, key: KeyObject): string {
  // cosign signs with SHA-256 whatever the EC curve; Ed25519 hashes internally.
  const alg = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return sign(alg, payload, key).toString('base64');
}

export interface LegacyLayerSpec {
  payload: Buffer;
  annotations: Record<string, string>;
  mediaType?: string;
}

/** Pushes `repo:sha256-<hex>.sig` (or `.att`) with these layers. */
export async function pushLegacy(b: ImageBuilder, repo: string, digest: string, layers: LegacyLayerSpec[], suffix: 'sig' | 'att' = 'sig'): Promise<void> {
  const descs = [];
  for (const l of layers) {
    const d = await b.pushBlob(repo, l.payload);
    descs.push({ mediaType: l.mediaType ?? 'application/vnd.dev.cosign.simplesigning.v1+json', digest: d.digest, size: d.size, annotations: l.annotations });
  }
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: descs.map((d) => d.digest) } }));
  const c = await b.pushBlob(repo, config);
  await b.pushManifest(repo, `${digest.replace(':', '-')}.${suffix}`, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
    layers: descs,
  });
}

/** Pushes a bundle as a referrer of `subject` and (re)writes the fallback index tag listing `all` referrers so far. */
export async function pushBundleReferrer(
  b: ImageBuilder,
  repo: string,
  subject: { digest: string; size: number; mediaType: string },
  bundle: object,
  listed: Array<{ mediaType: string; digest: string; size: number; artifactType: string }> = [],
): Promise<Array<{ mediaType: string; digest: string; size: number; artifactType: string }>> {
  const blob = Buffer.from(JSON.stringify(bundle));
  const layer = await b.pushBlob(repo, blob);
  const empty = await b.pushBlob(repo, Buffer.from('{}'));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_TYPE,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty.digest, size: empty.size },
    layers: [{ mediaType: BUNDLE_TYPE, digest: layer.digest, size: layer.size }],
    subject,
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  await b.pushManifest(repo, sha256(bytes), bytes, OCI_MANIFEST);
  // ggcr's fallback entries carry no annotations (notes §2).
  const entries = [...listed, { mediaType: OCI_MANIFEST, digest: sha256(bytes), size: bytes.length, artifactType: BUNDLE_TYPE }];
  await b.pushManifest(repo, subject.digest.replace(':', '-'), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries });
  return entries;
}

/** The statement `cosign sign` v3 signs for an image digest. */
export function cosignSignStatement(digest: string): object {
  return { _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha256: digest.replace(/^sha256:/, '') } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} };
}
