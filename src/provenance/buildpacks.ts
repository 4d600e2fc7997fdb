/**
 * The base of a Cloud Native Buildpacks image: the run image recorded by the lifecycle in the
 * `io.buildpacks.lifecycle.metadata` config label (`runImage.reference` = the run image pinned by
 * digest, `runImage.image` = as named, `runImage.topLayer` = its last diff_id), beside the run
 * image's own `io.buildpacks.base.*` labels, which the app image inherits.
 */
import { parseReference, validateDigest, type ImageReference } from '../registry/reference.js';
import { baseName, confirmBase, type DiscoveryContext } from './context.js';
import type { BaseDiscovery } from './types.js';

const LIFECYCLE_METADATA = 'io.buildpacks.lifecycle.metadata';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' && v.length <= 1024 ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function parseRef(s: string | undefined, ctx: DiscoveryContext, what: string): ImageReference | undefined {
  if (!s) return undefined;
  try {
    return parseReference(s);
  } catch {
    ctx.evidence.push(`buildpacks ${what} ${JSON.stringify(s.slice(0, 200))} is not an image reference; ignored`);
    return undefined;
  }
}

export async function fromBuildpacks(ctx: DiscoveryContext): Promise<BaseDiscovery | undefined> {
  const labels = ctx.r.config?.labels ?? {};
  const raw = labels[LIFECYCLE_METADATA];
  if (raw === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    ctx.evidence.push(`label ${LIFECYCLE_METADATA} is not valid JSON; ignored`);
    return undefined;
  }
  const run = obj(obj(doc).runImage);
  const legacy = obj(obj(obj(doc).stack).runImage);
  const image = str(run.image) ?? str(legacy.image);
  const reference = str(run.reference);
  const topLayer = str(run.topLayer);
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith('io.buildpacks.base.') || k === 'io.buildpacks.stack.id') ctx.evidence.push(`label ${k}=${v.slice(0, 200)}`);
  }
  if (image) ctx.evidence.push(`buildpacks run image ${image}`);
  if (reference) ctx.evidence.push(`buildpacks run image reference ${reference}`);

  // `reference` is `repo@sha256:…` from a registry, but a bare image ID when built against a daemon.
  let digest: string | undefined;
  const pinned = reference?.includes('@') ? parseRef(reference, ctx, 'runImage.reference') : undefined;
  if (pinned?.digest) digest = pinned.digest;
  else if (reference) {
    try {
      validateDigest(reference);
      ctx.evidence.push(`runImage.reference ${reference} is a local image ID, not a registry digest`);
    } catch {
      // neither a pinned reference nor an ID: said above what it is
    }
  }
  if (topLayer) {
    const at = ctx.diffIds.indexOf(topLayer);
    ctx.evidence.push(at === -1 ? `run image top layer ${topLayer} is not among the image's layers` : `run image top layer ${topLayer} is layer ${at + 1} of the image's ${ctx.diffIds.length}`);
  }
  const ref = parseRef(image, ctx, 'runImage.image') ?? (pinned ? { ...pinned, digest: undefined } : undefined);
  if (!ref) {
    if (!digest && !topLayer) return undefined;
    return { source: 'buildpacks', digest, platform: ctx.platform, evidence: ctx.evidence };
  }
  // The run image's repository is the one it was pulled from; `image` may name a mirror of it.
  const fetchRef = pinned && digest ? pinned : ref;
  const c = await confirmBase(ctx, fetchRef, digest);
  return {
    source: 'buildpacks',
    name: baseName(ref),
    digest: c.digest ?? digest,
    platformDigest: c.platformDigest,
    confirmedByLayers: c.confirmedByLayers,
    platform: ctx.platform,
    evidence: ctx.evidence,
  };
}
