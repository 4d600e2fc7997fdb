/**
 * The pipeline every command uses (DESIGN.md "Data flow"): targets → subjects (resolved at the
 * registry) → findings (checks: ledger, tags, platforms, image age, base image) → the policy's
 * decision (mode, exceptions) → an exit code. Each stage is a plain function over plain data.
 */
import { isKamalGateError, KamalGateError, RegistryError, TagNotFoundError } from './errors.js';
import { baseChecks, type BaseSummary } from './checks/base.js';
import { imageAgeCheck, platformChecks, tagChecks } from './checks/image.js';
import { wantsSignatureCheck } from './signatures/wants.js';
import type { SignatureCheckOptions } from './signatures/check.js';
import { checkLedger, checkpointCheck } from './checks/ledger.js';
import { configChecks } from './checks/config.js';
import type { Ledger, LedgerSource, NewEntry } from './ledger/types.js';
import { decide } from './policy/decide.js';
import { requirementsFor } from './policy/match.js';
import type { DecidedFinding, Policy } from './policy/types.js';
import type { RegistryClient, Resolution } from './registry/client.js';
import { platformDigestMap } from './registry/manifest.js';
import { formatReference, parseReference } from './registry/reference.js';
import { SEVERITY_RANK, type Finding, type Platform, type Subject, type Target } from './types.js';

export interface TargetResult {
  target: Target;
  subject?: Subject;
  /** Everything resolution fetched (index, platform manifest, config), for the checks. */
  resolution?: Resolution;
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
  /** Called as each target is resolved (progress on a terminal). */
  onProgress?: (done: number, total: number) => void;
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
    platformDigests: platformDigestMap(r.platformDigests),
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
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < targets.length; i = next++) {
      const target = targets[i]!;
      results[i] = await resolveOne(client, target, opts);
      opts.onProgress?.(++done, targets.length);
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
    return { target, subject: toSubject(target, r), resolution: r };
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

export interface VerifyOptions extends ResolveOptions {
  policy: Policy;
  ledger?: Ledger;
  /** `--require-recorded`: every tag must have been recorded, whatever the policy's ledger trust. */
  requireRecorded?: boolean;
  source: LedgerSource;
  actor?: string;
  now: Date;
  /** A Sigstore trusted_root.json instead of the public-good root (`--trusted-root FILE`). */
  trustedRoot?: string;
  /** The trusted root keyless ledger checkpoints are verified against (`--trusted-root`, else $KAMAL_GATE_TRUSTED_ROOT). */
  checkpointRoot?: string;
  /** Config lint findings (kamal/lint.ts), each on one of `targets`; the policy's config group governs them. */
  configFindings?: Finding[];
  /** Signers every image must also have, from `verify --key` / `--certificate-identity` (enforced, on top of the policy). */
  extraSignatures?: SignatureCheckOptions['extraSignatures'];
  /** Attestations every image must also have, from `verify --attestation-owner` / `--attestation-repo` (enforced, on top of the policy). */
  extraAttestations?: SignatureCheckOptions['extraAttestations'];
}

export interface VerifyRun {
  results: TargetResult[];
  /** Decided findings per result index. */
  findings: Map<number, DecidedFinding[]>;
  /** Findings about the policy itself (an expired exception no image falls under). */
  policyFindings: DecidedFinding[];
  bases: Map<number, BaseSummary>;
  /** Ledger entries written by this run. */
  entries: number;
  exitCode: number;
}

/** Resolves every target, runs every check its requirements ask for, and lets the policy decide. */
export async function verifyTargets(client: RegistryClient, targets: Target[], opts: VerifyOptions): Promise<VerifyRun> {
  client.beginSnapshot();
  try {
    return await verifyRun(client, targets, opts);
  } finally {
    client.endSnapshot();
  }
}

async function verifyRun(client: RegistryClient, targets: Target[], opts: VerifyOptions): Promise<VerifyRun> {
  const results = await resolveTargets(client, targets, opts);
  const requirements = results.map((r) => (r.subject ? requirementsFor(opts.policy, { ref: r.subject.ref, role: r.target.role }) : undefined));
  const raw: Finding[] = configChecks(opts.configFindings ?? [], opts.policy);
  const entries: NewEntry[] = [];
  const bases = new Map<number, BaseSummary>();

  if (opts.ledger) {
    const checkpoints = await checkpointCheck(opts.ledger, results, (i) => requirements[i]?.groups.ledger.value, { ...(opts.checkpointRoot ? { trustedRoot: opts.checkpointRoot } : {}) });
    raw.push(...checkpoints.findings);
    const checked = await checkLedger(opts.ledger, results, {
      approvalsUpTo: (i) => checkpoints.upTo.get(i),
      source: opts.source,
      ...(opts.actor ? { actor: opts.actor } : {}),
      requireRecorded: (i) => opts.requireRecorded === true || requirements[i]?.groups.ledger.value.trust === 'strict',
      skip: (i) => requirements[i]?.groups.ledger.value.mode === 'off',
    });
    for (const i of checked.explained) results[i] = { ...results[i]!, error: undefined };
    for (const f of checked.findings.values()) raw.push(...f);
    entries.push(...checked.entries);
  }

  let next = 0;
  const worker = async () => {
    for (let i = next++; i < results.length; i = next++) {
      const r = results[i]!;
      const req = requirements[i];
      // Kamal's latest alias is the app image again, and hosts never pull it by that tag.
      if (!r.subject || !r.resolution || !req || r.target.aliasOf) continue;
      raw.push(
        ...tagChecks(r.target, r.subject, req),
        ...platformChecks(r.target, r.subject, req),
        ...imageAgeCheck(r.target, r.resolution, req, opts.now),
      );
      // The signature code and @sigstore/* load only when the policy asks this image for signatures.
      if (wantsSignatureCheck(req) || opts.extraSignatures || opts.extraAttestations) {
        try {
          const { signatureChecks } = await import('./signatures/check.js');
          const signed = await signatureChecks(client, r.target, r.subject, r.resolution, req, {
            ...(opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : {}),
            ...(opts.extraSignatures ? { extraSignatures: opts.extraSignatures } : {}),
            ...(opts.extraAttestations ? { extraAttestations: opts.extraAttestations } : {}),
          });
          raw.push(...signed.findings);
        } catch (e) {
          // A registry that fails or lies while signatures are looked up: the image could not be verified.
          results[i] = { ...r, error: isKamalGateError(e) ? e : new RegistryError(`${r.target.ref}: signatures: ${String(e)}`) };
          continue;
        }
      }
      try {
        const base = await baseChecks(client, r.target, r.resolution, req, { ...(opts.ledger ? { ledger: opts.ledger } : {}), now: opts.now });
        raw.push(...base.findings);
        entries.push(...base.entries);
        if (base.base) bases.set(i, base.base);
      } catch (e) {
        // Content that does not match its digest fails the image as any other registry lie.
        results[i] = { ...r, error: isKamalGateError(e) ? e : new RegistryError(`${r.target.ref}: base image: ${String(e)}`) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 8, results.length)) }, worker));

  const decision = decide(raw, opts.policy, opts.now);
  const index = new Map(results.map((r, i) => [r.target, i]));
  const findings = new Map<number, DecidedFinding[]>();
  const policyFindings: DecidedFinding[] = [];
  for (const f of decision.findings) {
    const i = index.get(f.target);
    if (i === undefined) policyFindings.push(f);
    else findings.set(i, [...(findings.get(i) ?? []), f]);
  }
  for (const list of findings.values()) list.sort(worstFirst);
  if (opts.ledger && entries.length) await opts.ledger.append(dedupeEntries(entries));
  const exitCode = combineExitCodes([resolutionExitCode(results), decision.exitCode]);
  return { results, findings, policyFindings, bases, entries: entries.length, exitCode };
}

/** Failing findings first, then by severity. */
export function worstFirst(a: DecidedFinding, b: DecidedFinding): number {
  return Number(b.fails) - Number(a.fails) || (SEVERITY_RANK[a.severity] ?? 5) - (SEVERITY_RANK[b.severity] ?? 5);
}

/** Two images on one base observe the same base tag: write it once. */
function dedupeEntries(entries: NewEntry[]): NewEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = `${e.registry}/${e.repository}:${e.tag}|${e.digest}|${e.event}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
