/**
 * The loaded Kamal config as a typed view, in the shape of Kamal's `Kamal::Configuration`: service,
 * image, registry, builder, servers and roles, accessories, proxy, env, volumes, ssh. Every value
 * keeps the file and line it was written at. The plan, the proxy targets and the lint read this
 * instead of the raw tree.
 *
 * Built once per loaded tree (`Configuration.of`). Each section is read when first asked for and
 * then kept, so a config error surfaces when (and in the order) a reader needs the section, as a
 * ConfigError at its line. Sections only the lint reads (env, volumes, options, ssh) are lenient.
 */
import { ConfigError } from '../../errors.js';
import { entry, errorAt, lazy, optionalMap, optionalString, type Located } from '../fields.js';
import type { ConfigMap } from '../yaml-tree.js';
import { Accessory } from './accessory.js';
import { Builder } from './builder.js';
import { readVolumes, type Volume } from './docker-args.js';
import { Env } from './env.js';
import { proxyPlacements, type ProxyPlacement } from './proxy.js';
import { Registry } from './registry.js';
import { Servers, type Role } from './servers.js';
import { Ssh } from './ssh.js';

const SERVICE_NAME = /^[a-z0-9_-]+$/i;

export class Configuration {
  private static readonly built = new WeakMap<ConfigMap, Configuration>();

  private readonly readService = lazy(() => readService(this.root));
  private readonly readImage = lazy(() =>
    readImage(
      this.root,
      () => this.service,
      () => this.registry,
    ),
  );
  private readonly readSecretsPath = lazy(() => optionalString(entry(this.root, 'secrets_path'), 'secrets_path'));
  private readonly readPrimaryRole = lazy(() => optionalString(entry(this.root, 'primary_role'), 'primary_role') ?? 'web');
  private readonly readRegistry = lazy(() => Registry.read(entry(this.root, 'registry'), 'registry'));
  private readonly readBuilder = lazy(() => Builder.read(entry(this.root, 'builder')));
  private readonly readServers = lazy(() => Servers.read(entry(this.root, 'servers')));
  private readonly readAccessories = lazy(() =>
    [...(optionalMap(entry(this.root, 'accessories'), 'accessories')?.entries ?? [])].map(([name, { keyLoc, value }]) => new Accessory(name, keyLoc, value)),
  );
  private readonly readProxy = lazy(() => optionalMap(entry(this.root, 'proxy'), 'proxy'));
  private readonly readProxyPlacements = lazy(() => proxyPlacements(this.proxy, this.servers, this.primaryRole, this.accessories));
  private readonly readEnv = lazy(() => Env.read(entry(this.root, 'env'), 'env'));
  private readonly readVolumes = lazy(() => readVolumes(entry(this.root, 'volumes'), 'volumes'));
  private readonly readSsh = lazy(() => Ssh.read(entry(this.root, 'ssh')));

  private constructor(
    /** The merged tree (kamal/config.ts loadConfig), top-level `x-` keys removed. */
    readonly root: ConfigMap,
  ) {}

  /** The view of a loaded tree: the same object for the same tree, however often asked. */
  static of(root: ConfigMap): Configuration {
    let config = Configuration.built.get(root);
    if (!config) {
      config = new Configuration(root);
      Configuration.built.set(root, config);
    }
    return config;
  }

  /** `service`, required: letters, digits, `-` and `_`. */
  get service(): Located<string> {
    return this.readService();
  }

  /** `image`, which defaults to the service name with a local registry (`localhost:PORT`). */
  get image(): Located<string> {
    return this.readImage();
  }

  get secretsPath(): string | undefined {
    return this.readSecretsPath();
  }

  /** `primary_role`, default `web`. */
  get primaryRole(): string {
    return this.readPrimaryRole();
  }

  /** The root `registry:`; undefined when there is none (Docker Hub, no credentials). */
  get registry(): Registry | undefined {
    return this.readRegistry();
  }

  get builder(): Builder | undefined {
    return this.readBuilder();
  }

  get servers(): Servers {
    return this.readServers();
  }

  /** Roles as Kamal lists them (by name). */
  get roles(): Role[] {
    return this.servers.roles;
  }

  /** `accessories:` in the order written; each is checked when its parts are read. */
  get accessories(): Accessory[] {
    return this.readAccessories();
  }

  /** The root `proxy:` settings. */
  get proxy(): ConfigMap | undefined {
    return this.readProxy();
  }

  /** Every host group that runs kamal-proxy, with its run: roles first, then accessories. */
  get proxyPlacements(): ProxyPlacement[] {
    return this.readProxyPlacements();
  }

  /** The root `env:` (every role's), leniently. */
  get env(): Env {
    return this.readEnv();
  }

  /** The root `volumes:` (every role's), leniently. */
  get volumes(): Volume[] {
    return this.readVolumes();
  }

  get ssh(): Ssh {
    return this.readSsh();
  }
}

function readService(root: ConfigMap): Located<string> {
  const node = entry(root, 'service');
  const service = optionalString(node, 'service');
  if (service === undefined) {
    throw new ConfigError('service is missing: set service: to the name of the app (letters, digits, - and _)', root.loc.file);
  }
  if (!SERVICE_NAME.test(service)) {
    throw errorAt(node!.loc, `service "${service}" may only contain letters, digits, hyphens and underscores`);
  }
  return { value: service, loc: node!.loc };
}

function readImage(root: ConfigMap, service: () => Located<string>, registry: () => Registry | undefined): Located<string> {
  const node = entry(root, 'image');
  const name = optionalString(node, 'image');
  if (name !== undefined) return { value: name, loc: node!.loc };
  if (registry()?.local) return service();
  const message = 'image is missing: set image: to the repository Kamal pushes the app to (e.g. your-user/app)';
  throw node ? errorAt(root.entries.get('image')!.keyLoc, message) : new ConfigError(message, root.loc.file);
}
