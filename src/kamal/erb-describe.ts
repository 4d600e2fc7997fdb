/**
 * What a piece of Ruby that the safe ERB subset refuses would do, said in general terms for the
 * error message: "a %q string literal", "a method call", "a heredoc". The code itself is never part
 * of the answer: a refused tag is never evaluated, so a secret written in it (`<%= %q{p4ss} %>`)
 * was never registered for redaction, and printing any of it would leak it. Every phrase returned
 * here is a constant of this module; the code only decides which ones.
 *
 * The scan is a rough Ruby lexer: literals (quotes, %-literals, heredocs, symbols, numbers,
 * regexps) are recognised and skipped first, so what they contain cannot be mistaken for code
 * (a password holding "system" is not "a call that runs a program"). A wrong guess only makes the
 * description less precise; it can never put the content into the message.
 */

import { parseExpr } from './erb-expr.js';

const PHRASES = {
  shell: 'a shell command (backticks or %x)',
  program: 'a call that runs a program (system, exec, spawn, …)',
  load: 'loading Ruby code (require, load, eval)',
  interpolation: 'string interpolation (#{…})',
  heredoc: 'a heredoc',
  q: 'a %q string literal',
  Q: 'a %Q string literal',
  w: 'a %w word list',
  i: 'a %i symbol list',
  s: 'a %s symbol',
  char: 'a character literal (?a)',
  symbol: 'a symbol (:name)',
  regexp: 'a regular expression',
  number: 'a number other than a decimal integer',
  escape: 'a string escape kamal-gate does not decode (\\c, \\C-, \\M-, or a byte above \\x7F)',
  unterminated: 'an unterminated string or literal',
  call: 'a method call',
  control: 'Ruby control flow other than <% if/elsif/else/unless/end %> tags (each, do … end, case, loops, and/or/not)',
  variable: 'a variable or method name',
  constant: 'a Ruby constant',
  operator: 'an operator or assignment',
  collection: 'an array, hash or block',
  env: 'an ENV lookup in a form kamal-gate does not evaluate (it reads ENV["NAME"], ENV.fetch("NAME"), ENV.fetch("NAME", default), ENV.fetch("NAME") { default } and ENV.key?("NAME"))',
} as const;

type Construct = keyof typeof PHRASES;

/** Most telling first: what the code would do before what it is written with. */
const PRIORITY: Construct[] = [
  'shell',
  'program',
  'load',
  'interpolation',
  'heredoc',
  'q',
  'Q',
  'w',
  'i',
  's',
  'symbol',
  'regexp',
  'char',
  'escape',
  'unterminated',
  'call',
  'control',
  'number',
  'collection',
  'operator',
  'constant',
  'variable',
  'env',
];
const MAX_NAMED = 3;

const PROGRAM = new Set(['system', 'exec', 'spawn', 'popen', 'popen3', 'capture2', 'capture3', 'fork', 'Open3', 'IO', 'Process', 'Kernel', 'PTY']);
const LOAD = new Set(['require', 'require_relative', 'load', 'eval', 'instance_eval', 'class_eval', 'module_eval', 'binding', 'send', 'public_send', '__send__']);
const CONTROL = new Set([
  'if',
  'unless',
  'else',
  'elsif',
  'end',
  'each',
  'map',
  'for',
  'while',
  'until',
  'case',
  'when',
  'do',
  'loop',
  'times',
  'begin',
  'rescue',
  'ensure',
  'then',
  'and',
  'or',
  'not',
  'def',
  'class',
  'module',
  'yield',
  'return',
  'break',
  'next',
  'lambda',
  'proc',
]);
const PAIRS: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };
/** Escapes the subset does not decode in a double-quoted string (erb-lex.ts): control, meta, a byte above 0x7F. */
const UNDECODED_ESCAPE = /[cCM]|x[89a-fA-F][0-9a-fA-F]?|[2-7][0-7]{2}/y;
const PLAIN_INTEGER = /^(?:0|[1-9](?:_?[0-9])*)$/;
const CONTROL_TAG = /^\s*(?:if|unless|elsif|else|end)(?![\w?!])/;
const MAX_NESTING = 16;
const PERCENT: Record<string, Construct> = { q: 'q', Q: 'Q', '': 'Q', w: 'w', W: 'w', i: 'i', I: 'i', s: 's', x: 'shell', r: 'regexp' };
const PERCENT_START = /%([qQwWiIxsr]?)([^\w\s])/y;
const HEREDOC_START = /<<([~-]?)(["'`]?)([A-Za-z_]\w*)\2/y;
const NUMBER = /(?:0[xXbBoO][0-9a-fA-F_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)[rij]?/y;
const ARGUMENT_AFTER_SPACE = /[ \t]+[^\s=+\-*/%<>!?&|.,:)\]}]/y;

function stickyMatch(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

/**
 * "contains a %q string literal and a method call", in general terms, never quoting the code. For a
 * control tag (`control`), its leading if/unless/elsif/else/end is not counted: the subset has those.
 */
export function describeRuby(code: string, control = false): string {
  const found = scanRuby(control ? code.replace(CONTROL_TAG, '') : code, 0);
  const named = PRIORITY.filter((c) => found.has(c))
    .slice(0, MAX_NAMED)
    .map((c) => PHRASES[c]);
  if (named.length === 0) return 'Ruby code that kamal-gate does not evaluate';
  return named.length === 1 ? named[0]! : `${named.slice(0, -1).join(', ')} and ${named.at(-1)!}`;
}

/** The constructs found in `code`; `nesting` counts the interpolations it is inside. */
function scanRuby(code: string, nesting: number): Set<Construct> {
  const found = new Set<Construct>();
  const s = code;
  let i = 0;
  /** Whether an operand (not an operator) is expected next: decides `/` and `%` and `<<`. */
  let operand = true;
  const heredocs: { id: string; squiggly: boolean; raw: boolean; shell: boolean }[] = [];

  /** `x %q(…)`, `puts <<X`: after a name, a space before and none after make it a literal, as in Ruby. */
  const startsOperand = (len: number): boolean => operand || (/\s/.test(s[i - 1] ?? '') && !/\s/.test(s[i + len] ?? ' '));

  /** Skips a literal body up to `close` (nesting `open`), from i; notes interpolation and escapes. */
  const body = (open: string | undefined, close: string, interpolating: boolean, checkEscapes: boolean): void => {
    let depth = 1;
    while (i < s.length) {
      const c = s[i]!;
      if (c === '\\') {
        if (checkEscapes && stickyMatch(UNDECODED_ESCAPE, s, i + 1)) found.add('escape');
        i += 2;
        continue;
      }
      if (interpolating && c === '#' && /[@$]/.test(s[i + 1] ?? '')) found.add('interpolation');
      if (interpolating && c === '#' && s[i + 1] === '{') {
        interpolation();
        continue;
      }
      if (open !== undefined && c === open) depth++;
      else if (c === close && --depth === 0) {
        i++;
        return;
      }
      i++;
    }
    found.add('unterminated');
  };

  while (i < s.length) {
    const c = s[i]!;
    const next = s[i + 1] ?? '';
    if (c === '\n') {
      i++;
      for (const h of heredocs.splice(0)) skipHeredoc(h);
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < s.length && s[i] !== '\n') i++; // a Ruby comment
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i++;
      if (c === '`') found.add('shell');
      body(undefined, c, c !== "'", c === '"');
      operand = false;
      continue;
    }
    if (c === '%' && startsOperand(1)) {
      const m = stickyMatch(PERCENT_START, s, i);
      if (m) {
        const kind = m[1] ?? '';
        const delim = m[2]!;
        i += m[0].length;
        found.add(PERCENT[kind]!);
        body(PAIRS[delim] ? delim : undefined, PAIRS[delim] ?? delim, /[QWIxr]/.test(kind) || kind === '', false);
        operand = false;
        continue;
      }
    }
    if (c === '<' && next === '<') {
      const m = stickyMatch(HEREDOC_START, s, i);
      if (m && (m[1] || startsOperand(2))) {
        found.add('heredoc');
        if (m[2] === '`') found.add('shell');
        heredocs.push({ id: m[3]!, squiggly: m[1] !== '', raw: m[2] === "'", shell: m[2] === '`' });
        i += m[0].length;
        operand = false;
        continue;
      }
    }
    if (c === '/' && operand) {
      found.add('regexp');
      i++;
      body(undefined, '/', true, false);
      operand = false;
      continue;
    }
    if (c === ':' && next === ':') {
      i += 2;
      operand = true;
      continue;
    }
    if (c === ':' && /[A-Za-z_"']/.test(next)) {
      found.add('symbol');
      i++;
      if (next === '"' || next === "'") {
        i++;
        body(undefined, next, next === '"', false);
      } else while (i < s.length && /[\w?!=]/.test(s[i]!)) i++;
      operand = false;
      continue;
    }
    if (c === '?' && /[A-Za-z0-9_]/.test(next) && operand) {
      found.add('char');
      i += 2;
      operand = false;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = stickyMatch(NUMBER, s, i);
      if (!m || !PLAIN_INTEGER.test(m[0])) found.add('number');
      i += m ? m[0].length : 1;
      operand = false;
      continue;
    }
    if (c === '@' || c === '$') {
      found.add('variable');
      i++;
      while (i < s.length && /[\w@]/.test(s[i]!)) i++;
      operand = false;
      continue;
    }
    if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const start = i;
      while (i < s.length && /[\w\u0080-\uffff]/.test(s[i]!)) i++;
      if (/[?!]/.test(s[i] ?? '') && s[i + 1] !== '=') i++;
      const word = s.slice(start, i);
      // a method call when the previous token is `.` or `&.` (whitespace between is allowed, `..` is a range)
      let j = start - 1;
      while (j >= 0 && /\s/.test(s[j]!)) j--;
      const afterDot = s[j] === '.' && s[j - 1] !== '.';
      if (afterDot) found.add('call');
      if (PROGRAM.has(word)) found.add('program');
      else if (LOAD.has(word)) found.add('load');
      else if (CONTROL.has(word)) found.add('control');
      else if (word === 'ENV' && !afterDot) found.add('env');
      else if (!afterDot && /^[A-Z]/.test(word)) found.add('constant');
      else if (!afterDot && !['nil', 'true', 'false', 'self'].includes(word)) found.add('variable');
      if (s[i] === '(' || stickyMatch(ARGUMENT_AFTER_SPACE, s, i)) {
        if (!afterDot && word !== 'ENV' && !CONTROL.has(word)) found.add('call');
      }
      operand = CONTROL.has(word) || PROGRAM.has(word) || LOAD.has(word);
      continue;
    }
    if ((c === '.' && next !== '.') || (c === '&' && next === '.')) {
      i += c === '&' ? 2 : 1;
      operand = false;
      continue;
    }
    if (c === '(' || c === '[' || c === '{' || c === ',') {
      if (c === '{' || (c === '[' && operand)) found.add('collection');
      i++;
      operand = true;
      continue;
    }
    if (c === ')' || c === ']' || c === '}') {
      i++;
      operand = false;
      continue;
    }
    if (c === ';') {
      i++;
      operand = true;
      continue;
    }
    found.add('operator');
    i++;
    operand = true;
  }
  if (heredocs.length) found.add('unterminated');
  return found;

  /** `#{…}` at i: described only when what it holds is outside the subset (then with what that is). */
  function interpolation(): void {
    const from = i + 2;
    let depth = 1;
    let j = from;
    for (; j < s.length && depth > 0; j++) {
      const q = s[j]!;
      if (q === '\\') j++;
      else if (q === '"' || q === "'") {
        for (j++; j < s.length && s[j] !== q; j++) if (s[j] === '\\') j++;
      } else if (q === '{') depth++;
      else if (q === '}') depth--;
    }
    if (depth > 0) {
      found.add('unterminated');
      i = s.length;
      return;
    }
    const inner = s.slice(from, j - 1);
    i = j;
    if (parseExpr(inner) !== undefined) return;
    found.add('interpolation');
    if (nesting < MAX_NESTING) for (const c of scanRuby(inner, nesting + 1)) found.add(c);
  }

  function skipHeredoc(h: { id: string; squiggly: boolean; raw: boolean; shell: boolean }): void {
    for (;;) {
      if (i >= s.length) {
        found.add('unterminated');
        return;
      }
      const end = s.indexOf('\n', i);
      const line = s.slice(i, end < 0 ? s.length : end);
      i = end < 0 ? s.length : end + 1;
      if ((h.squiggly ? line.trim() : line.replace(/\r$/, '')) === h.id) return;
      if (!h.raw && /#[{@$]/.test(line)) found.add('interpolation');
    }
  }
}
