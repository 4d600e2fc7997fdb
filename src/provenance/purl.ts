/**
 * Docker package URLs as BuildKit writes them into provenance materials
 * (`util/purl/image.go`): `pkg:docker/<familiar-name>@<tag>?platform=linux%2Famd64[&digest=sha256:…]`,
 * the namespace being everything before the last `/` of the familiar name.
 */
import { parseReference, validateDigest, type ImageReference } from '../registry/reference.js';
import { parsePlatform } from '../registry/manifest.js';
import type { Platform } from '../registry/oci.js';

export interface DockerPurl {
  /** The image, normalized; `tag` set when the purl has one (no digest: see `digest`). */
  ref: ImageReference;
  /** The `digest=` qualifier, or a version that is a digest. */
  digest?: string;
  platform?: Platform;
}

const MAX_PURL = 1024;

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The image a `pkg:docker/…` purl names, or undefined when it is not one (or is malformed). */
export function parseDockerPurl(uri: string): DockerPurl | undefined {
  if (uri.length > MAX_PURL || !/^pkg:docker\//i.test(uri)) return undefined;
  let rest = uri.slice('pkg:docker/'.length).split('#')[0]!;
  let query = '';
  const q = rest.indexOf('?');
  if (q !== -1) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    version = decode(rest.slice(at + 1));
    rest = rest.slice(0, at);
    if (version === undefined) return undefined;
  }
  const segments = rest.split('/').map(decode);
  if (segments.some((s) => s === undefined || s === '')) return undefined;
  const name = segments.join('/');

  const qualifiers = new Map<string, string>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const value = decode(pair.slice(eq + 1));
    if (value !== undefined) qualifiers.set(pair.slice(0, eq).toLowerCase(), value);
  }
  let digest = qualifiers.get('digest');
  let tag = version;
  if (tag && /^[a-z0-9]+:/.test(tag)) {
    digest ??= tag;
    tag = undefined;
  }
  try {
    if (digest) validateDigest(digest);
    const ref = parseReference(tag ? `${name}:${tag}` : name);
    if (!tag) {
      delete ref.tag;
      ref.tagDefaulted = false;
    }
    const out: DockerPurl = { ref };
    if (digest) out.digest = digest;
    const platform = qualifiers.get('platform');
    if (platform) {
      try {
        out.platform = parsePlatform(platform);
      } catch {
        // an unreadable platform qualifier does not make the image unknown
      }
    }
    return out;
  } catch {
    return undefined;
  }
}
