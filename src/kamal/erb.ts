/**
 * ERB as Kamal runs it (`ERB.new(template, trim_mode: "-").result`), for the safe subset only:
 * `<%= ENV["X"] %>`, `ENV.fetch("X")`, `ENV.fetch("X", "default")`, string literals, `<%# %>`
 * comments, `<%-`/`-%>` trimming and `<%%`. Nothing is evaluated: any other Ruby is a ConfigError
 * naming the file, line and column of the tag and saying how to provide the value instead.
 *
 * An error never shows what is inside a tag: a refused tag is never evaluated, so a secret written
 * in it (`password: <%= %q{…} %>`, a heredoc, a symbol) was never registered for redaction. The
 * message says which construct is not allowed in general terms (erb-describe.ts) and where it is.
 */
import { ConfigError } from '../errors.js';
import { describeRuby } from './erb-describe.js';
import { parseSafeExpr } from './erb-expr.js';
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
  /** `ENV["X"]` lookups of unset variables, which render as "" (as in Kamal). */
  unsetEnv: { name: string; line: number }[];
}

// Ruby ERB's explicit-trim scanner: start tags outside a tag, end tags inside one.
const START_TAG = /^[ \t]*<%-|<%-|<%%|<%=|<%#|<%/gm;
const END_TAG = /-%>|%%>|%>/g;
const TRIMMED_NEWLINE = /\r?\n/y;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const NOT_SHOWN = "(the tag's content is not shown: it may hold a secret)";

/** Where a tag starts: the file, and the 1-based line and column of its `<%`. */
interface TagAt {
  file: string;
  line: number;
  column: number;
  /** `<%= … %>` or `<% … %>`, as shown in messages. */
  shape: string;
}

export function renderErb(template: string, opts: ErbOptions): ErbResult {
  const map = new OffsetMap(opts.file, template);
  const unsetEnv: ErbResult['unsetEnv'] = [];
  let text = '';
  let pos = 0;

  const literal = (from: number, to: number): void => {
    if (to <= from) return;
    map.literal(text.length, from);
    text += template.slice(from, to);
  };

  while (pos < template.length) {
    START_TAG.lastIndex = pos;
    const start = START_TAG.exec(template);
    if (!start) {
      literal(pos, template.length);
      break;
    }
    literal(pos, start.index);
    const token = start[0];
    pos = start.index + token.length;
    if (token === '<%%') {
      map.literal(text.length, start.index);
      text += '<%';
      continue;
    }
    const tagAt = token.endsWith('-') ? pos - 3 : start.index;
    const kind = token === '<%=' ? 'output' : token === '<%#' ? 'comment' : 'code';

    let code = '';
    for (;;) {
      END_TAG.lastIndex = pos;
      const end = END_TAG.exec(template);
      if (!end) {
        const { line, column } = map.position(tagAt);
        throw new ConfigError(`this ERB tag (${kind === 'output' ? '<%=' : '<%'} …) is not closed with %>: close it, or write <%% for a literal <% ${NOT_SHOWN}`, opts.file, line, { column });
      }
      code += template.slice(pos, end.index);
      pos = end.index + end[0].length;
      if (end[0] === '%%>') {
        code += '%>';
        continue;
      }
      if (end[0] === '-%>') {
        TRIMMED_NEWLINE.lastIndex = pos;
        if (TRIMMED_NEWLINE.test(template)) pos = TRIMMED_NEWLINE.lastIndex;
      }
      break;
    }

    if (kind === 'comment') continue;
    const at: TagAt = { file: opts.file, ...map.position(tagAt), shape: kind === 'output' ? '<%= … %>' : '<% … %>' };
    if (kind === 'code') {
      if (!isOnlyRubyComments(code)) refuse(code, at);
      continue;
    }
    const value = evaluate(code, at, opts, unsetEnv);
    map.value(text.length, tagAt, value.env === undefined ? {} : { env: value.env });
    text += value.text;
  }
  return { text, map, unsetEnv };
}

function evaluate(code: string, at: TagAt, opts: ErbOptions, unsetEnv: ErbResult['unsetEnv']): { text: string; env?: string } {
  const expr = parseSafeExpr(code);
  if (!expr) return refuse(code, at);
  if (expr.kind === 'literal') return { text: expr.value };
  const value = opts.env[expr.name];
  if (value !== undefined) return { text: value, env: expr.name };
  if (!expr.fetch) {
    unsetEnv.push({ name: expr.name, line: at.line });
    return { text: '', env: expr.name };
  }
  if (expr.fallback !== undefined) return { text: expr.fallback };
  // The name is shown only when it looks like one: a value pasted where the name goes stays unshown.
  const name = ENV_NAME.test(expr.name) ? expr.name : undefined;
  throw new ConfigError(
    name
      ? `ENV.fetch("${name}"): the environment variable ${name} is not set; set it, or give a default with ENV.fetch("${name}", "default")`
      : 'ENV.fetch: the environment variable this tag names is not set (its name is not shown: it does not look like a variable name); set it, or give a default with ENV.fetch("NAME", "default")',
    at.file,
    at.line,
    { column: at.column },
  );
}

function refuse(code: string, at: TagAt): never {
  throw new ConfigError(
    `this ERB tag (${at.shape}) contains ${describeRuby(code)}, which kamal-gate does not evaluate: it never runs code from a config ${NOT_SHOWN}. ` +
      'Put the value in an environment variable and use <%= ENV["NAME"] %>, or write it literally',
    at.file,
    at.line,
    { column: at.column },
  );
}

/** A code tag (`<% %>`) is accepted only when it does nothing: blank or Ruby comments. */
function isOnlyRubyComments(code: string): boolean {
  return code.split('\n').every((l) => /^\s*(#.*)?$/.test(l));
}
