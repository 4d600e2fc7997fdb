/**
 * `kamal-gate targets --format json`: the images a deploy pulls, as read from the Kamal config.
 * Versioned by `schema`, bumped on any incompatible change.
 */
import type { DeployPlan, Platform, Role, SourceLocation, Target } from '../types.js';

const TARGETS_SCHEMA = 'kamal-gate/targets/v1';

interface TargetReport {
  role: Role;
  name: string;
  /** The reference exactly as Kamal forms it. */
  ref: string;
  source?: SourceLocation;
  aliasOf?: string;
  optional?: true;
  platforms?: Platform[];
}

export interface TargetsReport {
  schema: typeof TARGETS_SCHEMA;
  /** Absent when the targets were named on the command line. */
  config?: string;
  destination?: string;
  /** `ruby` when Ruby rendered the config's ERB (--erb ruby); absent when it was read without running it. */
  erb?: 'ruby';
  version?: string;
  versionSource?: string;
  targets: TargetReport[];
  notes: string[];
}

export function targetsReport(plan: DeployPlan | undefined, targets: readonly Target[], notes: string[], erb?: 'ruby'): TargetsReport {
  return {
    schema: TARGETS_SCHEMA,
    config: plan?.configFile,
    destination: plan?.destination,
    ...(erb ? { erb } : {}),
    version: plan?.version,
    versionSource: plan?.versionSource,
    targets: targets.map((t) => ({
      role: t.role,
      name: t.name,
      ref: t.ref,
      source: t.source,
      ...(t.aliasOf ? { aliasOf: t.aliasOf } : {}),
      ...(t.optional ? { optional: true as const } : {}),
      ...(t.platforms ? { platforms: t.platforms } : {}),
    })),
    notes,
  };
}
