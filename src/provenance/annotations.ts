/**
 * The base named by OCI annotations `org.opencontainers.image.base.name` / `.base.digest`: on the
 * platform manifest, on the index (ko puts the base index digest there and the per-platform digest
 * on each child), or as config labels of the same keys (.NET SDK, hand-written `LABEL`s).
 */
import { parseReference, validateDigest, type ImageReference } from '../registry/reference.js';
import { baseName, confirmBase, type DiscoveryContext } from './context.js';
import type { BaseDiscovery } from './types.js';

const BASE_NAME = 'org.opencontainers.image.base.name';
const BASE_DIGEST = 'org.opencontainers.image.base.digest';

interface Found {
  value: string;
  where: string;
}

function places(ctx: DiscoveryContext): Array<{ where: string; map: Record<string, string> }> {
  return [
    { where: 'platform manifest annotation', map: ctx.r.manifest.annotations },
    { where: 'index annotation', map: ctx.r.index?.annotations ?? {} },
    { where: 'config label', map: ctx.r.config?.labels ?? {} },
  ];
}

function validDigest(ctx: DiscoveryContext, f: Found | undefined): string | undefined {
  if (!f) return undefined;
  try {
    return validateDigest(f.value);
  } catch {
    ctx.evidence.push(`${f.where} ${BASE_DIGEST} ${JSON.stringify(f.value.slice(0, 80))} is not a digest; ignored`);
    return undefined;
  }
}

export async function fromAnnotations(ctx: DiscoveryContext): Promise<BaseDiscovery | undefined> {
  const find = (key: string) => places(ctx).map((p) => (p.map[key] ? { value: p.map[key]!, where: p.where } : undefined));
  const names = find(BASE_NAME);
  const [manifestDigest, indexDigest, labelDigest] = find(BASE_DIGEST).map((f) => validDigest(ctx, f));
  const nameFound = names.find((f) => f !== undefined);
  if (!nameFound && !manifestDigest && !indexDigest && !labelDigest) return undefined;

  let ref: ImageReference | undefined;
  if (nameFound) {
    ctx.evidence.push(`${nameFound.where} ${BASE_NAME}=${nameFound.value.slice(0, 200)}`);
    try {
      ref = parseReference(nameFound.value);
    } catch (e) {
      ctx.evidence.push(`${BASE_NAME} is not an image reference (${(e as Error).message}); ignored`);
    }
  }
  // The index-level digest is the base index (ko); a child's own is that platform's manifest.
  let digest = indexDigest ?? manifestDigest ?? labelDigest ?? ref?.digest;
  const shown = new Set<string>();
  for (const [d, where] of [
    [indexDigest, 'index annotation'],
    [manifestDigest, 'platform manifest annotation'],
    [labelDigest, 'config label'],
  ] as const) {
    if (d && !shown.has(d)) ctx.evidence.push(`${where} ${BASE_DIGEST}=${d}`);
    if (d) shown.add(d);
  }
  if (!ref) {
    ctx.evidence.push('no usable base name, so the base digest cannot be fetched to confirm it');
    return { source: 'annotation', digest, platformDigest: indexDigest && manifestDigest !== indexDigest ? manifestDigest : undefined, platform: ctx.platform, evidence: ctx.evidence };
  }
  const c = await confirmBase(ctx, ref, digest);
  digest = c.digest ?? digest;
  if (manifestDigest && c.platformDigest && manifestDigest !== digest && manifestDigest !== c.platformDigest) {
    ctx.evidence.push(`the platform manifest annotation names ${manifestDigest}, but the base gives ${c.platformDigest} for this platform`);
  }
  return {
    source: 'annotation',
    name: baseName(ref),
    digest,
    platformDigest: c.platformDigest ?? (manifestDigest !== digest ? manifestDigest : undefined),
    confirmedByLayers: c.confirmedByLayers,
    platform: ctx.platform,
    evidence: ctx.evidence,
  };
}
