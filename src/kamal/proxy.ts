/**
 * The kamal-proxy image (`Configuration::Proxy::Run`, Kamal 2.10+): `[registry/]repository:version`
 * from `proxy.run` at the root, in a role (merged over the root proxy) or in an accessory. Kamal
 * requires all runs on one host to be identical; different hosts may run different images. Without
 * any `proxy.run`, the image is decided on each host.
 */
import type { RegistryCredential, Target } from '../types.js';
import { entry, errorAt, isAbsent, isPresent, isTruthy, optionalMap, optionalString, wrongType } from './fields.js';
import { accessoryHosts, primaryRole, readRoles } from './hosts.js';
import type { Loc } from './source-map.js';
import { deepMerge, sameValue, type ConfigMap } from './yaml-tree.js';

export const PROXY_REPOSITORY = 'basecamp/kamal-proxy';
/** `Kamal::Configuration::Proxy::Run::MINIMUM_VERSION` in Kamal 2.12. */
export const PROXY_MINIMUM_VERSION = 'v0.9.2';
export const PROXY_DEFAULT_IMAGE = `${PROXY_REPOSITORY}:${PROXY_MINIMUM_VERSION}`;

interface Run {
  /** Path of the run in the config, for messages. */
  where: string;
  node: ConfigMap;
  /** Where `run:` is written. */
  loc: Loc;
}

interface ProxyHost {
  host: string;
  runs: Run[];
}

export interface ProxyResult {
  targets: Target[];
  notes: string[];
}

export function proxyTargets(root: ConfigMap, rootRegistry: { server?: string; credential?: RegistryCredential }): ProxyResult {
  const hosts = proxyHosts(root);
  for (const { host, runs } of hosts.values()) {
    const conflict = runs.find((r) => !sameValue(r.node, runs[0]!.node));
    if (conflict) {
      const first = runs[0]!;
      throw errorAt(
        conflict.loc,
        `conflicting proxy run configurations for host ${host}: ${first.where} (${first.loc.file}:${first.loc.line}) and ${conflict.where} differ; Kamal requires every proxy.run on a host to be identical`,
      );
    }
  }

  const targets = new Map<string, Target>();
  const legacy: string[] = [];
  for (const { host, runs } of hosts.values()) {
    const run = runs[0];
    if (!run) {
      legacy.push(host);
      continue;
    }
    const image = runImage(run);
    if (targets.has(image.ref)) continue;
    const credential =
      image.registry !== undefined && image.registry === rootRegistry.server ? rootRegistry.credential : undefined;
    targets.set(image.ref, {
      ref: image.ref,
      role: 'proxy',
      name: 'kamal-proxy',
      source: { file: image.loc.file, line: image.loc.line, column: image.loc.column },
      ...(credential ? { credential } : {}),
    });
  }

  const notes: string[] = [];
  if (legacy.length > 0) {
    const which = targets.size === 0 ? 'no proxy.run in the config' : `no proxy.run for ${legacy.join(', ')}`;
    notes.push(
      `${which}: the kamal-proxy image is decided on each host (.kamal/proxy/image, default ${PROXY_DEFAULT_IMAGE} for Kamal 2.12); set proxy.run (registry, repository, version) to name it in the config`,
    );
  }
  return { targets: [...targets.values()], notes };
}

/** Every host that runs kamal-proxy, with the runs configured for it (roles first, then accessories). */
function proxyHosts(root: ConfigMap): Map<string, ProxyHost> {
  const hosts = new Map<string, ProxyHost>();
  const add = (list: string[], run: Run | undefined): void => {
    for (const host of list) {
      const h = hosts.get(host) ?? { host, runs: [] };
      if (run) h.runs.push(run);
      hosts.set(host, h);
    }
  };

  const rootProxy = optionalMap(entry(root, 'proxy'), 'proxy');
  const roles = readRoles(root);
  const primary = primaryRole(root);
  for (const role of roles) {
    const spec = entry(role.settings, 'proxy');
    const running = role.name === primary ? !(spec?.kind === 'scalar' && spec.value === false) : isTruthy(spec);
    if (!running) continue;
    if (spec && !isAbsent(spec) && spec.kind !== 'map' && !(spec.kind === 'scalar' && typeof spec.value === 'boolean')) {
      throw wrongType(spec, `servers.${role.name}.proxy`, 'a mapping or true/false');
    }
    const own = spec?.kind === 'map' ? spec : undefined;
    const merged = own && rootProxy ? deepMerge(rootProxy, own) : (own ?? rootProxy);
    const ownRun = own && isPresent(entry(own, 'run'));
    add(role.hosts, runOf(merged, ownRun ? `servers.${role.name}.proxy.run` : 'proxy.run'));
  }

  const accessories = optionalMap(entry(root, 'accessories'), 'accessories');
  for (const [name, { value }] of accessories?.entries ?? []) {
    if (value.kind !== 'map') continue;
    const proxy = entry(value, 'proxy');
    if (!isPresent(proxy)) continue;
    const proxyMap = optionalMap(proxy, `accessories.${name}.proxy`);
    add(accessoryHosts(value, root, roles), runOf(proxyMap, `accessories.${name}.proxy.run`));
  }
  return hosts;
}

function runOf(proxy: ConfigMap | undefined, where: string): Run | undefined {
  const run = proxy?.entries.get('run');
  if (!run || !isPresent(run.value)) return undefined;
  return { where, node: optionalMap(run.value, where)!, loc: run.keyLoc };
}

function runImage(run: Run): { ref: string; registry?: string; loc: Loc } {
  const field = (key: string): string | undefined => optionalString(entry(run.node, key), `${run.where}.${key}`);
  const registry = field('registry');
  const repository = field('repository') ?? PROXY_REPOSITORY;
  const version = field('version') ?? PROXY_MINIMUM_VERSION;
  const locNode = ['version', 'repository', 'registry'].map((k) => entry(run.node, k)).find((n) => !isAbsent(n));
  return {
    ref: `${registry ? `${registry}/` : ''}${repository}:${version}`,
    ...(registry !== undefined ? { registry } : {}),
    loc: locNode?.loc ?? run.loc,
  };
}
