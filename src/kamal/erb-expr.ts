/**
 * The Ruby that kamal-gate evaluates inside ERB tags, parsed into a small syntax tree: string
 * literals (with Ruby's escapes and `#{…}` interpolation), integers, nil, true and false; `ENV["X"]`,
 * `ENV.fetch("X")`, `ENV.fetch("X", default)`, `ENV.fetch("X") { default }`, `ENV.key?("X")`;
 * `!`, `==`, `!=`, `&&`, `||`, `a ? b : c`, parentheses; and a few methods (METHODS). Control tags
 * hold `if`/`unless`/`elsif` with such an expression, `else` or `end`.
 *
 * This is a parser, not an evaluator (erb-eval.ts evaluates the tree): anything it does not
 * recognise, down to whitespace Ruby would read differently, makes it return undefined, and the tag
 * is refused. `describeRuby` (erb-describe.ts) then says in general terms what the code holds.
 * String literals and whitespace are read by erb-lex.ts.
 */

import { Cursor, IDENT, Outside } from './erb-lex.js';

/** The methods the evaluator knows, with Ruby's and ActiveSupport's meaning (erb-eval.ts). */
const METHODS = ['to_s', 'to_i', 'strip', 'lstrip', 'rstrip', 'downcase', 'upcase', 'present?', 'blank?', 'presence', 'nil?', 'empty?'] as const;
export type Method = (typeof METHODS)[number];

export type Expr =
  /** A string literal; `parts` are its text and its interpolated expressions, in order. */
  | { kind: 'str'; parts: (string | Expr)[] }
  | { kind: 'int'; value: bigint }
  | { kind: 'nil' }
  | { kind: 'bool'; value: boolean }
  /** `ENV["X"]`: the value, or nil. */
  | { kind: 'env'; name: string }
  /** `ENV.fetch("X", fallback) { block }`: the value; else the block, else the fallback, else a KeyError. */
  | { kind: 'fetch'; name: string; fallback?: Expr; block?: Expr }
  /** `ENV.key?("X")` (also include?, has_key?, member?). */
  | { kind: 'key'; name: string }
  | { kind: 'not'; expr: Expr }
  | { kind: 'and' | 'or' | 'eq' | 'ne'; left: Expr; right: Expr }
  | { kind: 'cond'; test: Expr; then: Expr; else: Expr }
  | { kind: 'call'; target: Expr; method: Method };

export type Control = { kind: 'if' | 'unless' | 'elsif'; test: Expr } | { kind: 'else' } | { kind: 'end' };

const KEY_METHODS = new Set(['key?', 'include?', 'has_key?', 'member?']);
const METHOD_SET: ReadonlySet<string> = new Set(METHODS);
const MAX_DEPTH = 64;
const MAX_NODES = 1000;

/** Parses the code of an output tag (`<%= code %>`), or returns undefined when it is not in the subset. */
export function parseExpr(code: string): Expr | undefined {
  return attempt(code, (p) => {
    p.blank();
    if (p.done()) return { kind: 'nil' }; // `<%= %>` is `(()).to_s`: ""
    const e = p.expr();
    p.blank();
    return p.done() ? e : p.fail();
  });
}

/** Parses the code of a control tag (`<% if code %>`, `<% else %>`, `<% end %>`), or returns undefined. */
export function parseControl(code: string): Control | undefined {
  return attempt(code, (p): Control => {
    p.blank();
    const word = p.word();
    let control: Control;
    if (word === 'if' || word === 'unless' || word === 'elsif') {
      if (p.spaces() === 0) p.fail();
      control = { kind: word, test: p.expr() };
      const save = p.pos;
      if (p.spaces() === 0 || p.word() !== 'then') p.pos = save;
    } else if (word === 'else' || word === 'end') control = { kind: word };
    else return p.fail();
    p.blank();
    return p.done() ? control : p.fail();
  });
}

function attempt<T>(code: string, parse: (p: Parser) => T): T | undefined {
  try {
    return parse(new Parser(code));
  } catch (e) {
    if (e instanceof Outside) return undefined;
    throw e;
  }
}

const INTEGER = /(?:0|[1-9](?:_?[0-9])*)/y;

/** The grammar, over erb-lex.ts's cursor. Every node and nesting level is counted: a hostile tag cannot exhaust the stack. */
class Parser extends Cursor {
  private depth = 0;
  private nodes = 0;

  private node<T extends Expr>(e: T): T {
    if (++this.nodes > MAX_NODES) this.fail();
    return e;
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_DEPTH) this.fail();
    const out = parse();
    this.depth--;
    return out;
  }

  /** expr := or ( ' ? ' expr ' : ' expr )?  — the ternary needs spaces around `?` and `:` (else `?x` and `:x` are literals). */
  expr(): Expr {
    return this.nested(() => {
      const test = this.or();
      const save = this.pos;
      if (this.spaces() === 0 || !this.eat('?') || !this.spaceOrNewlineNext()) {
        this.pos = save;
        return test;
      }
      this.blank();
      const then = this.expr();
      if (this.spaces() === 0) this.fail();
      this.expect(':');
      if (!this.spaceOrNewlineNext()) this.fail();
      this.blank();
      return this.node({ kind: 'cond', test, then, else: this.expr() });
    });
  }

  private binary(op: '||' | '&&', kind: 'or' | 'and', operand: () => Expr): Expr {
    let left = operand();
    for (;;) {
      const save = this.pos;
      this.spaces();
      if (!this.eat(op) || this.at('=')) {
        this.pos = save;
        return left;
      }
      this.blank();
      left = this.node({ kind, left, right: this.nested(operand) });
    }
  }

  private or(): Expr {
    return this.binary('||', 'or', () => this.and());
  }

  private and(): Expr {
    return this.binary('&&', 'and', () => this.equality());
  }

  /** `a == b`, `a != b`: not associative in Ruby (`a == b == c` is a syntax error, refused as leftover code). */
  private equality(): Expr {
    const left = this.unary();
    const save = this.pos;
    this.spaces();
    const kind = this.eat('==') ? 'eq' : this.eat('!=') ? 'ne' : undefined;
    if (kind === undefined || this.at('=') || this.at('~')) {
      this.pos = save;
      return left;
    }
    this.blank();
    return this.node({ kind, left, right: this.unary() });
  }

  private unary(): Expr {
    if (this.at('!') && !this.at('!=') && !this.at('!~')) {
      this.pos++;
      this.spaces();
      return this.nested(() => this.node({ kind: 'not', expr: this.unary() }));
    }
    return this.postfix();
  }

  /** primary ( '.' method )* */
  private postfix(): Expr {
    let target = this.primary();
    for (;;) {
      const save = this.pos;
      this.spaces();
      if (!this.at('.') || this.at('..')) {
        this.pos = save;
        return target;
      }
      this.pos++;
      this.spaces();
      const method = this.methodName();
      if (!METHOD_SET.has(method)) this.fail();
      this.eat('()');
      target = this.node({ kind: 'call', target, method: method as Method });
    }
  }

  /** After `#{` in a string: an expression (none is nil) and the `}`. */
  private interpolation(): Expr {
    this.blank();
    if (this.eat('}')) return { kind: 'nil' };
    const e = this.expr();
    this.blank();
    this.expect('}');
    return e;
  }

  /** A method name: an identifier, with a `?` not followed by `=`; a bang (`strip!`) is refused. */
  private methodName(): string {
    let name = this.word();
    if (name === '') this.fail();
    if (this.at('!') && !this.at('!=')) this.fail(); // (`x.strip!=y` is `x.strip != y`)
    if (this.at('?')) {
      if (this.s[this.pos + 1] === '=') this.fail();
      this.pos++;
      name += '?';
    }
    return name;
  }

  private primary(): Expr {
    const c = this.s[this.pos];
    if (c === '"') return this.node({ kind: 'str', parts: this.doubleQuoted(() => this.interpolation()) });
    if (c === "'") return this.node({ kind: 'str', parts: [this.singleQuoted()] });
    if (c === '(') {
      this.pos++;
      this.blank();
      if (this.at(')')) this.fail(); // `()` is nil in Ruby; nobody writes it
      const e = this.expr();
      this.blank();
      this.expect(')');
      return e;
    }
    if (c !== undefined && c >= '0' && c <= '9') return this.node(this.integer());
    const word = this.word();
    if (word === '' || this.at('?') || (this.at('!') && !this.at('!=')) || this.at(':')) this.fail(); // (`false!=x` is `false != x`)
    if (word === 'nil') return this.node({ kind: 'nil' });
    if (word === 'true' || word === 'false') return this.node({ kind: 'bool', value: word === 'true' });
    if (word === 'ENV') return this.node(this.env());
    return this.fail();
  }

  private integer(): Expr {
    INTEGER.lastIndex = this.pos;
    const m = INTEGER.exec(this.s);
    if (!m) return this.fail();
    this.pos += m[0].length;
    // 010 (octal), 1_, 1e3, 1r, 1.5: Ruby reads these otherwise; refused
    const next = this.s[this.pos] ?? '';
    if (IDENT.test(next) || (next === '.' && /[0-9]/.test(this.s[this.pos + 1] ?? ''))) this.fail();
    return { kind: 'int', value: BigInt(m[0].replaceAll('_', '')) };
  }

  /** After `ENV`: `["X"]` (no space before `[`: `ENV ["X"]` is a method call in Ruby), `.fetch(…)`, `.key?(…)`. */
  private env(): Expr {
    if (this.eat('[')) {
      this.blank();
      const name = this.envName();
      this.blank();
      this.expect(']');
      return { kind: 'env', name };
    }
    this.spaces();
    this.expect('.');
    this.spaces();
    const method = this.methodName();
    this.expect('('); // no space: `fetch ("X", "d")` is a syntax error in Ruby
    this.blank();
    const name = this.envName();
    this.blank();
    if (KEY_METHODS.has(method)) {
      this.expect(')');
      return { kind: 'key', name };
    }
    if (method !== 'fetch') this.fail();
    let fallback: Expr | undefined;
    if (this.eat(',')) {
      this.blank();
      fallback = this.expr();
      this.blank();
    }
    this.expect(')');
    const save = this.pos;
    this.spaces();
    if (!this.eat('{')) {
      this.pos = save;
      return fallback ? { kind: 'fetch', name, fallback } : { kind: 'fetch', name };
    }
    this.blank();
    let block: Expr = { kind: 'nil' };
    if (!this.at('}')) {
      if (this.at('|')) this.fail(); // a block parameter
      block = this.expr();
      this.blank();
    }
    this.expect('}');
    return fallback ? { kind: 'fetch', name, fallback, block } : { kind: 'fetch', name, block };
  }

  /** The variable name: a string literal without interpolation or NUL (Ruby raises on NUL). */
  private envName(): string {
    const c = this.s[this.pos];
    let name: string;
    if (c === "'") name = this.singleQuoted();
    else if (c === '"') {
      const parts = this.doubleQuoted(() => this.fail());
      name = parts.join('');
    } else return this.fail();
    if (name.includes('\0')) this.fail();
    return name;
  }
}
