/**
 * The one rule for how much YAML kamal-gate loads, used by the Kamal config reader
 * (src/kamal/yaml-tree.ts) and the policy loader (src/policy/yaml.ts) alike:
 *
 * - Depth: a collection may sit inside at most YAML_MAX_DEPTH others (the document's own mapping or
 *   list is level 0, so `x: [[1]]` nests 2 levels), counting those an alias brings in. Psych
 *   loads deeper documents (libyaml 0.2.5 has no limit; its development branch refuses more than
 *   1,000 levels since 2024), but the `yaml` package parses recursively and exhausts Node's default
 *   stack somewhere past 700 levels of flow collections, so the bound sits well below that. A
 *   Kamal config or a policy is rarely more than 6 levels deep.
 * - Size: at most YAML_MAX_NODES values once aliases are expanded. An alias bomb ("billion
 *   laughs": ten lists of ten aliases of the list before, nine times over) is counted, never
 *   expanded, and refused; what a config does with anchors (a shared env merged into every role)
 *   stays thousands of values.
 * - An alias inside the node it names (`&a [*a]`) is refused as recursive.
 *
 * Depth is bounded twice: while the text is parsed (the parser's stack of open collections, so a
 * megabyte of `[` costs neither the composer's stack nor seconds of work), then exactly on the
 * composed document. Each check reports a message and the text offset it concerns; callers turn
 * that into their own error (ConfigError, PolicyError) at file and line.
 */
import {
  Composer,
  Lexer,
  Parser,
  isAlias,
  isCollection,
  isPair,
  isScalar,
  type Alias,
  type Document,
  type DocumentOptions,
  type Node as YamlNode,
  type ParseOptions,
  type SchemaOptions,
  type YAMLError,
} from 'yaml';

export const YAML_MAX_DEPTH = 500;
export const YAML_MAX_NODES = 100_000;

/**
 * The parser's stack holds about one entry per open collection plus the document and the node being
 * read (measured: open collections + 2 for every shape, so YAML_MAX_DEPTH + 3 at the limit, where the
 * document's own collection is open too), so a stack this high means a document nested deeper than
 * the limit.
 */
const PARSER_STACK_LIMIT = YAML_MAX_DEPTH + 16;

/** What is wrong with a document, and the offset in the parsed text it concerns. */
export interface YamlLimitProblem {
  offset: number;
  message: string;
}

const DEPTH_MESSAGE = `nested more than ${YAML_MAX_DEPTH} levels deep: kamal-gate reads YAML up to ${YAML_MAX_DEPTH} levels; look for a runaway structure (a Kamal config or policy needs fewer than 10)`;

/**
 * `parseAllDocuments` with the parser's depth bounded: a document nested far deeper than the limit
 * stops the parse (no documents, a problem at the offset reached).
 */
export function parseYamlDocuments(text: string, options: ParseOptions & DocumentOptions & SchemaOptions): { docs: Document.Parsed[]; problem?: YamlLimitProblem } {
  const lines = options.lineCounter;
  lines?.addNewLine(0); // what Parser.parse does first
  const parser = new Parser(lines?.addNewLine);
  const tokens = function* () {
    for (const lexeme of new Lexer().lex(text)) {
      yield* parser.next(lexeme);
      if (parser.stack.length > PARSER_STACK_LIMIT) throw new LimitHit({ offset: parser.offset, message: DEPTH_MESSAGE });
    }
    yield* parser.end();
  };
  try {
    return { docs: Array.from(new Composer(options).compose(tokens())) };
  } catch (e) {
    if (e instanceof LimitHit) return { docs: [], problem: e.problem };
    throw e;
  }
}

/**
 * What to say about a parse error: the `yaml` package reports an exhausted stack while composing a
 * deeply nested collection as RESOURCE_EXHAUSTION, which is the depth limit in other words.
 */
export function yamlErrorMessage(error: YAMLError): string {
  if (error.code === 'RESOURCE_EXHAUSTION' && /call stack/i.test(error.message)) return DEPTH_MESSAGE;
  return `invalid YAML: ${error.message.replace(/\s+/g, ' ').trim()}`;
}

/** The first error of a document, the depth problem first when there is one. */
export function firstYamlError(errors: readonly YAMLError[]): YAMLError | undefined {
  return errors.find((e) => e.code === 'RESOURCE_EXHAUSTION') ?? errors[0];
}

/**
 * Checks a composed document against the limits above. Returns the first problem, else what each
 * alias names (the last anchor of that name before it, as YAML says), so callers never resolve an
 * alias by searching the document again (`Alias.resolve(doc)` walks the whole document each time).
 */
export function checkYamlDocument(doc: Document.Parsed): { problem?: YamlLimitProblem; aliases: Map<Alias, YamlNode> } {
  const walker = new Walker();
  try {
    if (doc.contents) walker.walk(doc.contents, 0);
    return { aliases: walker.aliases };
  } catch (e) {
    if (e instanceof LimitHit) return { problem: e.problem, aliases: walker.aliases };
    throw e;
  }
}

class LimitHit extends Error {
  constructor(readonly problem: YamlLimitProblem) {
    super(problem.message);
  }
}

interface Measure {
  /** Values in the node with its aliases expanded, itself included. */
  size: number;
  /** Collections nested in it, itself included (0 for a scalar). */
  height: number;
}

const SCALAR: Measure = { size: 1, height: 0 };

/** Walks the document once in document order; each alias counts what its anchor measured. */
class Walker {
  readonly aliases = new Map<Alias, YamlNode>();
  private readonly anchors = new Map<string, YamlNode>();
  private readonly measured = new Map<YamlNode, Measure>();
  private readonly open = new Set<YamlNode>();
  private total = 0;

  /** `depth`: collections around the node, its nesting level if it is one. */
  walk(node: unknown, depth: number): Measure {
    if (isAlias(node)) return this.alias(node, depth);
    if (!isScalar(node) && !isCollection(node)) return SCALAR;
    if (node.anchor) this.anchors.set(node.anchor, node);
    this.count(1, node);
    if (isScalar(node)) return SCALAR;
    if (depth > YAML_MAX_DEPTH) throw this.hit(node, DEPTH_MESSAGE);
    this.open.add(node);
    let size = 1;
    let height = 0;
    for (const item of node.items) {
      for (const child of isPair(item) ? [item.key, item.value] : [item]) {
        if (child === null || child === undefined) continue;
        const m = this.walk(child, depth + 1);
        size += m.size;
        height = Math.max(height, m.height);
      }
    }
    this.open.delete(node);
    const m = { size, height: height + 1 };
    if (node.anchor) this.measured.set(node, m); // only an anchored node is ever aliased
    return m;
  }

  private alias(node: Alias, depth: number): Measure {
    const target = this.anchors.get(node.source);
    if (!target) return SCALAR; // the parser reports an unknown alias
    this.aliases.set(node, target);
    if (this.open.has(target)) throw this.hit(node, `recursive YAML alias: *${node.source} is inside the node &${node.source} it names`);
    const m = this.measured.get(target) ?? SCALAR;
    // The innermost collection the alias brings in sits inside `depth + m.height - 1` others.
    if (depth + m.height - 1 > YAML_MAX_DEPTH) {
      throw this.hit(
        node,
        `the alias *${node.source} nests its value more than ${YAML_MAX_DEPTH} levels deep: kamal-gate reads YAML up to ${YAML_MAX_DEPTH} levels, counting those an alias brings in`,
      );
    }
    this.count(m.size, node, node.source);
    return m;
  }

  private count(n: number, at: YamlNode, alias?: string): void {
    this.total += n;
    if (this.total <= YAML_MAX_NODES) return;
    throw this.hit(
      at,
      alias === undefined
        ? `the document holds more than ${YAML_MAX_NODES.toLocaleString('en-US')} values: kamal-gate reads YAML documents up to that size`
        : `aliases expand the document to more than ${YAML_MAX_NODES.toLocaleString('en-US')} values (here *${alias} adds ${n.toLocaleString('en-US')}): ` +
            'refused as a YAML alias bomb; write the values out or alias less',
    );
  }

  private hit(node: YamlNode, message: string): LimitHit {
    return new LimitHit({ offset: node.range?.[0] ?? 0, message });
  }
}
