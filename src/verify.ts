/**
 * The pipeline every command uses: targets → subjects (resolved at the registry). Later stages
 * (checks, policy, ledger) hang off the same results.
 */
import { isKamalGateError, KamalGateError, RegistryError, TagNotFoundError } from './errors.js';
import type { RegistryClient, Resolution } from './registry/client.js';
import { formatPlatform } from './registry/manifest.js';
import { formatReference, parseReference } from './registry/reference.js';
import type { Platform, Subject, Target } from './types.js';

export interface TargetResult {
  target: Target;
  subject?: Subject;
  /** Why the target could not be resolved. */
  error?: KamalGateError;
  /** An optional target (Kamal's `latest` alias) that is absent: reported, not a failure. */
  absent?: boolean;
}

export interface ResolveOptions {
  /** Overrides each target's platforms (`--platform`). */
  platforms?: Platform[];
  /** Targets resolved at once; the HTTP layer also bounds connections per registry. */
  concurrency?: number;
}

export function toSubject(target: Target, r: Resolution): Subject {
  const subject: Subject = {
    target,
    ref: formatReference({ ...r.ref, digest: undefined }),
    registry: r.ref.registry,
    repository: r.ref.repository,
    tag: r.ref.tag,
    digest: r.digest,
    mediaType: r.mediaType,
    platforms: r.platforms,
    platformDigests: Object.fromEntries(r.platformDigests.map((p) => [formatPlatform(p.platform), p.digest])),
    annotations: { ...(r.index?.annotations ?? {}), ...r.manifest.annotations },
  };
  if (r.index) {
    subject.platformDigest = r.manifestDigest;
  }
  if (r.platform) subject.platform = r.platform;
  if (r.config) {
    subject.config = { digest: r.config.digest, labels: r.config.labels };
    if (r.config.created) subject.config.created = r.config.created;
    if (r.config.os) subject.config.os = r.config.os;
    if (r.config.architecture) subject.config.architecture = r.config.architecture;
  }
  return subject;
}

export async function resolveTargets(client: RegistryClient, targets: Target[], opts: ResolveOptions = {}): Promise<TargetResult[]> {
  const results: TargetResult[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < targets.length; i = next++) {
      const target = targets[i]!;
      results[i] = await resolveOne(client, target, opts);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 8, targets.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

async function resolveOne(client: RegistryClient, target: Target, opts: ResolveOptions): Promise<TargetResult> {
  try {
    const ref = parseReference(target.ref);
    const platforms = opts.platforms?.length ? opts.platforms : target.platforms;
    const r = await client.resolve(ref, platforms);
    return { target, subject: toSubject(target, r) };
  } catch (e) {
    if (target.optional && e instanceof TagNotFoundError) return { target, absent: true, error: e };
    if (isKamalGateError(e)) return { target, error: e };
    const msg = e instanceof Error ? e.message : String(e);
    return { target, error: new RegistryError(`${target.ref}: unexpected failure: ${msg}`) };
  }
}

/**
 * Which exit code wins when targets fail differently: a usage or config error (2) first, since it
 * is the user's to fix whatever the registry says; then could not verify (3); then a violation (1).
 */
const EXIT_PRECEDENCE = [2, 3, 1];

export function combineExitCodes(codes: number[]): number {
  for (const c of EXIT_PRECEDENCE) if (codes.includes(c)) return c;
  return 0;
}

/** The exit code of a resolution run, from the errors of targets that are not optional. */
export function resolutionExitCode(results: TargetResult[]): number {
  return combineExitCodes(results.filter((r) => r.error && !r.absent).map((r) => r.error!.exitCode));
}
