/**
 * YAML as Kamal loads it (Psych `unsafe_load`: YAML 1.1, anchors/aliases, `<<` merge keys,
 * duplicate keys allowed with the last one winning), into a tree where every node knows the source
 * file, line and column it came from. Deep merge of trees follows ActiveSupport `deep_merge!`.
 */
import { isAlias, isMap, isScalar, isSeq, type Alias, type Node as YamlNode, type ParsedNode } from 'yaml';
import { ConfigError } from '../errors.js';
import { checkYamlDocument, firstYamlError, parseYamlDocuments, yamlErrorMessage } from '../yaml-limits.js';
import type { Loc, OffsetMap } from './source-map.js';

export type ScalarValue = string | number | boolean | null;

export interface ConfigScalar {
  kind: 'scalar';
  value: ScalarValue;
  loc: Loc;
}
export interface ConfigSeq {
  kind: 'seq';
  items: ConfigNode[];
  loc: Loc;
}
interface ConfigEntry {
  /** Where the key was written. */
  keyLoc: Loc;
  value: ConfigNode;
}
export interface ConfigMap {
  kind: 'map';
  entries: Map<string, ConfigEntry>;
  loc: Loc;
}
export type ConfigNode = ConfigScalar | ConfigSeq | ConfigMap;

/**
 * Parses rendered YAML; positions are mapped back through `map`. Undefined for an empty document.
 * Depth, size with aliases expanded and recursive aliases are bounded by src/yaml-limits.ts.
 */
export function parseYaml(text: string, map: OffsetMap): ConfigNode | undefined {
  const parsed = parseYamlDocuments(text, { version: '1.1', merge: true, uniqueKeys: false, prettyErrors: false });
  const fail = (offset: number, message: string) => {
    const loc = map.locate(offset);
    return new ConfigError(message, loc.file, loc.line);
  };
  if (parsed.problem) throw fail(parsed.problem.offset, parsed.problem.message);
  const doc = parsed.docs[0];
  if (!doc) return undefined; // empty stream
  const error = firstYamlError(doc.errors);
  if (error) throw fail(error.pos[0], yamlErrorMessage(error));
  if (doc.contents === null) return undefined;
  const checked = checkYamlDocument(doc);
  if (checked.problem) throw fail(checked.problem.offset, checked.problem.message);
  return new Converter(checked.aliases, map).node(doc.contents);
}

class Converter {
  private readonly done = new Map<YamlNode, ConfigNode>();
  private readonly active = new Set<YamlNode>();

  constructor(
    /** What each alias names, found by checkYamlDocument. */
    private readonly aliases: ReadonlyMap<Alias, YamlNode>,
    private readonly map: OffsetMap,
  ) {}

  node(input: YamlNode | ParsedNode): ConfigNode {
    const target = this.resolve(input);
    const cached = this.done.get(target);
    if (cached) return cached;
    if (this.active.has(target)) {
      // checkYamlDocument refuses these first; kept so that a miss can never loop.
      const loc = this.loc(input);
      throw new ConfigError('recursive YAML alias', loc.file, loc.line);
    }
    this.active.add(target);
    const out = this.convert(target);
    this.active.delete(target);
    this.done.set(target, out);
    return out;
  }

  private convert(node: YamlNode): ConfigNode {
    const loc = this.loc(node);
    if (isSeq(node)) {
      return { kind: 'seq', items: node.items.map((i) => this.item(i, loc)), loc };
    }
    if (isMap(node)) {
      const entries = new Map<string, ConfigEntry>();
      for (const pair of node.items) {
        const keyLoc = isNode(pair.key) ? this.loc(pair.key) : loc;
        const value = this.item(pair.value, keyLoc);
        if (isMergeKey(pair.key)) this.mergeInto(entries, value, keyLoc);
        else entries.set(this.key(pair.key), { keyLoc, value });
      }
      return { kind: 'map', entries, loc };
    }
    if (isScalar(node)) return { kind: 'scalar', value: scalarValue(node.value, node.source), loc };
    return { kind: 'scalar', value: null, loc };
  }

  /** Psych: `<<: *a` and `<<: [*a, *b]` merge in place, overriding keys set before them. */
  private mergeInto(entries: Map<string, ConfigEntry>, value: ConfigNode, at: Loc): void {
    const sources = value.kind === 'seq' ? [...value.items].reverse() : [value];
    const merged = new Map<string, ConfigEntry>();
    for (const source of sources) {
      if (source.kind !== 'map') {
        throw new ConfigError('the merge key << needs a mapping or a list of mappings', at.file, at.line);
      }
      for (const [k, e] of source.entries) merged.set(k, e);
    }
    for (const [k, e] of merged) entries.set(k, e);
  }

  private item(value: unknown, fallback: Loc): ConfigNode {
    if (isNode(value)) return this.node(value);
    return { kind: 'scalar', value: null, loc: fallback };
  }

  private key(key: unknown): string {
    if (!isNode(key)) return String(key ?? '');
    const node = this.node(key);
    return node.kind === 'scalar' ? String(node.value ?? '') : JSON.stringify(toPlain(node));
  }

  private resolve(node: YamlNode): YamlNode {
    if (!isAlias(node)) return node;
    const target = this.aliases.get(node);
    if (!target) {
      const loc = this.loc(node);
      throw new ConfigError(`unknown YAML alias *${node.source}`, loc.file, loc.line);
    }
    return target;
  }

  private loc(node: YamlNode): Loc {
    return this.map.locate(node.range?.[0] ?? 0);
  }
}

function isNode(v: unknown): v is YamlNode {
  return isAlias(v) || isMap(v) || isSeq(v) || isScalar(v);
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';
}

function scalarValue(value: unknown, source: string | undefined): ScalarValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return source ?? String(value); // timestamps, binary, merge symbols: keep what was written
}

/** ActiveSupport `deep_merge!`: mappings merge recursively; anything else in `over` replaces. */
export function deepMerge(base: ConfigMap, over: ConfigMap): ConfigMap {
  const entries = new Map(base.entries);
  for (const [key, entry] of over.entries) {
    const prev = entries.get(key);
    if (prev && prev.value.kind === 'map' && entry.value.kind === 'map') {
      entries.set(key, { keyLoc: entry.keyLoc, value: deepMerge(prev.value, entry.value) });
    } else entries.set(key, entry);
  }
  return { kind: 'map', entries, loc: base.loc };
}

/** The plain value of a node, without locations. */
export function toPlain(node: ConfigNode): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map(toPlain);
  return Object.fromEntries([...node.entries].map(([k, e]) => [k, toPlain(e.value)]));
}

/** Ruby `==` on the loaded values: mappings compare regardless of key order. */
export function sameValue(a: ConfigNode, b: ConfigNode): boolean {
  // Aliases share nodes: a structure compared with itself is equal at once, however large.
  if (a === b) return true;
  if (a.kind === 'scalar' || b.kind === 'scalar') {
    return a.kind === 'scalar' && b.kind === 'scalar' && a.value === b.value;
  }
  if (a.kind === 'seq' || b.kind === 'seq') {
    return a.kind === 'seq' && b.kind === 'seq' && a.items.length === b.items.length && a.items.every((x, i) => sameValue(x, b.items[i]!));
  }
  if (a.entries.size !== b.entries.size) return false;
  for (const [k, e] of a.entries) {
    const other = b.entries.get(k);
    if (!other || !sameValue(e.value, other.value)) return false;
  }
  return true;
}
