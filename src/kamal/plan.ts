/**
 * The deploy plan: every image a Kamal deploy pulls, with where in the config it came from and the
 * credentials the config names for it. Reads the config exactly as Kamal does, running nothing but
 * `git rev-parse HEAD` (no shell) when no version is given.
 */
import path from 'node:path';
import { ConfigError, isKamalGateError } from '../errors.js';
import type { DeployPlan, SourceLocation, Target } from '../types.js';
import { DEFAULT_CONFIG_FILE, kamalEnv, loadConfig, type LoadedConfig } from './config.js';
import { isLocalRegistry, readRegistry, type CredentialContext, type RegistryBlock } from './credentials.js';
import type { Env } from './erb.js';
import { entry, errorAt, isPresent, optionalMap, optionalString } from './fields.js';
import { builderPlatforms, doubledHostNote, latestTag, registryHostOf, repository } from './images.js';
import { proxyTargets } from './proxy.js';
import { readSecrets, type Secrets } from './secrets.js';
import type { Loc } from './source-map.js';
import { hasUncommittedChanges, resolveVersion } from './version.js';
import type { ConfigMap } from './yaml-tree.js';

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
}

const SERVICE_NAME = /^[a-z0-9_-]+$/i;

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
  const { root } = config;
  const notes = [...config.notes];

  const secretsPath = optionalString(entry(root, 'secrets_path'), 'secrets_path');
  let secrets: Promise<Secrets> | undefined;
  const ctx: CredentialContext = {
    env,
    secrets: () => (secrets ??= readSecrets({ cwd, env, destination: opts.destination, secretsPath })),
  };

  const service = readService(root, config.configFile);
  const registry = await readRegistry(entry(root, 'registry'), 'registry', ctx);
  notes.push(...registry.notes);
  const image = readImage(root, registry, service, config.configFile);

  const gitDir = path.dirname(config.configPath);
  const version = await resolveVersion({ version: opts.version, env: rawEnv, gitDir, configFile: config.configFile });
  if (version.source === 'git HEAD' && isPresent(entry(optionalMap(entry(root, 'builder'), 'builder'), 'context'))) {
    if (await hasUncommittedChanges(gitDir)) {
      notes.push(
        'the git working tree has uncommitted changes and builder.context is set, so Kamal tags the image ' +
          `${version.version}_uncommitted_<random>; pass the version Kamal used with --version (a Kamal hook has it in KAMAL_VERSION)`,
      );
    }
  }

  const targets: Target[] = [];
  const repo = repository(registry.server, image.name);
  const appRef = `${repo}:${version.version}`;
  const platforms = builderPlatforms(root);
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
    const note = doubledHostNote('image', image.name, registry.server, appRef);
    if (note) notes.push(note);
  }

  const accessories = await accessoryTargets(root, registry, ctx);
  targets.push(...accessories.targets);
  notes.push(...accessories.notes);

  const proxy = proxyTargets(root, registry);
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

function readService(root: ConfigMap, file: string): string {
  const node = entry(root, 'service');
  const service = optionalString(node, 'service');
  if (service === undefined) {
    throw new ConfigError('service is missing: set service: to the name of the app (letters, digits, - and _)', file);
  }
  if (!SERVICE_NAME.test(service)) {
    throw errorAt(node!.loc, `service "${service}" may only contain letters, digits, hyphens and underscores`);
  }
  return service;
}

/** `image`, which defaults to the service name with a local registry (`localhost:PORT`). */
function readImage(root: ConfigMap, registry: RegistryBlock, service: string, file: string): { name: string; loc: Loc } {
  const node = entry(root, 'image');
  const name = optionalString(node, 'image');
  if (name !== undefined) return { name, loc: node!.loc };
  if (isLocalRegistry(registry.server)) return { name: service, loc: entry(root, 'service')!.loc };
  const message = 'image is missing: set image: to the repository Kamal pushes the app to (e.g. your-user/app)';
  throw node ? errorAt(root.entries.get('image')!.keyLoc, message) : new ConfigError(message, file);
}

async function accessoryTargets(
  root: ConfigMap,
  registry: RegistryBlock,
  ctx: CredentialContext,
): Promise<{ targets: Target[]; notes: string[] }> {
  const targets: Target[] = [];
  const notes: string[] = [];
  const accessories = optionalMap(entry(root, 'accessories'), 'accessories');
  for (const [name, { keyLoc, value }] of accessories?.entries ?? []) {
    const what = `accessories.${name}`;
    const accessory = optionalMap(value, what);
    if (!accessory) throw errorAt(keyLoc, `${what} is empty; an accessory needs at least image and host`);
    const imageNode = entry(accessory, 'image');
    const image = optionalString(imageNode, `${what}.image`);
    if (image === undefined) throw errorAt(imageNode?.loc ?? keyLoc, `${what} has no image; set ${what}.image (e.g. mysql:8.0)`);

    const registryNode = entry(accessory, 'registry');
    const own = isPresent(registryNode) ? await readRegistry(registryNode, `${what}.registry`, ctx) : undefined;
    if (own) notes.push(...own.notes);
    const ref = repository(own?.server, image);
    if (own?.server !== undefined) {
      const note = doubledHostNote(`${what}.image`, image, own.server, ref);
      if (note) notes.push(note);
    }
    // Without its own block, Kamal logs in to the root registry on the accessory's hosts.
    const credential = own
      ? own.credential
      : registry.server !== undefined && registryHostOf(image) === registry.server
        ? registry.credential
        : undefined;
    targets.push({
      ref,
      role: 'accessory',
      name,
      source: sourceOf(imageNode!.loc),
      ...(credential ? { credential } : {}),
    });
  }
  return { targets, notes };
}

function sourceOf(loc: Loc): SourceLocation {
  return { file: loc.file, line: loc.line, column: loc.column };
}
