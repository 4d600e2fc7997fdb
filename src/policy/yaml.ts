/**
 * A policy file as a located tree, read with the Kamal reader's YAML layer (src/kamal/yaml-tree.ts)
 * so that every key and value knows its line and column. Unlike deploy.yml, a policy may not repeat
 * a key: the second `mode:` would silently replace the first. Every YAML error is reported at once.
 */
import { parseAllDocuments } from 'yaml';
import { isKamalGateError, type PolicyProblem } from '../errors.js';
import { OffsetMap } from '../kamal/source-map.js';
import { parseYaml, type ConfigNode } from '../kamal/yaml-tree.js';

export type KeyPath = readonly PropertyKey[];

export interface PolicyTree {
  file: string;
  /** Undefined for an empty file. */
  root?: ConfigNode;
}

export function readPolicyTree(text: string, file: string): { tree: PolicyTree; problems: PolicyProblem[] } {
  const map = new OffsetMap(file, text);
  map.literal(0, 0);
  const problems: PolicyProblem[] = [];
  const docs = parseAllDocuments(text, { version: '1.1', merge: true, uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    for (const e of doc.errors) {
      const message = e.code === 'DUPLICATE_KEY' ? 'this key is already set above in the same mapping' : `invalid YAML: ${e.message.replace(/\s+/g, ' ').trim()}`;
      problems.push({ file, ...map.position(e.pos[0]), message });
    }
  }
  const second = list[1];
  if (second) problems.push({ file, ...map.position(second.range[0]), message: 'a policy file holds one YAML document; remove the second one' });
  if (problems.length) return { tree: { file }, problems };
  try {
    return { tree: { file, root: parseYaml(text, map) }, problems };
  } catch (e) {
    if (!isKamalGateError(e)) throw e;
    return { tree: { file }, problems: [{ file, message: e.message }] };
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
  let node = tree.root;
  if (!node) return undefined;
  let loc = { line: node.loc.line, column: node.loc.column };
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (node.kind === 'map' && typeof seg === 'string') {
      const entry: { keyLoc: { line: number; column: number }; value: ConfigNode } | undefined = node.entries.get(seg);
      if (!entry) return loc;
      if (i === path.length - 1 && at === 'key') return { line: entry.keyLoc.line, column: entry.keyLoc.column };
      node = entry.value;
    } else if (node.kind === 'seq' && typeof seg === 'number') {
      const item: ConfigNode | undefined = node.items[seg];
      if (!item) return loc;
      node = item;
    } else return loc;
    loc = { line: node.loc.line, column: node.loc.column };
  }
  return loc;
}
