/**
 * The credentials a `registry:` block (root or accessory, configuration/registry.ts) names: a literal
 * or a secret. Secrets come from the secrets files, then the environment (in a Kamal hook, Kamal has
 * already exported the resolved secrets). Values never reach notes or origins.
 */
import { registerSecret } from '../redact.js';
import type { RegistryCredential } from '../types.js';
import type { Env } from './erb.js';
import type { Registry, SecretRef } from './configuration/registry.js';
import type { Secrets } from './secrets.js';
import type { Loc } from './source-map.js';

export interface CredentialContext {
  env: Env;
  /** The secrets files, read on first use (as Kamal does). */
  secrets: () => Promise<Secrets>;
}

export interface RegistryBlock {
  server?: string;
  /** Where the block was written; undefined when there is none. */
  loc?: Loc;
  credential?: RegistryCredential;
  notes: string[];
}

interface Resolved {
  value?: string;
  origin: string;
  note?: string;
}

/** Resolves the credentials a registry block names; no block reads as none. */
export async function readRegistry(registry: Registry | undefined, ctx: CredentialContext): Promise<RegistryBlock> {
  if (!registry) return { notes: [] };
  const { server, where } = registry;
  const base = { ...(server !== undefined ? { server } : {}), loc: registry.loc };
  if (!registry.hasCredentials) return { ...base, notes: [] };

  const username = await resolve(registry.username, ctx);
  const password = await resolve(registry.password, ctx);
  registerSecret(password.value);
  const notes = [username.note, password.note].filter((n): n is string => n !== undefined);
  if (registry.password === undefined && !registry.local) {
    notes.push(`${where}.password is not set, so kamal-gate has no password for ${server ?? 'Docker Hub'} from the config`);
  }
  const credential: RegistryCredential = {
    server: server ?? '',
    username: username.value ?? '',
    password: password.value,
    origin: password.origin,
  };
  // What a registry that asks for credentials is told instead of "set registry.username/password".
  const missing = password.value === undefined ? (password.note ?? notes.at(-1)) : undefined;
  if (missing !== undefined) credential.missing = missing;
  return { ...base, credential, notes };
}

async function resolve(ref: SecretRef | undefined, ctx: CredentialContext): Promise<Resolved> {
  if (ref === undefined) return { origin: 'not set' };
  if (ref.kind === 'secret') return lookupSecret(ref.name, ref.where, ctx);
  if (ref.value === undefined) return { origin: 'not set' };
  const env = ref.loc.erb?.env;
  return { value: ref.value, origin: env ? `environment ${env} (ERB in ${ref.loc.file})` : `literal in ${ref.loc.file}` };
}

async function lookupSecret(name: string, what: string, ctx: CredentialContext): Promise<Resolved> {
  const secrets = await ctx.secrets();
  const found = secrets.entries.get(name);
  if (found?.value) return { value: found.value, origin: `secret ${name} from ${found.file}` };
  const fromEnv = ctx.env[name];
  if (fromEnv) return { value: fromEnv, origin: `environment ${name}` };

  const origin = `secret ${name} (unresolved)`;
  const provide = `set ${name} in the environment (a Kamal pre-deploy hook already has it)`;
  if (found?.unresolved) {
    return {
      origin,
      note: `${what} names the secret ${name}, whose value in ${found.file}:${found.line} needs command substitution, which kamal-gate never runs; ${provide}`,
    };
  }
  if (found) {
    const unset = found.missing.length ? ` because ${found.missing.map((m) => `$${m}`).join(', ')} is not set in the environment` : '';
    return { origin, note: `${what} names the secret ${name}, which is empty in ${found.file}:${found.line}${unset}; ${provide}` };
  }
  const where = secrets.found.length ? `is not in ${secrets.found.join(', ')}` : `is in no secrets file (none of ${secrets.searched.join(', ')} exists)`;
  const target = secrets.searched[secrets.searched.length - 1];
  return {
    origin,
    note: `${what} names the secret ${name}, which ${where} and is not set in the environment; add ${name}=$${name} to ${target} or ${provide}`,
  };
}
