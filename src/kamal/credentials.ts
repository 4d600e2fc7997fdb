/**
 * A `registry:` block (root or accessory): server, and username/password as a literal or a
 * one-item list naming a secret. Secrets come from the secrets files, then the environment (in a
 * Kamal hook, Kamal has already exported the resolved secrets). Values never reach notes or origins.
 */
import { registerSecret } from '../redact.js';
import type { RegistryCredential } from '../types.js';
import type { Env } from './erb.js';
import { entry, isAbsent, optionalMap, optionalString, wrongType } from './fields.js';
import type { Secrets } from './secrets.js';
import type { Loc } from './source-map.js';
import type { ConfigNode } from './yaml-tree.js';

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

export function isLocalRegistry(server: string | undefined): boolean {
  return server?.startsWith('localhost:') ?? false;
}

/** Reads a registry block; `where` is its path in the config (`registry`, `accessories.db.registry`). */
export async function readRegistry(node: ConfigNode | undefined, where: string, ctx: CredentialContext): Promise<RegistryBlock> {
  const block = optionalMap(node, where);
  if (!block) return { notes: [] };
  const server = optionalString(entry(block, 'server'), `${where}.server`);
  const usernameNode = entry(block, 'username');
  const passwordNode = entry(block, 'password');
  const base = { ...(server !== undefined ? { server } : {}), loc: block.loc };
  if (isAbsent(usernameNode) && isAbsent(passwordNode)) return { ...base, notes: [] };

  const username = await resolve(usernameNode, `${where}.username`, ctx);
  const password = await resolve(passwordNode, `${where}.password`, ctx);
  registerSecret(password.value);
  const notes = [username.note, password.note].filter((n): n is string => n !== undefined);
  if (isAbsent(passwordNode) && !isLocalRegistry(server)) {
    notes.push(`${where}.password is not set, so kamal-gate has no password for ${server ?? 'Docker Hub'} from the config`);
  }
  const credential: RegistryCredential = {
    server: server ?? '',
    username: username.value ?? '',
    password: password.value,
    origin: password.origin,
  };
  return { ...base, credential, notes };
}

async function resolve(node: ConfigNode | undefined, what: string, ctx: CredentialContext): Promise<Resolved> {
  if (isAbsent(node)) return { origin: 'not set' };
  if (node.kind === 'scalar') {
    const value = optionalString(node, what);
    if (value === undefined) return { origin: 'not set' };
    const env = node.loc.erb?.env;
    return { value, origin: env ? `environment ${env} (ERB in ${node.loc.file})` : `literal in ${node.loc.file}` };
  }
  const name = node.kind === 'seq' && node.items.length === 1 ? node.items[0] : undefined;
  if (name?.kind !== 'scalar' || typeof name.value !== 'string' || name.value === '') {
    throw wrongType(node, what, 'a string or a list with one secret name');
  }
  return lookupSecret(name.value, what, ctx);
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
  const where = secrets.found.length
    ? `is not in ${secrets.found.join(', ')}`
    : `is in no secrets file (none of ${secrets.searched.join(', ')} exists)`;
  const target = secrets.searched[secrets.searched.length - 1];
  return {
    origin,
    note: `${what} names the secret ${name}, which ${where} and is not set in the environment; add ${name}=$${name} to ${target} or ${provide}`,
  };
}
