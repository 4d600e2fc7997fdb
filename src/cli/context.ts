/**
 * What every registry-facing command sets up from its options: the deploy plan or explicit refs,
 * credentials in precedence order, and the registry client.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { isKamalGateError, UsageError } from '../errors.js';
import { DEFAULT_CONFIG_FILE, readDeployPlanAndConfig, type ErbMode, type LoadedConfig } from '../kamal/index.js';
import { registerBasicAuth } from '../redact.js';
import { ContentCache, DEFAULT_CACHE_MAX_BYTES, defaultContentCacheDir } from '../registry/cache.js';
import { RegistryClient } from '../registry/client.js';
import { ChainedCredentials, DockerConfigCredentials, StaticCredentials, basicCredential, normalizeRegistryName } from '../registry/credentials.js';
import { parsePlatform } from '../registry/manifest.js';
import type { HttpOptions } from '../registry/http.js';
import { parseReference } from '../registry/reference.js';
import type { DeployPlan, Platform, RegistryCredential, Target } from '../types.js';
import type { Io } from './io.js';

export interface TargetOptions {
  configFile?: string;
  destination?: string;
  version?: string;
  /** `--erb safe|ruby` (commander checks the choice). */
  erb?: string;
}

/** How to read the config's ERB: `--erb`, else $KAMAL_GATE_ERB, else `safe`. */
export function erbMode(opts: Pick<TargetOptions, 'erb'>, env: NodeJS.ProcessEnv): ErbMode {
  const given = opts.erb ?? env['KAMAL_GATE_ERB'];
  if (given === undefined || given === '') return 'safe';
  if (given === 'safe' || given === 'ruby') return given;
  const where = opts.erb !== undefined ? '--erb' : 'KAMAL_GATE_ERB';
  throw new UsageError(`${where}: "${given}" is not a way to read the config's ERB; use safe (runs nothing) or ruby (renders it with Ruby, as Kamal does)`);
}

export interface RegistryOptions {
  platform?: string[];
  insecureRegistry?: string[];
  registryUsername?: string;
  registryPasswordStdin?: boolean;
  registryServer?: string;
  timeout?: string;
  /** `--cache-dir DIR` (else $KAMAL_GATE_CACHE_DIR, $XDG_CACHE_HOME/kamal-gate, ~/.cache/kamal-gate). */
  cacheDir?: string;
  /** false with `--no-cache`. */
  cache?: boolean;
  /** `--cache-max-size MiB` (else $KAMAL_GATE_CACHE_MAX_MB, else 512). */
  cacheMaxSize?: string;
}

export interface Plan {
  plan?: DeployPlan;
  /** The Kamal config the plan was read from. */
  config?: LoadedConfig;
  targets: Target[];
  notes: string[];
}

/**
 * Explicit refs, or the Kamal config in the current folder (or -c). Refs given inside a Kamal app
 * (config/deploy.yml here) carry the config's registry credentials for their registry, as `drift` uses them.
 */
export async function loadTargets(refs: string[], opts: TargetOptions, io: Pick<Io, 'env' | 'cwd' | 'err'>): Promise<Plan> {
  if (refs.length > 0) {
    if (opts.configFile || opts.destination) {
      throw new UsageError('give either image references or a Kamal config (-c/-d), not both');
    }
    const parsed = refs.map((ref) => ({ ref, registry: parseReference(ref).registry })); // fail early, with the reason
    const credentials = await appCredentials(opts, io);
    const targets = parsed.map(({ ref, registry }): Target => {
      const credential = credentials.get(registry);
      return { ref, role: 'app', name: ref, ...(credential ? { credential } : {}) };
    });
    return { targets, notes: [] };
  }
  const { plan, config } = await readDeployPlanAndConfig({
    configFile: opts.configFile,
    destination: opts.destination,
    version: opts.version,
    env: io.env,
    cwd: io.cwd,
    erb: erbMode(opts, io.env),
  });
  return { plan, config, targets: plan.targets, notes: plan.notes };
}

/** Whether the folder the command runs in holds a Kamal config (`config/deploy.yml`). */
export function defaultConfigHere(io: Pick<Io, 'cwd'>): boolean {
  return existsSync(resolve(io.cwd, DEFAULT_CONFIG_FILE));
}

/**
 * The registry credentials the Kamal config in the current folder names, by registry; none without a
 * config. A config that cannot be read costs only its credentials (a warning), not the command.
 */
async function appCredentials(opts: TargetOptions, io: Pick<Io, 'env' | 'cwd' | 'err'>): Promise<Map<string, RegistryCredential>> {
  const found = new Map<string, RegistryCredential>();
  if (!defaultConfigHere(io)) return found;
  let targets: Target[];
  try {
    // The version only names the app image; credentials do not depend on it.
    const { plan } = await readDeployPlanAndConfig({ version: opts.version ?? 'credentials', env: io.env, cwd: io.cwd, erb: erbMode(opts, io.env) });
    targets = plan.targets;
  } catch (e) {
    if (!isKamalGateError(e)) throw e;
    io.err(`warning: the registry credentials of ${DEFAULT_CONFIG_FILE} are not used: ${e.message}\n`);
    return found;
  }
  for (const t of targets) {
    if (!t.credential) continue;
    try {
      const registry = parseReference(t.ref).registry;
      if (!found.has(registry)) found.set(registry, t.credential);
    } catch {
      // a reference the config forms that does not parse: verify of the config reports it; here it names no registry
    }
  }
  return found;
}

export function parsePlatforms(values: string[] | undefined): Platform[] | undefined {
  if (!values?.length) return undefined;
  return values
    .flatMap((v) => v.split(','))
    .filter(Boolean)
    .map((v) => {
      try {
        return parsePlatform(v);
      } catch (e) {
        throw new UsageError(`--platform: ${(e as Error).message}`);
      }
    });
}

async function readStdin(io: Io): Promise<string> {
  if (io.stdin.isTTY) throw new UsageError('--registry-password-stdin reads the password from standard input; pipe it in (e.g. echo "$PASSWORD" | kamal-gate …)');
  const chunks: Buffer[] = [];
  for await (const c of io.stdin.chunks()) chunks.push(c);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * The on-disk content cache the options ask for, or undefined with `--no-cache`. A directory that
 * cannot be written turns the cache off with one warning (ContentCache), never fails the run.
 */
function openContentCache(opts: RegistryOptions, env: NodeJS.ProcessEnv, warn: (message: string) => void): ContentCache | undefined {
  if (opts.cache === false) return undefined;
  const size = opts.cacheMaxSize ?? env['KAMAL_GATE_CACHE_MAX_MB'];
  let maxBytes = DEFAULT_CACHE_MAX_BYTES;
  if (size !== undefined) {
    const mib = Number(size);
    const where = opts.cacheMaxSize !== undefined ? '--cache-max-size' : 'KAMAL_GATE_CACHE_MAX_MB';
    if (!Number.isFinite(mib) || mib <= 0) throw new UsageError(`${where}: "${size}" is not a positive number of MiB`);
    maxBytes = Math.floor(mib * 1024 * 1024);
  }
  return new ContentCache(opts.cacheDir ?? defaultContentCacheDir(env), { maxBytes, onWarning: warn });
}

/** `http`: the command's own transport settings (drift: connections per registry); --timeout wins. */
export async function makeClient(opts: RegistryOptions, targets: Target[], io: Io, http: Partial<HttpOptions> = {}): Promise<RegistryClient> {
  const env = io.env;
  const warn = (m: string): void => io.err(`warning: ${m}\n`);
  const sources = [];
  if (opts.registryUsername !== undefined || opts.registryPasswordStdin) {
    if (!opts.registryUsername || !opts.registryPasswordStdin) {
      throw new UsageError('--registry-username and --registry-password-stdin go together');
    }
    const password = await readStdin(io);
    if (!password) throw new UsageError('--registry-password-stdin: standard input was empty');
    registerBasicAuth(opts.registryUsername, password);
    const server = opts.registryServer ?? (targets[0] ? parseReference(targets[0].ref).registry : undefined);
    if (!server) throw new UsageError('--registry-username: no registry to use it for; add --registry-server HOST');
    const cli = new StaticCredentials();
    cli.set(server, basicCredential(opts.registryUsername, password, 'the command line'));
    sources.push(cli);
  }
  const fromConfig = new StaticCredentials();
  for (const t of targets) {
    const c = t.credential;
    if (!c) continue;
    let registry: string;
    try {
      registry = parseReference(t.ref).registry;
    } catch {
      registry = normalizeRegistryName(c.server);
    }
    if (c.password !== undefined) fromConfig.set(registry, basicCredential(c.username, c.password, c.origin));
    else if (c.missing !== undefined) fromConfig.setMissing(registry, c.missing);
  }
  sources.push(fromConfig, new DockerConfigCredentials(env));
  let timeoutMs: number | undefined;
  if (opts.timeout !== undefined) {
    const s = Number(opts.timeout);
    if (!Number.isFinite(s) || s <= 0) throw new UsageError(`--timeout: "${opts.timeout}" is not a positive number of seconds`);
    timeoutMs = s * 1000;
  }
  return new RegistryClient({
    credentials: new ChainedCredentials(sources),
    insecureRegistries: (opts.insecureRegistry ?? []).map(normalizeRegistryName),
    http: timeoutMs ? { ...http, timeoutMs } : http,
    cache: openContentCache(opts, env, warn),
  });
}
