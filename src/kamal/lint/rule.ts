/**
 * What a lint rule is: its id, family and description, and the checks it makes at each kind of
 * place in the config view (kamal/configuration/) or in the files beside the config. The rule table
 * (index.ts) lists every rule; its walker calls the checks place by place, in config order.
 */
import type { Finding, SourceLocation, Target } from '../../types.js';
import type { Configuration } from '../configuration/index.js';
import type { DockerOption, Volume } from '../configuration/docker-args.js';
import type { EnvVar } from '../configuration/env.js';
import type { Registry } from '../configuration/registry.js';
import type { Ssh } from '../configuration/ssh.js';
import type { Loc } from '../source-map.js';

/** A finding before the walker puts the rule's id on it; without a target it concerns the app image. */
type FindingDraft = Omit<Finding, 'rule' | 'target'> & { target?: Target; source: SourceLocation };

export type Report = (finding: FindingDraft) => void;

/** The app folder, for the checks of files beside the config. */
export interface AppFiles {
  config: Configuration;
  /** The folder holding config/ and .kamal/: where Kamal runs and where git is asked. */
  appRoot: string;
  /** File names in findings are relative to this folder. */
  cwd: string;
  /** The destination linted (`-d`): it decides which secrets files Kamal reads. */
  destination?: string;
  env: NodeJS.ProcessEnv;
}

/** The places a rule looks at; `target` is the image the place belongs to (the app's or an accessory's). */
export interface RuleChecks {
  /** Each `volumes:` item (root and accessories). */
  volume?(report: Report, volume: Volume, target: Target): void;
  /** Each `options:` key (roles and accessories). */
  option?(report: Report, option: DockerOption, target: Target): void;
  /** Each variable written in clear in an `env:` (root, roles, accessories; tags included). */
  clearEnv?(report: Report, variable: EnvVar, target: Target): void;
  /** Each `registry:` block (root and accessories). */
  registry?(report: Report, registry: Registry, target: Target): void;
  ssh?(report: Report, ssh: Ssh): void;
  /** Each image of the deploy plan. */
  image?(report: Report, target: Target): void;
  /** Files beside the config; returns what the user should know (a check that could not run). */
  files?(report: Report, app: AppFiles): Promise<string[]>;
}

type LintFamily = 'container' | 'secrets-in-config' | 'tracked-secrets' | 'ssh' | 'images';

export interface LintRule {
  id: string;
  family: LintFamily;
  /** What the rule finds, for reports (SARIF rule descriptions, `lint --format json`). */
  description: string;
  checks: RuleChecks;
}

export function at(loc: Loc): SourceLocation {
  return { file: loc.file, line: loc.line, column: loc.column };
}
