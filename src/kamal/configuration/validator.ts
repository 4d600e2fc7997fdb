/**
 * Kamal 2's configuration validation, so that kamal-gate refuses (ConfigError, exit 2) the configs
 * Kamal refuses to deploy, with Kamal's message, the file:line it concerns and what to do. Read from
 * Kamal 2.12 (`Kamal::Configuration#initialize`, configuration/validator*.rb, docs/*.yml); checked in
 * the order Kamal builds its configuration, so the first refusal is the one Kamal would print.
 *
 * Applied:
 * - documented keys only, per section (root, builder, builder.pack/cache, servers.<role>, accessories.<name>,
 *   proxy and its healthcheck/buffering/logging/run, registry, env, boot, logging, output, ssh, sshkit);
 *   top-level `x-` keys are ignored (config.ts drops them); a Kamal 1 `traefik:`/`healthcheck:` is unknown
 * - the type of every documented value (Kamal's `stringish` strings: numbers and booleans pass as strings;
 *   empty values do not): `servers.web: null`, `ssh.user: null`, a string where a mapping is expected, …
 * - host lists (one host per item, tags a string or strings), accessory files/directories, ssh.config,
 *   hooks_output (type, then `quiet`/`verbose`)
 * - registry: username and password required unless the server is `localhost:PORT`, each a string or a
 *   one-item list (root and accessory registries); `registry` itself required
 * - env: a mapping of strings, or clear/secret (+ tags in the root env only)
 * - builder: `Builder arch not set`, cache type gha/registry, one arch with pack, `local: false` needs a remote
 * - proxy (root, each role's own, each role's merged over the root, accessories): a host for SSL,
 *   not both host and hosts, certificate_pem with private_key_pem, no ports with `publish: false`
 * - roles and accessories: reserved labels, restart policy; accessories: exactly one placement key, known roles
 * - aliases: a string, a lowercase name, not a Kamal command
 * - required keys: service, registry, image (the service with a local registry); "No servers or accessories
 *   specified"; the primary role defined and with hosts; no empty role unless `allow_empty_roles`
 * - service name, `retain_containers` ≥ 1, a well-formed `minimum_version`, no `pre/post-traefik-reboot` hooks
 *   in hooks_path (a file existence check, relative to the working directory as in Kamal)
 * - SSL roles: one host unless custom certificates; no host shared by two SSL roles
 * - a local registry with a remote builder needs an `ssh://` remote, when the config alone shows the build
 *   is remote (`local: false`, or two arches of which the machine builds one)
 *
 * Not applied, and why:
 * - `minimum_version` newer than Kamal: depends on the Kamal installed where the deploy runs, unknown here
 * - a local registry with a remote builder and one arch: whether that arch builds remotely depends on the
 *   deploying machine's Docker architecture (`docker info`), unknown here
 * - conflicting `proxy.run` on one host: already refused by src/kamal/proxy.ts when the proxy targets are read
 * - `require_destination` without -d: already refused by src/kamal/config.ts when the config is loaded
 * - `proxy.run.bind_ips` addresses: Kamal's check reads `proxy.bind_ips` (never set), so it never refuses
 * - Ruby-only distinctions the loaded tree does not keep: `10.0` (a Float, not an Integer), a quoted
 *   `":verbose"` (a String, not a Symbol), timestamps and non-string keys
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { entry, isPresent, isTruthy } from '../fields.js';
import type { Loc } from '../source-map.js';
import type { ConfigMap, ConfigNode } from '../yaml-tree.js';
import { deepMerge } from '../yaml-tree.js';
import type { Configuration } from './index.js';
import { BOOT_KEYS, LOGGING_KEYS, OUTPUT_KEYS, ROOT_KEYS, SSH_KEYS, SSHKIT_KEYS } from './validator-schema.js';
import { checkAccessory, checkAlias, checkBuilder, checkEnv, checkProxy, checkRegistry, checkRole, isLocalRegistry, sectionOf } from './validator-sections.js';
import { checkKeys, checkType, Where } from './validator-shape.js';

export interface ValidateOptions {
  /** The directory Kamal runs in: `hooks_path` is relative to it. */
  cwd: string;
}

/** Throws a ConfigError for the first rule of Kamal 2 the config breaks. */
export function validateKamalConfig(config: Configuration, opts: ValidateOptions): void {
  const root = config.root;
  const top = new Where('', undefined, root.loc.file);
  const at = (key: string): Where => top.child(key, root.entries.get(key)?.keyLoc);

  checkKeys(root, ROOT_KEYS, top, true);

  const roles = checkServers(root, at);
  checkRegistry(sectionOf(entry(root, 'registry')), at('registry'));
  for (const [name, { keyLoc, value }] of sectionOf(entry(root, 'accessories')).entries) {
    checkAccessory(value, at('accessories').child(name, keyLoc), roles.names);
  }
  for (const [name, { keyLoc, value }] of sectionOf(entry(root, 'aliases')).entries) {
    checkAlias(name, value, at('aliases').child(name, keyLoc));
  }
  checkKeys(sectionOf(entry(root, 'boot')), BOOT_KEYS, at('boot'));
  checkBuilder(sectionOf(entry(root, 'builder')), at('builder'));
  checkEnv(sectionOf(entry(root, 'env')), at('env'), true);
  checkKeys(sectionOf(entry(root, 'logging')), LOGGING_KEYS, at('logging'));
  checkKeys(sectionOf(entry(root, 'output')), OUTPUT_KEYS, at('output'));
  checkProxy(entry(root, 'proxy') ?? sectionOf(undefined), at('proxy'));
  checkKeys(sectionOf(entry(root, 'ssh')), SSH_KEYS, at('ssh'));
  checkKeys(sectionOf(entry(root, 'sshkit')), SSHKIT_KEYS, at('sshkit'));

  // Kamal's `ensure_*` checks: messages without a context, each at the line it concerns.
  const line = (key: string): Where => top.at(root.entries.get(key)?.keyLoc);
  checkRequiredKeys(root, roles, line, top);
  checkVersionAndRetention(root, line);
  checkServiceName(root, line);
  checkTraefikHooks(root, line, opts.cwd);
  checkSslRoles(root, roles, at, line);
  checkLocalRegistryRemoteBuilder(root, line);
  checkHooksOutput(root, line);
}

interface RoleInfo {
  name: string;
  hosts: string[];
  /** The role's own settings, when written as a mapping. */
  settings: ConfigMap | undefined;
  where: Where;
}

interface Roles {
  /** Undefined when `servers:` is not written. */
  list: RoleInfo[] | undefined;
  names: string[];
  primary: string;
}

/** `Servers.new` and `Role.new` for each role (by name): hosts, keys, env, logging and the role's own proxy. */
function checkServers(root: ConfigMap, at: (key: string) => Where): Roles {
  const servers = entry(root, 'servers');
  const primary = entry(root, 'primary_role');
  const primaryName = primary?.kind === 'scalar' && primary.value !== null ? String(primary.value) : 'web';
  if (servers === undefined) return { list: undefined, names: [], primary: primaryName };
  const where = at('servers');
  checkType(servers, where, 'array', 'hash');
  let list: RoleInfo[];
  if (servers.kind === 'seq') {
    checkRole(servers, where);
    list = [{ name: 'web', hosts: hostsOf(servers), settings: undefined, where }];
  } else {
    const written = sectionOf(servers).entries;
    list = [...written.keys()].sort().map((name) => {
      const { keyLoc, value } = written.get(name)!;
      const roleWhere = where.child(name, keyLoc);
      checkRole(value, roleWhere);
      const settings = value.kind === 'map' ? value : undefined;
      const role = { name, hosts: hostsOf(settings ? entry(settings, 'hosts') : value), settings, where: roleWhere };
      const own = ownProxy(role, primaryName);
      if (own) checkProxy(own.node, roleWhere.child('proxy', own.loc));
      return role;
    });
  }
  return { list, names: list.map((r) => r.name), primary: primaryName };
}

/** `Role#tagged_hosts` keys: string items and the host of `host: tags` items, each once. */
function hostsOf(node: ConfigNode | undefined): string[] {
  if (node?.kind !== 'seq') return [];
  const hosts = node.items.flatMap((item) => {
    if (item.kind === 'scalar' && typeof item.value === 'string') return [item.value];
    if (item.kind === 'map') return [...item.entries.keys()].slice(0, 1);
    return [];
  });
  return [...new Set(hosts)];
}

/** The role's own proxy settings when it runs the proxy (`Role#running_proxy?`): `{}` for `true` or unset. */
function ownProxy(role: RoleInfo, primary: string): { node: ConfigNode; loc: Loc | undefined } | undefined {
  const written = role.settings?.entries.get('proxy');
  const spec = written?.value;
  // Only `false` turns it off on the primary role; other roles run it only when it is set.
  const runs = role.name === primary ? !(spec?.kind === 'scalar' && spec.value === false) : isTruthy(spec);
  if (!runs) return undefined;
  const node = spec?.kind === 'map' ? spec : sectionOf(undefined);
  return { node, loc: written?.keyLoc };
}

/** `ensure_required_keys_present`. */
function checkRequiredKeys(root: ConfigMap, roles: Roles, at: (key: string) => Where, top: Where): void {
  for (const key of ['service', 'registry']) {
    if (!isPresent(entry(root, key))) throw at(key).refuse(`Missing required configuration for ${key}`, `set ${key}:`);
  }
  const local = isLocalRegistry(entry(sectionOf(entry(root, 'registry')), 'server'));
  if (!isPresent(entry(root, 'image')) && !local) {
    throw at('image').refuse('Missing required configuration for image', 'set image: to the repository Kamal pushes the app to (e.g. your-user/app)');
  }
  if (roles.list === undefined) {
    if (!isPresent(entry(root, 'accessories'))) throw top.refuse('No servers or accessories specified', 'add servers: with the hosts to deploy to');
    return;
  }
  const primary = roles.list.find((r) => r.name === roles.primary);
  if (!primary) {
    throw top
      .at(root.entries.get('primary_role')?.keyLoc ?? root.entries.get('servers')?.keyLoc)
      .refuse(`The primary_role ${roles.primary} isn't defined`, `add a ${roles.primary} role under servers:, or set primary_role: to one of ${roles.names.join(', ') || '(none)'}`);
  }
  if (primary.hosts.length === 0) {
    throw top.at(primary.where.loc).refuse(`No servers specified for the ${primary.name} primary_role`, `list the hosts of the ${primary.name} role`);
  }
  if (isTruthy(entry(root, 'allow_empty_roles'))) return;
  const empty = roles.list.find((r) => r.hosts.length === 0);
  if (empty) {
    throw top.at(empty.where.loc).refuse(`No servers specified for the ${empty.name} role. You can ignore this with allow_empty_roles: true`, `list its hosts, or set allow_empty_roles: true`);
  }
}

/** Gem::Version's format. */
const GEM_VERSION = /^\s*([0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*$/;

/** `ensure_valid_kamal_version` (the format only, see above) and `ensure_retain_containers_valid`. */
function checkVersionAndRetention(root: ConfigMap, at: (key: string) => Where): void {
  const minimum = scalarText(entry(root, 'minimum_version'));
  if (minimum !== undefined && !GEM_VERSION.test(minimum)) {
    throw at('minimum_version').refuse(`Malformed version number string ${minimum}`, 'write minimum_version as a version, e.g. 2.4.0');
  }
  const kept = scalarText(entry(root, 'retain_containers'));
  if (kept !== undefined && Number(kept) < 1) throw at('retain_containers').refuse('Must retain at least 1 container', 'set retain_containers: to 1 or more');
}

/** A scalar as text; undefined for absent, null or false (Ruby's falsy values). */
function scalarText(node: ConfigNode | undefined): string | undefined {
  return node?.kind === 'scalar' && node.value !== null && node.value !== false ? String(node.value) : undefined;
}

/** `ensure_valid_service_name` (Ruby's `^…$` match any line of the value). */
function checkServiceName(root: ConfigMap, at: (key: string) => Where): void {
  const service = entry(root, 'service');
  if (service?.kind === 'scalar' && typeof service.value === 'string' && /^[a-z0-9_-]+$/im.test(service.value)) return;
  throw at('service').refuse('Service name can only include alphanumeric characters, hyphens, and underscores', 'rename the service');
}

/** `ensure_no_traefik_reboot_hooks`. */
function checkTraefikHooks(root: ConfigMap, at: (key: string) => Where, cwd: string): void {
  const dir = scalarText(entry(root, 'hooks_path')) ?? '.kamal/hooks';
  const found = ['pre-traefik-reboot', 'post-traefik-reboot'].filter((hook) => existsSync(path.resolve(cwd, dir, hook)));
  if (found.length > 0) {
    throw at('hooks_path').refuse(`Found ${found.join(', ')}, these should be renamed to (pre|post)-proxy-reboot`, `rename them in ${dir} (Kamal 2 runs kamal-proxy, not Traefik)`);
  }
}

/** `ensure_one_host_for_ssl_roles` and `ensure_unique_hosts_for_ssl_roles`, on each role's proxy merged over the root's. */
function checkSslRoles(root: ConfigMap, roles: Roles, at: (key: string) => Where, line: (key: string) => Where): void {
  const rootProxy = sectionOf(entry(root, 'proxy'));
  const sslHosts: string[] = [];
  for (const role of roles.list ?? []) {
    const own = ownProxy(role, roles.primary);
    if (!own) continue;
    const merged = deepMerge(rootProxy, sectionOf(own.node));
    checkProxy(merged, at('proxy').at(own.loc ?? at('proxy').loc));
    const ssl = entry(merged, 'ssl');
    if (!isTruthy(ssl)) continue;
    const custom = ssl?.kind === 'map' && isPresent(entry(ssl, 'certificate_pem')) && isPresent(entry(ssl, 'private_key_pem'));
    if (role.hosts.length > 1 && !custom) {
      throw line('servers')
        .at(role.where.loc)
        .refuse(
          `SSL is only supported on a single server unless you provide custom certificates, found ${role.hosts.length} servers for role ${role.name}`,
          'put the role on one host, turn off proxy.ssl and terminate TLS in front of the hosts, or set ssl.certificate_pem and ssl.private_key_pem',
        );
    }
    sslHosts.push(...proxyHosts(merged));
  }
  const duplicates = [...new Set(sslHosts.filter((h, i) => sslHosts.indexOf(h) !== i))];
  if (duplicates.length > 0) {
    throw line('proxy').refuse(`Different roles can't share the same host for SSL: ${duplicates.join(', ')}`, 'give each SSL role its own proxy host');
  }
}

/** `Proxy#hosts`: `hosts`, else `host` split at commas. */
function proxyHosts(proxy: ConfigMap): string[] {
  const hosts = entry(proxy, 'hosts');
  if (hosts?.kind === 'seq') return hosts.items.flatMap((h) => (h.kind === 'scalar' && h.value !== null ? [String(h.value)] : []));
  const host = entry(proxy, 'host');
  return host?.kind === 'scalar' && host.value !== null ? String(host.value).split(',') : [];
}

/** `ensure_local_registry_remote_builder_has_ssh_url`, when the config alone shows the build is remote. */
function checkLocalRegistryRemoteBuilder(root: ConfigMap, at: (key: string) => Where): void {
  if (!isLocalRegistry(entry(sectionOf(entry(root, 'registry')), 'server'))) return;
  const builder = sectionOf(entry(root, 'builder'));
  const remote = entry(builder, 'remote');
  if (!isPresent(remote) || remote!.kind !== 'scalar') return;
  const local = entry(builder, 'local');
  const arch = entry(builder, 'arch');
  const arches = new Set(arch?.kind === 'seq' ? arch.items.map((a) => (a.kind === 'scalar' ? String(a.value) : '')) : []);
  const builtRemotely = (local?.kind === 'scalar' && local.value === false) || arches.size > 1;
  if (builtRemotely && !/^ssh:\/\//i.test(String(remote!.value))) {
    throw at('builder').at(builder.entries.get('remote')?.keyLoc).refuse('Local registry with remote builder requires an SSH URL (e.g., ssh://user@host)', 'write builder.remote as ssh://user@host');
  }
}

/** `ensure_valid_hooks_output!`: a string level, or each level of a mapping (other scalars Kamal ignores). */
function checkHooksOutput(root: ConfigMap, at: (key: string) => Where): void {
  const value = entry(root, 'hooks_output');
  const levels: [string, string | undefined][] =
    value?.kind === 'map' ? [...value.entries].map(([hook, e]) => [levelOf(e.value), hook]) : value?.kind === 'scalar' && typeof value.value === 'string' ? [[levelOf(value), undefined]] : [];
  for (const [level, hook] of levels) {
    if (level === 'quiet' || level === 'verbose') continue;
    const where = hook ? at('hooks_output').at((value as ConfigMap).entries.get(hook)?.keyLoc) : at('hooks_output');
    throw where.refuse(`Invalid hooks_output '${level}'${hook ? ` for hook '${hook}'` : ''}, must be one of: quiet, verbose`, 'use quiet or verbose');
  }
}

/** A level as Ruby's `to_sym` sees it; YAML's `:verbose` is the symbol `verbose`. */
function levelOf(node: ConfigNode): string {
  const text = node.kind === 'scalar' ? String(node.value) : '';
  return text.startsWith(':') ? text.slice(1) : text;
}
