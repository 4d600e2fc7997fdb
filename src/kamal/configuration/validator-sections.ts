/**
 * Kamal 2's checks for each section beyond its documented keys (lib/kamal/configuration/validator/*.rb):
 * registry credentials, env's clear/secret/tags, the builder's arch, cache and local/remote, the
 * proxy's host and SSL settings, roles, accessories and aliases. Each check refuses with Kamal's
 * message at the line it concerns; validator.ts calls them in the order Kamal builds its configuration.
 */
import { entry, isAbsent, isPresent } from '../fields.js';
import type { ConfigMap, ConfigNode } from '../yaml-tree.js';
import { ACCESSORY_KEYS, BUILDER_KEYS, KAMAL_COMMANDS, LOGGING_KEYS, PROXY_KEYS, REGISTRY_KEYS, ROLE_KEYS } from './validator-schema.js';
import { checkHashOf, checkHosts, checkKeys, checkKnownKeys, checkStrings, checkType, type Where } from './validator-shape.js';

const EMPTY: ConfigMap = { kind: 'map', entries: new Map(), loc: { file: '', line: 0, column: 0 } };

/** The mapping a section holds, or an empty one when it is not written (Kamal's `|| {}`). */
export function sectionOf(node: ConfigNode | undefined): ConfigMap {
  return node?.kind === 'map' ? node : EMPTY;
}

/** Where a key of `map` is written, else where the map is. */
function keyWhere(map: ConfigMap, key: string, where: Where): Where {
  return where.at(map.entries.get(key)?.keyLoc);
}

/** A `localhost:PORT` registry server: Kamal's own registry, which needs no credentials. */
export function isLocalRegistry(server: ConfigNode | undefined): boolean {
  return server?.kind === 'scalar' && typeof server.value === 'string' && /^localhost[:$]/m.test(server.value);
}

/** `Validator::Registry`: `server`, and `username`/`password` (a string, or `[SECRET_NAME]`) unless the registry is local. */
export function checkRegistry(registry: ConfigMap, where: Where): void {
  const rest: ConfigMap = { ...registry, entries: new Map([...registry.entries].filter(([k]) => k !== 'username' && k !== 'password')) };
  checkKeys(rest, REGISTRY_KEYS, where);
  if (isLocalRegistry(entry(registry, 'server'))) return;
  for (const key of ['username', 'password']) {
    const value = entry(registry, key);
    const at = where.child(key, registry.entries.get(key)?.keyLoc);
    if (!isPresent(value)) {
      throw at.refuse('is required', `set ${where.dotted}.${key}, as a string or as [SECRET_NAME] read from .kamal/secrets (only a localhost:PORT registry needs none)`);
    }
    const oneSecret = value!.kind === 'seq' && value!.items.length === 1 && value!.items[0]!.kind === 'scalar' && typeof value!.items[0]!.value === 'string';
    if (!(value!.kind === 'scalar' && typeof value!.value === 'string') && !oneSecret) {
      throw at.refuse('should be a string or an array with one string (for secret lookup)', `write ${at.dotted} as a string, or as [SECRET_NAME] to read it from .kamal/secrets`);
    }
  }
}

const ENV_KEYS = ['clear', 'secret', 'tags'];

/** `Validator::Env`: a mapping of strings, or `clear:`/`secret:` (and `tags:` in the root env only). */
export function checkEnv(env: ConfigNode, where: Where, root: boolean): void {
  const map = sectionOf(env);
  if (![...map.entries.keys()].some((k) => ENV_KEYS.includes(k))) return checkHashOf(env, where);
  checkKnownKeys(map, ENV_KEYS, where);
  const clear = map.entries.get('clear');
  if (clear) checkHashOf(clear.value, where.child('clear', clear.keyLoc));
  const secret = map.entries.get('secret');
  if (secret) checkStrings(secret.value, where.child('secret', secret.keyLoc));
  const tags = map.entries.get('tags');
  if (!tags) return;
  if (!root) throw where.at(tags.keyLoc).refuse('tags are only allowed in the root env', 'move tags: to the root env:, where hosts tagged in servers: pick them up');
  const tagsAt = where.child('tags', tags.keyLoc);
  checkType(tags.value, tagsAt, 'hash');
  for (const [tag, { keyLoc, value }] of sectionOf(tags.value).entries) {
    const at = tagsAt.child(tag, keyLoc);
    checkType(value, at, 'hash');
    checkEnv(value, at, false);
  }
}

/** `Validator::Builder`: the documented keys, a known cache type, `arch` set, and a remote when local builds are off. */
export function checkBuilder(builder: ConfigMap, where: Where): void {
  checkKeys(builder, BUILDER_KEYS, where);
  const cache = entry(builder, 'cache');
  const cacheType = cache?.kind === 'map' ? cache.entries.get('type') : undefined;
  if (cacheType && isTruthyScalar(cacheType.value)) {
    const type = cacheType.value.kind === 'scalar' ? String(cacheType.value.value) : '';
    if (type !== 'gha' && type !== 'registry') {
      throw where.at(cacheType.keyLoc).refuse(`Invalid cache type: ${type}`, 'set builder.cache.type to gha or registry');
    }
  }
  const arch = entry(builder, 'arch');
  if (!isPresent(arch)) {
    throw keyWhere(builder, 'arch', where).refuse('Builder arch not set', 'add builder.arch: amd64 (or arm64, or a list of both)');
  }
  if (isTruthyScalar(entry(builder, 'pack')) && arch!.kind === 'seq' && arch!.items.length > 1) {
    throw keyWhere(builder, 'arch', where).refuse('buildpacks only support building for one arch', 'list one arch in builder.arch when builder.pack is set');
  }
  const local = entry(builder, 'local');
  if (local?.kind === 'scalar' && local.value === false && !isPresent(entry(builder, 'remote'))) {
    throw keyWhere(builder, 'local', where).refuse('Cannot disable local builds, no remote is set', 'set builder.remote: ssh://user@host, or remove local: false');
  }
}

function isTruthyScalar(node: ConfigNode | undefined): node is ConfigNode {
  return !isAbsent(node) && !(node.kind === 'scalar' && node.value === false);
}

/** `Validator::Proxy`: the documented keys, a host for automatic SSL, host or hosts, certificate pairs, ports with `publish: false`. */
export function checkProxy(proxy: ConfigNode, where: Where): void {
  checkKeys(proxy, PROXY_KEYS, where);
  const map = sectionOf(proxy);
  const ssl = entry(map, 'ssl');
  if (!isPresent(entry(map, 'host')) && !isPresent(entry(map, 'hosts')) && isTruthyScalar(ssl)) {
    throw keyWhere(map, 'ssl', where).refuse('Must set a host to enable automatic SSL', `add ${where.dotted}.host (the name Let's Encrypt certifies), or set ssl: false`);
  }
  if (map.entries.has('host') && map.entries.has('hosts')) {
    throw keyWhere(map, 'hosts', where).refuse("Specify one of 'host' or 'hosts', not both", 'keep host: or hosts:, not both (a role proxy is merged over the root proxy)');
  }
  if (ssl?.kind === 'map') {
    const cert = isPresent(entry(ssl, 'certificate_pem'));
    const key = isPresent(entry(ssl, 'private_key_pem'));
    if (cert && !key) {
      throw keyWhere(map, 'ssl', where).refuse('Missing private_key_pem setting (required when certificate_pem is present)', 'set ssl.private_key_pem to the secret holding the key');
    }
    if (key && !cert) {
      throw keyWhere(map, 'ssl', where).refuse('Missing certificate_pem setting (required when private_key_pem is present)', 'set ssl.certificate_pem to the secret holding the certificate');
    }
  }
  const run = entry(map, 'run');
  if (run?.kind === 'map') {
    const publish = entry(run, 'publish');
    if (publish?.kind === 'scalar' && publish.value === false && ['bind_ips', 'http_port', 'https_port'].some((k) => isPresent(entry(run, k)))) {
      throw keyWhere(run, 'publish', where).refuse(
        'Cannot set http_port, https_port or bind_ips when publish is false',
        'remove http_port, https_port and bind_ips from proxy.run, or publish the ports',
      );
    }
  }
}

const RESERVED_LABELS = ['destination', 'role', 'service'];

/** `validate_labels!`: Kamal sets `destination`, `role` and `service` itself. */
function checkLabels(owner: ConfigMap, where: Where): void {
  const labels = owner.entries.get('labels');
  if (labels?.value.kind !== 'map') return;
  const at = where.child('labels', labels.keyLoc);
  for (const [key, { keyLoc }] of labels.value.entries) {
    if (RESERVED_LABELS.includes(key)) {
      throw at.child(key, keyLoc).refuse('invalid label. destination, role, and service are reserved labels', `remove the ${key} label: Kamal sets it itself`);
    }
  }
}

/** `validate_docker_options!`: a `restart` option must be a Docker restart policy. */
function checkOptions(owner: ConfigMap, where: Where): void {
  const options = entry(owner, 'options');
  if (options?.kind !== 'map') return;
  const restart = options.entries.get('restart');
  if (!restart) return;
  const at = where.child('options/restart', restart.keyLoc);
  const value = restart.value;
  if (!(value.kind === 'scalar' && typeof value.value === 'string')) {
    throw at.refuse('should be a string. Use "no" to disable restarts', 'quote the policy: restart: "no" (YAML reads a bare no as false)');
  }
  if (!/^(?:no|always|unless-stopped|on-failure(?::\d+)?)$/.test(value.value)) {
    throw at.refuse('should be no, always, unless-stopped, on-failure, or on-failure:N', 'use one of the policies Docker knows');
  }
}

/** `Validator::Role` and what `Role.new` validates: hosts, documented keys, labels, options, env and logging. */
export function checkRole(role: ConfigNode, where: Where): void {
  checkType(role, where, 'array', 'hash');
  if (role.kind === 'seq') return checkHosts(role, where);
  const map = sectionOf(role);
  checkKeys(map, ROLE_KEYS, where);
  checkLabels(map, where);
  checkOptions(map, where);
  const env = map.entries.get('env');
  if (env) checkEnv(env.value, where.child('env', env.keyLoc), false);
  const logging = map.entries.get('logging');
  if (logging) checkKeys(logging.value, LOGGING_KEYS, where.child('logging', logging.keyLoc));
}

const PLACEMENT_KEYS = ['host', 'hosts', 'role', 'roles', 'tag', 'tags'];

/** `Validator::Accessory` and what `Accessory.new` validates: keys, one placement, known roles, labels, options, env, proxy, registry. */
export function checkAccessory(accessory: ConfigNode, where: Where, roleNames: readonly string[]): void {
  checkKeys(accessory, ACCESSORY_KEYS, where);
  const map = sectionOf(accessory);
  if ([...map.entries.keys()].filter((k) => PLACEMENT_KEYS.includes(k)).length !== 1) {
    throw where.refuse('specify one of `host`, `hosts`, `role`, `roles`, `tag` or `tags`', `give ${where.dotted} exactly one of host, hosts, role, roles, tag or tags`);
  }
  checkLabels(map, where);
  checkOptions(map, where);
  const roles = map.entries.get('roles');
  const role = map.entries.get('role');
  // Both were type-checked above: `roles` a list of strings, `role` a string.
  if (roles?.value.kind === 'seq') {
    const missing = roles.value.items.map((r) => (r.kind === 'scalar' ? String(r.value) : '')).filter((r) => !roleNames.includes(r));
    if (missing.length > 0) throw where.at(roles.keyLoc).refuse(`unknown roles ${missing.join(', ')}`, 'name roles defined under servers:');
  } else if (role?.value.kind === 'scalar' && isTruthyScalar(role.value)) {
    const name = String(role.value.value);
    if (!roleNames.includes(name)) throw where.at(role.keyLoc).refuse(`unknown role ${name}`, 'name a role defined under servers:');
  }
  const env = map.entries.get('env');
  if (env) checkEnv(env.value, where.child('env', env.keyLoc), false);
  const proxy = map.entries.get('proxy');
  if (proxy && isPresent(proxy.value)) checkProxy(proxy.value, where.child('proxy', proxy.keyLoc));
  const registry = map.entries.get('registry');
  if (registry && isPresent(registry.value)) checkRegistry(sectionOf(registry.value), where.child('registry', registry.keyLoc));
}

/** `Validator::Alias`: a command string under a lowercase name that is not one of Kamal's commands. */
export function checkAlias(name: string, command: ConfigNode, where: Where): void {
  checkType(command, where, 'string');
  if (!/^[a-z0-9_-]+$/.test(name)) {
    throw where.refuse(`Invalid alias name: '${name}'. Must only contain lowercase letters, alphanumeric, hyphens and underscores.`, 'rename the alias');
  }
  if (KAMAL_COMMANDS.includes(name)) throw where.refuse(`Alias '${name}' conflicts with a built-in command.`, 'rename the alias');
}
