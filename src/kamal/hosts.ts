/**
 * Which hosts each role and accessory runs on (`Configuration::Role#hosts`, `Accessory#hosts`).
 * Needed because Kamal checks proxy runs per host, and hosts can run different proxy images.
 */
import { entry, isAbsent, optionalMap, optionalString, wrongType } from './fields.js';
import type { ConfigMap, ConfigNode } from './yaml-tree.js';

export interface RoleHosts {
  name: string;
  hosts: string[];
  /** The role's settings when it is written as a mapping (`hosts:`, `proxy:`, …). */
  settings?: ConfigMap;
}

/** Roles as Kamal lists them: a list of servers is the `web` role; otherwise role names sorted. */
export function readRoles(root: ConfigMap): RoleHosts[] {
  const servers = entry(root, 'servers');
  if (isAbsent(servers)) return [];
  if (servers.kind === 'seq') return [{ name: 'web', hosts: hostList(servers) }];
  if (servers.kind !== 'map') throw wrongType(servers, 'servers', 'a list of hosts or a mapping of roles');
  const byRole = servers;
  return [...byRole.entries.keys()].sort().map((name) => {
    const value = byRole.entries.get(name)!.value;
    if (value.kind === 'seq') return { name, hosts: hostList(value) };
    const settings = optionalMap(value, `servers.${name}`);
    return settings ? { name, hosts: hostList(entry(settings, 'hosts')), settings } : { name, hosts: [] };
  });
}

/** `host`, `hosts`, `role`, `roles`, `tag` or `tags` of an accessory, resolved to hosts. */
export function accessoryHosts(accessory: ConfigMap, root: ConfigMap, roles: RoleHosts[]): string[] {
  const has = (key: string): boolean => accessory.entries.has(key);
  const one = (key: string): string[] => {
    const v = entry(accessory, key);
    return v?.kind === 'scalar' && v.value !== null ? [String(v.value)] : [];
  };
  const many = (key: string): string[] => {
    const v = entry(accessory, key);
    return v?.kind === 'seq' ? v.items.flatMap((i) => (i.kind === 'scalar' && i.value !== null ? [String(i.value)] : [])) : [];
  };
  const ofRoles = (names: string[]): string[] => names.flatMap((n) => roles.find((r) => r.name === n)?.hosts ?? []);
  if (has('host')) return one('host');
  if (has('hosts')) return hostList(entry(accessory, 'hosts'));
  if (has('role')) return ofRoles(one('role'));
  if (has('roles')) return ofRoles(many('roles'));
  if (has('tag')) return taggedHosts(root, one('tag'));
  if (has('tags')) return taggedHosts(root, many('tags'));
  return [];
}

/** Hosts written as `- host` or `- host: [tags]`. */
function hostList(node: ConfigNode | undefined): string[] {
  if (node?.kind !== 'seq') return [];
  return node.items.flatMap((item) => {
    if (item.kind === 'scalar') return item.value === null ? [] : [String(item.value)];
    if (item.kind === 'map') {
      const first = item.entries.keys().next();
      return first.done ? [] : [first.value];
    }
    return [];
  });
}

/** Kamal only finds tagged hosts in roles written as lists (`- host: tag` items). */
function taggedHosts(root: ConfigMap, tags: string[]): string[] {
  const servers = entry(root, 'servers');
  if (servers?.kind !== 'map') return [];
  const hosts: string[] = [];
  for (const { value: role } of servers.entries.values()) {
    if (role.kind !== 'seq') continue;
    for (const item of role.items) {
      if (item.kind !== 'map') continue;
      const [host, hostEntry] = item.entries.entries().next().value ?? [];
      if (host === undefined || !hostEntry) continue;
      const hostTags = hostEntry.value;
      const matches = (tag: string): boolean =>
        hostTags.kind === 'seq'
          ? hostTags.items.some((t) => t.kind === 'scalar' && t.value === tag)
          : hostTags.kind === 'scalar' && typeof hostTags.value === 'string' && hostTags.value.includes(tag);
      if (tags.some(matches)) hosts.push(host);
    }
  }
  return hosts;
}

/** `primary_role`, default `web`. */
export function primaryRole(root: ConfigMap): string {
  return optionalString(entry(root, 'primary_role'), 'primary_role') ?? 'web';
}
