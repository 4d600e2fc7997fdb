/**
 * The policy after loading: every value checked, defaults filled in, and every requirement group
 * tied to the place in the policy file that set it. Plain data (JSON-serializable) so that
 * `policy explain --format json` can print it as is.
 */
import type { Finding, Role, SourceLocation } from '../types.js';

/** `enforce`: a failing requirement fails the run. `warn`: reported, never fails. `off`: not checked. */
export type Mode = 'enforce' | 'warn' | 'off';

export const GROUPS = ['ledger', 'signatures', 'attestations', 'base', 'image', 'tags', 'platforms', 'config'] as const;
/** A requirement group: the unit a rule sets, and overrides, as a whole. */
export type Group = (typeof GROUPS)[number];

/** A duration as written (`90d`) and in milliseconds. */
export interface Duration {
  text: string;
  ms: number;
}

/** A keyless (Fulcio certificate) signer: exactly one of identity/identityRegexp and of issuer/issuerRegexp. */
export interface KeylessIdentity {
  identity?: string;
  /** Anchored when matched: it must match the whole identity. */
  identityRegexp?: string;
  issuer?: string;
  issuerRegexp?: string;
  /** GitHub Actions claims the certificate must also carry (Fulcio extensions). */
  github?: GithubClaims;
}

/**
 * GitHub Actions claims a Fulcio certificate must carry. `owner`, `signerRepository`, `signerWorkflow`
 * and `runner` are what `gh attestation verify` checks (--owner, --signer-repo, --signer-workflow,
 * --deny-self-hosted-runners); with `owner` or `repository` (or a signer), identity and issuer may be
 * left out: the identity is then any workflow of that repository (or owner, or signer), the issuer GitHub's.
 */
export interface GithubClaims {
  /** owner/name: the legacy repository extension (…1.5) and the Source Repository URI (…1.12), case-insensitively. */
  repository?: string;
  ref?: string;
  workflow?: string;
  sha?: string;
  /** The organization or user: the Source Repository Owner URI (…1.16) is https://github.com/OWNER, case-insensitively. */
  owner?: string;
  /** owner/name: the identity (SAN) is a workflow in this repository (a reusable workflow's repository). */
  signerRepository?: string;
  /** owner/name/path/to/workflow.yml: the identity (SAN) is this workflow file, at any ref. */
  signerWorkflow?: string;
  /** github-hosted: the Runner Environment extension (…1.11) says the job ran on a GitHub-hosted runner. */
  runner?: 'github-hosted';
}

/** A public key file: as written, and resolved against the policy file's folder. */
export interface KeyFile {
  path: string;
  resolved: string;
  /** The PEM itself, when it came from the environment (`--key env://NAME`) rather than a file. */
  pem?: string;
}

export interface SignaturesRequirement {
  mode: Mode;
  /** How many distinct listed signers must have signed the image. */
  count: number;
  keys: KeyFile[];
  keyless: KeylessIdentity[];
  tlog: 'required' | 'optional';
  /** Where signatures are kept when not beside the image (like COSIGN_REPOSITORY), normalized. */
  repository?: string;
  /**
   * What a simple-signing payload's docker-reference must name. Absent or `ignore` (cosign): only the
   * signed digest binds; `match`: the image's own registry/repository or one of `allowedReferences`.
   */
  reference?: 'ignore' | 'match';
  /** Repository globs (glob.ts, kind `repository`) a docker-reference may also name under `match`. */
  allowedReferences?: string[];
}

export interface AttestationRequirement {
  /** As written: `slsa-provenance`, `spdx`, `cyclonedx` or a predicate type URI. */
  type: string;
  /** The in-toto predicate types that satisfy `type`. */
  predicateTypes: string[];
  signedBy?: KeylessIdentity & { key?: KeyFile };
  builderId?: string;
  sourceRepository?: string;
}

export interface AttestationsRequirement {
  mode: Mode;
  require: AttestationRequirement[];
}

export interface BaseRequirement {
  mode: Mode;
  maxAge?: Duration;
  maxStaleness?: Duration;
  /** Globs on the base's normalized repository; absent: any base is allowed. */
  allowed?: string[];
  /** Normalized references of bases to try by layer prefix. */
  candidates: string[];
  /** How a base that cannot be identified (`base.unknown`) is treated; `ignore` = not reported. */
  unknown: 'enforce' | 'warn' | 'ignore';
}

export interface ImageRequirement {
  mode: Mode;
  maxAge?: Duration;
}

export interface TagsRequirement {
  /** Applies to `forbid` and `requireDigest`. */
  mode: Mode;
  /** A tag that moved (overwritten, rolled back, deleted) fails, whatever `mode` says; false: those are warnings. */
  immutable: boolean;
  /** Tag globs that may not be deployed. */
  forbid: string[];
  /** The reference must carry a digest (`tag.not_pinned`). */
  requireDigest: boolean;
}

export interface PlatformsRequirement {
  mode: Mode;
  /** Platforms the image must offer; `builder`: those the Kamal config builds for (builder.arch). */
  require: 'builder' | string[];
}

export interface ConfigRequirement {
  mode: Mode;
  /** Rule id globs (`config.image_latest`, `config.*`) whose findings are dropped. */
  ignore: string[];
}

export interface LedgerRequirement {
  mode: Mode;
  /** `tofu`: a tag never seen is recorded on first use; `strict`: it must have been recorded (`tag.unrecorded`). */
  trust: 'tofu' | 'strict';
  /** Signers one of whom must have signed the ledger head (`ledger.checkpoint`). */
  checkpoint?: { keys: KeyFile[]; keyless: KeylessIdentity[] };
}

export interface Requirements {
  ledger: LedgerRequirement;
  signatures: SignaturesRequirement;
  attestations: AttestationsRequirement;
  base: BaseRequirement;
  image: ImageRequirement;
  tags: TagsRequirement;
  platforms: PlatformsRequirement;
  config: ConfigRequirement;
}

/** Who set a requirement group: `defaults`, a rule's name, or `built-in` for the implicit ledger default. */
export interface Origin {
  rule: string;
  /** Where the group's key is written (absent for `built-in`). */
  source?: SourceLocation;
}

export interface Setting<T> {
  value: T;
  origin: Origin;
}

/** The requirement groups one place (defaults or a rule) sets. */
export type GroupSettings = { [G in Group]?: Setting<Requirements[G]> };

export interface Rule {
  name: string;
  description?: string;
  /** Where the rule starts (its first key). */
  source: SourceLocation;
  match: {
    /** Globs on `registry/repository`; absent: any image. */
    images?: string[];
    /** Absent: any role. */
    roles?: Role[];
  };
  groups: GroupSettings;
}

export interface PolicyException {
  /** Reference globs: `registry/repository` or `registry/repository:tag`. */
  images: string[];
  /** Finding rule id globs (`base.*`). */
  rules: string[];
  reason: string;
  /** As written, `YYYY-MM-DD`: the exception applies through the end of that day (UTC). */
  expires: string;
  source: SourceLocation;
}

export interface Policy {
  /** The file as shown to the user (relative to the working folder when inside it). */
  file: string;
  version: 1;
  defaults: GroupSettings;
  rules: Rule[];
  exceptions: PolicyException[];
}

export interface LoadedPolicy {
  policy: Policy;
  /** `explicit`: --policy; `project`: .kamal/gate-policy.yml; `builtin`: policies/baseline.yml. */
  origin: 'explicit' | 'project' | 'builtin';
  /** Absolute path of the file read. */
  path: string;
}

/** Why a rule does or does not apply to an image. */
export interface RuleMatch {
  rule: string;
  source: SourceLocation;
  applies: boolean;
  reasons: string[];
}

/** What one image must satisfy: per group, the value and the rule that set it; absent = not required. */
export interface EffectiveRequirements {
  /** `registry/repository[:tag][@digest]`, normalized. */
  ref: string;
  repository: string;
  tag?: string;
  role: Role;
  rules: RuleMatch[];
  groups: GroupSettings & { ledger: Setting<LedgerRequirement> };
}

/** An exception as it stands for one image: active, or expired. */
export interface ExceptionStatus {
  exception: PolicyException;
  expired: boolean;
}

export interface DecidedFinding extends Finding {
  /** `enforce`: fails the run (when its severity is critical, high or medium and it is not waived). */
  mode: 'enforce' | 'warn';
  /** The requirement group the rule id belongs to; absent for unknown rule ids (enforced). */
  group?: Group;
  /** The rule (or defaults) that set the group, when one did. */
  origin?: Origin;
  /** The active exception that waives this finding: reported, never fails. */
  exception?: PolicyException;
  /** Whether this finding fails the run. */
  fails: boolean;
}

export interface Decision {
  /**
   * The findings given, in order, each decided; then one `policy.exception_expired` finding per
   * expired exception and image it would have covered, or, when it covered nothing in this run,
   * one whose target stands for the policy file (`name: 'policy'`, `ref`: the policy file,
   * `source`: the exception's place).
   */
  findings: DecidedFinding[];
  /** 1 when any finding fails, else 0. */
  exitCode: 0 | 1;
}
