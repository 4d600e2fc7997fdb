/**
 * `servers:` as Kamal reads it: a list of hosts is the `web` role, a mapping names roles
 * (Kamal's `Configuration::Role`), each a list of hosts (`- host` or `- host: [tags]`) or a mapping
 * with `hosts:` and the role's own `proxy:`, `options:`, `env:`.
 */
import { entry, isAbsent, isTruthy, lazy, optionalMap, wrongType } from '../fields.js';
import { readOptions, type DockerOption } from './docker-args.js';
import { Env } from './env.js';
import type { ConfigMap, ConfigNode } from '../yaml-tree.js';

export class Role {
  private readonly readOptions: () => DockerOption[];
  private readonly readEnv: () => Env;

  constructor(
    readonly name: string,
    readonly hosts: string[],
    /** The role's settings when it is written as a mapping (`hosts:`, `proxy:`, …). */
    readonly settings: ConfigMap | undefined,
    /** Its place among the roles as written. */
    readonly position: number,
  ) {
    this.readOptions = lazy(() => readOptions(entry(settings, 'options'), `servers.${name}.options`));
    this.readEnv = lazy(() => Env.read(entry(settings, 'env'), `servers.${name}.env`));
  }

  /** Kamal's `Role#running_proxy?`: the primary role runs it unless `proxy: false`, others only when set. */
  runsProxy(primaryRole: string): boolean {
    const spec = entry(this.settings, 'proxy');
    return this.name === primaryRole ? !(spec?.kind === 'scalar' && spec.value === false) : isTruthy(spec);
  }

  /** The role's own `proxy:` mapping (merged over the root one by Kamal); `true` has none. */
  get proxySettings(): ConfigMap | undefined {
    const spec = entry(this.settings, 'proxy');
    if (spec && !isAbsent(spec) && spec.kind !== 'map' && !(spec.kind === 'scalar' && typeof spec.value === 'boolean')) {
      throw wrongType(spec, `servers.${this.name}.proxy`, 'a mapping or true/false');
    }
    return spec?.kind === 'map' ? spec : undefined;
  }

  /** `options:`, leniently. */
  get options(): DockerOption[] {
    return this.readOptions();
  }

  /** `env:`, leniently. */
  get env(): Env {
    return this.readEnv();
  }
}

export class Servers {
  private constructor(
    /** Roles as Kamal lists them: by name. */
    readonly roles: Role[],
    private readonly node: ConfigNode | undefined,
  ) {}

  static read(node: ConfigNode | undefined): Servers {
    if (isAbsent(node)) return new Servers([], node);
    if (node.kind === 'seq') return new Servers([new Role('web', hostList(node), undefined, 0)], node);
    if (node.kind !== 'map') throw wrongType(node, 'servers', 'a list of hosts or a mapping of roles');
    const written = [...node.entries.keys()];
    const roles = [...written].sort().map((name) => {
      const value = node.entries.get(name)!.value;
      const position = written.indexOf(name);
      if (value.kind === 'seq') return new Role(name, hostList(value), undefined, position);
      const settings = optionalMap(value, `servers.${name}`);
      return new Role(name, settings ? hostList(entry(settings, 'hosts')) : [], settings, position);
    });
    return new Servers(roles, node);
  }

  /** The roles in the order they are written. */
  get asWritten(): Role[] {
    return [...this.roles].sort((a, b) => a.position - b.position);
  }

  /** The hosts of the roles named. */
  hostsOf(roleNames: string[]): string[] {
    return roleNames.flatMap((n) => this.roles.find((r) => r.name === n)?.hosts ?? []);
  }

  /** Hosts tagged with any of `tags`: Kamal only finds them in roles written as lists (`- host: tag` items). */
  tagged(tags: string[]): string[] {
    if (this.node?.kind !== 'map') return [];
    const hosts: string[] = [];
    for (const { value: role } of this.node.entries.values()) {
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
}

/** Hosts written as `- host` or `- host: [tags]`. */
export function hostList(node: ConfigNode | undefined): string[] {
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
