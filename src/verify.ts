/**
 * The pipeline every command uses (DESIGN.md "Data flow"): targets → images (resolved at the
 * registry) → findings (the checks of src/checks/index.ts) → the policy's decision (mode,
 * exceptions) → an exit code. Each stage is a plain function over plain data.
 */
import { CHECKS } from './checks/index.js';
import { configChecks } from './checks/config.js';
import type { CheckContext, CheckOptions, ImageCheck, TargetCheck } from './checks/types.js';
import { isKamalGateError, RegistryError, TagNotFoundError } from './errors.js';
import { formatTagRef } from './ledger/tag-ref.js';
import type { NewEntry } from './ledger/types.js';
import { mapConcurrent } from './map-concurrent.js';
import { decide } from './policy/decide.js';
import { requirementsFor } from './policy/match.js';
import type { DecidedFinding, EffectiveRequirements } from './policy/types.js';
import type { RegistryClient, Resolution } from './registry/client.js';
import { platformDigestMap } from './registry/manifest.js';
import { formatReference, parseReference } from './registry/reference.js';
import { SEVERITY_RANK, type BaseSummary, type Finding, type Platform, type ResolvedImage, type Target, type TargetResult } from './types.js';

export interface ResolveOptions {
  /** Overrides each target's platforms (`--platform`). */
  platforms?: Platform[];
  /** Targets resolved at once; the HTTP layer also bounds connections per registry. */
  concurrency?: number;
  /** Called as each target is resolved (progress on a terminal). */
  onProgress?: (done: number, total: number) => void;
}

/** The one record of a resolved image: the report-facing facts and the resolution they come from. */
export function resolvedImage(target: Target, r: Resolution): ResolvedImage {
  const image: ResolvedImage = {
    target,
    ref: formatReference({ ...r.ref, digest: undefined }),
    registry: r.ref.registry,
    repository: r.ref.repository,
    tag: r.ref.tag,
    digest: r.digest,
    mediaType: r.mediaType,
    platforms: r.platforms,
    platformDigests: platformDigestMap(r.platformDigests),
    annotations: { ...(r.index?.annotations ?? {}), ...r.manifest.annotations },
    resolution: r,
  };
  if (r.index) {
    image.platformDigest = r.manifestDigest;
  }
  if (r.platform) image.platform = r.platform;
  if (r.config) {
    image.config = { digest: r.config.digest, labels: r.config.labels };
    if (r.config.created) image.config.created = r.config.created;
    if (r.config.os) image.config.os = r.config.os;
    if (r.config.architecture) image.config.architecture = r.config.architecture;
  }
  return image;
}

export async function resolveTargets(client: RegistryClient, targets: Target[], opts: ResolveOptions = {}): Promise<TargetResult[]> {
  // One token for every repository of a registry this run reads, where the token service allows it.
  const repos = [];
  for (const t of targets) {
    try {
      repos.push(parseReference(t.ref));
    } catch {
      // reported by resolveOne
    }
  }
  client.expectRepositories(repos);
  return mapConcurrent(targets, opts.concurrency ?? 8, (target) => resolveOne(client, target, opts), opts.onProgress);
}

async function resolveOne(client: RegistryClient, target: Target, opts: ResolveOptions): Promise<TargetResult> {
  try {
    const ref = parseReference(target.ref);
    const platforms = opts.platforms?.length ? opts.platforms : target.platforms;
    return { target, image: resolvedImage(target, await client.resolve(ref, platforms)) };
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
function resolutionExitCode(results: TargetResult[]): number {
  return combineExitCodes(results.filter((r) => r.error && !r.absent).map((r) => r.error!.exitCode));
}

export type VerifyOptions = ResolveOptions & CheckOptions;

/** A target after the checks and the policy's decision: what the report shows of it. */
interface VerifiedTarget extends TargetResult {
  /** Its decided findings, worst first. */
  findings: DecidedFinding[];
  base?: BaseSummary;
}

export interface VerifyRun {
  results: VerifiedTarget[];
  /** Findings about the policy itself (an expired exception no image falls under). */
  policyFindings: DecidedFinding[];
  /** Ledger entries written by this run. */
  entries: number;
  exitCode: number;
}

/**
 * Resolution begun before the rest of the run is ready: `verify` starts it as soon as it knows the
 * targets, so the registry answers while the policy, the lint and the ledger load. It opens the run's
 * snapshot (one answer per tag); verifyTargets, given it, closes the snapshot.
 */
export interface Resolving {
  results: Promise<TargetResult[]>;
}

export function startResolving(client: RegistryClient, targets: Target[], opts: ResolveOptions = {}): Resolving {
  client.beginSnapshot();
  const results = resolveTargets(client, targets, opts);
  // A run that fails before it awaits the results (a bad policy) must not leave a rejection unheard.
  results.catch(() => undefined);
  return { results };
}

/** Resolves every target (or takes the resolution started with startResolving), runs every check its requirements ask for, and lets the policy decide. */
export async function verifyTargets(client: RegistryClient, targets: Target[], opts: VerifyOptions, resolving?: Resolving): Promise<VerifyRun> {
  const started = resolving ?? startResolving(client, targets, opts);
  try {
    return await verifyRun(client, await started.results, opts);
  } finally {
    client.endSnapshot();
  }
}

/** One target through the checks. */
interface Checking {
  result: TargetResult;
  requirements?: EffectiveRequirements;
  findings: Finding[];
  base?: BaseSummary;
}

async function verifyRun(client: RegistryClient, resolved: TargetResult[], opts: VerifyOptions): Promise<VerifyRun> {
  const checking = resolved.map(
    (result): Checking => ({ result, findings: [], ...(result.image ? { requirements: requirementsFor(opts.policy, { ref: result.image.ref, role: result.target.role }) } : {}) }),
  );
  const run: CheckContext = { ...opts, client, checkpoints: new Map() };
  const raw: Finding[] = [];
  const entries: NewEntry[] = [];
  // A config finding about no target of this run still counts (the config check sees each target's own).
  const known = new Set(checking.map((c) => c.result.target));
  raw.push(
    ...configChecks(
      (opts.configFindings ?? []).filter((f) => !known.has(f.target)),
      opts.policy,
    ),
  );

  // Target checks: each over every target in turn (the ledger's reads must not race), before any image check.
  for (const check of CHECKS.filter((c): c is TargetCheck => c.on === 'target')) {
    for (const c of checking) {
      const out = await check.run(c.result, { ...run, requirements: c.requirements });
      raw.push(...out.findings);
      entries.push(...(out.entries ?? []));
      if (out.explained) c.result = { ...c.result, error: undefined };
    }
  }

  // Image checks: images concurrently, and an image's checks concurrently too (signatures, base and
  // hosts wait on different servers), their outputs taken in list order. A check that throws makes
  // the image an error and the outputs of the checks after it are dropped, as if they had not run.
  // Kamal's latest alias is the app image again, and hosts never pull it by that tag.
  const imageChecks = CHECKS.filter((c): c is ImageCheck => c.on === 'image');
  await mapConcurrent(checking, opts.concurrency ?? 8, async (c) => {
    const { image } = c.result;
    if (!image || !c.requirements) return;
    if (c.result.target.aliasOf) return;
    const context = { ...run, requirements: c.requirements };
    const outs = await Promise.allSettled(imageChecks.map(async (check) => check.run(image, context)));
    for (const [i, out] of outs.entries()) {
      if (out.status === 'rejected') {
        // A registry that fails or lies (content that does not match its digest) while the image is
        // checked: the image could not be verified.
        const e: unknown = out.reason;
        c.result = { ...c.result, error: isKamalGateError(e) ? e : new RegistryError(`${image.target.ref}: ${imageChecks[i]!.name}: ${String(e)}`) };
        return;
      }
      c.findings.push(...out.value.findings);
      entries.push(...(out.value.entries ?? []));
      if (out.value.base) c.base = out.value.base;
    }
  });
  for (const c of checking) raw.push(...c.findings);

  const decision = decide(raw, opts.policy, opts.now);
  const results = checking.map((c): VerifiedTarget => ({ ...c.result, findings: [], ...(c.base ? { base: c.base } : {}) }));
  const byTarget = new Map(results.map((r) => [r.target, r]));
  const policyFindings: DecidedFinding[] = [];
  for (const f of decision.findings) {
    const r = byTarget.get(f.target);
    if (r) r.findings.push(f);
    else policyFindings.push(f);
  }
  for (const r of results) r.findings.sort(worstFirst);
  if (opts.ledger && entries.length) await opts.ledger.append(dedupeEntries(entries));
  const exitCode = combineExitCodes([resolutionExitCode(results), decision.exitCode]);
  return { results, policyFindings, entries: entries.length, exitCode };
}

/** Failing findings first, then by severity. */
function worstFirst(a: DecidedFinding, b: DecidedFinding): number {
  return Number(b.fails) - Number(a.fails) || (SEVERITY_RANK[a.severity] ?? 5) - (SEVERITY_RANK[b.severity] ?? 5);
}

/** Two images on one base observe the same base tag: write it once. */
function dedupeEntries(entries: NewEntry[]): NewEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = `${formatTagRef(e)}|${e.digest}|${e.event}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
