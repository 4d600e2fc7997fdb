/**
 * The one shape of a check: `(image, context) => findings`, with the ledger entries and the base
 * summary a check produces beside its findings. src/checks/index.ts lists every check; verify.ts
 * runs the list: the target checks first, over every target in turn, then the image checks, images
 * concurrently and an image's checks at once (they wait on different servers), their outputs taken
 * in list order. Image checks therefore never depend on one another.
 */
import type { HostsRun } from '../hosts/verify-hosts.js';
import type { EffectiveDeploy } from '../kamal/effective.js';
import type { Ledger, LedgerSource, NewEntry } from '../ledger/types.js';
import type { EffectiveRequirements, Policy } from '../policy/types.js';
import type { RegistryClient } from '../registry/client.js';
import type { SignatureCheckOptions } from '../signatures/check.js';
import type { BaseSummary, Finding, ResolvedImage, TargetResult } from '../types.js';

/** The run's settings the checks read. */
export interface CheckOptions {
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
  /** Config lint findings (kamal/lint/index.ts), each on one of the run's targets; the policy's config group governs them. */
  configFindings?: Finding[];
  /** Signers every image must also have, from `verify --key` / `--certificate-identity` (enforced, on top of the policy). */
  extraSignatures?: SignatureCheckOptions['extraSignatures'];
  /** Attestations every image must also have, from `verify --attestation-owner` / `--attestation-repo` (enforced, on top of the policy). */
  extraAttestations?: SignatureCheckOptions['extraAttestations'];
  /** `verify --hosts`: what the hosts hold, asked once per run (hosts/verify-hosts.ts). */
  hosts?: HostsRun;
  /** The effective deploy of the Kamal config, compared with the approved one (config-approval.ts). */
  deployConfig?: DeployConfig;
}

/** The deploy at hand for the config approval check (config-approval.ts): its effective deploy and destination. */
interface DeployConfig {
  document: EffectiveDeploy;
  destination?: string;
}

/** Whether a ledger checkpoint vouches for the ledger: the seq up to which approvals count, or why not. */
export type CheckpointVerdict = { seq: number; signer: string } | { reason: string };

export interface CheckContext extends CheckOptions {
  client: RegistryClient;
  /** The policy's requirements for this target's image; undefined when the target did not resolve. */
  requirements?: EffectiveRequirements;
  /** Checkpoint verdicts of the run, one per set of checkpoint signers, shared by every image. */
  checkpoints: Map<string, Promise<CheckpointVerdict>>;
}

interface ImageCheckContext extends CheckContext {
  requirements: EffectiveRequirements;
}

export interface CheckOutput {
  findings: Finding[];
  /** Ledger entries to append once the run is decided (tags observed, base tags seen). */
  entries?: NewEntry[];
  /** The image's base, for the report. */
  base?: BaseSummary;
  /** The target's resolution error is explained by a finding (a recorded tag that is gone): it no longer stands. */
  explained?: boolean;
}

/**
 * A check of every target, resolved or not. Target checks run one target after another, before any
 * image check: they read the ledger, whose first read must not race, and may explain a resolution
 * error. A target check that throws fails the run.
 */
export interface TargetCheck {
  name: string;
  on: 'target';
  run(result: TargetResult, ctx: CheckContext): Promise<CheckOutput> | CheckOutput;
}

/**
 * A check of each resolved image the hosts pull (not Kamal's `latest` alias, the app image again).
 * An image check that throws makes its image an error (could not verify), and the outputs of the
 * checks after it in the list are dropped, as if they had not run.
 */
export interface ImageCheck {
  /** Names the check in the error of an image it could not check. */
  name: string;
  on: 'image';
  run(image: ResolvedImage, ctx: ImageCheckContext): Promise<CheckOutput> | CheckOutput;
}

export type Check = TargetCheck | ImageCheck;
