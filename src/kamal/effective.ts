/**
 * The effective deploy: the security-relevant settings Kamal will act on, after the destination
 * overlay and ERB, as a plain JSON document: every image the deploy pulls, each role's cmd,
 * options, volumes, labels and env (clear values, secret NAMES), the accessories, proxy, ssh,
 * registry server and username, builder (remote, args, secret names) and boot. Keys are sorted by
 * the canonical JSON, and the defaults Kamal fills in (ssh user root, port 22) are written out, so
 * a reordered or commented config is the same document. Secret values never enter it: secrets files
 * are not read, registry passwords are left out, and `env.secret` / `builder.secrets` keep names.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../ledger/hash.js';
import type { DeployPlan } from '../types.js';
import type { LoadedConfig } from './config.js';
import { entry, isAbsent } from './fields.js';
import { toPlain, type ConfigMap, type ConfigNode } from './yaml-tree.js';

/** A plain JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** The effective deploy document (see the file comment); `version` is the plan's, for the record. */
export interface EffectiveDeploy {
  service: string;
  destination: string | null;
  /** Image refs by `role.name`, the app's version tag written as `{version}` so versions compare equal. */
  images: Record<string, string[]>;
  /** Settings every role gets: root `env`, `volumes`, `labels`, `logging`. */
  defaults: Record<string, Json>;
  servers: Record<string, Record<string, Json>>;
  accessories: Record<string, Record<string, Json>>;
  proxy: Json;
  ssh: Record<string, Json>;
  registry: Record<string, Json>;
  builder: Record<string, Json>;
  boot: Json;
}

/** `{version}` stands for the deployed version in the app's image refs. */
const VERSION_PLACEHOLDER = '{version}';

const ROLE_KEYS = ['hosts', 'cmd', 'options', 'volumes', 'labels', 'logging', 'proxy', 'asset_path'];
const ACCESSORY_KEYS = ['image', 'cmd', 'options', 'volumes', 'files', 'directories', 'port', 'host', 'hosts', 'role', 'roles', 'tag', 'tags', 'labels', 'proxy'];

/** The effective deploy of a loaded plan and config (readDeployPlanAndConfig). */
export function effectiveDeploy(loaded: { plan: DeployPlan; config: LoadedConfig }): EffectiveDeploy {
  const { plan, config } = loaded;
  const root = config.root;
  const kamal = config.configuration;

  const images: Record<string, string[]> = {};
  for (const t of plan.targets) {
    const ref = t.role === 'app' && t.ref.endsWith(`:${plan.version}`) ? `${t.ref.slice(0, -plan.version.length)}${VERSION_PLACEHOLDER}` : t.ref;
    const key = `${t.role}.${t.name}`;
    images[key] = [...new Set([...(images[key] ?? []), ref])].sort();
  }

  const servers: Record<string, Record<string, Json>> = {};
  for (const role of kamal.roles) {
    const settings = role.settings;
    const out: Record<string, Json> = { hosts: [...role.hosts] };
    for (const key of ROLE_KEYS) if (key !== 'hosts') put(out, key, entry(settings, key));
    const env = envOf(entry(settings, 'env'));
    if (env) out.env = env;
    servers[role.name] = out;
  }

  const accessories: Record<string, Record<string, Json>> = {};
  const accessoryMap = entry(root, 'accessories');
  if (accessoryMap?.kind === 'map') {
    for (const [name, { value }] of accessoryMap.entries) {
      const settings = value.kind === 'map' ? value : undefined;
      const out: Record<string, Json> = {};
      for (const key of ACCESSORY_KEYS) put(out, key, entry(settings, key));
      const env = envOf(entry(settings, 'env'));
      if (env) out.env = env;
      const registry = registryOf(entry(settings, 'registry'));
      if (registry) out.registry = registry;
      accessories[name] = out;
    }
  }

  const defaults: Record<string, Json> = {};
  for (const key of ['volumes', 'labels', 'logging', 'asset_path', 'primary_role', 'require_destination', 'allow_empty_roles']) put(defaults, key, entry(root, key));
  const env = envOf(entry(root, 'env'));
  if (env) defaults.env = env;

  const ssh = kamal.ssh;
  const sshDoc: Record<string, Json> = { user: ssh.user?.value ?? 'root', port: ssh.port?.value ?? 22 };
  if (ssh.proxy) sshDoc.proxy = ssh.proxy.value;
  if (ssh.proxyCommand) sshDoc.proxy_command = ssh.proxyCommand.value;
  if (ssh.config) sshDoc.config = ssh.config.value;
  const sshNode = entry(root, 'ssh');
  if (sshNode?.kind === 'map') {
    // config: true/false (use ~/.ssh/config or not) is not a file name; keep it as written.
    const configNode = entry(sshNode, 'config');
    if (!ssh.config) put(sshDoc, 'config', configNode);
    put(sshDoc, 'keys', entry(sshNode, 'keys'));
    put(sshDoc, 'keys_only', entry(sshNode, 'keys_only'));
    put(sshDoc, 'key_data_names', entry(sshNode, 'key_data'));
  }

  const builderDoc: Record<string, Json> = {};
  const builder = entry(root, 'builder');
  if (builder?.kind === 'map') {
    for (const key of ['remote', 'args', 'arch', 'context', 'dockerfile', 'target', 'driver', 'local', 'ssh']) put(builderDoc, key, entry(builder, key));
    const secrets = names(entry(builder, 'secrets'));
    if (secrets.length) builderDoc.secrets = secrets;
  }

  return {
    service: plan.service,
    destination: plan.destination ?? null,
    images,
    defaults,
    servers,
    accessories,
    proxy: plain(entry(root, 'proxy')),
    ssh: sshDoc,
    registry: registryOf(entry(root, 'registry')) ?? {},
    builder: builderDoc,
    boot: plain(entry(root, 'boot')),
  };
}

/** sha256 of the document's canonical JSON: `sha256:<hex>`. */
export function configFingerprint(doc: EffectiveDeploy | Json): string {
  return `sha256:${createHash('sha256').update(canonicalJson(doc)).digest('hex')}`;
}

function plain(node: ConfigNode | undefined): Json {
  return isAbsent(node) ? null : (toPlain(node) as Json);
}

function put(out: Record<string, Json>, key: string, node: ConfigNode | undefined): void {
  if (!isAbsent(node)) out[key] = toPlain(node) as Json;
}

/** String items of a list (or one string), sorted: names only. */
function names(node: ConfigNode | undefined): string[] {
  if (isAbsent(node)) return [];
  const items = node.kind === 'seq' ? node.items : [node];
  return items.flatMap((i) => (i.kind === 'scalar' && i.value !== null ? [String(i.value)] : [])).sort();
}

/** An env block: clear variables with values, secret variables by name only, tags likewise. */
function envOf(node: ConfigNode | undefined): Record<string, Json> | undefined {
  if (node?.kind !== 'map') return undefined;
  const structured = ['clear', 'secret', 'tags'].some((k) => node.entries.has(k));
  if (!structured) return { clear: toPlain(node) as Json };
  const out: Record<string, Json> = {};
  const clear = entry(node, 'clear');
  if (!isAbsent(clear)) out.clear = toPlain(clear) as Json;
  const secret = names(entry(node, 'secret'));
  if (secret.length) out.secret = secret;
  const tags = entry(node, 'tags');
  if (tags?.kind === 'map') {
    const tagged: Record<string, Json> = {};
    for (const [name, { value }] of tags.entries) tagged[name] = envOf(value) ?? null;
    out.tags = tagged;
  }
  return out;
}

/** `registry:`: the server and the username (a literal, or the secret it names); never the password. */
function registryOf(node: ConfigNode | undefined): Record<string, Json> | undefined {
  if (node?.kind !== 'map') return undefined;
  const block: ConfigMap = node;
  const out: Record<string, Json> = { server: plain(entry(block, 'server')) ?? 'docker.io' };
  const username = entry(block, 'username');
  if (!isAbsent(username)) out.username = username.kind === 'seq' ? { secret: names(username) } : (toPlain(username) as Json);
  return out;
}
