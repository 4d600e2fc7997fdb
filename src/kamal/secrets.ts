/**
 * Kamal's secrets files (`Kamal::Secrets`): `<secrets_path>-common`, then `<secrets_path>` or, with a
 * destination, `<secrets_path>.<dest>` instead; later files win. Paths are relative to cwd, as in
 * Kamal. Missing files are fine. Each file is parsed on its own, so `$VAR` sees earlier lines of the
 * same file and the environment (dotenv's behaviour).
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { FILE_LIMITS, readUserText } from '../user-file.js';
import { displayPath } from './paths.js';
import { parseDotenv, type SecretEntry } from './dotenv.js';
import type { Env } from './erb.js';

export const DEFAULT_SECRETS_PATH = '.kamal/secrets';

export interface SecretsOptions {
  cwd?: string;
  destination?: string;
  env?: Env;
  /** Kamal's `secrets_path` setting. */
  secretsPath?: string;
}

export interface Secrets {
  /** The files Kamal would read, in order (relative to cwd). */
  searched: string[];
  /** Those that exist. */
  found: string[];
  entries: Map<string, SecretEntry>;
}

export async function readSecrets(opts: SecretsOptions = {}): Promise<Secrets> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const base = opts.secretsPath ?? DEFAULT_SECRETS_PATH;
  const names = [`${base}-common`, opts.destination === undefined ? base : `${base}.${opts.destination}`];

  const secrets: Secrets = { searched: [], found: [], entries: new Map() };
  for (const name of names) {
    const abs = path.resolve(cwd, name);
    const file = displayPath(abs, cwd);
    secrets.searched.push(file);
    const text = await readOptional(abs, file);
    if (text === undefined) continue;
    secrets.found.push(file);
    for (const [key, entry] of parseDotenv(text, file, env)) secrets.entries.set(key, entry);
  }
  return secrets;
}

async function readOptional(abs: string, file: string): Promise<string | undefined> {
  try {
    return await readUserText(abs, { limit: FILE_LIMITS.text, what: 'a Kamal secrets file', refuse: (message) => new ConfigError(message, file) });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(`cannot read the secrets file (${code ?? 'unknown error'})`, file);
  }
}
