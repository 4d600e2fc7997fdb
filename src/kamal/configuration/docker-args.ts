/**
 * What the root, a role or an accessory passes to `docker run` besides env: `volumes:` and
 * `options:` (Kamal's `option_args`, any Docker flag written as a key). Read leniently: Kamal
 * passes these through to Docker, so a shape it would refuse is simply not listed here.
 */
import { locatedStrings, scalars, type Located } from '../fields.js';
import type { Loc } from '../source-map.js';
import type { ConfigNode, ScalarValue } from '../yaml-tree.js';

/** A `volumes:` item (`host:container[:opts]`), with the path of the list it is in. */
export interface Volume extends Located<string> {
  where: string;
}

/** One `options:` key, e.g. `cap-add: [SYS_ADMIN]` or `"--privileged": true`. */
export interface DockerOption {
  /** The key as written (with or without dashes). */
  key: string;
  keyLoc: Loc;
  /** The value as written. */
  value: ConfigNode;
  /** Where the value is written, or the key when the value is empty or not a scalar. */
  loc: Loc;
  /** The scalars of the value (one, or the items of a list). */
  values: Array<Located<ScalarValue>>;
  /** The path of the `options:` mapping it is in: `servers.web.options`. */
  where: string;
}

/** The string items of `volumes:` (one string or a list). */
export function readVolumes(node: ConfigNode | undefined, where: string): Volume[] {
  return locatedStrings(node).map((v) => ({ ...v, where }));
}

/** The keys of `options:` when it is a mapping, in the order written. */
export function readOptions(node: ConfigNode | undefined, where: string): DockerOption[] {
  if (node?.kind !== 'map') return [];
  return [...node.entries].map(([key, { keyLoc, value }]) => ({
    key,
    keyLoc,
    value,
    loc: value.kind === 'scalar' && value.value !== null ? value.loc : keyLoc,
    values: scalars(value).map((s) => ({ value: s.value, loc: s.loc })),
    where,
  }));
}
