/**
 * One entry of `accessories:` (Kamal's `Configuration::Accessory`): its image, its own registry,
 * the hosts it runs on, its proxy, and what it passes to `docker run`. Each part is read (and
 * refused with a ConfigError at its line) when first asked for.
 */
import { entry, errorAt, isPresent, lazy, optionalMap, optionalString, type Located } from '../fields.js';
import type { Loc } from '../source-map.js';
import type { ConfigMap, ConfigNode } from '../yaml-tree.js';
import { readOptions, readVolumes, type DockerOption, type Volume } from './docker-args.js';
import { Env } from './env.js';
import { Registry } from './registry.js';
import { hostList, type Servers } from './servers.js';

export class Accessory {
  /** Its path in the config: `accessories.db`. */
  readonly where: string;
  private readonly readImage: () => Located<string>;
  private readonly readRegistry: () => Registry | undefined;
  private readonly readOptions: () => DockerOption[];
  private readonly readVolumes: () => Volume[];
  private readonly readEnv: () => Env;

  constructor(
    readonly name: string,
    /** Where its name is written. */
    readonly keyLoc: Loc,
    private readonly node: ConfigNode,
  ) {
    const where = `accessories.${name}`;
    this.where = where;
    this.readImage = lazy(() => {
      const imageNode = entry(this.settings, 'image');
      const image = optionalString(imageNode, `${where}.image`);
      if (image === undefined) throw errorAt(imageNode?.loc ?? keyLoc, `${where} has no image; set ${where}.image (e.g. mysql:8.0)`);
      return { value: image, loc: imageNode!.loc };
    });
    this.readRegistry = lazy(() => {
      const registry = entry(this.mapping, 'registry');
      return isPresent(registry) ? Registry.read(registry, `${where}.registry`) : undefined;
    });
    this.readOptions = lazy(() => readOptions(entry(this.mapping, 'options'), `${where}.options`));
    this.readVolumes = lazy(() => readVolumes(entry(this.mapping, 'volumes'), `${where}.volumes`));
    this.readEnv = lazy(() => Env.read(entry(this.mapping, 'env'), `${where}.env`));
  }

  /** Its settings; an accessory that is empty or not a mapping is a ConfigError. */
  get settings(): ConfigMap {
    const settings = optionalMap(this.node, this.where);
    if (!settings) throw errorAt(this.keyLoc, `${this.where} is empty; an accessory needs at least image and host`);
    return settings;
  }

  /** `image`, as written (Kamal prefixes its own registry's server). */
  get image(): Located<string> {
    return this.readImage();
  }

  /** Its own `registry:` block, when one is written. */
  get registry(): Registry | undefined {
    return this.readRegistry();
  }

  /** Its `proxy:` settings, when written. */
  get proxy(): ConfigMap | undefined {
    const proxy = entry(this.mapping, 'proxy');
    return isPresent(proxy) ? optionalMap(proxy, `${this.where}.proxy`) : undefined;
  }

  /** `host`, `hosts`, `role`, `roles`, `tag` or `tags`, resolved to hosts (the first key written wins, in that order). */
  hosts(servers: Servers): string[] {
    const accessory = this.mapping;
    if (!accessory) return [];
    const has = (key: string): boolean => accessory.entries.has(key);
    const one = (key: string): string[] => {
      const v = entry(accessory, key);
      return v?.kind === 'scalar' && v.value !== null ? [String(v.value)] : [];
    };
    const many = (key: string): string[] => {
      const v = entry(accessory, key);
      return v?.kind === 'seq' ? v.items.flatMap((i) => (i.kind === 'scalar' && i.value !== null ? [String(i.value)] : [])) : [];
    };
    if (has('host')) return one('host');
    if (has('hosts')) return hostList(entry(accessory, 'hosts'));
    if (has('role')) return servers.hostsOf(one('role'));
    if (has('roles')) return servers.hostsOf(many('roles'));
    if (has('tag')) return servers.tagged(one('tag'));
    if (has('tags')) return servers.tagged(many('tags'));
    return [];
  }

  /** `options:`, leniently. */
  get options(): DockerOption[] {
    return this.readOptions();
  }

  /** `volumes:`, leniently. */
  get volumes(): Volume[] {
    return this.readVolumes();
  }

  /** `env:`, leniently. */
  get env(): Env {
    return this.readEnv();
  }

  /** Its settings when they are a mapping, without refusing anything (for the lenient parts). */
  private get mapping(): ConfigMap | undefined {
    return this.node.kind === 'map' ? this.node : undefined;
  }
}
