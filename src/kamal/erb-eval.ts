/**
 * Evaluates an ERB expression tree (erb-expr.ts) as Ruby evaluates it in Kamal, where ActiveSupport
 * is loaded: values are Ruby's String, Integer (a bigint), nil (null), true and false; only nil and
 * false are falsy ("" is truthy); `||`/`&&` return an operand; `.present?`/`.blank?`/`.presence`
 * follow ActiveSupport (blank: nil, false, or a string of Unicode white space). What Ruby would
 * raise on (`ENV.fetch` of an unset variable, `.strip` on nil) fails through `ctx.fail`, as Kamal
 * would fail; `.downcase`/`.upcase` of non-ASCII text (where Ruby's Unicode tables may differ from
 * JavaScript's) is refused the same way. Nothing is executed: the tree is all there is.
 */
import type { Expr, Method } from './erb-expr.js';

/** A Ruby value: String, Integer, nil, true or false. */
export type RubyValue = string | bigint | boolean | null;

/** A value and, when it came from one environment variable, that variable's name. */
export interface Evaluated {
  value: RubyValue;
  env?: string;
}

export interface EvalContext {
  /** The environment variable's value, or undefined when it is not set. */
  lookup(name: string): string | undefined;
  /** Ends the evaluation with an error at the tag; `message` never holds the tag's content. */
  fail(message: string): never;
  /** `ENV["X"]` of an unset variable was rendered (as ""). */
  unset(name: string): void;
}

/** A name is shown in a message only when it looks like one: a value pasted where the name goes stays unshown. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** ActiveSupport's String#blank?: /\A[[:space:]]*\z/, Unicode White_Space. */
const BLANK = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;
/** Ruby's String#strip (3.1): NUL and ASCII white space, at both ends. */
const STRIP_START = /^[\0\t\n\v\f\r ]+/;
const STRIP_END = /[\0\t\n\v\f\r ]+$/;
/** Ruby's String#to_i: leading ASCII space, a sign, an optional 0d, digits with single underscores between. */
const TO_I = /^[\t\n\v\f\r ]*([+-]?)(?:0[dD])?([0-9](?:_?[0-9])*)?/;

export function evaluate(e: Expr, ctx: EvalContext): Evaluated {
  switch (e.kind) {
    case 'str':
      return interpolate(e.parts, ctx);
    case 'int':
    case 'bool':
      return { value: e.value };
    case 'nil':
      return { value: null };
    case 'env':
      return { value: ctx.lookup(e.name) ?? null, env: e.name };
    case 'key':
      return { value: ctx.lookup(e.name) !== undefined };
    case 'fetch': {
      const fallback = e.fallback ? evaluate(e.fallback, ctx) : undefined; // arguments first, as in Ruby
      const value = ctx.lookup(e.name);
      if (value !== undefined) return { value, env: e.name };
      if (e.block) return evaluate(e.block, ctx);
      return fallback ?? ctx.fail(keyError(e.name));
    }
    case 'not':
      return { value: !truthy(evaluate(e.expr, ctx).value) };
    case 'and': {
      const left = evaluate(e.left, ctx);
      return truthy(left.value) ? evaluate(e.right, ctx) : left;
    }
    case 'or': {
      const left = evaluate(e.left, ctx);
      return truthy(left.value) ? left : evaluate(e.right, ctx);
    }
    case 'eq':
    case 'ne': {
      const same = evaluate(e.left, ctx).value === evaluate(e.right, ctx).value;
      return { value: e.kind === 'eq' ? same : !same };
    }
    case 'cond':
      return truthy(evaluate(e.test, ctx).value) ? evaluate(e.then, ctx) : evaluate(e.else, ctx);
    case 'call':
      return call(evaluate(e.target, ctx), e.method, ctx);
  }
}

/** Ruby truthiness: everything but nil and false. */
export function truthy(v: RubyValue): boolean {
  return v !== null && v !== false;
}

/** Ruby's `to_s`, as `<%= %>` and `#{}` apply it. */
export function rubyToS(v: RubyValue): string {
  if (v === null) return '';
  return typeof v === 'string' ? v : String(v);
}

function interpolate(parts: (string | Expr)[], ctx: EvalContext): Evaluated {
  let text = '';
  const envs = new Set<string>();
  for (const part of parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    const v = evaluate(part, ctx);
    if (v.env !== undefined) envs.add(v.env);
    if (v.value === null && v.env !== undefined) ctx.unset(v.env);
    text += rubyToS(v.value);
  }
  const [only] = envs;
  return envs.size === 1 && only !== undefined ? { value: text, env: only } : { value: text };
}

function blank(v: RubyValue): boolean {
  if (typeof v === 'string') return BLANK.test(v);
  return v === null || v === false;
}

function call(target: Evaluated, method: Method, ctx: EvalContext): Evaluated {
  const v = target.value;
  const keep = (value: RubyValue): Evaluated => (target.env === undefined ? { value } : { value, env: target.env });
  switch (method) {
    case 'to_s':
      return keep(rubyToS(v));
    case 'nil?':
      return { value: v === null };
    case 'blank?':
      return { value: blank(v) };
    case 'present?':
      return { value: !blank(v) };
    case 'presence':
      return blank(v) ? { value: null } : target;
    case 'to_i':
      if (typeof v === 'string') return keep(toI(v));
      if (v === null) return { value: 0n };
      if (typeof v === 'bigint') return target;
      return noMethod(method, v, ctx);
  }
  if (typeof v !== 'string') return noMethod(method, v, ctx);
  switch (method) {
    case 'empty?':
      return { value: v.length === 0 };
    case 'strip':
      return keep(v.replace(STRIP_START, '').replace(STRIP_END, ''));
    case 'lstrip':
      return keep(v.replace(STRIP_START, ''));
    case 'rstrip':
      return keep(v.replace(STRIP_END, ''));
    case 'downcase':
    case 'upcase':
      if (/[^\0-\x7f]/.test(v)) {
        ctx.fail(
          `this ERB tag calls .${method} on a value with non-ASCII characters, which kamal-gate does not evaluate (Ruby's Unicode case tables may differ from its own): ` +
            'make the value ASCII, or run with --erb ruby to render the config with Ruby as Kamal does (that runs its code)',
        );
      }
      return keep(method === 'downcase' ? v.toLowerCase() : v.toUpperCase());
  }
}

function toI(s: string): bigint {
  const m = TO_I.exec(s);
  return m?.[2] === undefined ? 0n : BigInt(`${m[1]}${m[2].replaceAll('_', '')}`);
}

function noMethod(method: Method, v: RubyValue, ctx: EvalContext): never {
  const on = v === null ? 'nil (an unset variable, or a nil default)' : typeof v === 'bigint' ? 'an Integer' : typeof v === 'string' ? 'a String' : String(v);
  return ctx.fail(
    `this ERB tag calls .${method} on ${on}, which Ruby refuses (NoMethodError), so Kamal would fail on this config too: ` +
      'give the variable a value or a default (ENV.fetch("NAME", "default")), or call .to_s first',
  );
}

function keyError(name: string): string {
  return ENV_NAME.test(name)
    ? `ENV.fetch("${name}"): the environment variable ${name} is not set; set it, or give a default with ENV.fetch("${name}", "default")`
    : 'ENV.fetch: the environment variable this tag names is not set (its name is not shown: it does not look like a variable name); set it, or give a default with ENV.fetch("NAME", "default")';
}
