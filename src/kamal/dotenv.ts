/**
 * The dotenv format as Kamal reads secrets files: the Ruby dotenv gem 3.2 parser (what Kamal 2.12
 * locks) with Kamal's inline command substitution, except that `$(...)` is never run: such a
 * value is marked unresolved. Unlike the gem, a line that is not an assignment is an error.
 */
import { ConfigError } from '../errors.js';
import type { Env } from './erb.js';

export interface SecretEntry {
  /** The value; undefined when it could not be worked out without running something. */
  value?: string;
  /** Why `value` is undefined. */
  unresolved?: 'needs command substitution';
  /** `$VAR`s that were neither earlier in the file nor in the environment, so expanded to "". */
  missing: string[];
  file: string;
  line: number;
}

// dotenv's Parser::LINE, anchored at the start of a line (blank and comment lines are skipped first).
const LINE = /[^\S\n]*(export\s+)?([\w.]+)(?:(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|[^#\n]+)?)?\s*(?:#.*)?(?=\n|(?![\s\S]))/y;
const BLANK_OR_COMMENT = /[^\S\n]*(?:#.*)?(?=\n|(?![\s\S]))/y;
const QUOTED = /^(['"])([\s\S]*)\1$/;
const VARIABLE = /(\\)?\$(?!\()\{?([A-Z0-9_]+)?\}?/gi;

/** Parses one secrets file. `file` is the name used in errors. */
export function parseDotenv(text: string, file: string, env: Env): Map<string, SecretEntry> {
  const src = text.replace(/\r\n?/g, '\n');
  const entries = new Map<string, SecretEntry>();
  let pos = 0;
  let line = 1;
  while (pos <= src.length) {
    BLANK_OR_COMMENT.lastIndex = pos;
    let end: number;
    if (BLANK_OR_COMMENT.test(src)) end = BLANK_OR_COMMENT.lastIndex;
    else {
      LINE.lastIndex = pos;
      const m = LINE.exec(src);
      if (!m) throw new ConfigError('this line is not KEY=value (dotenv format)', file, line);
      const exported = m[1];
      const key = m[2]!;
      const raw = m[3];
      if (exported && raw === undefined) {
        if (!entries.has(key)) {
          throw new ConfigError(`"export ${key}" has no value and ${key} is not set earlier in this file`, file, line);
        }
      } else entries.set(key, { ...parseValue(raw ?? '', entries, env), file, line });
      end = LINE.lastIndex;
    }
    line += countNewlines(src, pos, end) + 1;
    pos = end + 1;
  }
  return entries;
}

function parseValue(raw: string, earlier: Map<string, SecretEntry>, env: Env): Omit<SecretEntry, 'file' | 'line'> {
  let value = raw.trim();
  const quoted = QUOTED.exec(value);
  const quote = quoted?.[1];
  if (quoted) value = quoted[2]!;
  if (quote === "'") return { value, missing: [] };
  if (quote === '"') value = expandNewlines(value, earlier, env);
  value = value.replace(/\\([^$])/g, '$1');

  const commands = substituteCommands(value);
  if (commands.run) return { unresolved: 'needs command substitution', missing: [] };
  value = commands.value;

  const missing: string[] = [];
  let dependsOnUnresolved = false;
  value = value.replace(VARIABLE, (whole: string, backslash: string | undefined, name: string | undefined) => {
    if (backslash) return whole.slice(1);
    if (!name) return whole;
    const prior = earlier.get(name);
    if (prior) {
      if (prior.value === undefined) dependsOnUnresolved = true;
      return prior.value ?? '';
    }
    const fromEnv = env[name];
    if (fromEnv === undefined) missing.push(name);
    return fromEnv ?? '';
  });
  if (dependsOnUnresolved) return { unresolved: 'needs command substitution', missing };
  return { value, missing };
}

/** dotenv 3: `\n` and `\r` in double quotes stay escaped unless DOTENV_LINEBREAK_MODE=legacy. */
function expandNewlines(value: string, earlier: Map<string, SecretEntry>, env: Env): string {
  const mode = earlier.get('DOTENV_LINEBREAK_MODE')?.value ?? env.DOTENV_LINEBREAK_MODE;
  if (mode === 'legacy') return value.replaceAll('\\n', '\n').replaceAll('\\r', '\r');
  return value.replaceAll('\\n', '\\\\n').replaceAll('\\r', '\\\\r');
}

/**
 * Kamal's InlineCommandSubstitution finds `$(...)` (balanced parentheses, backslash escapes) and
 * runs it; `\$(...)` stays literal. Here: report whether any would run, unescape the rest.
 */
function substituteCommands(value: string): { value: string; run: boolean } {
  let out = '';
  let copied = 0;
  let from = 0;
  for (let at = value.indexOf('$(', from); at !== -1; at = value.indexOf('$(', from)) {
    const close = balancedEnd(value, at + 1);
    from = at + 2;
    if (close <= at + 2) continue; // unbalanced or empty: not a command, stays literal
    if (value[at - 1] !== '\\') return { value, run: true };
    out += value.slice(copied, at - 1) + value.slice(at, close + 1);
    copied = from = close + 1;
  }
  return { value: out + value.slice(copied), run: false };
}

/** Index of the `)` closing the `(` at `open`, or -1. */
function balancedEnd(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i !== -1 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
