/**
 * An `env:` block (Kamal's `Configuration::Env`): `{clear:, secret:, tags:}`, or a plain mapping of
 * clear variables. Only what is written in clear is listed (with where), tags included; read
 * leniently, so a shape Kamal would refuse lists nothing.
 */
import { entry } from '../fields.js';
import type { Loc } from '../source-map.js';
import type { ConfigNode, ScalarValue } from '../yaml-tree.js';

/** A clear variable written as a scalar. */
export interface EnvVar {
  name: string;
  value: ScalarValue;
  loc: Loc;
  /** The path of the mapping it is in: `env.clear`, `servers.web.env`, `env.tags.db.clear`. */
  where: string;
}

export class Env {
  private constructor(
    /** Variables written in clear here, in the order written. */
    readonly clear: EnvVar[],
    /** `tags:` (Kamal's `Env::Tag`), each an env of its own. */
    readonly tags: Array<{ name: string; env: Env }>,
  ) {}

  static read(node: ConfigNode | undefined, where: string): Env {
    if (node?.kind !== 'map') return new Env([], []);
    const structured = ['clear', 'secret', 'tags'].some((k) => node.entries.has(k));
    if (!structured) return new Env(clearVars(node, where), []);
    const tags = entry(node, 'tags');
    return new Env(
      clearVars(entry(node, 'clear'), `${where}.clear`),
      tags?.kind === 'map' ? [...tags.entries].map(([name, { value }]) => ({ name, env: Env.read(value, `${where}.tags.${name}`) })) : [],
    );
  }

  /** Every clear variable: these, then each tag's in turn. */
  get allClear(): EnvVar[] {
    return [...this.clear, ...this.tags.flatMap((t) => t.env.allClear)];
  }
}

function clearVars(node: ConfigNode | undefined, where: string): EnvVar[] {
  if (node?.kind !== 'map') return [];
  return [...node.entries].flatMap(([name, { value }]) => (value.kind === 'scalar' ? [{ name, value: value.value, loc: value.loc, where }] : []));
}
