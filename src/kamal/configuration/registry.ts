/**
 * A `registry:` block, at the root or in an accessory (Kamal's `Configuration::Registry`): the
 * server, and username/password each written as a literal or as a one-item list naming a secret.
 * Resolving secrets is kamal/credentials.ts's work; this only says what is written, and where.
 */
import { entry, isAbsent, optionalMap, optionalString, lazy, wrongType } from '../fields.js';
import type { Loc } from '../source-map.js';
import type { ConfigMap, ConfigNode } from '../yaml-tree.js';

/** How a username or password is written: its value (undefined when empty) or the secret it names. */
export type SecretRef = ({ kind: 'literal'; value: string | undefined } | { kind: 'secret'; name: string }) & {
  loc: Loc;
  /** Its path in the config: `registry.password`. */
  where: string;
};

/** Kamal's `Registry#local?`: a `localhost:PORT` registry that Kamal runs itself. */
function isLocalRegistry(server: string | undefined): boolean {
  return server?.startsWith('localhost:') ?? false;
}

export class Registry {
  /** `server`, absent or empty: Docker Hub. */
  readonly server: string | undefined;
  /** Where the block is written. */
  readonly loc: Loc;
  /** Whether username or password is written at all (an empty string counts). */
  readonly hasCredentials: boolean;
  private readonly readUsername: () => SecretRef | undefined;
  private readonly readPassword: () => SecretRef | undefined;

  private constructor(
    /** Its path in the config: `registry`, `accessories.db.registry`. */
    readonly where: string,
    block: ConfigMap,
  ) {
    this.server = optionalString(entry(block, 'server'), `${where}.server`);
    this.loc = block.loc;
    const username = entry(block, 'username');
    const password = entry(block, 'password');
    this.hasCredentials = !(isAbsent(username) && isAbsent(password));
    this.readUsername = lazy(() => secretRef(username, `${where}.username`));
    this.readPassword = lazy(() => secretRef(password, `${where}.password`));
  }

  /** The block at `node`; undefined when there is none. A block that is not a mapping is a ConfigError. */
  static read(node: ConfigNode | undefined, where: string): Registry | undefined {
    const block = optionalMap(node, where);
    return block ? new Registry(where, block) : undefined;
  }

  get local(): boolean {
    return isLocalRegistry(this.server);
  }

  /** Undefined when not written; a ConfigError when neither a string nor a one-item list. */
  get username(): SecretRef | undefined {
    return this.readUsername();
  }

  get password(): SecretRef | undefined {
    return this.readPassword();
  }
}

function secretRef(node: ConfigNode | undefined, what: string): SecretRef | undefined {
  if (isAbsent(node)) return undefined;
  if (node.kind === 'scalar') return { kind: 'literal', value: optionalString(node, what), loc: node.loc, where: what };
  const name = node.kind === 'seq' && node.items.length === 1 ? node.items[0] : undefined;
  if (name?.kind !== 'scalar' || typeof name.value !== 'string' || name.value === '') {
    throw wrongType(node, what, 'a string or a list with one secret name');
  }
  return { kind: 'secret', name: name.value, loc: node.loc, where: what };
}
