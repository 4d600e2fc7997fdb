/**
 * ERB as Kamal runs it (`ERB.new(template, trim_mode: "-").result`), for a small Ruby subset that
 * is evaluated without running anything: `<%= expr %>` and `<% if expr %> … <% elsif expr %> …
 * <% else %> … <% end %>` (and `unless`), where expr is the language of erb-expr.ts (literals, ENV
 * lookups, `||`, `&&`, `!`, `==`, `!=`, `?:`, a few string methods, interpolation), evaluated by
 * erb-eval.ts; `<%# %>` comments, code tags holding only Ruby comments, `<%-`/`-%>` trimming and
 * `<%%`. Any other Ruby is a ConfigError naming the file, line and column of the tag and the ways
 * out: an environment variable, a literal, or `--erb ruby` (rendering by Ruby, which runs the code).
 *
 * Every tag is classified before anything is evaluated, so a refused tag is refused even in a
 * branch that is not taken. An error never shows what is inside a tag: a refused tag is never
 * evaluated, so a secret written in it (`password: <%= %q{…} %>`, a heredoc, a symbol) was never
 * registered for redaction. The message says which construct is not allowed in general terms
 * (erb-describe.ts) and where it is.
 */
import { ConfigError } from '../errors.js';
import { describeRuby } from './erb-describe.js';
import { type EvalContext, evaluate, rubyToS, truthy } from './erb-eval.js';
import { type Control, type Expr, parseControl, parseExpr } from './erb-expr.js';
import { OffsetMap } from './source-map.js';

export type Env = Record<string, string | undefined>;

export interface ErbOptions {
  /** The file name used in errors and locations. */
  file: string;
  env: Env;
}

export interface ErbResult {
  text: string;
  /** Maps offsets in `text` back to the template. */
  map: OffsetMap;
  /** `ENV["X"]` lookups of unset variables that were rendered as "" (as in Kamal). */
  unsetEnv: { name: string; line: number }[];
}

// Ruby ERB's explicit-trim scanner: start tags outside a tag, end tags inside one. Its `^[ \t]*<%-`
// runs in a StringScanner, where ^ matches after a \n (not a \r or U+2028, as JavaScript's multiline
// ^ would) and also where the scan resumes: after the previous tag, or after a `<%%`.
const START_TAG = /(?<![^\n])[ \t]*<%-|<%-|<%%|<%=|<%#|<%/g;
const LEADING_TRIM_TAG = /[ \t]*<%-/y;
const END_TAG = /-%>|%%>|%>/g;
const TRIMMED_NEWLINE = /\r?\n/y;
const NOT_SHOWN = "(the tag's content is not shown: it may hold a secret)";
const WAY_OUT = 'or run with --erb ruby to render the config with Ruby as Kamal does (that runs its code)';
const MAX_BLOCK_DEPTH = 64;

/** Where a tag starts: its offset, the file, and the 1-based line and column of its `<%`. */
interface TagAt {
  offset: number;
  file: string;
  line: number;
  column: number;
  /** `<%= … %>` or `<% … %>`, as shown in messages. */
  shape: string;
}

type Item = { kind: 'text'; from: number; to: number } | { kind: 'percent'; src: number } | { kind: 'output'; expr: Expr; at: TagAt } | { kind: 'control'; control: Control; at: TagAt };

interface Branch {
  /** Absent for `else`. */
  test?: { expr: Expr; negate: boolean; at: TagAt };
  body: Node[];
}
interface Block {
  kind: 'block';
  at: TagAt;
  unless: boolean;
  branches: Branch[];
}
type Node = Exclude<Item, { kind: 'control' }> | Block;

export function renderErb(template: string, opts: ErbOptions): ErbResult {
  const map = new OffsetMap(opts.file, template);
  const tree = nest(scan(template, opts.file, map));
  const unsetEnv: ErbResult['unsetEnv'] = [];
  let text = '';

  const context = (at: TagAt): EvalContext => ({
    lookup: (name) => {
      const value = Object.hasOwn(opts.env, name) ? opts.env[name] : undefined;
      return typeof value === 'string' ? value : undefined;
    },
    fail: (message) => {
      throw new ConfigError(message, at.file, at.line, { column: at.column });
    },
    unset: (name) => unsetEnv.push({ name, line: at.line }),
  });

  const render = (nodes: Node[]): void => {
    for (const node of nodes) {
      if (node.kind === 'text') {
        if (node.to <= node.from) continue;
        map.literal(text.length, node.from);
        text += template.slice(node.from, node.to);
      } else if (node.kind === 'percent') {
        map.literal(text.length, node.src);
        text += '<%';
      } else if (node.kind === 'output') {
        const ctx = context(node.at);
        const out = evaluate(node.expr, ctx);
        if (out.value === null && out.env !== undefined) ctx.unset(out.env);
        map.value(text.length, node.at.offset, out.env === undefined ? {} : { env: out.env });
        text += rubyToS(out.value);
      } else {
        const taken = node.branches.find((b) => !b.test || truthy(evaluate(b.test.expr, context(b.test.at)).value) !== b.test.negate);
        if (taken) render(taken.body);
      }
    }
  };
  render(tree);
  return { text, map, unsetEnv };
}

/** The template as text and tags, every tag parsed (or refused) in document order. */
function scan(template: string, file: string, map: OffsetMap): Item[] {
  const items: Item[] = [];
  let pos = 0;
  while (pos < template.length) {
    LEADING_TRIM_TAG.lastIndex = pos;
    START_TAG.lastIndex = pos;
    const start = LEADING_TRIM_TAG.exec(template) ?? START_TAG.exec(template);
    if (!start) {
      items.push({ kind: 'text', from: pos, to: template.length });
      break;
    }
    items.push({ kind: 'text', from: pos, to: start.index });
    const token = start[0];
    pos = start.index + token.length;
    if (token === '<%%') {
      items.push({ kind: 'percent', src: start.index });
      continue;
    }
    const tagAt = token.endsWith('-') ? pos - 3 : start.index;
    const kind = token === '<%=' ? 'output' : token === '<%#' ? 'comment' : 'code';

    let code = '';
    let trimmed = false;
    for (;;) {
      END_TAG.lastIndex = pos;
      const end = END_TAG.exec(template);
      if (!end) {
        const { line, column } = map.position(tagAt);
        throw new ConfigError(`this ERB tag (${kind === 'output' ? '<%=' : '<%'} …) is not closed with %>: close it, or write <%% for a literal <% ${NOT_SHOWN}`, file, line, { column });
      }
      code += template.slice(pos, end.index);
      pos = end.index + end[0].length;
      if (end[0] === '%%>') {
        code += '%>';
        continue;
      }
      if (end[0] === '-%>') {
        // Ruby's ERB ends the generated line here when a newline (trimmed) or the end of the template follows.
        TRIMMED_NEWLINE.lastIndex = pos;
        const newline = TRIMMED_NEWLINE.test(template);
        if (newline) pos = TRIMMED_NEWLINE.lastIndex;
        trimmed = newline || pos === template.length;
      }
      break;
    }

    if (kind === 'comment') continue;
    const at: TagAt = { offset: tagAt, file, ...map.position(tagAt), shape: kind === 'output' ? '<%= … %>' : '<% … %>' };
    if (kind === 'output') {
      items.push({ kind: 'output', expr: parseExpr(code) ?? refuse(code, at), at });
      continue;
    }
    if (isOnlyRubyComments(code)) {
      if (endsInComment(code) && !trimmed) refuseOpenComment(at);
      continue;
    }
    const control = parseControl(code);
    if (!control) refuse(code, at, true);
    items.push({ kind: 'control', control, at });
  }
  return items;
}

/** Nests the items into if/unless blocks, refusing what Ruby would not parse (an `end` too many, an `if` never closed). */
function nest(items: Item[]): Node[] {
  const root: Node[] = [];
  const open: Block[] = [];
  const body = (): Node[] => open.at(-1)?.branches.at(-1)?.body ?? root;
  for (const item of items) {
    if (item.kind !== 'control') {
      body().push(item);
      continue;
    }
    const c = item.control;
    if (c.kind === 'if' || c.kind === 'unless') {
      if (open.length >= MAX_BLOCK_DEPTH) {
        throw errorAt(item.at, `this ERB tag (<% ${c.kind} … %>) opens a block nested more than ${MAX_BLOCK_DEPTH} deep, which kamal-gate does not evaluate: flatten the blocks, ${WAY_OUT}`);
      }
      const block: Block = { kind: 'block', at: item.at, unless: c.kind === 'unless', branches: [{ test: { expr: c.test, negate: c.kind === 'unless', at: item.at }, body: [] }] };
      body().push(block);
      open.push(block);
      continue;
    }
    const shape = c.kind === 'elsif' ? '<% elsif … %>' : `<% ${c.kind} %>`;
    const block = open.at(-1);
    if (!block) throw syntaxError(item.at, `this ERB tag (${shape}) is outside any <% if … %> or <% unless … %> block`, 'remove it, or add the <% if … %> it belongs to');
    if (c.kind === 'end') {
      open.pop();
      continue;
    }
    if (!block.branches.at(-1)?.test) throw syntaxError(item.at, `this ERB tag (${shape}) follows the <% else %> of its block`, 'move it before the <% else %>');
    if (c.kind === 'elsif' && block.unless) throw syntaxError(item.at, 'this ERB tag (<% elsif … %>) is in an <% unless … %> block, which has no elsif', 'use <% if … %> instead');
    block.branches.push(c.kind === 'elsif' ? { test: { expr: c.test, negate: false, at: item.at }, body: [] } : { body: [] });
  }
  const unclosed = open.at(-1);
  if (unclosed) {
    throw syntaxError(unclosed.at, `this ERB tag (<% ${unclosed.unless ? 'unless' : 'if'} … %>) opens a block that no <% end %> closes`, 'add <% end %> where the block ends');
  }
  return root;
}

function errorAt(at: TagAt, message: string): ConfigError {
  return new ConfigError(message, at.file, at.line, { column: at.column });
}

function syntaxError(at: TagAt, what: string, fix: string): ConfigError {
  return errorAt(at, `${what}: Ruby refuses that (a syntax error), so Kamal could not read this config either; ${fix}`);
}

function refuse(code: string, at: TagAt, control = false): never {
  throw errorAt(
    at,
    `this ERB tag (${at.shape}) contains ${describeRuby(code, control)}, which kamal-gate does not evaluate: it never runs code from a config ${NOT_SHOWN}. ` +
      `Put the value in an environment variable and use <%= ENV["NAME"] %>, or write it literally, ${WAY_OUT}`,
  );
}

/**
 * `<% # note %>` followed by more template on the same line: Ruby's ERB compiles the text after the
 * tag onto the comment's line, so the comment hides it and Kamal renders less than the file shows.
 */
function refuseOpenComment(at: TagAt): never {
  throw errorAt(
    at,
    `this ERB tag (<% … %>) ends in a Ruby comment, which in Ruby's ERB also hides the template text after the tag (up to the next line break of the generated code), so Kamal would not render what follows it ${NOT_SHOWN}. ` +
      `Write the comment as <%# … %>, or end the tag with -%> at the end of its line, ${WAY_OUT}`,
  );
}

/** A code tag (`<% %>`) that does nothing: blank or Ruby comments. */
function isOnlyRubyComments(code: string): boolean {
  return code.split('\n').every((l) => /^[ \t\f\v\r]*(#[^\n]*)?$/.test(l)); // (Ruby's white space: U+00A0 would be a name)
}

/** Whether the code's last line is a comment, which Ruby's ERB continues onto what follows the tag. */
function endsInComment(code: string): boolean {
  return (code.split('\n').at(-1) ?? '').includes('#');
}
