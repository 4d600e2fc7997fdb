/**
 * kamal-proxy settings (Kamal's `Configuration::Proxy` and `Proxy::Run`, Kamal 2.10+): where the
 * proxy runs (the hosts of roles running it and of accessories with a `proxy:`), and the `run:`
 * block that names its image, from the root, a role (merged over the root proxy) or an accessory.
 */
import { entry, isAbsent, isPresent, lazy, optionalMap, optionalString } from '../fields.js';
import type { Loc } from '../source-map.js';
import { deepMerge, sameValue, type ConfigMap } from '../yaml-tree.js';
import type { Accessory } from './accessory.js';
import type { Servers } from './servers.js';

const PROXY_REPOSITORY = 'basecamp/kamal-proxy';
/** `Kamal::Configuration::Proxy::Run::MINIMUM_VERSION` in Kamal 2.12. */
const PROXY_MINIMUM_VERSION = 'v0.9.2';
export const PROXY_DEFAULT_IMAGE = `${PROXY_REPOSITORY}:${PROXY_MINIMUM_VERSION}`;

/** The image a `proxy.run` names: `[registry/]repository:version`. */
export interface ProxyImage {
  ref: string;
  registry?: string;
  /** Where the first of version, repository, registry is written; else `run:`. */
  loc: Loc;
}

export class ProxyRun {
  private readonly readImage: () => ProxyImage;

  private constructor(
    /** Its path in the config, for messages: `proxy.run`, `servers.web.proxy.run`. */
    readonly where: string,
    readonly settings: ConfigMap,
    /** Where `run:` is written. */
    readonly loc: Loc,
  ) {
    this.readImage = lazy(() => {
      const field = (key: string): string | undefined => optionalString(entry(settings, key), `${where}.${key}`);
      const registry = field('registry');
      const repository = field('repository') ?? PROXY_REPOSITORY;
      const version = field('version') ?? PROXY_MINIMUM_VERSION;
      const locNode = ['version', 'repository', 'registry'].map((k) => entry(settings, k)).find((n) => !isAbsent(n));
      return {
        ref: `${registry ? `${registry}/` : ''}${repository}:${version}`,
        ...(registry !== undefined ? { registry } : {}),
        loc: locNode?.loc ?? loc,
      };
    });
  }

  /** The `run:` of a proxy block; undefined when not written. */
  static of(proxy: ConfigMap | undefined, where: string): ProxyRun | undefined {
    const run = proxy?.entries.get('run');
    if (!run || !isPresent(run.value)) return undefined;
    return new ProxyRun(where, optionalMap(run.value, where)!, run.keyLoc);
  }

  /** Ruby `==` of the two runs, as Kamal compares the runs of one host. */
  sameAs(other: ProxyRun): boolean {
    return sameValue(this.settings, other.settings);
  }

  get image(): ProxyImage {
    return this.readImage();
  }
}

/** Hosts that run kamal-proxy, with the run configured for them (undefined: none). */
export interface ProxyPlacement {
  hosts: string[];
  run: ProxyRun | undefined;
}

/** Roles running the proxy (by name), then accessories with a `proxy:` (as written). */
export function proxyPlacements(rootProxy: ConfigMap | undefined, servers: Servers, primaryRole: string, accessories: Accessory[]): ProxyPlacement[] {
  const placements: ProxyPlacement[] = [];
  for (const role of servers.roles) {
    if (!role.runsProxy(primaryRole)) continue;
    const own = role.proxySettings;
    const merged = own && rootProxy ? deepMerge(rootProxy, own) : (own ?? rootProxy);
    const ownRun = own && isPresent(entry(own, 'run'));
    placements.push({ hosts: role.hosts, run: ProxyRun.of(merged, ownRun ? `servers.${role.name}.proxy.run` : 'proxy.run') });
  }
  for (const accessory of accessories) {
    const proxy = accessory.proxy;
    if (!proxy) continue;
    placements.push({ hosts: accessory.hosts(servers), run: ProxyRun.of(proxy, `${accessory.where}.proxy.run`) });
  }
  return placements;
}
