/**
 * The deploy plan: every image a Kamal deploy pulls, with where in the config it came from and the
 * credentials the config names for it. Reads the config exactly as Kamal does, running nothing but
 * `git rev-parse HEAD` (no shell) when no version is given, and with `erb: 'ruby'` the config's ERB.
 */
import path from 'node:path';
import { ConfigError, isKamalGateError } from '../errors.js';
import type { DeployPlan, SourceLocation, Target } from '../types.js';
import { DEFAULT_CONFIG_FILE, kamalEnv, loadConfig, type LoadedConfig } from './config.js';
import type { Configuration } from './configuration/index.js';
import { validateKamalConfig } from './configuration/validator.js';
import { readRegistry, type CredentialContext, type RegistryBlock } from './credentials.js';
import type { Env } from './erb.js';
import type { ErbMode } from './erb-ruby.js';
import { doubledHostNote, latestTag, registryHostOf, repository } from './images.js';
import { proxyTargets } from './proxy.js';
import { readSecrets, type Secrets } from './secrets.js';
import type { Loc } from './source-map.js';
import { hasUncommittedChanges, resolveVersion } from './version.js';

export interface ReadOptions {
  /** Default `config/deploy.yml`, relative to cwd. */
  configFile?: string;
  /** `-d NAME`. */
  destination?: string;
  /** `--version`. */
  version?: string;
  /** Default `process.env`. */
  env?: Env;
  /** Default `process.cwd()`. */
  cwd?: string;
  /** `--erb`: default `safe`; `ruby` renders the config's ERB with Ruby (config.ts). */
  erb?: ErbMode;
}

export async function readDeployPlan(opts: ReadOptions = {}): Promise<DeployPlan> {
  return (await readDeployPlanAndConfig(opts)).plan;
}

/** The plan and the config it was read from, for callers that also look at the config itself (lint). */
export async function readDeployPlanAndConfig(opts: ReadOptions = {}): Promise<{ plan: DeployPlan; config: LoadedConfig }> {
  try {
    return await buildPlan(opts);
  } catch (e) {
    if (isKamalGateError(e)) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConfigError(`could not read the Kamal config: ${reason}`, opts.configFile ?? DEFAULT_CONFIG_FILE, undefined, { cause: e });
  }
}

async function buildPlan(opts: ReadOptions): Promise<{ plan: DeployPlan; config: LoadedConfig }> {
  const cwd = opts.cwd ?? process.cwd();
  const rawEnv = opts.env ?? process.env;
  const env = kamalEnv(rawEnv, opts.destination);
  const config = await loadConfig({ ...opts, cwd, env: rawEnv });
  const kamal = config.configuration;
  // Kamal 2's own validation first: a config Kamal refuses is refused with Kamal's message.
  validateKamalConfig(kamal, { cwd });
  const notes = [...config.notes];

  const secretsPath = kamal.secretsPath;
  let secrets: Promise<Secrets> | undefined;
  const ctx: CredentialContext = {
    env,
    secrets: () => (secrets ??= readSecrets({ cwd, env, destination: opts.destination, secretsPath })),
  };

  const service = kamal.service.value;
  const registry = await readRegistry(kamal.registry, ctx);
  notes.push(...registry.notes);
  const image = kamal.image;

  const gitDir = path.dirname(config.configPath);
  const version = await resolveVersion({ version: opts.version, env: rawEnv, gitDir, configFile: config.configFile });
  if (version.source === 'git HEAD' && kamal.builder?.hasContext) {
    if (await hasUncommittedChanges(gitDir)) {
      notes.push(
        'the git working tree has uncommitted changes and builder.context is set, so Kamal tags the image ' +
          `${version.version}_uncommitted_<random>; pass the version Kamal used with --version (a Kamal hook has it in KAMAL_VERSION)`,
      );
    }
  }

  const targets: Target[] = [];
  const repo = repository(registry.server, image.value);
  const appRef = `${repo}:${version.version}`;
  const platforms = kamal.builder?.platforms;
  const app = {
    role: 'app' as const,
    name: service,
    source: sourceOf(image.loc),
    ...(platforms ? { platforms } : {}),
    ...(registry.credential ? { credential: registry.credential } : {}),
  };
  targets.push({ ref: appRef, ...app });
  targets.push({ ref: `${repo}:${latestTag(opts.destination)}`, ...app, aliasOf: appRef, optional: true });
  if (registry.server !== undefined) {
    const note = doubledHostNote('image', image.value, registry.server, appRef);
    if (note) notes.push(note);
  }

  const accessories = await accessoryTargets(kamal, registry, ctx);
  targets.push(...accessories.targets);
  notes.push(...accessories.notes);

  const proxy = proxyTargets(kamal, registry);
  targets.push(...proxy.targets);
  notes.push(...proxy.notes);

  const plan: DeployPlan = {
    configFile: config.configFile,
    ...(opts.destination !== undefined ? { destination: opts.destination } : {}),
    service,
    version: version.version,
    versionSource: version.source,
    targets,
    notes,
  };
  return { plan, config };
}

async function accessoryTargets(kamal: Configuration, registry: RegistryBlock, ctx: CredentialContext): Promise<{ targets: Target[]; notes: string[] }> {
  const targets: Target[] = [];
  const notes: string[] = [];
  for (const accessory of kamal.accessories) {
    const { name, where } = accessory;
    const image = accessory.image;
    const own = accessory.registry ? await readRegistry(accessory.registry, ctx) : undefined;
    if (own) notes.push(...own.notes);
    const ref = repository(own?.server, image.value);
    if (own?.server !== undefined) {
      const note = doubledHostNote(`${where}.image`, image.value, own.server, ref);
      if (note) notes.push(note);
    }
    // Without its own block, Kamal logs in to the root registry on the accessory's hosts.
    const credential = own ? own.credential : registry.server !== undefined && registryHostOf(image.value) === registry.server ? registry.credential : undefined;
    targets.push({
      ref,
      role: 'accessory',
      name,
      source: sourceOf(image.loc),
      ...(credential ? { credential } : {}),
    });
  }
  return { targets, notes };
}

function sourceOf(loc: Loc): SourceLocation {
  return { file: loc.file, line: loc.line, column: loc.column };
}
