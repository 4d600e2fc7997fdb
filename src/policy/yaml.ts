/**
 * A policy file as plain data plus the positions of its keys and values. Policies are our own
 * format and read as YAML 1.2 (core schema), not as Kamal's YAML 1.1: in 1.1 `off`, `no`, `on`,
 * `y` are booleans, so `mode: off` or `issuer: y` would silently change meaning. A key may not be
 * written twice in one mapping (the second `mode:` would silently replace the first). Every YAML
 * error is reported at once.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Alias, type Document, type Node as YamlNode } from 'yaml';
import type { PolicyProblem } from '../errors.js';
import { checkYamlDocument, parseYamlDocuments, yamlErrorMessage } from '../yaml-limits.js';

export type KeyPath = readonly PropertyKey[];

export interface PolicyTree {
  file: string;
  /** Undefined for an empty file. */
  doc?: Document.Parsed;
  lines: LineCounter;
  /** What each alias names (`Alias.resolve` searches the whole document on every call). */
  aliases?: ReadonlyMap<Alias, YamlNode>;
}

export function readPolicyTree(text: string, file: string): { tree: PolicyTree; data: unknown; problems: PolicyProblem[] } {
  const lines = new LineCounter();
  // Depth, size with aliases expanded and recursive aliases: the rule src/yaml-limits.ts sets for
  // every YAML file kamal-gate reads.
  const parsed = parseYamlDocuments(text, { version: '1.2', merge: true, uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const list = parsed.docs;
  const at = (offset: number) => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const problems: PolicyProblem[] = [];
  if (parsed.problem) problems.push({ file, ...at(parsed.problem.offset), message: parsed.problem.message });
  for (const doc of list) {
    for (const e of doc.errors) {
      const message = e.code === 'DUPLICATE_KEY' ? 'this key is already set above in the same mapping' : yamlErrorMessage(e);
      problems.push({ file, ...at(e.pos[0]), message });
    }
  }
  const second = list[1];
  if (second) problems.push({ file, ...at(second.range[0]), message: 'a policy file holds one YAML document; remove the second one' });
  const doc = list[0];
  const tree: PolicyTree = { file, lines, ...(doc && doc.contents !== null ? { doc } : {}) };
  if (problems.length || !tree.doc) return { tree, data: undefined, problems };
  const { problem: limit, aliases } = checkYamlDocument(tree.doc);
  tree.aliases = aliases;
  if (limit) return { tree, data: undefined, problems: [{ file, ...at(limit.offset), message: limit.message }] };
  try {
    // The expansion is bounded above, so yaml's own alias count (a different, stricter rule) is off.
    return { tree, data: tree.doc.toJS({ maxAliasCount: -1 }), problems };
  } catch (e) {
    return { tree, data: undefined, problems: [{ file, message: `invalid YAML: ${(e as Error).message}` }] };
  }
}

/** `rules[0].base.maxAge` */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/**
 * Line and column of the node at `path`: of the key itself when `at` is `key`, else of its value.
 * A path that goes past what is written (a missing key) points at the deepest node that exists.
 */
export function locate(tree: PolicyTree, path: KeyPath, at: 'key' | 'value' = 'value'): { line: number; column: number } | undefined {
  const doc = tree.doc;
  if (!doc?.contents) return undefined;
  const pos = (n: YamlNode) => {
    const p = tree.lines.linePos(n.range?.[0] ?? 0);
    return { line: p.line, column: p.col };
  };
  const resolve = (n: unknown): YamlNode | undefined => (isAlias(n) ? (tree.aliases?.get(n) ?? n.resolve(doc) ?? undefined) : isMap(n) || isSeq(n) || isScalar(n) ? n : undefined);
  let node = resolve(doc.contents);
  if (!node) return undefined;
  let loc = pos(node);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    let next: YamlNode | undefined;
    if (isMap(node) && typeof seg === 'string') {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) return loc;
      if (i === path.length - 1 && at === 'key' && isScalar(pair.key)) return pos(pair.key);
      next = resolve(pair.value);
      // `key:` with nothing after it (or null): point at the key.
      if ((!next || (isScalar(next) && next.value === null)) && isScalar(pair.key)) return pos(pair.key);
    } else if (isSeq(node) && typeof seg === 'number') {
      next = resolve(node.items[seg]);
    }
    if (!next) return loc;
    node = next;
    loc = pos(node);
  }
  return loc;
}
