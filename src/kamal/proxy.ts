/**
 * The kamal-proxy image targets (`Configuration::Proxy::Run`, Kamal 2.10+): `[registry/]repository:version`
 * from `proxy.run` at the root, in a role (merged over the root proxy) or in an accessory. Kamal
 * requires all runs on one host to be identical; different hosts may run different images. Without
 * any `proxy.run`, the image is decided on each host.
 */
import type { RegistryCredential, Target } from '../types.js';
import type { Configuration } from './configuration/index.js';
import { PROXY_DEFAULT_IMAGE, type ProxyRun } from './configuration/proxy.js';
import { errorAt } from './fields.js';

interface ProxyHost {
  host: string;
  runs: ProxyRun[];
}

export interface ProxyResult {
  targets: Target[];
  notes: string[];
}

export function proxyTargets(config: Configuration, rootRegistry: { server?: string; credential?: RegistryCredential }): ProxyResult {
  const hosts = proxyHosts(config);
  for (const { host, runs } of hosts.values()) {
    const conflict = runs.find((r) => !r.sameAs(runs[0]!));
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
    const image = run.image;
    if (targets.has(image.ref)) continue;
    const credential = image.registry !== undefined && image.registry === rootRegistry.server ? rootRegistry.credential : undefined;
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
function proxyHosts(config: Configuration): Map<string, ProxyHost> {
  const hosts = new Map<string, ProxyHost>();
  for (const { hosts: list, run } of config.proxyPlacements) {
    for (const host of list) {
      const h = hosts.get(host) ?? { host, runs: [] };
      if (run) h.runs.push(run);
      hosts.set(host, h);
    }
  }
  return hosts;
}
