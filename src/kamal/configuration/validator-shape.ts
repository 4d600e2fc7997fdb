/**
 * The generic half of Kamal 2's configuration validation (`Kamal::Configuration::Validator`): a
 * section is held against the example its docs/*.yml page gives (validator-schema.ts): unknown keys,
 * the type of every value, host lists, path lists, ssh config, hooks output. Messages are Kamal's
 * words after Kamal's context (`servers/web/hosts/0: should be a string or a hash`); each refusal is
 * a ConfigError at the line the value (or its key) was written at, saying how to fix it.
 */
import { ConfigError } from '../../errors.js';
import type { Loc } from '../source-map.js';
import type { ConfigMap, ConfigNode } from '../yaml-tree.js';

/** What a documented key holds: Kamal's check for the value the example gives it. */
type Shape =
  | 'string'
  | 'integer'
  | 'boolean'
  /** Any mapping (`options`, `args`, and the `...` sections, which their own validator reads). */
  | 'hash'
  /** A mapping of strings (`labels`). */
  | 'labels'
  /** A list of strings. */
  | 'strings'
  /** `builder.arch`: a string or a list of strings. */
  | 'arch'
  /** A host list (`validate_servers!`): `- host` or `- host: tag(s)`. */
  | 'hosts'
  /** Accessory `files`/`directories`: `- local:remote` or `- {local, remote, mode, owner, options}`. */
  | 'paths'
  /** `ssh.config`: true/false, a string or a list of strings. */
  | 'sshConfig'
  /** `hooks_output`: a level, or a mapping of hook to level. */
  | 'hooksOutput'
  /** `proxy.ssl`: true/false or a mapping. */
  | 'ssl'
  /** Root `servers`: a list of hosts or a mapping of roles. */
  | 'servers'
  /** A `proxy:` value: a mapping, or true/false (checked further by the proxy validator). */
  | 'proxy'
  | Keys;

/** A documented mapping: its keys and what each holds. */
export interface Keys {
  readonly [key: string]: Shape;
}

/** Where a value is: Kamal's context (`servers/web/env`) and the line to point at. */
export class Where {
  constructor(
    /** Kamal's context for messages; '' at the top level. */
    readonly context: string,
    /** The line the key (or list item) was written at; undefined for a section that is not written. */
    readonly loc: Loc | undefined,
    /** The config file, for refusals with no line. */
    readonly file: string,
  ) {}

  child(key: string | number, loc: Loc | undefined): Where {
    return new Where(this.context ? `${this.context}/${key}` : String(key), loc ?? this.loc, this.file);
  }

  /** The same context pointing elsewhere. */
  at(loc: Loc | undefined): Where {
    return new Where(this.context, loc ?? this.loc, this.file);
  }

  /** The context as a YAML path for hints: `servers.web.env`. */
  get dotted(): string {
    return this.context.replaceAll('/', '.');
  }

  /** Kamal's refusal (its message after its context), at this line, with what to do. */
  refuse(message: string, todo: string): ConfigError {
    const text = `${this.context ? `${this.context}: ` : ''}${message} (Kamal refuses this config: ${todo})`;
    return this.loc ? new ConfigError(text, this.loc.file, this.loc.line) : new ConfigError(text, this.file);
  }
}

type Kind = 'string' | 'integer' | 'boolean' | 'hash' | 'array' | 'symbol';

const DESCRIPTION: Record<Kind, string> = {
  string: 'a string',
  integer: 'an integer',
  boolean: 'a boolean',
  hash: 'a hash',
  array: 'an array',
  symbol: 'a symbol',
};

/** Kamal's `valid_type?`: a String is also satisfied by numbers and booleans (`stringish?`). */
function isKind(node: ConfigNode, kind: Kind): boolean {
  switch (kind) {
    case 'hash':
      return node.kind === 'map';
    case 'array':
      return node.kind === 'seq';
    case 'integer':
      return node.kind === 'scalar' && typeof node.value === 'number' && Number.isInteger(node.value);
    case 'boolean':
      return node.kind === 'scalar' && typeof node.value === 'boolean';
    case 'string':
    case 'symbol':
      return node.kind === 'scalar' && node.value !== null;
  }
}

/** Kamal's `type_error`: "should be a string or a hash". */
function typeError(where: Where, node: ConfigNode | undefined, ...kinds: Kind[]): ConfigError {
  const expected = [...new Set(kinds.map((k) => DESCRIPTION[k]))].join(' or ');
  const empty = node === undefined || (node.kind === 'scalar' && node.value === null);
  const todo = empty ? `${where.dotted} is empty; give it ${expected}, or remove the key` : `write ${where.dotted} as ${expected}`;
  return where.refuse(`should be ${expected}`, todo);
}

/** Kamal's `validate_type!`. */
export function checkType(node: ConfigNode, where: Where, ...kinds: Kind[]): void {
  if (!kinds.some((k) => isKind(node, k))) throw typeError(where, node, ...kinds);
}

/** Kamal's `unknown_keys_error`, at the first unknown key. */
export function checkKnownKeys(map: ConfigMap, known: readonly string[], where: Where, skipExtensions = false): void {
  const unknown = [...map.entries.keys()].filter((k) => !known.includes(k) && !(skipExtensions && k.startsWith('x-')));
  if (unknown.length === 0) return;
  const first = map.entries.get(unknown[0]!)!;
  const noun = unknown.length === 1 ? 'key' : 'keys';
  throw where.at(first.keyLoc).refuse(`unknown ${noun}: ${unknown.join(', ')}`, unknownKeyTodo(where, unknown[0]!));
}

/** Keys Kamal 1 documented that Kamal 2 moved: the hint names where they went. */
const KAMAL1_KEYS: Record<string, string> = {
  traefik: 'traefik: is Kamal 1\'s; Kamal 2 runs kamal-proxy, configured under proxy: (see "kamal docs proxy")',
  healthcheck: "healthcheck: is Kamal 1's; Kamal 2 checks health through kamal-proxy: move it to proxy.healthcheck (path, interval, timeout)",
  multiarch: "multiarch is Kamal 1's; Kamal 2 builds what builder.arch lists (e.g. arch: amd64)",
};

function unknownKeyTodo(where: Where, key: string): string {
  const moved = KAMAL1_KEYS[key];
  if (moved) return moved;
  const section = where.context ? `${where.dotted} ` : '';
  const extension = where.context ? '' : ', or prefix it with x- (Kamal ignores top-level x- keys, e.g. YAML anchor holders)';
  return `remove ${key} or correct its spelling; ${section}takes only the keys Kamal documents${extension}`;
}

/** Kamal's `validate_against_example!` for a documented mapping. */
export function checkKeys(node: ConfigNode, keys: Keys, where: Where, skipExtensions = false): void {
  if (node.kind !== 'map') throw typeError(where, node, 'hash');
  checkKnownKeys(node, Object.keys(keys), where, skipExtensions);
  for (const [key, { keyLoc, value }] of node.entries) {
    if (key.startsWith('x-')) continue;
    checkValue(value, keys[key]!, where.child(key, keyLoc));
  }
}

function checkValue(node: ConfigNode, shape: Shape, where: Where): void {
  if (typeof shape === 'object') return checkKeys(node, shape, where);
  switch (shape) {
    case 'string':
    case 'integer':
    case 'boolean':
      return checkType(node, where, shape);
    case 'hash':
      return checkType(node, where, 'hash');
    case 'labels':
      return checkHashOf(node, where);
    case 'strings':
      return checkStrings(node, where);
    case 'arch':
      if (node.kind === 'seq' ? node.items.some((i) => !isKind(i, 'string')) : !isKind(node, 'string')) throw typeError(where, node, 'array', 'string');
      return;
    case 'hosts':
      return checkHosts(node, where);
    case 'paths':
      return checkPaths(node, where);
    case 'sshConfig':
      if (node.kind === 'seq') return checkStrings(node, where);
      if (node.kind === 'scalar' && (typeof node.value === 'boolean' || typeof node.value === 'string')) return;
      throw typeError(where, node, 'boolean', 'string', 'array');
    case 'hooksOutput':
      if (node.kind !== 'map') return checkType(node, where, 'string', 'symbol');
      for (const [hook, { keyLoc, value }] of node.entries) checkType(value, where.child(hook, keyLoc), 'string', 'symbol');
      return;
    case 'ssl':
      return checkType(node, where, 'boolean', 'hash');
    case 'servers':
      return checkType(node, where, 'array', 'hash');
    case 'proxy':
      return checkType(node, where, 'hash', 'boolean');
  }
}

/** Kamal's `validate_array_of!(value, String)`. */
export function checkStrings(node: ConfigNode, where: Where): void {
  checkType(node, where, 'array');
  if (node.kind !== 'seq') return;
  node.items.forEach((item, i) => checkType(item, where.child(i, item.loc), 'string'));
}

/** Kamal's `validate_hash_of!(value, String)`. */
export function checkHashOf(node: ConfigNode, where: Where): void {
  checkType(node, where, 'hash');
  if (node.kind !== 'map') return;
  for (const [key, { keyLoc, value }] of node.entries) checkType(value, where.child(key, keyLoc), 'string');
}

/** Kamal's `validate_servers!`: a list of `host` or `host: tag(s)` items, one host per item. */
export function checkHosts(node: ConfigNode, where: Where): void {
  checkType(node, where, 'array');
  if (node.kind !== 'seq') return;
  node.items.forEach((item, i) => {
    const at = where.child(i, item.loc);
    checkType(item, at, 'string', 'hash');
    if (item.kind !== 'map') return;
    if (item.entries.size !== 1) throw at.refuse('multiple hosts found', `write one host per list item (- host: tag), not ${item.entries.size}`);
    const [host, { keyLoc, value: tags }] = [...item.entries][0]!;
    const tagsAt = at.child(host, keyLoc);
    checkType(tags, tagsAt, 'string', 'array');
    if (tags.kind === 'seq') checkStrings(tags, tagsAt);
  });
}

/** Kamal's `validate_paths!`: `local:remote[:options]` strings or mappings of strings. */
function checkPaths(node: ConfigNode, where: Where): void {
  checkType(node, where, 'array');
  if (node.kind !== 'seq') return;
  node.items.forEach((item, i) => {
    const at = where.child(i, item.loc);
    checkType(item, at, 'string', 'hash');
    if (item.kind !== 'map') return;
    for (const key of ['local', 'remote', 'mode', 'owner', 'options']) {
      const field = item.entries.get(key);
      if (field) checkType(field.value, at.child(key, field.keyLoc), 'string');
    }
  });
}
