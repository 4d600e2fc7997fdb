/**
 * The report every output format renders. The JSON form is this object as is; its `schema` names
 * the version, bumped on any incompatible change.
 */
import { formatPlatform } from '../registry/manifest.js';
import type { HostImageReport, HostSession } from '../hosts/verify-hosts.js';
import type { RegistryStats } from '../registry/stats.js';
import type { DecidedFinding } from '../policy/types.js';
import type { BaseSummary, Finding, Role, Severity, SourceLocation, TargetResult } from '../types.js';
import { VERSION } from '../version.js';

export const VERIFY_SCHEMA = 'kamal-gate/verify/v2';

export interface ImageReport {
  role: Role;
  name: string;
  /** The reference as the deploy names it. */
  ref: string;
  source?: SourceLocation;
  aliasOf?: string;
  optional?: boolean;
  /**
   * `pinned`; `absent`: an optional alias not in the registry; `missing`: a tag the ledger knew
   * that is gone (its finding says more); `error`: could not be resolved.
   */
  status: 'pinned' | 'absent' | 'missing' | 'error';
  /** `registry/repository:tag`, normalized. */
  normalized?: string;
  /** What the tag points to (an index digest for multi-platform images). */
  digest?: string;
  /** `registry/repository@digest`: the pinned reference. */
  pinned?: string;
  mediaType?: string;
  platform?: string;
  /** The platform manifest a host pulls, when `digest` is an index. */
  platformDigest?: string;
  /** For every platform the deploy runs, the manifest digest a host of that platform pulls. */
  platformDigests?: Record<string, string>;
  platforms?: string[];
  created?: string;
  labels?: Record<string, string>;
  error?: { kind: string; message: string };
  findings?: FindingReport[];
  /** The base image, when the policy asks about it. */
  base?: BaseSummary;
  /** `verify --hosts`: what each host that must hold the image holds under its reference. */
  hosts?: HostImageReport[];
}

export interface FindingReport {
  rule: string;
  severity: Severity;
  /** `enforce` or `warn`, from the policy group the rule belongs to. */
  mode?: 'enforce' | 'warn';
  /** Whether this finding fails the run. */
  fails?: boolean;
  message: string;
  remedy?: string;
  evidence?: Record<string, unknown>;
  /** Where the problem is written, when not at the image's config line (config lint). */
  source?: SourceLocation;
  /** The policy rule (or defaults) that set the requirement, and where. */
  setBy?: { rule: string; source?: SourceLocation };
  /** The exception that waives it. */
  waivedBy?: { reason: string; expires: string; source: SourceLocation };
}

export interface VerifyReport {
  schema: typeof VERIFY_SCHEMA;
  tool: { name: 'kamal-gate'; version: string };
  config?: string;
  destination?: string;
  /** `ruby` when Ruby rendered the config's ERB (--erb ruby); absent when it was read without running it. */
  erb?: 'ruby';
  version?: string;
  versionSource?: string;
  images: ImageReport[];
  notes: string[];
  /** Where the digest ledger is (absent with --no-ledger). */
  ledger?: string;
  /** The policy in force: a file, or the built-in baseline. */
  policy?: { file: string; origin: string };
  /** Findings about the policy itself, not tied to an image (an expired exception). */
  policyFindings?: FindingReport[];
  stats?: Record<string, RegistryStats>;
  /** `--stats` with `--hosts`: each host's SSH session. */
  sshStats?: HostSession[];
  exitCode: number;
}

export function findingReport(f: Finding | DecidedFinding): FindingReport {
  const out: FindingReport = { rule: f.rule, severity: f.severity, message: f.message };
  if ('mode' in f) {
    out.mode = f.mode;
    out.fails = f.fails;
  }
  if (f.remedy) out.remedy = f.remedy;
  if (f.evidence) out.evidence = f.evidence;
  if (f.source) out.source = f.source;
  if ('origin' in f && f.origin) out.setBy = { rule: f.origin.rule, ...(f.origin.source ? { source: f.origin.source } : {}) };
  if ('exception' in f && f.exception) out.waivedBy = { reason: f.exception.reason, expires: f.exception.expires, source: f.exception.source };
  return out;
}

export function imageReport(r: TargetResult, findings: Array<Finding | DecidedFinding> = [], base?: BaseSummary): ImageReport {
  const t = r.target;
  // An error after resolution (a check that could not run) makes the image an error, not pinned.
  const status: ImageReport['status'] = r.absent ? 'absent' : r.error ? 'error' : r.image ? 'pinned' : 'missing';
  const out: ImageReport = { role: t.role, name: t.name, ref: t.ref, status };
  if (t.source) out.source = t.source;
  if (t.aliasOf) out.aliasOf = t.aliasOf;
  if (t.optional) out.optional = true;
  const s = r.image;
  if (s) {
    out.normalized = s.ref;
    out.digest = s.digest;
    out.pinned = `${s.registry}/${s.repository}@${s.digest}`;
    out.mediaType = s.mediaType;
    if (s.platform) out.platform = formatPlatform(s.platform);
    if (s.platformDigest) out.platformDigest = s.platformDigest;
    if (s.platformDigest) out.platformDigests = s.platformDigests;
    if (s.platforms.length) out.platforms = s.platforms.map(formatPlatform);
    if (s.config?.created) out.created = s.config.created;
    if (s.config) out.labels = s.config.labels;
  }
  if (r.error) out.error = { kind: r.error.kind, message: r.error.message };
  if (findings.length) out.findings = findings.map(findingReport);
  if (base) out.base = base;
  return out;
}

/** The image's report with what its hosts hold (`verify --hosts`), when they were checked. */
export function withHosts(report: ImageReport, hosts: HostImageReport[] | undefined): ImageReport {
  return hosts ? { ...report, hosts } : report;
}

export function toolInfo(): VerifyReport['tool'] {
  return { name: 'kamal-gate', version: VERSION };
}
