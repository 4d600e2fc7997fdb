/**
 * The report every output format renders. The JSON form is this object as is; its `schema` names
 * the version, bumped on any incompatible change.
 */
import { formatPlatform } from '../registry/manifest.js';
import type { RegistryStats } from '../registry/stats.js';
import type { Finding, Role, Severity, SourceLocation } from '../types.js';
import { VERSION } from '../version.js';
import type { TargetResult } from '../verify.js';

export const VERIFY_SCHEMA = 'kamal-gate/verify/v1';

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
}

export interface FindingReport {
  rule: string;
  severity: Severity;
  message: string;
  remedy?: string;
  evidence?: Record<string, unknown>;
}

export interface VerifyReport {
  schema: typeof VERIFY_SCHEMA;
  tool: { name: 'kamal-gate'; version: string };
  config?: string;
  destination?: string;
  version?: string;
  versionSource?: string;
  images: ImageReport[];
  notes: string[];
  /** Where the digest ledger is (absent with --no-ledger). */
  ledger?: string;
  stats?: Record<string, RegistryStats>;
  exitCode: number;
}

export function findingReport(f: Finding): FindingReport {
  const out: FindingReport = { rule: f.rule, severity: f.severity, message: f.message };
  if (f.remedy) out.remedy = f.remedy;
  if (f.evidence) out.evidence = f.evidence;
  return out;
}

/** Findings that fail a run until the policy engine decides modes: critical and high. */
export function failing(f: Pick<Finding, 'severity'>): boolean {
  return f.severity === 'critical' || f.severity === 'high';
}

export function imageReport(r: TargetResult, findings: Finding[] = []): ImageReport {
  const t = r.target;
  const status: ImageReport['status'] = r.subject ? 'pinned' : r.absent ? 'absent' : r.error ? 'error' : 'missing';
  const out: ImageReport = { role: t.role, name: t.name, ref: t.ref, status };
  if (t.source) out.source = t.source;
  if (t.aliasOf) out.aliasOf = t.aliasOf;
  if (t.optional) out.optional = true;
  const s = r.subject;
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
  return out;
}

export function toolInfo(): VerifyReport['tool'] {
  return { name: 'kamal-gate', version: VERSION };
}
