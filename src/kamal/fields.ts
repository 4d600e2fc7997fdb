/** Typed reads from the located config tree; a wrong type is a ConfigError at the node's line. */
import { ConfigError } from '../errors.js';
import type { Loc } from './source-map.js';
import type { ConfigMap, ConfigNode, ConfigScalar, ConfigSeq } from './yaml-tree.js';

/** A value from the config with where it was written, for messages and findings. */
export interface Located<T> {
  value: T;
  loc: Loc;
}

/**
 * A value read on first use and kept: the config view reads each section when a caller first asks,
 * so errors come in the order the callers read (as Kamal's), and nothing is read twice. A read that
 * throws is not kept.
 */
export function lazy<T>(read: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = read();
      done = true;
    }
    return value;
  };
}

/** The scalars of a value written as one scalar or a list (nulls in a list included). */
export function scalars(node: ConfigNode | undefined): ConfigScalar[] {
  if (isAbsent(node)) return [];
  if (node.kind === 'scalar') return [node];
  if (node.kind === 'seq') return node.items.filter((i): i is ConfigScalar => i.kind === 'scalar');
  return [];
}

/** The string scalars of a value written as one scalar or a list, located. */
export function locatedStrings(node: ConfigNode | undefined): Located<string>[] {
  return scalars(node).flatMap((s) => (typeof s.value === 'string' ? [{ value: s.value, loc: s.loc }] : []));
}

export function entry(map: ConfigMap | undefined, key: string): ConfigNode | undefined {
  return map?.entries.get(key)?.value;
}

/** A value that Ruby treats as absent: missing or null. */
export function isAbsent(node: ConfigNode | undefined): node is undefined | (ConfigScalar & { value: null }) {
  return node === undefined || (node.kind === 'scalar' && node.value === null);
}

/** Ruby truthiness: anything but nil and false. */
export function isTruthy(node: ConfigNode | undefined): boolean {
  return !isAbsent(node) && !(node.kind === 'scalar' && node.value === false);
}

/** ActiveSupport `present?`: truthy and not an empty string, list or mapping. */
export function isPresent(node: ConfigNode | undefined): boolean {
  if (node === undefined || !isTruthy(node)) return false;
  if (node.kind === 'map') return node.entries.size > 0;
  if (node.kind === 'seq') return node.items.length > 0;
  return !(typeof node.value === 'string' && node.value.trim() === '');
}

export function optionalMap(node: ConfigNode | undefined, what: string): ConfigMap | undefined {
  if (isAbsent(node)) return undefined;
  if (node.kind !== 'map') throw wrongType(node, what, 'a mapping');
  return node;
}

export function optionalSeq(node: ConfigNode | undefined, what: string): ConfigSeq | undefined {
  if (isAbsent(node)) return undefined;
  if (node.kind !== 'seq') throw wrongType(node, what, 'a list');
  return node;
}

/** A string scalar; absent and empty strings are undefined (Ruby `presence`). */
export function optionalString(node: ConfigNode | undefined, what: string): string | undefined {
  if (isAbsent(node)) return undefined;
  if (node.kind !== 'scalar' || typeof node.value !== 'string') throw wrongType(node, what, 'a string');
  return node.value === '' ? undefined : node.value;
}

export function wrongType(node: ConfigNode, what: string, expected: string): ConfigError {
  return new ConfigError(`${what} must be ${expected}, not ${describe(node)}`, node.loc.file, node.loc.line);
}

export function errorAt(loc: Loc, message: string): ConfigError {
  return new ConfigError(message, loc.file, loc.line);
}

function describe(node: ConfigNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  if (node.value === null) return 'empty';
  return typeof node.value === 'string' ? 'a string' : `${typeof node.value} ${String(node.value)}`;
}
