/**
 * ERB as Kamal runs it (`ERB.new(template, trim_mode: "-").result`), for the safe subset only:
 * `<%= ENV["X"] %>`, `ENV.fetch("X")`, `ENV.fetch("X", "default")`, string literals, `<%# %>`
 * comments, `<%-`/`-%>` trimming and `<%%`. Nothing is evaluated: any other Ruby is a ConfigError
 * naming the line and saying how to provide the value instead.
 */
import { ConfigError } from '../errors.js';
import { describeRuby, parseSafeExpr } from './erb-expr.js';
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
const TAG_PREVIEW_LENGTH = 60;

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
        throw new ConfigError(
          `ERB tag ${preview(template.slice(tagAt))} is not closed with %>`,
          opts.file,
          map.position(tagAt).line,
        );
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

    const line = map.position(tagAt).line;
    const tagText = template.slice(tagAt, pos);
    if (kind === 'comment') continue;
    if (kind === 'code') {
      if (!isOnlyRubyComments(code)) refuse(tagText, code, opts.file, line);
      continue;
    }
    const value = evaluate(code, tagText, opts, line, unsetEnv);
    map.value(text.length, tagAt, value.env === undefined ? {} : { env: value.env });
    text += value.text;
  }
  return { text, map, unsetEnv };
}

function evaluate(
  code: string,
  tagText: string,
  opts: ErbOptions,
  line: number,
  unsetEnv: ErbResult['unsetEnv'],
): { text: string; env?: string } {
  const expr = parseSafeExpr(code);
  if (!expr) return refuse(tagText, code, opts.file, line);
  if (expr.kind === 'literal') return { text: expr.value };
  const value = opts.env[expr.name];
  if (value !== undefined) return { text: value, env: expr.name };
  if (!expr.fetch) {
    unsetEnv.push({ name: expr.name, line });
    return { text: '', env: expr.name };
  }
  if (expr.fallback !== undefined) return { text: expr.fallback };
  throw new ConfigError(
    `ENV.fetch("${expr.name}"): the environment variable ${expr.name} is not set; set it, or give a default with ENV.fetch("${expr.name}", "default")`,
    opts.file,
    line,
  );
}

function refuse(tagText: string, code: string, file: string, line: number): never {
  throw new ConfigError(
    `ERB ${preview(tagText)} ${describeRuby(code)}; kamal-gate never runs code from a config. ` +
      'Put the value in an environment variable and use <%= ENV["NAME"] %>, or write it literally',
    file,
    line,
  );
}

/** A code tag (`<% %>`) is accepted only when it does nothing: blank or Ruby comments. */
function isOnlyRubyComments(code: string): boolean {
  return code.split('\n').every((l) => /^\s*(#.*)?$/.test(l));
}

/**
 * The tag as shown in an error: its first line, string literals masked. A refused tag is never
 * evaluated, so a secret written in it (`<%= "p4ssw0rd".strip %>`) was never registered for
 * redaction: it must not be printed at all.
 */
function preview(tag: string): string {
  const firstLine = tag.split('\n', 1)[0] ?? '';
  const masked = firstLine.replace(/"(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?/g, (s) => `${s[0]}…${s[0]}`);
  const oneLine = masked.replace(/\s+/g, ' ');
  return oneLine.length > TAG_PREVIEW_LENGTH ? `${oneLine.slice(0, TAG_PREVIEW_LENGTH)}…` : oneLine;
}
