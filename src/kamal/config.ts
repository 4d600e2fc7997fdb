/**
 * Loads the Kamal config as `Kamal::Configuration.create_from` does: the config file, then with a
 * destination the `<name>.<dest>.yml` overlay beside it; each ERB-rendered (the safe subset, or with
 * `erb: 'ruby'` by Ruby as Kamal renders it: erb-ruby.ts), YAML-loaded and deep-merged. Top-level `x-`
 * keys are dropped; `require_destination` is enforced.
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { FILE_LIMITS, readUserText } from '../user-file.js';
import { Configuration } from './configuration/index.js';
import { renderErb, type Env } from './erb.js';
import { renderErbWithRuby, type ErbMode } from './erb-ruby.js';
import { errorAt, isTruthy } from './fields.js';
import { displayPath } from './paths.js';
import { deepMerge, parseYaml, type ConfigMap } from './yaml-tree.js';

export const DEFAULT_CONFIG_FILE = 'config/deploy.yml';

export interface LoadOptions {
  configFile?: string;
  destination?: string;
  env?: Env;
  cwd?: string;
  /** How the ERB is read: `safe` (default) runs nothing; `ruby` renders each file with Ruby, running it. */
  erb?: ErbMode;
}

export interface LoadedConfig {
  /** The merged config; top-level `x-` keys removed. */
  root: ConfigMap;
  /** The typed view of `root` (`Configuration.of(root)`), which readers use instead of the raw tree. */
  configuration: Configuration;
  /** The config file as given (relative to cwd when inside it). */
  configFile: string;
  /** Absolute path of the config file. */
  configPath: string;
  /** Every file read, base first. */
  files: string[];
  destination?: string;
  /** How the ERB was read: `ruby` when Ruby rendered it (--erb ruby). */
  erb: ErbMode;
  /** What the user should know about the rendering (e.g. ENV lookups of unset variables). */
  notes: string[];
}

export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const env = kamalEnv(opts.env ?? process.env, opts.destination);
  const configPath = path.resolve(cwd, opts.configFile ?? DEFAULT_CONFIG_FILE);
  const paths = [configPath];
  if (opts.destination !== undefined) paths.push(overlayPath(configPath, opts.destination));

  const erb = opts.erb ?? 'safe';
  const notes: string[] = [];
  const files: string[] = [];
  let root: ConfigMap | undefined;
  for (const [i, abs] of paths.entries()) {
    const file = displayPath(abs, cwd);
    const source = await readConfigFile(abs, file, i === 0 ? undefined : opts.destination);
    const rendered = erb === 'ruby' ? { ...(await renderErbWithRuby({ path: abs, file, template: source, env, cwd })), unsetEnv: [] } : renderErb(source, { file, env });
    for (const u of rendered.unsetEnv) {
      notes.push(`${file}:${u.line}: ENV["${u.name}"] is not set, so it renders as an empty value (as in Kamal)`);
    }
    const doc = parseYaml(rendered.text, rendered.map);
    if (doc?.kind !== 'map') {
      throw new ConfigError('the top level must be a mapping of Kamal settings (service, image, servers, …)', file, doc?.loc.line ?? 1);
    }
    files.push(file);
    root = root ? deepMerge(root, doc) : doc;
  }
  root = withoutExtensions(root!);
  if (erb === 'ruby') notes.push(rubyNote(files));

  const required = root.entries.get('require_destination');
  if (opts.destination === undefined && required && isTruthy(required.value)) {
    throw errorAt(required.keyLoc, 'require_destination is set: pass a destination with -d NAME');
  }

  return {
    root,
    configuration: Configuration.of(root),
    configFile: files[0]!,
    configPath,
    files,
    ...(opts.destination !== undefined ? { destination: opts.destination } : {}),
    erb,
    notes,
  };
}

/** Said when Ruby rendered the config: its code ran, and where locations point. */
function rubyNote(files: string[]): string {
  const them = files.length > 1 ? 'them' : 'it';
  return `${files.join(' and ')} rendered by Ruby (--erb ruby), as Kamal renders ${them}: the Ruby in the ERB ran; a location points at the template line its text came from`;
}

/** Kamal's `config_file.sub_ext(".<dest>.yml")`: config/foo.yml -d staging → config/foo.staging.yml. */
export function overlayPath(configPath: string, destination: string): string {
  const ext = path.extname(configPath);
  return `${ext ? configPath.slice(0, -ext.length) : configPath}.${destination}.yml`;
}

/** The environment Kamal runs with: it sets ENV["KAMAL_DESTINATION"] = destination (nil deletes it). */
export function kamalEnv(env: Env, destination: string | undefined): Env {
  const out = { ...env };
  if (destination === undefined) delete out.KAMAL_DESTINATION;
  else out.KAMAL_DESTINATION = destination;
  return out;
}

async function readConfigFile(abs: string, file: string, destination: string | undefined): Promise<string> {
  try {
    return await readUserText(abs, {
      limit: FILE_LIMITS.yaml,
      what: destination === undefined ? 'a Kamal config file' : 'a destination overlay',
      refuse: (message) => new ConfigError(message, file),
    });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      throw new ConfigError(
        destination === undefined ? 'Kamal config file not found; give its path with -c PATH' : `destination "${destination}" needs the overlay file ${file}, which does not exist`,
        file,
      );
    }
    throw new ConfigError(`cannot read the Kamal config (${code ?? (e as Error).message})`, file);
  }
}

function withoutExtensions(root: ConfigMap): ConfigMap {
  const entries = new Map([...root.entries].filter(([k]) => !k.startsWith('x-')));
  return { ...root, entries };
}
